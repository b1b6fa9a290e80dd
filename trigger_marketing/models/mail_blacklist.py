from odoo import api, models, tools


class MailBlacklist(models.Model):
    """Asking to be blacklisted (the unsubscribe link of a mailing, the 'blocklist me'
    button) is an unsubscribe event for the score. Hooked on ``_add``, the API of these
    requests, rather than on ``create``: an address that is blacklisted already, or that
    an administrator imports, is not an action of the contact."""

    _inherit = "mail.blacklist"

    @api.model
    def _add(self, email, message=None):
        normalized = tools.email_normalize(email)
        if not (normalized and self.env["marketing.score.rule"]._has_rules(["unsubscribe"])):
            return super()._add(email, message=message)
        already = self.sudo().search_count([("email", "=", normalized)], limit=1)
        record = super()._add(email, message=message)
        if not already:
            self.env["res.partner"]._marketing_score_unsubscribe([normalized], record)
        return record
