from odoo import fields, models

# Why a cart's walk ends besides the engine's reasons.
CART_REASONS = [
    ("cart_ordered_elsewhere", "Ordered another cart"),
    ("cart_superseded", "A newer cart took over"),
]


class MarketingScenarioTrace(models.Model):
    _inherit = "marketing.scenario.trace"

    reason_code = fields.Selection(
        selection_add=CART_REASONS,
        ondelete={code: "set null" for code, _label in CART_REASONS},
    )
