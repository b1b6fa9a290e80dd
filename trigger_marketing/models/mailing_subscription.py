from odoo import api, models


class MailingSubscription(models.Model):
    """A subscription to a mailing list (or a renewed one, after an opt-out) makes the
    subscriber enter the scenarios that wait for a signup to this list."""

    _inherit = "mailing.subscription"

    @api.model_create_multi
    def create(self, vals_list):
        subscriptions = super().create(vals_list)
        subscriptions._trigger_marketing_subscribed()
        return subscriptions

    def write(self, vals):
        renewed = self.browse()
        if "opt_out" in vals and not vals["opt_out"] and self._trigger_marketing_watched():
            renewed = self.filtered("opt_out")
        res = super().write(vals)
        renewed._trigger_marketing_subscribed()
        return res

    def _trigger_marketing_watched(self):
        """The lists that running signup scenarios watch (cached: no query)."""
        if not self.env.registry.ready or self.env.context.get("trigger_marketing_skip"):
            return {}
        return self.env["marketing.scenario"].sudo()._signup_cache()["lists"]

    def _trigger_marketing_subscribed(self):
        watched = self._trigger_marketing_watched()
        if not self or not watched:
            return
        pairs = [
            (subscription.contact_id.id, subscription.list_id.id)
            for subscription in self
            if not subscription.opt_out and subscription.list_id.id in watched
        ]
        if pairs:
            self.env["marketing.scenario"].sudo()._on_list_subscribed(pairs)
