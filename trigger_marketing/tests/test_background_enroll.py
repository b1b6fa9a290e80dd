from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import NOW, TriggerMarketingCase


@tagged("post_install", "-at_install")
class TestBackgroundEnroll(TriggerMarketingCase):
    """ "Add the current audience now": a cron adds the audience in committed batches."""

    def setUp(self):
        super().setUp()
        self.enroll_cron = self.env.ref("trigger_marketing.ir_cron_scenario_enroll")
        self.tag = self.env["res.partner.category"].create({"name": "Newsletter"})
        self.scenario = self.make_scenario(domain=f"[('category_id', 'in', [{self.tag.id}])]")
        self.make_step(self.scenario, "wait", delay=1)
        self.env["ir.config_parameter"].sudo().set_param("trigger_marketing.batch_size", 5)

    def run_enroll_cron(self):
        with self.enter_registry_test_mode():
            self.enroll_cron.method_direct_trigger()
        self.env.invalidate_all()

    def test_whole_audience_in_batches(self):
        with self.at(NOW):
            partners = self.make_partners(12, category_id=[(4, self.tag.id)])
            self.make_partners(3)  # outside the audience
            with self.assertRaises(UserError):
                self.scenario.action_enroll_audience()  # not running yet
            self.scenario.action_start()
            with self.capture_triggers(self.enroll_cron.id) as capture:
                self.scenario.action_enroll_audience()
            self.assertEqual(len(capture.records), 1, "the cron is woken at once")
            self.assertTrue(self.scenario.enroll_pending)
            self.assertEqual((self.scenario.enroll_todo, self.scenario.enroll_done), (12, 0))
            self.assertEqual(self.scenario.enroll_progress, 0.0)

            self.run_enroll_cron()
            self.assertFalse(self.scenario.enroll_pending)
            self.assertEqual((self.scenario.enroll_done, self.scenario.enroll_added), (12, 12))
            self.assertEqual(self.scenario.enroll_progress, 100.0)
            self.assertEqual(set(self.scenario.participant_ids.mapped("res_id")), set(partners.ids))
            progress = self.env["ir.cron.progress"].search(
                [("cron_id", "=", self.enroll_cron.id)], order="id desc", limit=1
            )
            self.assertEqual(progress.done, 12, "each batch reported its progress")

            # again: the records already walking are checked, not added twice
            self.scenario.action_enroll_audience()
            self.run_enroll_cron()
            self.assertEqual((self.scenario.enroll_done, self.scenario.enroll_added), (12, 0))
            self.assertEqual(self.scenario.participant_count, 12)

    def test_stopped_scenario_stops_adding(self):
        with self.at(NOW):
            self.make_partners(7, category_id=[(4, self.tag.id)])
            self.scenario.action_start()
            self.scenario.action_enroll_audience()
            self.scenario.action_stop()
            self.assertFalse(self.scenario.enroll_pending)
            self.run_enroll_cron()
            self.assertEqual(self.scenario.participant_count, 0)

    def test_batch_queries_constant(self):
        """One batch costs the same number of queries for 5 or for 40 records."""
        with self.at(NOW):
            self.make_partners(70, category_id=[(4, self.tag.id)])
            self.scenario.action_start()
            self.scenario.action_enroll_audience()
            self.scenario._enroll_audience_batch(5)  # warm the caches
            self.env.flush_all()

            def queries_of(limit):
                self.env.invalidate_all()
                before = self.env.cr.sql_log_count
                self.scenario._enroll_audience_batch(limit)
                self.env.flush_all()
                return self.env.cr.sql_log_count - before

            small = queries_of(5)
            large = queries_of(40)
            self.assertEqual(small, large)
            self.assertLessEqual(large, 15)
            self.assertEqual(self.scenario.participant_count, 50)
