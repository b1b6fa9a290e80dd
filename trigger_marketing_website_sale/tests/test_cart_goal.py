from odoo.fields import Command
from odoo.tests import tagged

from .common import HOUR, NOW, CartCase


@tagged("post_install", "-at_install")
class TestCartGoal(CartCase):
    """Ordering ends the walk: converted for the cart itself, exited for another cart."""

    def _walking_cart(self, partner, **scenario_vals):
        with self.at(NOW):
            scenario = self.make_cart_scenario(**scenario_vals)
            cart = self.make_cart(partner)
        participant = self.abandon(cart, NOW + HOUR)
        self.assertEqual(participant.state, "running")
        return scenario, cart, participant

    def test_confirmed_order_converts_in_the_same_transaction(self):
        scenario, cart, participant = self._walking_cart(self.alice)
        reminder = self.trace_of(self.reminder, cart)
        self.assertEqual(reminder.state, "scheduled")
        with self.at(NOW + HOUR + HOUR / 2):
            cart.action_confirm()
            # no cron run, no flush by hand: the write hook of the confirmation did it
            self.assertEqual(participant.state, "converted")
            self.assertEqual(participant.end_reason_code, "goal")
            self.assertEqual((reminder.state, reminder.reason_code), ("canceled", "goal"))
        with self.at(NOW + 3 * HOUR), self.mock_mail_gateway():
            self.run_cron()
        self.assertNotSentEmail()
        self.assertEqual(scenario.converted_count, 1)
        self.assertEqual(scenario.converted_revenue, cart.amount_total)
        self.assertEqual(scenario.converted_revenue, 100.0)

    def test_ordering_another_cart_ends_the_walk(self):
        """The customer came back and bought through another cart: the walk of the
        abandoned cart ends (exited, with the reason); it is not counted as converted."""
        scenario, cart, participant = self._walking_cart(self.alice)
        with self.at(NOW + 2 * HOUR):
            other = self.make_cart(self.alice, qty=2)
            other.action_confirm()
        self.assertEqual(
            (participant.state, participant.end_reason_code), ("exited", "cart_ordered_elsewhere")
        )
        self.assertEqual(self.trace_of(self.reminder, cart).reason_code, "cart_ordered_elsewhere")
        self.assertEqual(scenario.converted_revenue, 0.0)
        # another customer's order ends nothing
        scenario_b, cart_b, participant_b = self._walking_cart(self.bob)
        with self.at(NOW + 2 * HOUR):
            self.make_cart(self.carol).action_confirm()
        self.assertEqual(participant_b.state, "running")

    def test_revenue_in_the_company_currency(self):
        """Orders in another currency count at their rate of the order date; test walks and
        walks that did not convert do not count."""
        company = self.env.company
        other_currency = (
            self.env["res.currency"]
            .with_context(active_test=False)
            .search([("id", "!=", company.currency_id.id), ("name", "in", ("EUR", "USD"))], limit=1)
        )
        other_currency.active = True
        self.env["res.currency.rate"].create(
            {
                "currency_id": other_currency.id,
                "rate": 2.0,
                "name": "2026-01-01",
                "company_id": company.id,
            }
        )
        pricelist = self.env["product.pricelist"].create(
            {"name": "Foreign", "currency_id": other_currency.id}
        )
        with self.at(NOW):
            scenario = self.make_cart_scenario()
            local = self.make_cart(self.alice)
            foreign = self.make_cart(self.bob, qty=3, pricelist_id=pricelist.id)
            lost = self.make_cart(self.carol)
        with self.at(NOW + HOUR):
            self.run_cart_cron()
            test_cart = self.make_cart(
                self.env["res.partner"].create({"name": "Tess", "email": "tess@example.com"})
            )
            scenario.enroll(test_cart, test=True)
        self.assertEqual(len(self.participants(scenario)), 4)
        self.assertEqual(foreign.currency_id, other_currency)
        self.assertEqual(local.amount_total, 100.0)
        self.assertGreater(foreign.amount_total, 0.0)
        with self.at(NOW + 2 * HOUR):
            (local | foreign | test_cart).action_confirm()
        self.assertEqual(scenario.converted_count, 2)
        self.assertEqual(scenario.revenue_currency_id, company.currency_id)
        self.assertAlmostEqual(scenario.converted_revenue, 100.0 + foreign.amount_total / 2)
        self.assertEqual(self.participants(scenario, lost).state, "running")

    def test_revenue_of_scenarios_on_other_targets_is_zero(self):
        scenario = self.make_scenario()
        self.assertEqual(scenario.converted_revenue, 0.0)
        self.assertEqual(scenario.revenue_currency_id, self.env.company.currency_id)

    def test_goal_of_a_backend_confirmation_with_lines_added(self):
        """A salesperson completes the cart in the backend and confirms it: converted."""
        scenario, cart, participant = self._walking_cart(self.alice)
        with self.at(NOW + 2 * HOUR):
            cart.write({"order_line": [Command.create({"product_id": self.product.id})]})
            cart.action_confirm()
        self.assertEqual(participant.state, "converted")
        self.assertEqual(scenario.converted_revenue, 200.0)
