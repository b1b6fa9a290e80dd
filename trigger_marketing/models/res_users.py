from odoo import api, models


class ResUsers(models.Model):
    _inherit = "res.users"

    @api.model
    def _signup_create_user(self, values):
        """The contact of an account created on the website or portal enters the running
        "signs up" scenarios, in the same transaction, and scores a ``signup`` event."""
        user = super()._signup_create_user(values)
        if user and not self.env.context.get("trigger_marketing_skip"):
            self.env["marketing.scenario"].sudo()._on_account_signup(user.partner_id)
            self.env["res.partner"].sudo()._marketing_score_event(
                "signup", user.partner_id, source=user
            )
        return user
