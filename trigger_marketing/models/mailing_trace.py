from odoo import api, fields, models

from .marketing_score_rule import MAIL_SCORE_EVENTS

# mailing.trace fields whose change may be an engagement event
EVENT_DATE_FIELDS = {"open_datetime", "reply_datetime", "links_click_datetime"}
EVENT_FIELDS = {"trace_status", *EVENT_DATE_FIELDS}
ENGAGEMENT_STATUSES = ("open", "reply", "bounce")
# mirrored on the scenario trace (marketing.scenario.trace._compute_mail_tracking)
MIRRORED_FIELDS = {
    "trace_status",
    "sent_datetime",
    "reply_datetime",
    "marketing_opened_at",
    "marketing_clicked_at",
    "marketing_machine_opens",
    "marketing_machine_clicks",
}
MACHINE_REASONS = [
    ("head", "HEAD request"),
    ("agent", "Security scanner or robot"),
    ("apple_proxy", "Apple Mail Privacy Protection"),
    ("no_agent", "No user agent"),
    ("delivery", "Within seconds of delivery"),
    ("burst", "Several links clicked at once"),
]


class MailingTrace(models.Model):
    """Link mass_mailing's traces to scenario traces, and record their opens, clicks,
    replies and bounces for the engine (``marketing.mail.event``), which moves the
    branches waiting for them and scores them in its cron.

    Scoring counts every mail tracked by mass_mailing, scenario mails and plain mass
    mailings alike (a click is a click): score rules restricted to scenarios count only
    the mails of those scenarios. Each event counts once per mail: the first open, the
    first click, the first reply, the bounce. Test mails never count. Opens and clicks
    count only when a person made them (``marketing.mail.event``): mass_mailing still
    records every open and click as before, the engine writes a person's first open and
    click and the machines' counts beside them (``marketing_*``).
    """

    _inherit = "mailing.trace"

    marketing_trace_id = fields.Many2one(
        "marketing.scenario.trace",
        string="Scenario step",
        index="btree_not_null",
        ondelete="set null",
    )

    # written by the engine (marketing.mail.event): people's opens and clicks, machines'
    marketing_opened_at = fields.Datetime(
        string="Opened by a person", readonly=True, help="A click opens the e-mail too."
    )
    marketing_clicked_at = fields.Datetime(string="Clicked by a person", readonly=True)
    marketing_machine_opens = fields.Integer(
        string="Machine opens",
        readonly=True,
        help="Opens made by machines (mail privacy proxies, security scanners): they "
        "neither wake branches nor score.",
    )
    marketing_machine_clicks = fields.Integer(string="Machine clicks", readonly=True)
    marketing_machine_reason = fields.Selection(
        MACHINE_REASONS, string="Machine detected by", readonly=True
    )

    # "Was this address already sent this step?" is asked for each batch of an e-mail
    # step (marketing.scenario.step._skip_duplicate_addresses), by address.
    _marketing_email_idx = models.Index("(email) WHERE marketing_trace_id IS NOT NULL")
    # "When does this address read its e-mail?" (send-time optimisation), by address.
    _marketing_engaged_idx = models.Index(
        "(email, id) WHERE open_datetime IS NOT NULL OR links_click_datetime IS NOT NULL"
    )

    @api.model_create_multi
    def create(self, vals_list):
        trace_by_res = self.env.context.get("trigger_marketing_trace_by_res")
        if trace_by_res:
            is_test = bool(self.env.context.get("trigger_marketing_test_email"))
            for vals in vals_list:
                trace_id = trace_by_res.get(vals.get("res_id"))
                if trace_id and not vals.get("marketing_trace_id"):
                    vals["marketing_trace_id"] = trace_id
                    vals["is_test_trace"] = is_test
        traces = super().create(vals_list)
        if trace_by_res:
            traces._trigger_marketing_mirror()
        return traces

    def set_opened(self, domain=None):
        """Record every open of a mail that no person has opened yet (mass_mailing writes
        only the first): a person who opens after a privacy proxy or a scanner must
        still wake the branch. A click records its own event (``link.tracker.click``)."""
        if self.env.context.get("trigger_marketing_click"):
            return super().set_opened(domain=domain)
        traces = super(MailingTrace, self.with_context(trigger_marketing_open=True)).set_opened(
            domain=domain
        )
        if not self.env["marketing.score.rule"]._has_rules(MAIL_SCORE_EVENTS):
            traces = traces.filtered("marketing_trace_id")
        self.env["marketing.mail.event"].sudo()._record(
            [(trace.id, "open", True, None) for trace in traces if not trace.marketing_opened_at]
        )
        return traces.with_env(self.env)

    def write(self, vals):
        """Detect engagement events (cheaply: nothing is read unless the write may be one
        and a scenario or a score rule cares); mirror the status on scenario traces.
        Opens and clicks of the tracking requests are recorded by ``set_opened`` and
        ``link.tracker.click``, with the request."""
        watched = self._trigger_marketing_watched(vals)
        before = {
            trace.id: (
                trace.open_datetime,
                trace.reply_datetime,
                trace.trace_status,
                trace.links_click_datetime,
            )
            for trace in watched
        }
        res = super().write(vals)
        if MIRRORED_FIELDS & set(vals) and not self.env.context.get(
            "trigger_marketing_no_scenario"
        ):
            self._trigger_marketing_mirror()
        if not watched:
            return res
        events = {"open": [], "reply": [], "bounce": [], "click": []}
        context = self.env.context
        for trace in watched:
            opened, replied, status, clicked = before[trace.id]
            if (
                trace.open_datetime
                and not opened
                and not context.get("trigger_marketing_open")
                and not context.get("trigger_marketing_click")
            ):
                events["open"].append(trace)
            if trace.reply_datetime and not replied:
                events["reply"].append(trace)
            if trace.trace_status == "bounce" and status != "bounce":
                events["bounce"].append(trace)
            if (
                trace.links_click_datetime
                and not clicked
                and not context.get("trigger_marketing_click")
            ):
                events["click"].append(trace)
        # recorded only: the engine wakes the branches and scores, in its cron
        self.env["marketing.mail.event"].sudo()._record(
            [(trace.id, event, True, None) for event, traces in events.items() for trace in traces]
        )
        return res

    def _trigger_marketing_watched(self, vals):
        """The traces whose write may be an engagement event someone cares about."""
        if not (self and EVENT_FIELDS & set(vals)):
            return self.browse()
        if set(vals).isdisjoint(EVENT_DATE_FIELDS) and vals["trace_status"] not in (
            ENGAGEMENT_STATUSES
        ):
            return self.browse()  # sent, error, cancel...: no engagement event
        if self.env["marketing.score.rule"]._has_rules(MAIL_SCORE_EVENTS):
            return self
        return self.filtered("marketing_trace_id")

    def _trigger_marketing_mirror(self):
        """Recompute the status and dates of the scenario traces of these mails (one
        read of the link, nothing for mails outside scenarios whose writer said so)."""
        scenario_traces = self.sudo().marketing_trace_id
        if scenario_traces:
            for field in scenario_traces._fields.values():
                if field.compute == "_compute_mail_tracking":
                    self.env.add_to_compute(field, scenario_traces)

    @api.model
    def _marketing_score_mail_events(self, events):
        """Score the mail events {'open'|'click'|'reply'|'bounce': [mailing.trace]}.

        The contact of a scenario mail is the participant's; for other mails, the mailed
        contact itself (mailings on contacts), else the oldest active contact with the
        mail's address (mailing lists, leads...). One query to find those.
        """
        Rule = self.env["marketing.score.rule"]
        events = {
            event: [
                t.sudo()
                for t in traces
                if not t.is_test_trace and not t.sudo().marketing_trace_id.is_test
            ]
            for event, traces in events.items()
            if traces and Rule._has_rules([f"mail_{event}"])
        }
        traces = {t for traces in events.values() for t in traces}
        if not traces:
            return
        emails = {
            t.email
            for t in traces
            if not t.marketing_trace_id.participant_id.partner_id
            and t.model != "res.partner"
            and t.email
        }
        partner_by_email = self.env["res.partner"]._marketing_partner_by_email(emails)
        score_events = []
        for event, event_traces in events.items():
            for trace in event_traces:
                marketing_trace = trace.marketing_trace_id
                partner_id = marketing_trace.participant_id.partner_id.id
                if not partner_id:
                    partner_id = (
                        trace.res_id
                        if trace.model == "res.partner"
                        else partner_by_email.get(trace.email)
                    )
                score_events.append(
                    {
                        "partner_id": partner_id,
                        "event": f"mail_{event}",
                        "scenario_id": marketing_trace.scenario_id.id or None,
                        "step_id": marketing_trace.step_id.id or None,
                        "trace_id": marketing_trace.id or None,
                        "res_model": "mailing.trace",
                        "res_id": trace.id,
                        "company_id": marketing_trace.company_id.id or None,
                        "description": trace.mass_mailing_id.subject,
                    }
                )
        self.env["res.partner"].sudo()._marketing_score_apply(score_events)
