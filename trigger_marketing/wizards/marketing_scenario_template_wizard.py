from odoo import api, fields, models


class MarketingScenarioTemplateWizard(models.TransientModel):
    """Create a ready-made scenario (draft) from a template, then adapt it."""

    _name = "marketing.scenario.template.wizard"
    _description = "Create a scenario from a template"

    template = fields.Selection(selection="_selection_template", required=True)
    description = fields.Text(compute="_compute_description")

    @api.model
    def _selection_template(self):
        return [
            (t["code"], t["name"]) for t in self.env["marketing.scenario"]._available_templates()
        ]

    @api.depends("template")
    def _compute_description(self):
        descriptions = {
            t["code"]: t["description"]
            for t in self.env["marketing.scenario"]._available_templates()
        }
        for wizard in self:
            wizard.description = descriptions.get(wizard.template, False)

    def action_create(self):
        self.ensure_one()
        scenario = self.env["marketing.scenario"]._create_from_template(self.template)
        return {
            "type": "ir.actions.act_window",
            "res_model": "marketing.scenario",
            "res_id": scenario.id,
            "view_mode": "form",
            "target": "current",
        }
