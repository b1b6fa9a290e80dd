from odoo.tests import tagged

from .common import HOUR, NOW, CartCase


@tagged("post_install", "-at_install")
class TestCartScore(CartCase):
    """An abandoned cart that enters a scenario is a "cart abandoned" score event."""

    def test_abandoned_cart_scores_with_its_scenario(self):
        with self.at(NOW):
            scenario = self.make_cart_scenario(reentry="always")
            self.make_rule("cart_abandoned", 10, cap_points=10, cap_period="week")
            self.make_rule("cart_abandoned", 3, scenario_ids=[scenario.id])
            cart = self.make_cart(self.alice)
            self.make_cart(self.bob, qty=2)
        self.abandon(cart, NOW + HOUR)
        self.assertEqual((self.alice.marketing_score, self.bob.marketing_score), (13, 13))
        lines = self.alice.marketing_score_history_ids
        self.assertEqual(set(lines.mapped("source_ref")), {cart})
        self.assertEqual(set(lines.mapped("scenario_id")), {scenario})
        # abandoned again after a change (the first walk over): enters again; the weekly
        # cap holds the general rule, the scenario's rule has none
        self.participants(scenario, cart)._end("completed", "exited")
        self.change(cart, NOW + 2 * HOUR, 3)
        self.assertEqual(len(self.abandon(cart, NOW + 3 * HOUR)), 2)
        self.assertEqual(self.alice.marketing_score, 16)

    def test_template_in_the_picker(self):
        Scenario = self.env["marketing.scenario"].with_user(self.user_marketing)
        self.assertIn("cart_abandonment", [t["code"] for t in Scenario._available_templates()])
        scenario = Scenario._create_from_template("cart_abandonment", start=True)
        self.assertEqual((scenario.trigger, scenario.state), ("cart_abandoned", "running"))
