import logging
from datetime import timedelta
from unittest.mock import patch

from odoo.tests import tagged

from .common import NOW, TriggerMarketingCase

_logger = logging.getLogger(__name__)


@tagged("post_install", "-at_install")
class TestProcessing(TriggerMarketingCase):
    """The processing cron: batches, idempotence, failures, query budget, exact wake-ups."""

    def test_second_run_changes_nothing(self):
        with self.at(NOW):
            scenario = self.make_scenario()
            step = self.make_step(scenario, "score", score_points=3)
            self.make_step(scenario, "score", step, score_points=1, delay=1, delay_unit="days")
            scenario.action_start()
            partners = self.make_partners(5)
            scenario.enroll(partners)
            with self.mock_mail_gateway():
                self.run_cron()
            snapshot = self.env["marketing.scenario.trace"].search_read(
                [("scenario_id", "=", scenario.id)],
                ["state", "scheduled_at", "done_at"],
                order="id",
            )
            self.run_cron()
            self.assertEqual(
                self.env["marketing.scenario.trace"].search_read(
                    [("scenario_id", "=", scenario.id)],
                    ["state", "scheduled_at", "done_at"],
                    order="id",
                ),
                snapshot,
            )
            self.assertEqual(set(partners.mapped("marketing_score")), {3})
            self.assertEqual(
                len(
                    self.env["marketing.score.history"].search([("partner_id", "in", partners.ids)])
                ),
                5,
            )

    def test_cron_woken_at_the_exact_due_time(self):
        with self.at(NOW):
            scenario = self.make_scenario()
            first = self.make_step(scenario, "wait")
            self.make_step(scenario, "wait", first, delay=90, delay_unit="minutes")
            scenario.action_start()
            with self.capture_triggers("trigger_marketing.ir_cron_scenario_process") as capture:
                scenario.enroll(self.make_partners(2))
            self.assertEqual(capture.records.mapped("call_at"), [NOW])
            with self.capture_triggers("trigger_marketing.ir_cron_scenario_process") as capture:
                self.run_cron()
            self.assertIn(NOW + timedelta(minutes=90), capture.records.mapped("call_at"))
            self.assertEqual(self.cron.interval_type, "days", "no high-frequency polling")

    def test_batches_commit_progress_until_done(self):
        with self.at(NOW):
            self.env["ir.config_parameter"].set_param("trigger_marketing.batch_size", 7)
            scenario = self.make_scenario()
            step = self.make_step(scenario, "score", score_points=1)
            scenario.action_start()
            partners = self.make_partners(30)
            scenario.enroll(partners)
            self.run_cron()
            self.assertEqual(len(self.traces(step, "done")), 30)
            progress = self.env["ir.cron.progress"].search(
                [("cron_id", "=", self.cron.id)], order="id desc", limit=1
            )
            self.assertEqual((progress.done, progress.remaining), (30, 0))

    def test_one_bad_record_fails_alone(self):
        """An error on one record fails its trace with the message; the batch goes on."""
        with self.at(NOW):
            scenario = self.make_scenario()
            action = self.env["ir.actions.server"].create(
                {
                    "name": "Picky",
                    "model_id": self.partner_model.id,
                    "state": "code",
                    "code": (
                        "for record in records:\n"
                        "    if record.name == 'Contact 2':\n"
                        "        raise UserError('Contact 2 is not welcome')\n"
                        "    record.write({'comment': 'ok'})"
                    ),
                }
            )
            step = self.make_step(scenario, "server_action", server_action_id=action.id)
            after = self.make_step(scenario, "score", step, score_points=1)
            scenario.action_start()
            partners = self.make_partners(5)
            scenario.enroll(partners)
            self.run_cron()
            failed = self.traces(step, "failed")
            self.assertEqual(failed.participant_id.res_id, partners[2].id)
            self.assertIn("Contact 2 is not welcome", failed.reason)
            self.assertEqual(len(self.traces(step, "done")), 4)
            self.assertEqual(
                partners.mapped("comment"),
                ["<p>ok</p>", "<p>ok</p>", False, "<p>ok</p>", "<p>ok</p>"],
            )
            self.run_cron()
            self.assertEqual(len(self.traces(after, "done")), 4, "the others go on")

    def test_crash_mid_run_loses_nothing_and_doubles_nothing(self):
        """A worker dies after a committed batch: the rerun does the rest, once."""
        with self.at(NOW):
            self.env["ir.config_parameter"].set_param("trigger_marketing.batch_size", 4)
            scenario = self.make_scenario()
            step = self.make_step(scenario, "score", score_points=1)
            scenario.action_start()
            partners = self.make_partners(10)
            scenario.enroll(partners)
            Trace = self.registry["marketing.scenario.trace"]
            process = Trace._process
            calls = []

            def crash_after_first_batch(traces):
                calls.append(len(traces))
                process(traces)
                if len(calls) > 1:
                    raise MemoryError("worker killed")  # after the work, before the commit

            with (
                patch.object(Trace, "_process", crash_after_first_batch),
                self.assertLogs("odoo.addons.base.models.ir_cron", "ERROR"),
            ):
                self.run_cron()
            self.assertGreater(len(calls), 1)
            self.assertEqual(len(self.traces(step, "done")), 4, "first batch committed")
            self.assertEqual(len(self.traces(step, "scheduled")), 6, "the others rolled back")
            self.run_cron()
            self.assertEqual(len(self.traces(step, "done")), 10)
            self.assertEqual(partners.mapped("marketing_score"), [1] * 10, "nothing twice")

    def test_paused_scenario_waits_then_catches_up(self):
        with self.at(NOW):
            scenario = self.make_scenario()
            step = self.make_step(scenario, "score", score_points=1, delay=1, delay_unit="hours")
            scenario.action_start()
            scenario.enroll(self.make_partners(2))
            scenario.action_pause()
        with self.at(NOW + timedelta(hours=2)):
            self.run_cron()
            self.assertEqual(len(self.traces(step, "scheduled")), 2)
            scenario.action_resume()
            self.run_cron()
            self.assertEqual(len(self.traces(step, "done")), 2)

    def _query_count_for(self, count):
        scenario = self.make_scenario(name=f"Budget {count}")
        tag = self.env["res.partner.category"].create({"name": f"Tag {count}"})
        score = self.make_step(scenario, "score", score_points=1)
        self.make_step(scenario, "tag_add", score, tag_ids=[(6, 0, tag.ids)])
        scenario.action_start()
        scenario.enroll(self.make_partners(count))
        Trace = self.env["marketing.scenario.trace"]
        batch = Trace._claim_due(1000)
        self.assertEqual(len(batch), count)
        self.cr.flush()  # also runs the pending tracking of the set-up
        self.env.invalidate_all()
        start = self.cr.sql_log_count
        batch._process()
        self.env.flush_all()
        first_step = self.cr.sql_log_count - start
        batch = Trace._claim_due(1000)
        self.assertEqual(len(batch), count)
        self.env.invalidate_all()
        start = self.cr.sql_log_count
        batch._process()
        self.env.flush_all()
        second_step = self.cr.sql_log_count - start
        return first_step, second_step

    def test_query_budget_is_constant_per_batch(self):
        with self.at(NOW):
            small = self._query_count_for(50)
            self.env["marketing.scenario"].search([]).action_stop()
            large = self._query_count_for(500)
            self.assertEqual(small, large)
            # a batch of a score step and of a tag step: a handful of queries, whatever N
            self.assertLessEqual(max(large), 25)
            _logger.info(
                "queries per batch (score, tag): 50 traces %s, 500 traces %s", small, large
            )

    def test_processing_lanes(self):
        """Extra crons let several workers share the due traces; all are woken."""
        with self.at(NOW):
            Trace = self.env["marketing.scenario.trace"]
            Trace._set_processing_lanes(3)
            crons = self.env["ir.cron"].browse(Trace._processing_cron_ids())
            self.assertEqual(len(crons), 3)
            self.assertEqual(set(crons.mapped("code")), {"model._cron_process()"})
            scenario = self.make_scenario()
            step = self.make_step(scenario, "score", score_points=1)
            scenario.action_start()
            with self.capture_triggers() as capture:
                scenario.enroll(self.make_partners(6))
            self.assertEqual(capture.records.cron_id, crons)
            with self.enter_registry_test_mode():
                crons[2].method_direct_trigger()
            self.env.invalidate_all()
            self.assertEqual(len(self.traces(step, "done")), 6)
            Trace._set_processing_lanes(1)
            self.assertEqual(len(Trace._processing_cron_ids()), 1)
            self.assertFalse(crons[1:].exists())
