from odoo import api, fields, models

WAKE_KEY = "trigger_marketing_website_sale.cart_changed"


class SaleOrder(models.Model):
    _inherit = "sale.order"

    cart_changed_at = fields.Datetime(
        string="Cart last changed",
        compute="_compute_cart_changed_at",
        store=True,
        precompute=True,
        readonly=True,
        copy=False,
        help="Last time the content or the customer of this shop cart changed. The cart is "
        "abandoned when it has not changed for the delay of the cart scenarios.",
    )

    # The intake of abandoned carts scans draft shop carts by last change.
    _cart_changed_idx = models.Index(
        "(cart_changed_at, id) WHERE state = 'draft' AND website_id IS NOT NULL"
    )

    @api.depends("website_id", "partner_id", "order_line.product_id", "order_line.product_uom_qty")
    def _compute_cart_changed_at(self):
        """Stamp the carts whose content or customer changed.

        A dedicated stamp rather than ``write_date``: the order is also written by things
        that are no activity of the customer (a portal token, the recovery flag, a
        salesperson's tag, our own enrolment), which would make the cart abandoned anew.
        """
        now = fields.Datetime.now()
        carts = self.filtered(lambda o: o.website_id and o.state == "draft")
        carts.cart_changed_at = now
        for order in self - carts:
            order.cart_changed_at = order.cart_changed_at
        if carts and self.env["marketing.scenario"].sudo()._cart_scenarios():
            self._cart_wake_on_commit(now)

    def _cart_wake_on_commit(self, changed_at):
        """Wake the intake cron when these carts become abandoned: once per transaction,
        just before the commit, for the earliest change."""
        data = self.env.cr.precommit.data
        if WAKE_KEY not in data:
            data[WAKE_KEY] = changed_at
            self.env.cr.precommit.add(self.env["marketing.scenario"].sudo()._cart_wake_precommit)
        else:
            data[WAKE_KEY] = min(data[WAKE_KEY], changed_at)

    # ------------------------------------------------------------
    # The goal reached through another cart
    # ------------------------------------------------------------

    def action_confirm(self):
        res = super().action_confirm()
        self._cart_end_walks_of_other_carts()
        return res

    def _cart_end_walks_of_other_carts(self):
        """The contact ordered: the walks of their other carts end (exited, with the
        reason). The confirmed cart itself is converted by the scenario's goal."""
        Scenario = self.env["marketing.scenario"].sudo()
        scenario_ids = [entry["id"] for entry in Scenario._cart_scenarios()]
        confirmed = self.filtered(lambda o: o.state == "sale")
        if not scenario_ids or not confirmed:
            return
        others = (
            self.env["marketing.scenario.participant"]
            .sudo()
            .search(
                [
                    ("scenario_id", "in", scenario_ids),
                    ("state", "=", "running"),
                    ("is_test", "=", False),
                    ("partner_id", "in", confirmed.partner_id.ids),
                    ("res_id", "not in", confirmed.ids),
                ]
            )
        )
        for scenario, walks in others.grouped("scenario_id").items():
            scenario._react(walks._end, "exited", "cart_ordered_elsewhere")

    # ------------------------------------------------------------
    # Odoo's own abandoned-cart e-mail
    # ------------------------------------------------------------

    def _filter_can_send_abandoned_cart_mail(self):
        """Odoo's single reminder is not sent for carts that a cart scenario handles
        (website_sale then marks them as sent so that they are not checked again)."""
        carts = super()._filter_can_send_abandoned_cart_mail()
        return carts - carts._cart_handled_by_scenarios()

    def _cart_recovery_email_send(self):
        """Same rule for the recovery e-mail sent by automation rules."""
        handled = self._cart_handled_by_scenarios()
        handled.cart_recovery_email_sent = True
        return super(SaleOrder, self - handled)._cart_recovery_email_send()

    def _cart_handled_by_scenarios(self):
        """The carts of ``self`` that a cart-abandonment scenario handles: carts that
        entered a running or paused one, and carts that match the audience of a running
        one (they enter it when abandoned for its delay). A paused scenario takes no new
        cart (resuming starts from now): Odoo's reminder still goes to those."""
        Scenario = self.env["marketing.scenario"].sudo()
        entries = Scenario._cart_scenarios()
        if not self or not entries:
            return self.browse()
        Participant = self.env["marketing.scenario.participant"].sudo()
        handled = self.browse(
            res_id
            for [res_id] in Participant._read_group(
                [
                    ("scenario_id", "in", [entry["id"] for entry in entries]),
                    ("res_id", "in", self.ids),
                    ("is_test", "=", False),
                ],
                ["res_id"],
            )
        )
        for entry in entries:
            if entry["state"] != "running":
                continue
            rest = self - handled
            if not rest:
                break
            handled |= Scenario.browse(entry["id"])._filter_audience(rest.sudo()).with_env(self.env)
        return handled
