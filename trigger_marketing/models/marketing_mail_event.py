from odoo import api, fields, models
from odoo.http import request
from odoo.tools import SQL

MAIL_EVENTS = [
    ("open", "Opened"),
    ("click", "Clicked"),
    ("reply", "Replied"),
    ("bounce", "Bounced"),
]
# what a tracking request may write of its headers (they are the visitor's text)
HEADER_LIMIT = 512


class MarketingMailEvent(models.Model):
    """An engagement event of a tracked mail, waiting for the engine.

    The public tracking requests (the open pixel, the click redirects) and the mail
    gateway (replies, bounces) only record the event here, in one INSERT: the branches
    it wakes or closes, the score and the band actions run in the processing cron,
    woken at once. A row is deleted in the transaction that handled it, so an event is
    handled once. The request's time, address, user agent and link are kept with it.
    """

    _name = "marketing.mail.event"
    _description = "Mail Engagement Event (queue)"
    _order = "id"
    _log_access = False

    mailing_trace_id = fields.Many2one(
        "mailing.trace", required=True, ondelete="cascade", readonly=True
    )
    event = fields.Selection(MAIL_EVENTS, required=True, readonly=True)
    scored = fields.Boolean(
        readonly=True, help="The first event of its kind for this mail: it counts in the score."
    )
    url = fields.Char(string="Link", readonly=True)
    ip = fields.Char(string="IP address", readonly=True)
    user_agent = fields.Char(readonly=True)
    date = fields.Datetime(required=True, readonly=True)

    # ------------------------------------------------------------
    # Recording (the hot path of the tracking requests)
    # ------------------------------------------------------------

    @api.model
    def _record(self, rows):
        """Queue ``rows`` = [(mailing_trace_id, event, scored, url)] in one INSERT and
        wake the engine now."""
        if not rows:
            return
        ip = user_agent = None
        if request:
            ip = (request.httprequest.remote_addr or "")[:HEADER_LIMIT] or None
            user_agent = (request.httprequest.user_agent.string or "")[:HEADER_LIMIT] or None
        now = fields.Datetime.now()
        trace_ids, events, scored, urls = zip(*rows, strict=True)
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO marketing_mail_event
                    (mailing_trace_id, event, scored, url, ip, user_agent, date)
                SELECT r.tid, r.event, r.scored, r.url, %(ip)s, %(ua)s, %(now)s
                  FROM unnest(%(tids)s::int[], %(events)s::varchar[], %(scored)s::bool[],
                              %(urls)s::varchar[]) AS r(tid, event, scored, url)
                """,
                ip=ip,
                ua=user_agent,
                now=now,
                tids=list(trace_ids),
                events=list(events),
                scored=list(scored),
                urls=list(urls),
            )
        )
        self.env["marketing.scenario.trace"]._wake_cron_at(now)

    # ------------------------------------------------------------
    # Handling (in the engine)
    # ------------------------------------------------------------

    @api.model
    def _process_queue(self, limit=500, mailing_trace_ids=None):
        """Handle up to ``limit`` queued events, oldest first, that no other worker holds:
        wake or close the branches waiting for them, score them. The rows are deleted in
        this transaction. :return: the number of events handled."""
        condition = SQL("TRUE")
        if mailing_trace_ids is not None:
            condition = SQL("mailing_trace_id = ANY(%s)", list(mailing_trace_ids))
        self.env.cr.execute(
            SQL(
                """
                DELETE FROM marketing_mail_event WHERE id IN (
                    SELECT id FROM marketing_mail_event WHERE %s
                     ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)
                RETURNING mailing_trace_id, event, scored, url
                """,
                condition,
                limit,
            )
        )
        rows = sorted(self.env.cr.fetchall(), key=lambda row: row[0])
        if not rows:
            return 0
        MailingTrace = self.env["mailing.trace"].sudo()
        mails = MailingTrace.browse({row[0] for row in rows}).exists()
        mails.fetch(["marketing_trace_id"])
        mail_by_id = {mail.id: mail for mail in mails}  # records that prefetch together
        wake_groups = {}
        to_score = {}
        for trace_id, event, scored, url in rows:
            mail = mail_by_id.get(trace_id)
            if not mail:
                continue
            if mail.marketing_trace_id:
                key = (event, url if event == "click" else None)
                wake_groups.setdefault(key, set()).add(mail.marketing_trace_id.id)
            if scored:
                to_score.setdefault(event, []).append(mail)
        Trace = self.env["marketing.scenario.trace"].sudo()
        for (event, url), trace_ids in wake_groups.items():
            Trace.browse(trace_ids)._on_mail_event(event, url=url)
        if to_score:
            MailingTrace._marketing_score_mail_events(to_score)
        return len(rows)

    @api.model
    def _has_pending(self):
        self.env.cr.execute("SELECT EXISTS(SELECT 1 FROM marketing_mail_event)")
        return self.env.cr.fetchone()[0]
