from odoo import models

PENDING = "trigger_marketing_sale.confirmed_order_ids"


class SaleOrder(models.Model):
    _inherit = "sale.order"

    def _action_confirm(self):
        """A confirmed order is an ``order_confirmed`` score event for its customer (once
        per order; the order is the source of the history line, its company selects the
        rules). Hooked on ``_action_confirm``, the extension point every confirmation
        goes through (button, portal signature, online payment).

        Scored once per transaction, just before it commits: the orders it confirmed
        cost the queries of one scoring, whatever their number (11 queries per order
        when each confirmation scored at once). No query when no rule counts orders.
        """
        res = super()._action_confirm()
        if self.env["marketing.score.rule"]._has_rules(["order_confirmed"]):
            pending = self.env.cr.precommit.data.setdefault(PENDING, set())
            if not pending:
                self.env.cr.precommit.add(self._trigger_marketing_score_confirmed)
            pending.update(self.ids)
        return res

    def _trigger_marketing_score_confirmed(self):
        """Score the orders confirmed in this transaction that still are (a savepoint
        may have rolled a confirmation back)."""
        ids = self.env.cr.precommit.data.pop(PENDING, set())
        orders = (
            self.sudo()
            .browse(sorted(ids))
            .exists()
            .filtered(lambda order: order.state == "sale" and order.partner_id)
        )
        if orders:
            self.env["res.partner"]._marketing_score_event(
                "order_confirmed",
                self.env["res.partner"].browse([order.partner_id.id for order in orders]),
                source=orders,
            )
