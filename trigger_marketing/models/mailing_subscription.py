from odoo import models


class MailingSubscription(models.Model):
    """Opting out of a mailing list is an unsubscribe event for the score."""

    _inherit = "mailing.subscription"

    def write(self, vals):
        if not (
            self
            and vals.get("opt_out")
            and self.env["marketing.score.rule"]._has_rules(["unsubscribe"])
        ):
            return super().write(vals)
        opting_out = self.filtered(lambda sub: not sub.opt_out)
        res = super().write(vals)
        if opting_out:
            self.env["res.partner"]._marketing_score_unsubscribe(
                opting_out.sudo().contact_id.mapped("email_normalized"), opting_out.list_id[:1]
            )
        return res
