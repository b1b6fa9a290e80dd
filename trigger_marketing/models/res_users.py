from odoo import api, models


class ResUsers(models.Model):
    _inherit = "res.users"

    @api.model
    def _signup_create_user(self, values):
        """The contact of an account created on the website or portal enters the running
        "signs up" scenarios, in the same transaction."""
        user = super()._signup_create_user(values)
        if user and not self.env.context.get("trigger_marketing_skip"):
            self.env["marketing.scenario"].sudo()._on_account_signup(user.partner_id)
        return user
