from odoo import api, models


class MailingSubscription(models.Model):
    """A subscription to a mailing list (or a renewed one, after an opt-out) makes the
    subscriber enter the scenarios that wait for a signup to this list; when the contact
    subscribes by themself it is also a ``signup`` score event. Opting out is an
    ``unsubscribe`` score event."""

    _inherit = "mailing.subscription"

    @api.model_create_multi
    def create(self, vals_list):
        subscriptions = super().create(vals_list)
        subscriptions._trigger_marketing_subscribed()
        subscriptions.filtered(lambda s: not s.opt_out)._marketing_score_signup()
        return subscriptions

    def write(self, vals):
        renewed = opting_out = self.browse()
        if "opt_out" in vals and not vals["opt_out"]:
            if self._trigger_marketing_watched() or self._marketing_scores_signup():
                renewed = self.filtered("opt_out")
        elif vals.get("opt_out") and self._marketing_scores("unsubscribe"):
            opting_out = self.filtered(lambda sub: not sub.opt_out)
        res = super().write(vals)
        renewed._trigger_marketing_subscribed()
        renewed._marketing_score_signup()
        if opting_out:
            self.env["res.partner"]._marketing_score_unsubscribe(
                opting_out.sudo().contact_id.mapped("email_normalized"), opting_out.list_id[:1]
            )
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

    # ------------------------------------------------------------
    # Score events
    # ------------------------------------------------------------

    def _marketing_scores(self, event):
        return (
            self.env.registry.ready
            and not self.env.context.get("trigger_marketing_skip")
            and self.env["marketing.score.rule"]._has_rules([event])
        )

    def _marketing_scores_signup(self):
        """Only a subscription made by the contact themself (a visitor of the website, a
        portal user on their preferences page) is a signup: imports, scenario steps and
        band actions subscribe people as an internal user or the superuser."""
        return self.env.user.share and self._marketing_scores("signup")

    def _marketing_score_signup(self):
        if not self or not self._marketing_scores_signup():
            return
        Partner = self.env["res.partner"].sudo()
        emails = self.sudo().contact_id.mapped("email_normalized")
        partner_by_email = Partner._marketing_partner_by_email(emails)
        by_email = {sub.sudo().contact_id.email_normalized: sub for sub in self}
        pairs = [(pid, by_email[email]) for email, pid in partner_by_email.items()]
        if pairs:
            Partner._marketing_score_event(
                "signup",
                Partner.browse([pid for pid, _sub in pairs]),
                source=self.env["mailing.list"].browse([sub.list_id.id for _pid, sub in pairs]),
            )
