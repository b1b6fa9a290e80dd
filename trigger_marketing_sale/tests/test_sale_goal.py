import logging

from odoo.tests import tagged

from odoo.addons.trigger_marketing.tests.common import NOW, TriggerMarketingCase

_logger = logging.getLogger(__name__)


@tagged("post_install", "-at_install")
class TestSaleGoal(TriggerMarketingCase):
    """ "Has a confirmed order": the contact's walk converts when its order is confirmed,
    in the transaction of the confirmation; the scenario's revenue is what its converted
    contacts ordered while walking."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.product = cls.env["product.product"].create(
            {"name": "Chair", "list_price": 100, "taxes_id": False}
        )

    def make_order(self, partner, qty=1):
        return self.env["sale.order"].create(
            {
                "partner_id": partner.id,
                "order_line": [(0, 0, {"product_id": self.product.id, "product_uom_qty": qty})],
            }
        )

    def _queries(self, func):
        self.env.flush_all()
        start = self.cr.sql_log_count
        func()
        self.env.flush_all()
        return self.cr.sql_log_count - start

    def _states(self, scenario):
        scenario.participant_ids.invalidate_recordset()
        return {p.res_id: p.state for p in scenario.participant_ids}

    def test_goal_has_a_confirmed_order(self):
        with self.at(NOW):
            alice, bob = self.make_partners(2)
            scenario = self.make_scenario(goal_domain="[('sale_order_ids.state', '=', 'sale')]")
            self.make_step(scenario, "wait", name="Wait", delay=10)
            scenario.action_start()
            scenario.enroll(alice | bob)
            order = self.make_order(alice, qty=3)
            self.assertEqual(self._states(scenario)[alice.id], "running", "a quotation only")
            order.action_confirm()
            self.assertEqual(self._states(scenario), {alice.id: "converted", bob.id: "running"})
            scenario.invalidate_recordset()
            self.assertTrue(scenario.has_revenue)
            self.assertEqual(scenario.converted_revenue, 300.0)

    def test_confirm_query_overhead(self):
        """Extra queries of an order confirmation when a running goal reads the orders
        (printed for the closing note)."""
        with self.at(NOW):
            alice, bob, carol, dave = self.make_partners(4)
            orders = [self.make_order(p) for p in (alice, bob, carol, dave)]
            orders[0].action_confirm()  # warm
            baseline = self._queries(orders[1].action_confirm)
            scenario = self.make_scenario(goal_domain="[('sale_order_ids.state', '=', 'sale')]")
            self.make_step(scenario, "wait", name="Wait", delay=10)
            scenario.action_start()
            scenario.enroll(carol | dave)
            nobody = self.make_partners(1, name="Eve", email="eve@example.com")
            eve_order = self.make_order(nobody)
            not_walking = self._queries(eve_order.action_confirm)
            reached = self._queries(orders[2].action_confirm)
            self.assertEqual(self._states(scenario)[carol.id], "converted")
            _logger.info(
                f"sale.order confirm: baseline={baseline} "
                f"goal on orders, customer not walking=+{not_walking - baseline} "
                f"customer walking, goal reached=+{reached - baseline}"
            )
            self.assertLessEqual(not_walking - baseline, 3)
            self.assertLessEqual(reached - baseline, 8)
