from odoo.tests import tagged

from odoo.addons.trigger_marketing.tests.common import NOW, TriggerMarketingCase


@tagged("post_install", "-at_install")
class TestSaleScoring(TriggerMarketingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.product = cls.env["product.product"].create({"name": "Chair", "list_price": 100})

    def make_order(self, partner, **vals):
        return self.env["sale.order"].create(
            dict(
                {
                    "partner_id": partner.id,
                    "order_line": [(0, 0, {"product_id": self.product.id})],
                },
                **vals,
            )
        )

    def test_confirmed_order_scores_the_customer(self):
        self.make_rule("order_confirmed", 30)
        alice, bob = self.make_partners(2)
        orders = self.make_order(alice) | self.make_order(alice) | self.make_order(bob)
        with self.at(NOW):
            orders[:2].action_confirm()
            self.assertEqual((alice.marketing_score, bob.marketing_score), (60, 0))
            self.assertEqual(
                sorted(alice.marketing_score_history_ids.mapped("res_id")), sorted(orders[:2].ids)
            )
            self.assertEqual(
                alice.marketing_score_history_ids.mapped("res_model"), ["sale.order"] * 2
            )
            self.assertEqual(alice.marketing_last_engagement, NOW)

    def test_rule_of_another_company_does_not_count(self):
        other = self.env["res.company"].create({"name": "Other company"})
        self.make_rule("order_confirmed", 30, company_id=other.id)
        alice = self.make_partners(1)
        self.make_order(alice).action_confirm()
        self.assertEqual(alice.marketing_score, 0)

    def test_offer_ending_template(self):
        Scenario = self.env["marketing.scenario"].with_user(self.user_marketing)
        self.assertIn("offer_ending", [t["code"] for t in Scenario._available_templates()])
        scenario = Scenario._create_from_template("offer_ending", start=True)
        self.assertEqual((scenario.model_name, scenario.trigger), ("sale.order", "date"))
        mail_step = scenario.step_ids.filtered(lambda s: s.action_type == "mail")
        self.assertIn('t-att-href="object.get_portal_url()"', mail_step.mailing_id.body_html)
        # the e-mail renders for a real quotation, with the customer's name and link
        alice = self.make_partners(1)
        order = self.make_order(alice)
        with self.at(NOW), self.mock_mail_gateway():
            scenario.sudo().enroll(order)
            self.run_cron()
            self.send_queue()
            sent = self._find_sent_email_wemail(alice.email_formatted)
        self.assertIn("Hello Contact 0", sent["body"])
        # the portal link is tracked (shortened) like every link of a mailing
        tracker = self.env["link.tracker"].search(
            [("mass_mailing_id", "=", mail_step.mailing_id.id)]
        )
        self.assertIn(f"/my/orders/{order.id}", tracker.url)
        self.assertIn(tracker.short_url, sent["body"])
        order.action_confirm()
        self.assertEqual(scenario.participant_ids.state, "converted", "goal: order confirmed")
