from datetime import timedelta

from odoo import api, models
from odoo.tools import SQL

CAP_WINDOWS = {
    "day": ("trigger_marketing.cap_per_day", timedelta(days=1)),
    "week": ("trigger_marketing.cap_per_week", timedelta(days=7)),
}


class MarketingScenarioTrace(models.Model):
    """Frequency caps: at most N marketing e-mails per contact per day and per week,
    across all scenarios. A mail over the cap is deferred to the contact's next free
    slot, with the reason on its trace, never dropped; transactional e-mails and test
    walks are exempt. Within a batch, scenarios are served in their order (priority).
    """

    _inherit = "marketing.scenario.trace"

    @api.model
    def _frequency_caps(self):
        """{window: (cap, duration)} of the caps that are set (cached parameters)."""
        ICP = self.env["ir.config_parameter"].sudo()
        caps = {}
        for window, (key, duration) in CAP_WINDOWS.items():
            try:
                cap = int(ICP.get_param(key) or 0)
            except ValueError:
                cap = 0
            if cap > 0:
                caps[window] = (cap, duration)
        return caps

    def _apply_frequency_cap(self, step, traces, results):
        """Defer the traces of this e-mail step whose contact reached a cap.

        One query per step of the batch: the marketing e-mails sent to these contacts in
        the longest window, plus those granted earlier in this batch (``results``).
        :return: the traces to send now
        """
        if step.action_type != "mail" or step.transactional:
            return traces
        caps = self._frequency_caps()
        if not caps:
            return traces
        real = traces.filtered(lambda t: not t.is_test and t.participant_id.partner_id)
        if not real:
            return traces
        now = results.now
        longest = max(duration for _cap, duration in caps.values())
        sent = self._marketing_mails_sent(real.participant_id.partner_id.ids, now - longest)
        granted = results.mails_granted
        to_run = traces - real
        for trace in real:
            partner_id = trace.participant_id.partner_id.id
            times = sorted(sent.get(partner_id, []) + granted.get(partner_id, []), reverse=True)
            free_at = None
            for cap, duration in caps.values():
                recent = [t for t in times if t > now - duration]
                if len(recent) >= cap:
                    # free when the cap-th most recent one leaves the window
                    slot = recent[cap - 1] + duration
                    free_at = max(free_at or slot, slot)
            if free_at is None:
                granted.setdefault(partner_id, []).append(now)
                to_run |= trace
            else:
                results.postpone(
                    trace,
                    free_at,
                    self.env._(
                        "Frequency cap reached (%(caps)s): deferred to the contact's next "
                        "free slot.",
                        caps=", ".join(
                            self.env._("%(cap)s per %(window)s", cap=cap, window=window)
                            for window, (cap, _duration) in caps.items()
                        ),
                    ),
                )
        return to_run

    def _marketing_mails_sent(self, partner_ids, since):
        """{partner id: [done_at]} of the marketing e-mails of scenarios (not test, not
        transactional, not held out) done for these contacts since ``since``."""
        self.flush_model(["state", "done_at", "reason_code", "is_test", "step_id"])
        self.env.cr.execute(
            SQL(
                """
                SELECT p.partner_id, array_agg(t.done_at)
                  FROM marketing_scenario_participant p
                  JOIN marketing_scenario_trace t ON t.participant_id = p.id
                  JOIN marketing_scenario_step s ON s.id = t.step_id
                  LEFT JOIN mailing_mailing m ON m.id = s.mailing_id
                 WHERE p.partner_id = ANY(%(partners)s) AND s.action_type = 'mail'
                   AND t.state = 'done' AND t.done_at > %(since)s AND t.is_test IS NOT TRUE
                   AND t.reason_code IS DISTINCT FROM 'holdout'
                   AND m.trigger_marketing_transactional IS NOT TRUE
                 GROUP BY p.partner_id
                """,
                partners=partner_ids,
                since=since,
            )
        )
        return dict(self.env.cr.fetchall())
