from odoo import fields, models


class Website(models.Model):
    _inherit = "website"

    trigger_marketing_cart_scenario_ids = fields.Many2many(
        "marketing.scenario",
        string="Cart scenarios",
        compute="_compute_trigger_marketing_cart_scenario_ids",
        help="Running cart-abandonment scenarios of the website's company: "
        "Odoo's single abandoned-cart e-mail is not sent for the carts they handle.",
    )

    def _compute_trigger_marketing_cart_scenario_ids(self):
        entries = self.env["marketing.scenario"].sudo()._cart_scenarios()
        Scenario = self.env["marketing.scenario"]
        for website in self:
            website.trigger_marketing_cart_scenario_ids = Scenario.browse(
                entry["id"]
                for entry in entries
                if entry["state"] == "running"
                and entry["company_id"] in (False, website.company_id.id)
            )
