from odoo import api, fields, models
from odoo.tools import SQL

from .marketing_score_rule import SCORE_EVENTS

HISTORY_EVENTS = [
    *SCORE_EVENTS,
    ("step", "Scenario step"),
    ("decay", "Decay"),
    ("manual", "Manual adjustment"),
]


class MarketingScoreHistory(models.Model):
    """One change of a contact's score: what, when, why and how many points.

    Lines are written by ``res.partner._add_marketing_score`` only (in batches); the
    stored total on the contact is the sum of its lines.
    """

    _name = "marketing.score.history"
    _description = "Score History"
    _order = "date desc, id desc"

    partner_id = fields.Many2one("res.partner", required=True, ondelete="cascade", index=True)
    date = fields.Datetime(default=fields.Datetime.now, required=True, index=True)
    points = fields.Integer(required=True)
    description = fields.Char(string="Why", required=True)
    event = fields.Selection(HISTORY_EVENTS, index="btree_not_null")
    event_name = fields.Char()
    rule_id = fields.Many2one("marketing.score.rule", ondelete="set null")
    scenario_id = fields.Many2one("marketing.scenario", ondelete="set null", index="btree_not_null")
    step_id = fields.Many2one("marketing.scenario.step", ondelete="set null")
    trace_id = fields.Many2one("marketing.scenario.trace", ondelete="set null")
    res_model = fields.Char(string="Source model")
    res_id = fields.Many2oneReference(string="Source ID", model_field="res_model")
    source_ref = fields.Reference(
        selection="_selection_source_ref",
        compute="_compute_source_ref",
        string="Source",
        help="What caused the change: the mail, the order, the cart...",
    )
    company_id = fields.Many2one(related="partner_id.company_id", store=True)

    # the caps of the score rules sum the recent points of (contact, rule)
    _partner_rule_date_idx = models.Index("(partner_id, rule_id, date) WHERE rule_id IS NOT NULL")

    @api.model
    def _selection_source_ref(self):
        return [(model.model, model.name) for model in self.env["ir.model"].sudo().search([])]

    @api.depends("res_model", "res_id")
    def _compute_source_ref(self):
        existing = set()
        by_model = {}
        for line in self:
            if line.res_model in self.env and line.res_id:
                by_model.setdefault(line.res_model, set()).add(line.res_id)
        for model_name, ids in by_model.items():
            records = self.env[model_name].sudo().browse(ids).exists()
            existing.update((model_name, rid) for rid in records.ids)
        for line in self:
            if (line.res_model, line.res_id) in existing:
                line.source_ref = f"{line.res_model},{line.res_id}"
            else:
                line.source_ref = False

    @api.model
    def _insert_lines(self, vals_list):
        """Insert history lines in one query whatever their number (scores move by the
        thousand in the processing cron; the ORM would insert them 100 at a time).

        Only stored plain columns are accepted; ``company_id`` is taken from the partner.
        """
        if not vals_list:
            return
        columns = sorted({key for vals in vals_list for key in vals} - {"company_id"})
        now = self.env.cr.now()
        for vals in vals_list:
            vals.setdefault("date", now)
        if "date" not in columns:
            columns.append("date")
        arrays = [
            SQL(
                "%s::%s[]",
                [vals.get(col) for vals in vals_list],
                SQL(self._fields[col].column_type[1]),
            )
            for col in columns
        ]
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO marketing_score_history
                       (%(columns)s, company_id, create_uid, create_date, write_uid, write_date)
                SELECT %(values)s, p.company_id, %(uid)s, %(now)s, %(uid)s, %(now)s
                  FROM unnest(%(arrays)s) AS v(%(columns)s)
                  JOIN res_partner p ON p.id = v.partner_id
                """,
                columns=SQL(", ").join(SQL.identifier(col) for col in columns),
                values=SQL(", ").join(SQL.identifier("v", col) for col in columns),
                arrays=SQL(", ").join(arrays),
                uid=self.env.uid,
                now=now,
            )
        )
        self.invalidate_model()
