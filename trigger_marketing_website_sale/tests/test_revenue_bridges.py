from odoo.tests import tagged

from .common import HOUR, NOW, CartCase


@tagged("post_install", "-at_install")
class TestRevenueBridges(CartCase):
    """With the shop installed, each scenario keeps its own revenue: the shop bridge
    adds the cart trigger, it does not replace the revenue of other scenarios (it used to
    override the compute without super() and zero them)."""

    def test_partner_and_order_scenarios_keep_their_revenue(self):
        with self.at(NOW):
            partners = self.make_scenario(
                name="Buyers", goal_domain="[('sale_order_ids.state', '=', 'sale')]"
            )
            self.make_step(partners, "wait", name="Wait", delay=10)
            partners.action_start()
            partners.enroll(self.alice | self.bob)
            carts = self.make_cart_scenario()
            cart = self.make_cart(self.carol, qty=2)
        self.abandon(cart, NOW + HOUR)
        with self.at(NOW + 2 * HOUR):
            order = self.make_cart(self.alice, qty=3)
            order.action_confirm()
            cart.action_confirm()
        (partners | carts).invalidate_recordset()
        self.assertEqual(partners.converted_count, 1)
        self.assertTrue(partners.has_revenue)
        self.assertEqual(partners.converted_revenue, 300.0, "Alice's order, not zeroed")
        self.assertEqual(partners.revenue_per_recipient, 0.0, "no e-mail sent: no recipient")
        self.assertEqual(carts.converted_revenue, 200.0, "the converted cart")
