from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from ..tools.experiments import Sample, confidence_better, difference_interval

LIFT_LEVEL = 0.95


class MarketingScenario(models.Model):
    """Holdout (control group) and the lift it measures.

    A share of the entrants is held out: their walk is recorded with the same timing,
    nothing is sent or done for them (each step says so on its trace), and their
    conversions and revenue, compared with the others', tell what the scenario adds.
    """

    _inherit = "marketing.scenario"

    holdout_percent = fields.Integer(
        string="Holdout (%)",
        default=0,
        help="Share of the entrants held out as a control group (0 to 50 %): they walk the "
        "scenario without receiving anything, so that the conversions of the others can be "
        "compared with theirs (the lift). Test runs are never held out.",
    )
    holdout_count = fields.Integer(string="Held out", compute="_compute_lift")
    treated_count = fields.Integer(string="Treated", compute="_compute_lift")
    holdout_conversion_rate = fields.Float(string="Holdout conversion (%)", compute="_compute_lift")
    treated_conversion_rate = fields.Float(string="Treated conversion (%)", compute="_compute_lift")
    lift_points = fields.Float(
        string="Lift (points)",
        compute="_compute_lift",
        help="Conversion rate of the treated minus that of the holdout, in points.",
    )
    lift_low = fields.Float(string="Lift, low (95 %)", compute="_compute_lift")
    lift_high = fields.Float(string="Lift, high (95 %)", compute="_compute_lift")
    lift_confidence = fields.Float(
        string="Confidence of a positive lift (%)",
        compute="_compute_lift",
        help="Confidence that the scenario converts more than no scenario at all "
        "(one-sided two-proportion z-test).",
    )
    lift_revenue_per_participant = fields.Float(
        string="Extra revenue per participant",
        compute="_compute_lift",
        help="Revenue per treated participant minus revenue per held-out participant.",
    )
    lift_summary = fields.Text(string="Lift", compute="_compute_lift")

    @api.constrains("holdout_percent")
    def _check_holdout_percent(self):
        for scenario in self:
            if not 0 <= scenario.holdout_percent <= 50:
                raise ValidationError(
                    self.env._(
                        "Scenario %(name)s: the holdout is from 0 to 50 %% of the entrants.",
                        name=scenario.name,
                    )
                )

    def _lift_samples(self):
        """{scenario id: {is_holdout: (participants, converted, revenue, revenue²)}}: one
        query per target model, real participants only."""
        result = {}
        by_model = {}
        for scenario in self.filtered(lambda s: s._origin.id):
            by_model.setdefault(scenario.model_name, []).append(scenario)
        self.env["marketing.scenario.participant"].flush_model()
        for model_name, scenarios in by_model.items():
            revenue = scenarios[0]._revenue_field()
            if revenue:
                table = SQL.identifier(self.env[model_name]._table)
                self.env[model_name].flush_model(["amount_total"])
                amount = SQL(
                    "CASE WHEN p.state = 'converted' THEN COALESCE((SELECT r.amount_total "
                    "FROM %s r WHERE r.id = p.res_id), 0) ELSE 0 END",
                    table,
                )
            else:
                amount = SQL("0")
            self.env.cr.execute(
                SQL(
                    """
                    SELECT p.scenario_id, COALESCE(p.is_holdout, FALSE), count(*),
                           count(*) FILTER (WHERE p.state = 'converted'),
                           SUM(%(amount)s), SUM((%(amount)s) * (%(amount)s))
                      FROM marketing_scenario_participant p
                     WHERE p.scenario_id = ANY(%(ids)s) AND p.is_test IS NOT TRUE
                     GROUP BY 1, 2
                    """,
                    amount=amount,
                    ids=[s._origin.id for s in scenarios],
                )
            )
            for sid, held, n, converted, total, total_sq in self.env.cr.fetchall():
                result.setdefault(sid, {})[held] = (
                    n,
                    converted,
                    float(total or 0),
                    float(total_sq or 0),
                )
        return result

    @api.depends("holdout_percent")
    def _compute_lift(self):
        data = self._lift_samples()
        for scenario in self:
            groups = data.get(scenario._origin.id, {})
            n_t, conv_t, rev_t, rev2_t = groups.get(False, (0, 0, 0.0, 0.0))
            n_h, conv_h, rev_h, rev2_h = groups.get(True, (0, 0, 0.0, 0.0))
            treated, held = Sample("treated", n_t, conv_t), Sample("holdout", n_h, conv_h)
            diff, low, high = difference_interval(treated, held, LIFT_LEVEL)
            scenario.treated_count = n_t
            scenario.holdout_count = n_h
            scenario.treated_conversion_rate = 100.0 * treated.mean
            scenario.holdout_conversion_rate = 100.0 * held.mean
            known = n_t and n_h
            scenario.lift_points = 100.0 * diff if known else 0.0
            scenario.lift_low = 100.0 * low if known else 0.0
            scenario.lift_high = 100.0 * high if known else 0.0
            scenario.lift_confidence = 100.0 * confidence_better(treated, held) if known else 0.0
            rev_diff = 0.0
            if known and scenario._revenue_field():
                rev_diff, _low, _high = difference_interval(
                    Sample("treated", n_t, rev_t, rev2_t), Sample("holdout", n_h, rev_h, rev2_h)
                )
            scenario.lift_revenue_per_participant = rev_diff
            scenario.lift_summary = scenario._lift_text() if scenario.holdout_percent or n_h else ""

    def _lift_text(self):
        self.ensure_one()
        if not self.holdout_count or not self.treated_count:
            return self.env._("The lift shows once treated and held-out participants have entered.")
        return self.env._(
            "Conversion %(treated).1f %% (%(n_t)s treated) vs %(held).1f %% (%(n_h)s held "
            "out): lift %(lift)+.1f points, 95 %% interval [%(low)+.1f, %(high)+.1f], "
            "confidence of a positive lift %(confidence).1f %%.",
            treated=self.treated_conversion_rate,
            n_t=self.treated_count,
            held=self.holdout_conversion_rate,
            n_h=self.holdout_count,
            lift=self.lift_points,
            low=self.lift_low,
            high=self.lift_high,
            confidence=self.lift_confidence,
        )
