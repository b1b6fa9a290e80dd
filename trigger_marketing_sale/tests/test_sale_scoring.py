import re
from contextlib import contextmanager

from odoo.tests import tagged

from odoo.addons.trigger_marketing.tests.common import NOW, TriggerMarketingCase

# queries of the scoring: the addon's tables, the contacts' score
SCORING = re.compile(r'"?marketing_(score|scenario)|SET marketing_score')


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
            self.env.cr.flush()  # scored just before the commit (precommit)
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
        self.env.cr.flush()
        self.assertEqual(alice.marketing_score, 0)

    def test_orders_of_a_transaction_scored_in_constant_queries(self):
        """Orders confirmed one by one in one transaction: the scoring's queries are the
        same for 1 order as for 5 (it used to be 11 more per order). Counted: the
        queries on the addon's tables and on the contacts' score."""
        self.make_rule("order_confirmed", 30)
        partners = self.make_partners(8)
        orders = [self.make_order(partner) for partner in partners]
        orders[0].action_confirm()  # warm-up
        self.env.cr.flush()

        def scoring_queries(batch):
            self.env.flush_all()
            queries = []
            with contextmanager(self._patchExecute)(queries, flush=False):
                for order in batch:
                    order.action_confirm()
                self.env.cr.flush()  # as the commit: Odoo's tracking, then the scoring
            return [q for q in map(str, queries) if SCORING.search(q)]

        one, five = scoring_queries(orders[1:2]), scoring_queries(orders[2:7])
        self.assertEqual(len(one), len(five), five)
        self.assertLessEqual(len(five), 8)
        self.assertEqual(set(partners[:7].mapped("marketing_score")), {30}, "each once")
        self.assertEqual(partners[7].marketing_score, 0)

    def test_a_confirmation_rolled_back_scores_nothing(self):
        self.make_rule("order_confirmed", 30)
        alice = self.make_partners(1)
        order = self.make_order(alice)
        with self.assertRaises(RuntimeError), self.env.cr.savepoint():
            order.action_confirm()
            raise RuntimeError("the caller fails after the confirmation")
        self.env.invalidate_all()
        self.env.cr.flush()
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
