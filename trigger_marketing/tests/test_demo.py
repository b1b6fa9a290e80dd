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
        self.assertEqual(len(running), 4)
        scenario = running.filtered(lambda s: s.name == "Prospects to customers")
        ab_test = running.filtered(lambda s: s.name == "Spring newsletter (A/B test)")
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
        # machine opens: counted apart, neither in the open rate nor in the branches
        self.assertGreater(scenario.machine_open_count, 5)
        self.assertGreater(welcome.stat_machine_opens, 5)
        self.assertGreater(scenario.machine_click_count, 0)
        Trace = self.env["marketing.scenario.trace"]
        machine_only = Trace.search(
            [
                ("step_id", "=", welcome.id),
                ("mail_machine_opens", ">", 0),
                ("mail_opened_at", "=", False),
            ]
        )
        self.assertTrue(machine_only)
        reminder = scenario.step_ids.filtered(lambda s: s.name == "Reminder")
        self.assertTrue(
            Trace.search_count(
                [
                    ("step_id", "=", reminder.id),
                    ("parent_id", "in", machine_only.ids),
                    ("state", "=", "done"),
                ]
            ),
            "opened by Apple's proxy only: reminded",
        )
        # learned send hours: the last call waits for each contact's own hour
        last_call = running.filtered(lambda s: s.name == "Spring sale: last call")
        waiting = Trace.search([("scenario_id", "=", last_call.id), ("state", "=", "scheduled")])
        own = waiting.filtered(lambda t: "the contact's own" in (t.reason or ""))
        self.assertGreater(len(own), 50)
        self.assertTrue(all(now < t.scheduled_at <= now + timedelta(hours=24) for t in own))
        self.assertGreater(
            len(set(own.mapped("scheduled_at"))), 3, "not everyone's hour is the same"
        )
        # deferred mails: the weekly cap holds the tips of those mailed twice this week
        tips = running.filtered(lambda s: s.name == "Tip of the week")
        deferred = Trace.search(
            [("scenario_id", "=", tips.id), ("state", "=", "scheduled")]
        ).filtered(lambda t: "Frequency cap" in (t.reason or ""))
        self.assertTrue(deferred)
        self.assertTrue(all(t.scheduled_at > now for t in deferred))
        self.assertGreater(tips.sent_count, len(deferred), "the others were sent")
        # once
        self.assertFalse(self.env["marketing.scenario"]._demo_populate())
