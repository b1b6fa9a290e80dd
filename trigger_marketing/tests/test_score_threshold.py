from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import NOW, TriggerMarketingCase


@tagged("post_install", "-at_install")
class TestScoreThreshold(TriggerMarketingCase):
    """Scenarios entered when a contact's score crosses a threshold upwards."""

    def setUp(self):
        super().setUp()
        self.scenario = self.make_scenario(
            name="Call hot leads", trigger="score", score_threshold=40, domain="[]"
        )
        self.call = self.make_step(
            self.scenario,
            "activity",
            name="Call",
            activity_type_id=self.env.ref("mail.mail_activity_data_call").id,
        )
        self.scenario.action_start()

    def add(self, partners, points):
        return self.env["res.partner"]._add_marketing_score(
            [{"partner_id": p.id, "points": points, "description": "test"} for p in partners]
        )

    def walks(self, partners):
        return self.env["marketing.scenario.participant"].search(
            [("scenario_id", "=", self.scenario.id), ("res_id", "in", partners.ids)]
        )

    def test_upward_crossing_enters_in_the_same_transaction(self):
        alice, bob, carol = self.make_partners(3)
        with self.at(NOW):
            self.add(alice | bob | carol, 30)
            self.assertFalse(self.walks(alice | bob | carol))
            self.add(alice, 10)  # 30 -> 40: reaches the threshold
            self.add(bob, 9)  # 30 -> 39
            self.assertEqual(self.walks(alice | bob | carol).partner_id, alice)
            self.add(bob | carol, 50)  # 39 -> 89 and 30 -> 80: jump over it
            self.assertEqual(len(self.walks(alice | bob | carol)), 3)
            self.run_cron()
            self.assertEqual(self.trace_of(self.call, alice).state, "done")

    def test_no_entry_without_an_upward_crossing(self):
        alice, bob = self.make_partners(2)
        with self.at(NOW):
            self.add(alice, 50)
            self.walks(alice)._end("completed", "exited")
            self.scenario.reentry = "always"
            self.add(alice, 10)  # above already: no crossing
            self.add(alice, -30)  # 60 -> 30: downward crossing
            self.assertEqual(len(self.walks(alice)), 1)
            self.add(alice, 10)  # 30 -> 40: up again, enters again
            self.assertEqual(len(self.walks(alice)), 2)
            # a paused scenario takes nobody
            self.scenario.action_pause()
            self.add(bob, 45)
            self.assertFalse(self.walks(bob))

    def test_score_step_of_another_scenario_crosses(self):
        """Points given by a scenario step move the score through the same path."""
        alice = self.make_partners(1)
        booster = self.make_scenario(name="Booster")
        self.make_step(booster, "score", name="+50", score_points=50)
        booster.action_start()
        with self.at(NOW):
            booster.enroll(alice)
            self.run_cron()
        self.assertEqual(alice.marketing_score, 50)
        self.assertEqual(alice.marketing_score_history_ids.event, "step")
        self.assertTrue(self.walks(alice))

    def test_score_trigger_only_on_contacts(self):
        with self.assertRaisesRegex(ValidationError, "only scenarios on contacts"):
            self.make_scenario(
                name="Contacts of lists",
                trigger="score",
                score_threshold=10,
                model_id=self.env["ir.model"]._get_id("mailing.contact"),
            )
        with self.assertRaisesRegex(ValidationError, "threshold above 0"):
            self.make_scenario(name="No threshold", trigger="score")

    def test_audience_on_the_score_is_watched(self):
        """A 'starts matching' scenario whose audience reads the score is told when the
        score moves (in SQL, without an ORM write)."""
        warm = self.make_scenario(
            name="Warm", trigger="match", domain="[('marketing_score_band', '=', 'warm')]"
        )
        self.make_step(warm, "wait", name="Wait", delay=1)
        warm.action_start()
        alice, bob = self.make_partners(2)
        with self.at(NOW):
            self.add(alice | bob, 10)
            self.add(alice, 15)
        participants = self.env["marketing.scenario.participant"].search(
            [("scenario_id", "=", warm.id)]
        )
        self.assertEqual(participants.partner_id, alice)
