from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import NOW, TriggerMarketingCase


@tagged("post_install", "-at_install")
class TestScoreBands(TriggerMarketingCase):
    """Cold / warm / hot: stored with the score, acting on upward crossings only."""

    def setUp(self):
        super().setUp()
        self.hot_tag = self.env["res.partner.category"].create({"name": "Hot"})
        self.warm_list = self.env["mailing.list"].create({"name": "Warm leads"})
        self.nurture = self.make_scenario(name="Hot nurture", domain="[]")
        self.nurture_step = self.make_step(self.nurture, "wait", name="Wait", delay=1)
        self.nurture.action_start()
        self.BandAction = self.env["marketing.score.band.action"]
        self.BandAction.create(
            [
                {"name": "Warm list", "band": "warm", "mailing_list_id": self.warm_list.id},
                {
                    "name": "Hot",
                    "band": "hot",
                    "tag_ids": [(6, 0, self.hot_tag.ids)],
                    "remove_tags_below": True,
                    "scenario_id": self.nurture.id,
                },
            ]
        )

    def add(self, partners, points):
        return self.env["res.partner"]._add_marketing_score(
            [{"partner_id": p.id, "points": points, "description": "test"} for p in partners]
        )

    def subscribed(self, partner):
        return self.env["mailing.subscription"].search(
            [
                ("contact_id.email_normalized", "=", partner.email_normalized),
                ("list_id", "=", self.warm_list.id),
                ("opt_out", "=", False),
            ]
        )

    def walks(self, partner):
        return self.env["marketing.scenario.participant"].search(
            [("scenario_id", "=", self.nurture.id), ("res_id", "=", partner.id)]
        )

    def test_band_is_stored_with_the_score(self):
        alice = self.make_partners(1)
        self.assertEqual(alice.marketing_score_band, "cold")
        self.add(alice, 20)
        self.assertEqual(alice.marketing_score_band, "warm")
        self.assertEqual(
            self.env["res.partner"].search(
                [("marketing_score_band", "=", "warm"), ("id", "=", alice.id)]
            ),
            alice,
            "stored: searchable in SQL",
        )

    def test_crossing_up_acts(self):
        alice, bob = self.make_partners(2)
        with self.at(NOW):
            self.add(alice | bob, 25)
            self.assertEqual(alice.marketing_score_band, "warm")
            self.assertTrue(self.subscribed(alice))
            self.assertNotIn(self.hot_tag, alice.category_id)
            self.add(alice, 25)
            self.assertEqual(alice.marketing_score_band, "hot")
            self.assertIn(self.hot_tag, alice.category_id)
            self.assertEqual(self.walks(alice).state, "running", "scenario started")
            self.assertFalse(self.walks(bob))
            # staying hot does not act again
            self.add(alice, 10)
            self.assertEqual(len(self.walks(alice)), 1)

    def test_crossing_down_changes_the_band_and_starts_nothing(self):
        alice = self.make_partners(1)
        with self.at(NOW):
            self.add(alice, 60)
            self.walks(alice)._end("completed", "exited")
            self.nurture.reentry = "always"
            self.add(alice, -15)  # hot -> warm
            self.assertEqual(alice.marketing_score_band, "warm")
            self.assertEqual(len(self.walks(alice)), 1, "going down starts no scenario")
            self.assertNotIn(self.hot_tag, alice.category_id, "the hot tag follows the band")
            self.assertFalse(self.subscribed(alice), "entering warm from above acts not")
            self.add(alice, -40)  # warm -> cold
            self.assertEqual(alice.marketing_score_band, "cold")
            self.add(alice, 60)  # cold -> hot at once: the hot actions only
            self.assertEqual(alice.marketing_score_band, "hot")
            self.assertEqual(len(self.walks(alice)), 2, "going up again starts it again")
            self.assertIn(self.hot_tag, alice.category_id)
            self.assertFalse(self.subscribed(alice), "the warm band was jumped over")

    def test_opted_out_contacts_stay_out_of_the_list(self):
        alice = self.make_partners(1)
        self.env["mailing.contact"].create(
            {
                "name": alice.name,
                "email": alice.email,
                "subscription_ids": [(0, 0, {"list_id": self.warm_list.id, "opt_out": True})],
            }
        )
        self.add(alice, 25)
        self.assertEqual(alice.marketing_score_band, "warm")
        self.assertFalse(self.subscribed(alice))

    def test_thresholds_in_settings(self):
        alice, bob = self.make_partners(2)
        self.add(alice, 30)
        self.add(bob, 10)
        settings = self.env["res.config.settings"].create(
            {"marketing_score_warm": 5, "marketing_score_hot": 30}
        )
        settings.execute()
        self.assertEqual(self.env["res.partner"]._marketing_score_thresholds(), (5, 30))
        self.env.invalidate_all()
        self.assertEqual((alice.marketing_score_band, bob.marketing_score_band), ("hot", "warm"))
        self.assertFalse(self.walks(alice), "re-banding by settings runs no band action")
        with self.assertRaises(ValidationError):
            self.env["res.config.settings"].create(
                {"marketing_score_warm": 30, "marketing_score_hot": 30}
            )
        with self.assertRaises(ValidationError):
            self.env["res.config.settings"].create(
                {"marketing_score_warm": 0, "marketing_score_hot": 30}
            )

    def test_band_action_validation(self):
        with self.assertRaisesRegex(ValidationError, "does nothing"):
            self.BandAction.create({"name": "Nothing", "band": "hot"})
        order_like = self.make_scenario(
            name="Mailing contacts", model_id=self.env["ir.model"]._get_id("mailing.contact")
        )
        with self.assertRaisesRegex(ValidationError, "does not target contacts"):
            self.BandAction.create({"name": "Wrong", "band": "hot", "scenario_id": order_like.id})
