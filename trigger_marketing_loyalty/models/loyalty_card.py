from odoo import fields, models


class LoyaltyCard(models.Model):
    _inherit = "loyalty.card"

    marketing_trace_id = fields.Many2one(
        "marketing.scenario.trace",
        string="Scenario step",
        index="btree_not_null",
        ondelete="set null",
        readonly=True,
        help="The scenario e-mail that gave this coupon to the contact.",
    )
