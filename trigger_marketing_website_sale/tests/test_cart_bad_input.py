from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import HOUR, NOW, CartCase


@tagged("post_install", "-at_install")
class TestCartBadInput(CartCase):
    """Bad input matrix, carts (trigger_marketing DESIGN §8): a cart scenario that fails
    when carts enter keeps the failure on its form; the shop and the other cart scenarios
    go on."""

    @mute_logger(
        "odoo.addons.trigger_marketing_website_sale.models.marketing_scenario",
        "odoo.addons.trigger_marketing.models.marketing_scenario_failure",
    )
    def test_failing_cart_scenario_is_recorded(self):
        """B09: the first step of a cart scenario 99,999,999 hours away (saved behind the
        ORM, as before the bounds): its carts cannot enter; the failure is recorded on
        it, a healthy cart scenario takes the same cart in the same run."""
        with self.at(NOW):
            broken = self.make_cart_scenario(name="Broken")
            self.env.cr.execute(
                "UPDATE marketing_scenario_step SET delay = 99999999 WHERE id = %s",
                [self.reminder.id],
            )
            self.env.invalidate_all()
            healthy = self.make_cart_scenario(name="Healthy")
            cart = self.make_cart(self.alice)
        self.abandon(cart, NOW + 2 * HOUR)
        broken.invalidate_recordset()
        self.assertIn("date value out of range", broken.last_failure)
        self.assertGreaterEqual(broken.failure_count, 1)
        self.assertFalse(self.participants(broken))
        self.assertEqual(self.participants(healthy).res_id, cart.id)
