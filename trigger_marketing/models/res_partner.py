from odoo import api, fields, models
from odoo.tools import SQL


class ResPartner(models.Model):
    _inherit = "res.partner"

    marketing_score = fields.Integer(
        string="Score",
        readonly=True,
        index=True,
        copy=False,
        help="Lead score: the sum of the points of the score history.",
    )
    marketing_score_history_ids = fields.One2many(
        "marketing.score.history", "partner_id", string="Score history"
    )
    birthdate = fields.Date(
        string="Birth date",
        help="Used by anniversary scenarios (a birthday mail at the contact's local time).",
    )
    marketing_participant_ids = fields.One2many(
        "marketing.scenario.participant", "partner_id", string="Scenarios"
    )

    @api.model
    def _add_marketing_score(self, entries):
        """Add score points, set-based: ``entries`` is a list of ``marketing.score.history``
        values (``partner_id``, ``points``, and why). Writes the history lines and moves
        the stored totals in two queries.

        :return: {partner_id: (old_score, new_score)}
        """
        entries = [e for e in entries if e.get("points")]
        if not entries:
            return {}
        self.env["marketing.score.history"].sudo()._insert_lines(entries)
        deltas = {}
        for entry in entries:
            deltas[entry["partner_id"]] = deltas.get(entry["partner_id"], 0) + entry["points"]
        self.flush_model(["marketing_score"])
        self.env.cr.execute(
            SQL(
                """
                UPDATE res_partner p
                   SET marketing_score = COALESCE(p.marketing_score, 0) + d.points
                  FROM unnest(%s::int[], %s::int[]) AS d(id, points)
                 WHERE p.id = d.id
             RETURNING p.id, p.marketing_score - d.points, p.marketing_score
                """,
                list(deltas),
                list(deltas.values()),
            )
        )
        changes = {pid: (old, new) for pid, old, new in self.env.cr.fetchall()}
        self.browse(changes).invalidate_recordset(
            ["marketing_score", "marketing_score_history_ids"]
        )
        return changes
