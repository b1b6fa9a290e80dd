from datetime import timedelta

from odoo.tests import tagged

from .common import HOUR, NOW, CartCase

DAY = timedelta(days=1)
WEEK = timedelta(weeks=1)


@tagged("post_install", "-at_install")
class TestCartTemplate(CartCase):
    """The ready-made "Cart abandonment" scenario: reminder, coupon, last call."""

    def setUp(self):
        super().setUp()
        with self.at(NOW - timedelta(minutes=1)):
            self.scenario = self.env["marketing.scenario"]._template_cart_abandonment()
            self.steps = {step.name: step for step in self.scenario.step_ids}

    def sent_to(self, partner):
        return [mail for mail in self._mails if partner.email in mail["email_to"][0]]

    def test_template_structure(self):
        scenario = self.scenario
        self.assertEqual(
            (scenario.state, scenario.trigger, scenario.model_name),
            ("draft", "cart_abandoned", "sale.order"),
        )
        self.assertEqual(scenario.goal_domain, "[('state', '=', 'sale')]")
        reminder, coupon, last_call = (
            self.steps[name] for name in ("Reminder", "Coupon", "Last call")
        )
        self.assertFalse(reminder.parent_id)
        self.assertEqual(coupon.parent_id, reminder)
        self.assertEqual(last_call.parent_id, coupon)
        self.assertEqual(
            [(s.delay, s.delay_unit, s.action_type) for s in (reminder, coupon, last_call)],
            [(1, "hours", "mail"), (1, "days", "mail"), (1, "weeks", "mail")],
        )
        self.assertIn("COMEBACK10", coupon.mailing_id.body_html)
        self.assertEqual(coupon.mailing_id.campaign_id, scenario.campaign_id)
        scenario.step_ids._check_ready_to_run()

    def test_walk_until_the_order(self):
        with self.at(NOW - timedelta(minutes=1)):
            self.scenario.action_start()
        with self.at(NOW):
            alice_cart = self.make_cart(self.alice)
            bob_cart = self.make_cart(self.bob, qty=2)
        with self.at(NOW + HOUR):
            self.run_cart_cron()
        reminder, coupon, last_call = (
            self.steps[name] for name in ("Reminder", "Coupon", "Last call")
        )
        # the reminder, 1 hour after the cart was abandoned
        with self.at(NOW + 2 * HOUR), self.mock_mail_gateway():
            self.run_cron()
            self.send_queue()
            self.assertEqual(len(self._mails), 2)
            (mail,) = self.sent_to(self.alice)
            self.assertIn("Oak chair", mail["body"])
            self.assertIn("You left something in your cart", mail["subject"])
        resume = self.env["link.tracker"].search(
            [
                (
                    "url",
                    "like",
                    f"/shop/cart?id={alice_cart.id}&access_token={alice_cart.access_token}",
                )
            ]
        )
        self.assertTrue(resume, "the mail links to the cart, through a tracked link")
        # the coupon, 1 day later
        with self.at(NOW + 2 * HOUR + DAY), self.mock_mail_gateway():
            self.run_cron()
            self.send_queue()
            (mail,) = self.sent_to(self.alice)
            self.assertIn("COMEBACK10", mail["body"])
        # Alice orders: converted, her last call is cancelled; Bob gets his
        with self.at(NOW + 3 * DAY):
            alice_cart.action_confirm()
        alice_last = self.trace_of(last_call, alice_cart)
        self.assertEqual((alice_last.state, alice_last.reason_code), ("canceled", "goal"))
        with self.at(NOW + 2 * HOUR + DAY + WEEK), self.mock_mail_gateway():
            self.run_cron()
            self.send_queue()
            self.assertFalse(self.sent_to(self.alice))
            (mail,) = self.sent_to(self.bob)
            self.assertIn("Last call", mail["subject"])
        self.assertEqual(self.scenario.converted_count, 1)
        self.assertEqual(self.scenario.converted_revenue, alice_cart.amount_total)
        self.assertEqual(self.participants(self.scenario, bob_cart).state, "completed")

    def test_steps_skip_carts_that_are_no_carts_any_more(self):
        """Paid by wire transfer meanwhile (quotation sent, waiting for the payment): the
        steps are skipped with the reason, the customer is not told to finish the order."""
        with self.at(NOW - timedelta(minutes=1)):
            self.scenario.action_start()
        with self.at(NOW):
            cart = self.make_cart(self.alice)
        with self.at(NOW + HOUR):
            self.run_cart_cron()
            cart.action_quotation_sent()
        with self.at(NOW + 2 * HOUR), self.mock_mail_gateway():
            self.run_cron()
        trace = self.trace_of(self.steps["Reminder"], cart)
        self.assertEqual((trace.state, trace.reason_code), ("skipped", "condition"))
        self.assertNotSentEmail()
