from odoo import api, fields, models
from odoo.tools import SQL


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
