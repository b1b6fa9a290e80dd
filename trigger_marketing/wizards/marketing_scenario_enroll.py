from odoo import api, fields, models
from odoo.exceptions import UserError


class MarketingScenarioEnroll(models.TransientModel):
    """ "Add to scenario" on selected records (list and form, any target model)."""

    _name = "marketing.scenario.enroll"
    _description = "Add records to a scenario"

    model_name = fields.Char(required=True)
    res_ids = fields.Json(required=True)
    record_count = fields.Integer(compute="_compute_record_count")
    scenario_id = fields.Many2one(
        "marketing.scenario",
        required=True,
        domain="[('model_name', '=', model_name), ('state', '=', 'running')]",
    )
    test = fields.Boolean(
        string="Test run",
        help="Create test participants: their e-mails go to the scenario's test recipient and "
        "they never count in statistics.",
    )

    @api.model
    def default_get(self, fields_list):
        vals = super().default_get(fields_list)
        context = self.env.context
        vals.setdefault("model_name", context.get("active_model"))
        vals.setdefault("res_ids", context.get("active_ids") or [])
        return vals

    @api.depends("res_ids")
    def _compute_record_count(self):
        for wizard in self:
            wizard.record_count = len(wizard.res_ids or [])

    @api.onchange("test")
    def _onchange_test(self):
        if self.test and self.scenario_id.state == "draft":
            return
        if self.scenario_id and self.scenario_id.state != "running" and not self.test:
            self.scenario_id = False

    def action_enroll(self):
        self.ensure_one()
        records = self.env[self.model_name].browse(self.res_ids).exists()
        if not records:
            raise UserError(self.env._("Select at least one record."))
        participants = self.scenario_id.enroll(records, test=self.test)
        skipped = len(records) - len(participants)
        message = self.env._(
            "%(count)s record(s) added to %(scenario)s.",
            count=len(participants),
            scenario=self.scenario_id.name,
        )
        if skipped:
            message += " " + self.env._(
                "%(count)s not added: outside the audience, goal already reached, already in "
                "the scenario, or kept out by the re-entry policy.",
                count=skipped,
            )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Add to scenario"),
                "message": message,
                "type": "success" if participants else "warning",
                "next": {"type": "ir.actions.act_window_close"},
            },
        }
