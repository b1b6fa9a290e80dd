from odoo import fields, models


class MarketingScoreHistory(models.Model):
    """One change of a contact's score: what, when, why and how many points."""

    _name = "marketing.score.history"
    _description = "Score History"
    _order = "date desc, id desc"

    partner_id = fields.Many2one("res.partner", required=True, ondelete="cascade", index=True)
    date = fields.Datetime(default=fields.Datetime.now, required=True, index=True)
    points = fields.Integer(required=True)
    description = fields.Char(string="Why", required=True)
    scenario_id = fields.Many2one("marketing.scenario", ondelete="set null", index="btree_not_null")
    step_id = fields.Many2one("marketing.scenario.step", ondelete="set null")
    trace_id = fields.Many2one("marketing.scenario.trace", ondelete="set null")
    company_id = fields.Many2one(related="partner_id.company_id", store=True)
