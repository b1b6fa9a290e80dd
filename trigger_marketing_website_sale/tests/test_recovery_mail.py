from odoo.tests import tagged

from .common import HOUR, NOW, CartCase

RECOVERY_SUBJECT = "You left items in your cart!"


@tagged("post_install", "-at_install")
class TestOdooRecoveryMail(CartCase):
    """Odoo's own single abandoned-cart e-mail is not sent for carts a scenario handles."""

    def setUp(self):
        super().setUp()
        with self.at(NOW - HOUR):
            self.website.send_abandoned_cart_email = True  # activation time: NOW - 1 h

    def recovery_mails(self, carts):
        return self.env["mail.mail"].search(
            [
                ("model", "=", "sale.order"),
                ("res_id", "in", carts.ids),
                ("subject", "=", RECOVERY_SUBJECT),
            ]
        )

    def _odoo_cron(self, at):
        with self.at(at):
            self.env["website"]._send_abandoned_cart_email()
            self.env.flush_all()

    def test_without_scenario_odoo_sends_its_reminder(self):
        """The control: website_sale's cron mails abandoned carts when no scenario runs."""
        with self.at(NOW):
            cart = self.make_cart(self.alice)
        self._odoo_cron(NOW + 2 * HOUR)
        self.assertEqual(len(self.recovery_mails(cart)), 1)
        self.assertTrue(cart.cart_recovery_email_sent)

    def test_scenario_carts_do_not_get_odoo_reminder(self):
        """Scenario (3 h, audience: carts of 50 or more). Odoo's delay is 1 h: the cart of
        100 is handled although not entered yet, the cart of 20 is not handled by the
        scenario and gets Odoo's reminder; an entered cart is never reminded by Odoo."""
        with self.at(NOW - HOUR / 2):
            scenario = self.make_cart_scenario(
                cart_abandoned_hours=3, domain="[('amount_total', '>=', 50)]"
            )
        with self.at(NOW):
            handled = self.make_cart(self.alice)
            small = self.make_cart(self.bob, qty=0.2)
        self.assertEqual(self.website.trigger_marketing_cart_scenario_ids, scenario)
        self._odoo_cron(NOW + 2 * HOUR)
        self.assertFalse(self.recovery_mails(handled))
        self.assertTrue(handled.cart_recovery_email_sent, "not checked again by website_sale")
        self.assertEqual(len(self.recovery_mails(small)), 1)
        with self.at(NOW + 3 * HOUR):
            self.run_cart_cron()
        self.assertTrue(self.participants(scenario, handled))
        self.assertFalse(self.participants(scenario, small), "outside the audience")

    def test_entered_cart_is_flagged(self):
        """A cart entered before Odoo's delay (scenario 1 h, website 5 h) is flagged at
        entry: website_sale never considers it, even once the scenario is stopped."""
        self.website.cart_abandoned_delay = 5.0
        with self.at(NOW):
            scenario = self.make_cart_scenario()
            cart = self.make_cart(self.alice)
        with self.at(NOW + HOUR):
            self.run_cart_cron()
            self.assertTrue(cart.cart_recovery_email_sent)
            scenario.action_stop()
        self._odoo_cron(NOW + 6 * HOUR)
        self.assertFalse(self.recovery_mails(cart))

    def test_cart_in_a_scenario_stays_handled(self):
        """A cart that entered the running scenario is handled even when it no longer
        matches the audience and someone reset its recovery flag."""
        with self.at(NOW):
            scenario = self.make_cart_scenario(domain="[('amount_total', '>=', 50)]")
            cart = self.make_cart(self.alice)
        with self.at(NOW + HOUR):
            self.run_cart_cron()
        self.assertTrue(self.participants(scenario, cart))
        self.change(cart, NOW + HOUR, 0.2)
        cart.cart_recovery_email_sent = False
        self.assertFalse(scenario._filter_audience(cart))
        self._odoo_cron(NOW + 3 * HOUR)
        self.assertFalse(self.recovery_mails(cart))

    def test_stopped_scenario_gives_the_carts_back_to_odoo(self):
        with self.at(NOW - HOUR / 2):
            scenario = self.make_cart_scenario(cart_abandoned_hours=3)
        with self.at(NOW):
            cart = self.make_cart(self.alice)
            scenario.action_stop()
        self.assertFalse(self.website.trigger_marketing_cart_scenario_ids)
        self._odoo_cron(NOW + 2 * HOUR)
        self.assertEqual(len(self.recovery_mails(cart)), 1)

    def test_paused_scenario_takes_no_new_cart(self):
        """A paused scenario takes no new cart (resuming starts from now): Odoo's reminder
        goes to a cart abandoned meanwhile, not to a cart already in the scenario."""
        with self.at(NOW - HOUR):
            scenario = self.make_cart_scenario()
            entered = self.make_cart(self.alice)
        with self.at(NOW):
            self.run_cart_cron()
            entered.cart_recovery_email_sent = False  # reset by hand: still in the scenario
            scenario.action_pause()
            new = self.make_cart(self.bob)
        self.assertFalse(self.website.trigger_marketing_cart_scenario_ids)
        self._odoo_cron(NOW + 2 * HOUR)
        self.assertFalse(self.recovery_mails(entered))
        self.assertEqual(len(self.recovery_mails(new)), 1)

    def test_recovery_mail_of_automation_rules(self):
        """website_sale's ``_cart_recovery_email_send`` (for automation rules) follows the
        same rule; another company's scenario does not handle this shop's carts."""
        other_company = self.env["res.company"].create({"name": "Other shop"})
        with self.at(NOW - HOUR / 2):
            self.make_cart_scenario(domain="[('amount_total', '>=', 50)]")
            other = self.make_cart_scenario(name="Other", company_id=other_company.id)
        with self.at(NOW):
            handled = self.make_cart(self.alice)
            small = self.make_cart(self.bob, qty=0.2)
        with self.at(NOW + HOUR / 2):
            (handled | small)._cart_recovery_email_send()
            self.env.flush_all()
        self.assertFalse(self.recovery_mails(handled))
        self.assertEqual(len(self.recovery_mails(small)), 1)
        self.assertTrue((handled | small).mapped("cart_recovery_email_sent"))
        self.assertNotIn(other, self.website.trigger_marketing_cart_scenario_ids)

    def test_settings_show_the_rule(self):
        with self.at(NOW):
            scenario = self.make_cart_scenario()
        settings = (
            self.env["res.config.settings"]
            .with_context(website_id=self.website.id)
            .create({"website_id": self.website.id})
        )
        self.assertEqual(settings.trigger_marketing_cart_scenario_ids, scenario)
        action = settings.action_trigger_marketing_cart_scenarios()
        self.assertEqual(action["domain"], [("trigger", "=", "cart_abandoned")])
