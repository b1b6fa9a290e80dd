from odoo import fields, models

from .marketing_scenario_trace import CART_REASONS


class MarketingScenarioParticipant(models.Model):
    _inherit = "marketing.scenario.participant"

    end_reason_code = fields.Selection(
        selection_add=CART_REASONS,
        ondelete={code: "set null" for code, _label in CART_REASONS},
    )
