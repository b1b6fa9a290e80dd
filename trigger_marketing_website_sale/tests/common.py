from datetime import timedelta

from odoo.fields import Command

from odoo.addons.trigger_marketing.tests.common import NOW, TriggerMarketingCase

HOUR = timedelta(hours=1)


class CartCase(TriggerMarketingCase):
    """Shop carts on a website of their own, and the intake cron of abandoned carts."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cart_cron = cls.env.ref("trigger_marketing_website_sale.ir_cron_cart_abandoned")
        cls.website = cls.env["website"].create(
            {"name": "Shop", "company_id": cls.env.company.id, "cart_abandoned_delay": 1.0}
        )
        cls.public_partner = cls.website.user_id.partner_id
        cls.product = cls.env["product.product"].create(
            {"name": "Oak chair", "list_price": 100.0, "sale_ok": True, "taxes_id": False}
        )
        cls.sale_model = cls.env["ir.model"]._get("sale.order")
        cls.alice, cls.bob, cls.carol = cls.env["res.partner"].create(
            [
                {"name": "Alice", "email": "alice@example.com"},
                {"name": "Bob", "email": "bob@example.com"},
                {"name": "Carol", "email": "carol@example.com"},
            ]
        )

    def make_cart(self, partner, qty=1.0, **vals):
        values = {
            "partner_id": partner.id,
            "website_id": self.website.id,
            "order_line": [Command.create({"product_id": self.product.id, "product_uom_qty": qty})],
        }
        values.update(vals)
        cart = self.env["sale.order"].create(values)
        self.env.flush_all()  # as the end of the request does, at the frozen time
        return cart

    def make_cart_scenario(self, start=True, **vals):
        """A cart scenario with one reminder e-mail 1 hour after entry."""
        values = {"name": "Carts", "trigger": "cart_abandoned", "domain": "[]"}
        values.update(vals)
        scenario = self.env["marketing.scenario"].create(values)
        self.reminder = self.make_step(
            scenario, "mail", name="Reminder", delay=1, delay_unit="hours"
        )
        if start:
            scenario.action_start()
        return scenario

    def change(self, cart, at, qty):
        """The customer changes the quantity of the cart's first line at ``at``."""
        with self.at(at):
            cart.order_line[:1].product_uom_qty = qty
            self.env.flush_all()

    def run_cart_cron(self):
        with self.enter_registry_test_mode():
            self.cart_cron.method_direct_trigger()
        self.env.invalidate_all()

    def participants(self, scenario, cart=None):
        domain = [("scenario_id", "=", scenario.id)]
        if cart:
            domain.append(("res_id", "=", cart.id))
        return self.env["marketing.scenario.participant"].search(domain, order="id")

    def abandon(self, cart, at):
        """Run the intake cron at ``at``; return the cart's participants."""
        with self.at(at):
            self.run_cart_cron()
        return self.env["marketing.scenario.participant"].search(
            [("res_id", "=", cart.id), ("model_name", "=", "sale.order")], order="id"
        )


__all__ = ["HOUR", "NOW", "CartCase"]
