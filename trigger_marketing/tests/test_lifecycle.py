from datetime import timedelta

from odoo.tests import tagged

from .common import NOW, TriggerMarketingCase


@tagged("post_install", "-at_install")
class TestLifecycle(TriggerMarketingCase):
    """Goal, deletions, stop: pending steps are cancelled with their reason, history stays."""

    def setUp(self):
        super().setUp()
        self.scenario = self.make_scenario(goal_domain="[('is_company', '=', True)]")
        self.first = self.make_step(self.scenario, "score", score_points=1, name="First")
        self.later = self.make_step(
            self.scenario,
            "score",
            self.first,
            score_points=1,
            delay=2,
            delay_unit="days",
            name="Later",
        )
        self.scenario.action_start()

    def test_goal_on_change_converts_at_once(self):
        with self.at(NOW):
            partner, other = self.make_partners(2)
            participants = self.scenario.enroll(partner | other)
            self.run_cron()
            partner.is_company = True  # the goal is checked in the same transaction
            mine = participants.filtered(lambda p: p.res_id == partner.id)
            self.assertEqual((mine.state, mine.end_reason_code), ("converted", "goal"))
            later = self.trace_of(self.later, partner)
            self.assertEqual((later.state, later.reason_code), ("canceled", "goal"))
            self.assertEqual(self.trace_of(self.later, other).state, "scheduled")

    def test_goal_checked_before_each_step(self):
        with self.at(NOW):
            partner = self.make_partners(1)
            participant = self.scenario.enroll(partner)
            # reached without a write the hooks see (e.g. an SQL import)
            self.env.cr.execute(
                "UPDATE res_partner SET is_company = TRUE WHERE id = %s", [partner.id]
            )
            self.env.invalidate_all()
            self.run_cron()
            self.assertEqual(participant.state, "converted")
            first = self.trace_of(self.first, partner)
            self.assertEqual((first.state, first.reason_code), ("canceled", "goal"))
            self.assertEqual(partner.marketing_score, 0)

    def test_record_deleted(self):
        with self.at(NOW):
            partner = self.make_partners(1)
            participant = self.scenario.enroll(partner)
            self.run_cron()
            partner.unlink()
            self.assertEqual(
                (participant.state, participant.end_reason_code), ("canceled", "record_deleted")
            )
            later = self.env["marketing.scenario.trace"].search(
                [("step_id", "=", self.later.id), ("participant_id", "=", participant.id)]
            )
            self.assertEqual((later.state, later.reason_code), ("canceled", "record_deleted"))
            self.assertIn("Deleted record", participant.record_name)

    def test_step_deleted(self):
        with self.at(NOW):
            partners = self.make_partners(2)
            self.scenario.enroll(partners)
            self.run_cron()
            pending = self.traces(self.later)
            self.later.unlink()
            self.assertEqual(set(pending.mapped("reason_code")), {"step_deleted"})
            self.assertEqual(set(pending.mapped("state")), {"canceled"})
            self.assertFalse(self.later.active, "kept archived: statistics need its history")
            self.assertEqual(set(self.scenario.participant_ids.mapped("state")), {"completed"})

    def test_step_without_history_is_really_deleted(self):
        extra = self.make_step(self.scenario, "wait", name="Never ran")
        extra.unlink()
        self.assertFalse(extra.exists())

    def test_stop_cancels_pending(self):
        with self.at(NOW):
            self.scenario.enroll(self.make_partners(2))
            self.run_cron()
            self.scenario.action_stop()
            self.assertEqual(
                set(self.traces(self.later).mapped("reason_code")), {"scenario_stopped"}
            )
            self.assertEqual(set(self.scenario.participant_ids.mapped("state")), {"canceled"})

    def test_scenario_deleted_keeps_history(self):
        with self.at(NOW):
            self.scenario.enroll(self.make_partners(1))
            self.run_cron()
            self.scenario.unlink()
            self.assertTrue(self.scenario.exists())
            self.assertFalse(self.scenario.active)
            self.assertEqual(
                set(self.traces(self.later).mapped("reason_code")), {"scenario_deleted"}
            )
            draft = self.make_scenario(name="Never started")
            draft.unlink()
            self.assertFalse(draft.exists())

    def test_test_run_sends_to_the_test_address(self):
        with self.at(NOW):
            scenario = self.make_scenario(test_email="qa@example.com")
            mail = self.make_step(scenario, "mail", name="Welcome")
            wait = self.make_step(
                scenario, "score", mail, score_points=7, delay=3, delay_unit="days"
            )
            partner = self.make_partners(1)
            scenario.enroll(partner, test=True)
            with self.mock_mail_gateway():
                self.run_cron()
                self.send_queue()
            self.assertEqual(self.trace_of(mail, partner).state, "done")
            sent = self._find_sent_email_wemail("qa@example.com")
            self.assertIn("[TEST]", sent["subject"])
            self.assertFalse([m for m in self._mails if partner.email in str(m["email_to"])])
            self.assertTrue(self.mailing_trace(mail, partner).is_test_trace)
            # "run now" fast-forwards the 3-day delay
            self.trace_of(wait, partner).action_run_now()
            self.run_cron()
            self.assertEqual(partner.marketing_score, 0, "a test walk scores nothing")
            self.assertIn("would add 7 points", self.trace_of(wait, partner).reason)
            self.assertEqual(scenario.participant_count, 0, "test walks are not counted")

    def test_deadline_after_done_time(self):
        with self.at(NOW):
            self.scenario.enroll(self.make_partners(1))
        with self.at(NOW + timedelta(hours=1)):
            self.run_cron()
            self.assertEqual(self.traces(self.later).scheduled_at, NOW + timedelta(hours=1, days=2))
