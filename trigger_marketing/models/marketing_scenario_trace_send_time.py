from collections import defaultdict
from datetime import timedelta

from odoo import models
from odoo.tools import SQL

from ..tools import send_time
from .marketing_send_window_mixin import get_zone

# the moments of engagement kept per contact (the most recent ones)
HISTORY = 50


class MarketingScenarioTrace(models.Model):
    """Send-time optimisation: an e-mail step set to "the contact's best hour" waits for
    the hour at which the contact usually opens or clicks, in its time zone, at most
    the step's maximum delay, inside the send window (people's opens and clicks only,
    never machines'). Contacts with too little history
    take the best hour of the batch's audience. The chosen hour and why are written on
    the trace. One query per e-mail step of a batch.
    """

    _inherit = "marketing.scenario.trace"

    def _apply_send_time(self, step, traces, results):
        """Postpone the traces of an optimised e-mail step to their contact's best hour.
        :return: the traces to send now"""
        if step.action_type != "mail" or step.send_time != "optimal":
            return traces
        real = traces.filtered(
            lambda t: not t.is_test and not t.send_time_at and t.participant_id.partner_id
        )
        if not real:
            return traces
        partners = real.participant_id.partner_id
        partners.fetch(["tz", "email_normalized"])
        moments = self._engagement_moments(partners)
        default_tz = step.scenario_id.company_id.partner_id.tz or "UTC"
        hours_by_partner = {
            partner.id: send_time.local_hours(
                moments.get(partner.email_normalized, []), get_zone(partner.tz or default_tz)
            )
            for partner in partners
        }
        audience = send_time.best_hours([h for hours in hours_by_partner.values() for h in hours])
        window = step._send_window()
        limit = results.now + timedelta(hours=step.send_time_max_delay or 24)
        to_run = traces - real
        for trace in real:
            partner = trace.participant_id.partner_id
            tz_name = partner.tz or default_tz
            own = hours_by_partner[partner.id]
            personal = len(own) >= send_time.MIN_EVENTS
            ranked = send_time.best_hours(own) if personal else audience
            at = self._best_moment(ranked, get_zone(tz_name), tz_name, window, results.now, limit)
            if at is None or at <= results.now + timedelta(minutes=1):
                to_run |= trace
                continue
            local = send_time.local_hours([at], get_zone(tz_name))[0]
            reason = (
                self.env._(
                    "Best hour %(hour)02d:00 (%(tz)s): the contact's own %(count)s opens and "
                    "clicks.",
                    hour=local,
                    tz=tz_name,
                    count=len(own),
                )
                if personal
                else self.env._(
                    "Best hour %(hour)02d:00 (%(tz)s): the audience's best hour (too little "
                    "history of the contact's own).",
                    hour=local,
                    tz=tz_name,
                )
            )
            results.postpone(trace, at, reason)
            results.updates[trace.id]["send_time_at"] = at
        return to_run

    def _best_moment(self, ranked_hours, zone, tz_name, window, now, limit):
        """The next moment at the best-ranked hour that comes before ``limit`` and falls in
        the send window (if any)."""
        for hour in ranked_hours:
            at = send_time.next_at_hour(now, hour, zone)
            if at is None or at > limit:
                continue
            if window and window._window_next_opening(at, tz_name) not in (None, at):
                continue  # outside the window
            return at
        return None

    def _engagement_moments(self, partners):
        """{normalized e-mail: [moments of opens and clicks]} of these contacts, from every
        tracked e-mail (scenarios and mass mailings), the most recent first.

        People's only: a mail whose events the engine classified gives its person's first
        click, else first open, and nothing when only machines opened it (a privacy proxy
        fetches on delivery, not when the contact reads). A mail never classified (a mass
        mailing no scenario or score rule watches) gives mass_mailing's dates.
        """
        emails = [e for e in partners.mapped("email_normalized") if e]
        if not emails:
            return {}
        self.env["mailing.trace"].flush_model(
            [
                "email",
                "open_datetime",
                "links_click_datetime",
                "marketing_opened_at",
                "marketing_clicked_at",
                "marketing_machine_opens",
                "marketing_machine_clicks",
            ]
        )
        self.env.cr.execute(
            SQL(
                """
                SELECT e.email, m.at
                  FROM unnest(%(emails)s::varchar[]) AS e(email)
                  CROSS JOIN LATERAL (
                      SELECT at FROM (
                          SELECT mt.id, CASE
                                 WHEN mt.marketing_opened_at IS NOT NULL
                                 THEN COALESCE(mt.marketing_clicked_at, mt.marketing_opened_at)
                                 WHEN COALESCE(mt.marketing_machine_opens, 0)
                                      + COALESCE(mt.marketing_machine_clicks, 0) = 0
                                 THEN COALESCE(mt.links_click_datetime, mt.open_datetime)
                                 END AS at
                            FROM mailing_trace mt
                           WHERE mt.email = e.email
                             AND (mt.open_datetime IS NOT NULL
                                  OR mt.links_click_datetime IS NOT NULL)
                      ) AS h
                       WHERE h.at IS NOT NULL
                       ORDER BY h.id DESC
                       LIMIT %(limit)s) AS m
                """,
                emails=emails,
                limit=HISTORY,
            )
        )
        moments = defaultdict(list)
        for email, at in self.env.cr.fetchall():
            moments[email].append(at)
        return moments
