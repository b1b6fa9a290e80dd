from odoo import models


class SaleOrder(models.Model):
    _inherit = "sale.order"

    def _action_confirm(self):
        """A confirmed order is an ``order_confirmed`` score event for its customer (once
        per order; the order is the source of the history line, its company selects the
        rules). Hooked on ``_action_confirm``, the extension point every confirmation
        goes through (button, portal signature, online payment)."""
        res = super()._action_confirm()
        orders = self.filtered("partner_id")
        if orders:
            self.env["res.partner"]._marketing_score_event(
                "order_confirmed",
                self.env["res.partner"].browse([order.partner_id.id for order in orders]),
                source=orders,
            )
        return res
