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
        reminder, last_call = self.steps["Reminder"], self.steps["Last call"]
        coupon = self.steps.get("Coupon")
        self.assertFalse(reminder.parent_id)
        # the description says what the timing does: the reminder goes when the cart has
        # been left for an hour (it enters then), not an hour later
        self.assertEqual(scenario.cart_abandoned_hours, 1.0)
        self.assertEqual((reminder.delay, reminder.action_type), (0, "mail"))
        (template,) = [t for t in scenario._scenario_templates() if t["code"] == "cart_abandonment"]
        self.assertIn("left for an hour", template["description"])
        self.assertIn("a reminder right then", template["description"])
        if "coupon_program_id" not in self.env["marketing.scenario.step"]._fields:
            # without the loyalty bridge: no coupon step, no code in the e-mails
            self.assertFalse(coupon)
            self.assertEqual(last_call.parent_id, reminder)
            self.assertNotIn("coupon", template["description"])
            self.assertNotIn("code", last_call.mailing_id.body_html)
        else:
            self.assertEqual(coupon.parent_id, reminder)
            self.assertEqual(last_call.parent_id, coupon)
            self.assertEqual((coupon.delay, coupon.delay_unit), (1, "days"))
            self.assertEqual(coupon.coupon_program_id.program_type, "coupons")
            self.assertIn("marketing_coupon.get(object.id", coupon.mailing_id.body_html)
            self.assertIn("single-use coupon", template["description"])
            self.assertEqual(coupon.mailing_id.campaign_id, scenario.campaign_id)
        self.assertEqual((last_call.delay, last_call.delay_unit), (1, "weeks"))
        self.assertNotIn("COMEBACK10", " ".join(scenario.step_ids.mailing_id.mapped("body_html")))
        scenario.step_ids._check_ready_to_run()

    def test_walk_until_the_order(self):
        with self.at(NOW - timedelta(minutes=1)):
            self.scenario.action_start()
        with self.at(NOW):
            alice_cart = self.make_cart(self.alice)
            bob_cart = self.make_cart(self.bob, qty=2)
        with self.at(NOW + HOUR):
            self.run_cart_cron()
        last_call = self.steps["Last call"]
        with_coupon = "Coupon" in self.steps
        # the reminder, as soon as the cart counts as abandoned (left for an hour)
        with self.at(NOW + HOUR), self.mock_mail_gateway():
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
        # the coupon, 1 day later: Alice's own single-use code, that her cart accepts
        if with_coupon:
            with self.at(NOW + HOUR + DAY), self.mock_mail_gateway():
                self.run_cron()
                self.send_queue()
                (mail,) = self.sent_to(self.alice)
            card = self.env["loyalty.card"].search([("partner_id", "=", self.alice.id)])
            self.assertEqual(len(card), 1)
            self.assertIn(card.code, mail["body"])
            if hasattr(alice_cart, "_try_apply_code"):
                applied = alice_cart._try_apply_code(card.code)
                self.assertNotIn("error", applied, "the shop accepts the code")
        # Alice orders: converted, her last call is cancelled; Bob gets his
        with self.at(NOW + 3 * DAY):
            alice_cart.action_confirm()
        alice_last = self.trace_of(last_call, alice_cart)
        self.assertEqual((alice_last.state, alice_last.reason_code), ("canceled", "goal"))
        last_call_at = NOW + HOUR + WEEK + (DAY if with_coupon else timedelta())
        with self.at(last_call_at), self.mock_mail_gateway():
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
        with self.at(NOW + HOUR), self.mock_mail_gateway():
            self.run_cron()
        trace = self.trace_of(self.steps["Reminder"], cart)
        self.assertEqual((trace.state, trace.reason_code), ("skipped", "condition"))
        self.assertNotSentEmail()
