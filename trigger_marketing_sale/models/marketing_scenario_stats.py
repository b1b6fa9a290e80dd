from odoo import api, models
from odoo.tools import SQL


class MarketingScenario(models.Model):
    """Revenue of scenarios on contacts: the orders their converted contacts confirmed
    while walking (from entering to converting)."""

    _inherit = "marketing.scenario"

    @api.depends("model_id")
    def _compute_has_revenue(self):
        res = super()._compute_has_revenue()
        for scenario in self.filtered(lambda s: s.model_name == "res.partner"):
            scenario.has_revenue = True
        return res

    def _revenue_amounts(self):
        sums = super()._revenue_amounts()
        scenario_ids = [
            s._origin.id for s in self if s._origin.id and s.model_name == "res.partner"
        ]
        if not scenario_ids:
            return sums
        self.env["marketing.scenario.participant"].flush_model(
            ["scenario_id", "partner_id", "state", "is_test", "date_start", "date_end"]
        )
        self.env["sale.order"].flush_model(["partner_id", "state", "date_order", "amount_total"])
        self.env.cr.execute(
            SQL(
                """
                SELECT p.scenario_id, so.currency_id, SUM(so.amount_total)
                  FROM marketing_scenario_participant p
                  JOIN sale_order so ON so.partner_id = p.partner_id AND so.state = 'sale'
                   AND so.date_order >= p.date_start AND so.date_order <= p.date_end
                 WHERE p.scenario_id = ANY(%s) AND p.state = 'converted'
                   AND p.is_test IS NOT TRUE
                 GROUP BY 1, 2
                """,
                scenario_ids,
            )
        )
        for scenario_id, currency_id, amount in self.env.cr.fetchall():
            sums[scenario_id].append((currency_id, amount or 0.0))
        return sums
