from collections import defaultdict

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

    def get_marketing_timeline(self, limit=30):
        """The scenarios this contact walked and the steps of each walk, newest walk first,
        steps in date order: the data of the contact's marketing timeline.

        A constant number of queries whatever the number of walks and steps.
        """
        self.ensure_one()
        Participant = self.env["marketing.scenario.participant"]
        Trace = self.env["marketing.scenario.trace"]
        participants = Participant.search_fetch(
            [("partner_id", "=", self.id)],
            ["scenario_id", "state", "is_test", "date_start", "date_end", "end_reason_code"],
            limit=limit,
        )
        if not participants:
            return []
        participants.scenario_id.fetch(["name"])
        traces = Trace.search_fetch(
            [("participant_id", "in", participants.ids)],
            [
                "participant_id",
                "step_id",
                "state",
                "scheduled_at",
                "done_at",
                "reason_code",
                "reason",
                "outcome",
                "mail_status",
                "mail_opened_at",
                "mail_clicked_at",
                "mail_replied_at",
                "mail_bounced",
            ],
            order="id",
        )
        traces.step_id.with_context(active_test=False).fetch(["name", "action_type"])

        def labels(model, fname):
            return dict(model._fields[fname]._description_selection(self.env))

        participant_states = labels(Participant, "state")
        trace_states = labels(Trace, "state")
        reasons = labels(Trace, "reason_code")
        actions = labels(self.env["marketing.scenario.step"], "action_type")
        mail_states = labels(Trace, "mail_status")
        steps_by_participant = defaultdict(list)
        for trace in traces:
            date = trace.done_at or trace.scheduled_at
            steps_by_participant[trace.participant_id.id].append(
                {
                    "id": trace.id,
                    "name": trace.step_id.name,
                    "action_type": trace.step_id.action_type,
                    "action_label": actions.get(trace.step_id.action_type),
                    "state": trace.state,
                    "state_label": trace_states.get(trace.state),
                    "pending": trace.state in ("scheduled", "waiting"),
                    "date": fields.Datetime.to_string(date),
                    "reason": reasons.get(trace.reason_code) or trace.reason or "",
                    "outcome": trace.outcome,
                    "mail_status": mail_states.get(trace.mail_status) or "",
                    "opened": bool(trace.mail_opened_at),
                    "clicked": bool(trace.mail_clicked_at),
                    "replied": bool(trace.mail_replied_at),
                    "bounced": trace.mail_bounced,
                }
            )
        result = []
        for participant in participants:
            steps = sorted(
                steps_by_participant[participant.id], key=lambda s: (s["pending"], s["date"])
            )
            result.append(
                {
                    "id": participant.id,
                    "scenario_id": participant.scenario_id.id,
                    "scenario_name": participant.scenario_id.name,
                    "state": participant.state,
                    "state_label": participant_states.get(participant.state),
                    "is_test": participant.is_test,
                    "date_start": fields.Datetime.to_string(participant.date_start),
                    "date_end": fields.Datetime.to_string(participant.date_end),
                    "end_reason": reasons.get(participant.end_reason_code) or "",
                    "steps": steps,
                }
            )
        return result
