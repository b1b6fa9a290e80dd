import time
from datetime import timedelta

from odoo.tests import tagged

from .common import TriggerMarketingCase


@tagged("post_install", "-at_install")
class TestDemo(TriggerMarketingCase):
    """The living demo: real numbers, past dates, nothing sent, fast, once."""

    def test_populate(self):
        self.env["marketing.scenario"].search([("state", "=", "running")]).action_stop()
        start = time.monotonic()
        self.assertTrue(self.env["marketing.scenario"]._demo_populate())
        elapsed = time.monotonic() - start
        self.assertLess(elapsed, 30)
        partners = self.env["res.partner"].search([("email", "=ilike", "%@demo.example.com")])
        self.assertEqual(len(partners), 200)
        self.assertEqual(len(set(partners.mapped("email"))), 200)
        self.assertGreater(len(set(partners.mapped("tz"))), 3)
        running = self.env["marketing.scenario"].search([("state", "=", "running")])
        self.assertEqual(len(running), 2)
        scenario = running.filtered(lambda s: s.name == "Prospects to customers")
        ab_test = running - scenario
        # the A/B test found its winner, the holdouts show a lift
        split = ab_test.step_ids.filtered(lambda s: s.action_type == "split")
        self.assertEqual(split.split_winner_id.name, "Subject B")
        self.assertGreater(scenario.holdout_count, 5)
        self.assertGreater(scenario.treated_conversion_rate, scenario.holdout_conversion_rate)
        self.assertIn("lift", scenario.lift_summary)
        self.assertGreater(scenario.participant_count, 50)
        self.assertGreater(scenario.converted_count, 0)
        self.assertGreater(scenario.sent_count, 50)
        self.assertTrue(20 < scenario.open_rate < 80)
        welcome = scenario.step_ids.filtered(lambda s: s.name == "Offer")
        self.assertGreater(welcome.stat_clicked, 0)
        # the walks happened over the last weeks, not all at once
        now = self.env.cr.now()
        starts = scenario.participant_ids.mapped("date_start")
        self.assertLess(min(starts), now - timedelta(days=20))
        done = self.env["marketing.scenario.trace"].search(
            [("scenario_id", "=", scenario.id), ("state", "=", "done")]
        )
        self.assertTrue(all(t.done_at <= now for t in done))
        self.assertGreater(len(set(done.mapped("done_at"))), 50)
        # scores and their history, dated like their step
        self.assertTrue(partners.filtered(lambda p: p.marketing_score > 0))
        history = self.env["marketing.score.history"].search([("partner_id", "in", partners.ids)])
        self.assertLess(min(history.mapped("date")), now - timedelta(days=3))
        # nothing left to send anywhere
        mailings = scenario.step_ids.mailing_id
        self.assertFalse(
            self.env["mail.mail"].search(
                [("mailing_id", "in", mailings.ids), ("state", "=", "outgoing")]
            )
        )
        # once
        self.assertFalse(self.env["marketing.scenario"]._demo_populate())
