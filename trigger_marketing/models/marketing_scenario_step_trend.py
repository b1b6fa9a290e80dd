from datetime import timedelta

from odoo import fields, models
from odoo.tools import SQL

TREND_DAYS = 30
TREND_SERIES = ("sent", "opened", "clicked", "converted")


class MarketingScenarioStep(models.Model):
    """What each step did per day over the last 30 days, for the small chart of the step
    card and of the statistics tab (``static/src/trend_chart``)."""

    _inherit = "marketing.scenario.step"

    stat_trend = fields.Json(
        string="Last 30 days",
        compute="_compute_stat_trend",
        help="Per day over the last 30 days: e-mails sent, opened and clicked by this step, "
        "and walks that went through it and converted on that day (real participants only).",
    )

    def _compute_stat_trend(self):
        """One query for any number of steps: ``{"days": [...], "<series>": [counts]}``."""
        today = fields.Date.context_today(self)
        days = [today - timedelta(days=TREND_DAYS - 1 - i) for i in range(TREND_DAYS)]
        index = {day: i for i, day in enumerate(days)}
        counts = {}
        step_ids = [sid for sid in self._origin.ids if sid]
        if step_ids:
            since = fields.Datetime.to_datetime(days[0])
            self.env["marketing.scenario.trace"].flush_model(
                [
                    "step_id",
                    "is_test",
                    "state",
                    "participant_id",
                    "mail_sent_at",
                    "mail_opened_at",
                    "mail_clicked_at",
                ]
            )
            self.env["marketing.scenario.participant"].flush_model(["state", "date_end"])
            self.env.cr.execute(
                SQL(
                    """
                    SELECT t.step_id, k.kind, k.at::date, COUNT(*)
                      FROM marketing_scenario_trace t
                      JOIN marketing_scenario_participant p ON p.id = t.participant_id
                     CROSS JOIN LATERAL (VALUES
                            ('sent', t.mail_sent_at),
                            ('opened', t.mail_opened_at),
                            ('clicked', t.mail_clicked_at),
                            ('converted', CASE WHEN p.state = 'converted' AND t.state = 'done'
                                               THEN p.date_end END)
                           ) AS k(kind, at)
                     WHERE t.step_id = ANY(%s) AND t.is_test IS NOT TRUE AND k.at >= %s
                     GROUP BY 1, 2, 3
                    """,
                    step_ids,
                    since,
                )
            )
            for step_id, kind, day, count in self.env.cr.fetchall():
                if day in index:
                    counts.setdefault(step_id, {}).setdefault(kind, [0] * TREND_DAYS)
                    counts[step_id][kind][index[day]] = count
        labels = [fields.Date.to_string(day) for day in days]
        for step in self:
            series = counts.get(step._origin.id, {})
            step.stat_trend = {
                "days": labels,
                **{kind: series.get(kind, [0] * TREND_DAYS) for kind in TREND_SERIES},
            }
