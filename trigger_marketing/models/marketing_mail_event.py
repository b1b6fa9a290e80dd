from collections import defaultdict
from datetime import timedelta

from odoo import api, fields, models
from odoo.http import request
from odoo.tools import SQL

from ..tools import machine_events

MAIL_EVENTS = [
    ("open", "Opened"),
    ("click", "Clicked"),
    ("reply", "Replied"),
    ("bounce", "Bounced"),
]
# what the engine counts on the mails (mailing.trace)
COUNTED_FIELDS = [
    "marketing_opened_at",
    "marketing_clicked_at",
    "marketing_machine_opens",
    "marketing_machine_clicks",
    "marketing_machine_reason",
]
# what a tracking request may write of its headers (they are the visitor's text)
HEADER_LIMIT = 512


class MarketingMailEvent(models.Model):
    """An engagement event of a tracked mail, waiting for the engine.

    The public tracking requests (the open pixel, the click redirects) and the mail
    gateway (replies, bounces) only record the event here, in one INSERT: the branches
    it wakes or closes, the score and the band actions run in the processing cron,
    woken at once. A row is deleted in the transaction that handled it, so an event is
    handled once. The request's time, method, address, user agent and link are kept
    with it: the engine tells the opens and clicks of machines (mail privacy proxies,
    security scanners) from people's (``tools/machine_events.py``); only people's wake
    branches and score, machines' are counted on the mail.
    """

    _name = "marketing.mail.event"
    _description = "Mail Engagement Event (queue)"
    _order = "id"
    _log_access = False

    mailing_trace_id = fields.Many2one(
        "mailing.trace", required=True, ondelete="cascade", readonly=True, index=True
    )
    event = fields.Selection(MAIL_EVENTS, required=True, readonly=True)
    scored = fields.Boolean(
        readonly=True, help="The first event of its kind for this mail: it counts in the score."
    )
    url = fields.Char(string="Link", readonly=True)
    method = fields.Char(
        string="HTTP method", readonly=True, help="Empty when no request recorded the event."
    )
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
        ip = user_agent = method = None
        if request:
            ip = (request.httprequest.remote_addr or "")[:HEADER_LIMIT] or None
            user_agent = (request.httprequest.user_agent.string or "")[:HEADER_LIMIT] or None
            method = (request.httprequest.method or "")[:16] or None
        now = fields.Datetime.now()
        trace_ids, events, scored, urls = zip(*rows, strict=True)
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO marketing_mail_event
                    (mailing_trace_id, event, scored, url, ip, user_agent, method, date)
                SELECT r.tid, r.event, r.scored, r.url, %(ip)s, %(ua)s, %(method)s, %(now)s
                  FROM unnest(%(tids)s::int[], %(events)s::varchar[], %(scored)s::bool[],
                              %(urls)s::varchar[]) AS r(tid, event, scored, url)
                """,
                ip=ip,
                ua=user_agent,
                method=method,
                now=now,
                tids=list(trace_ids),
                events=list(events),
                scored=list(scored),
                urls=list(urls),
            )
        )
        # a request's clicks wait for the other clicks of a burst (``_process_queue``)
        held = method and "click" in events
        wake_at = now + timedelta(seconds=machine_events.BURST_SECONDS) if held else now
        self.env["marketing.scenario.trace"]._wake_cron_at(wake_at)

    # ------------------------------------------------------------
    # Handling (in the engine)
    # ------------------------------------------------------------

    @api.model
    def _process_queue(self, limit=500, mailing_trace_ids=None, hold=0):
        """Handle up to ``limit`` queued events, oldest first, that no other worker holds:
        tell machines' opens and clicks from people's, wake or close the branches waiting
        for people's, score them, count machines' on the mail. The rows are deleted in
        this transaction; an event whose branch another transaction holds goes back to the
        queue (``_requeue``) for a later run. :return: the number of events handled (not
        counting those put back).

        :param int hold: seconds a request's click waits, so that the other clicks of a
            scanner's burst are queued beside it (the processing cron; direct calls
            handle everything queued)
        """
        condition = SQL("TRUE")
        if mailing_trace_ids is not None:
            condition = SQL("e.mailing_trace_id = ANY(%s)", list(mailing_trace_ids))
        if hold:
            cutoff = fields.Datetime.now() - timedelta(seconds=hold)
            condition = SQL(
                """%s AND (e.event != 'click' OR e.method IS NULL OR NOT EXISTS (
                       SELECT 1 FROM marketing_mail_event n
                        WHERE n.mailing_trace_id = e.mailing_trace_id AND n.event = 'click'
                          AND n.method IS NOT NULL AND n.date > %s))""",
                condition,
                cutoff,
            )
        self.env.cr.execute(
            SQL(
                """
                DELETE FROM marketing_mail_event WHERE id IN (
                    SELECT e.id FROM marketing_mail_event e WHERE %s
                     ORDER BY e.id LIMIT %s FOR UPDATE SKIP LOCKED)
                RETURNING id, mailing_trace_id, event, scored, url, date, method, user_agent, ip
                """,
                condition,
                limit,
            )
        )
        rows = sorted(self.env.cr.fetchall(), key=lambda row: row[0])
        if not rows:
            return 0
        MailingTrace = self.env["mailing.trace"].sudo()
        mails = MailingTrace.search_fetch(
            [("id", "in", list({row[1] for row in rows}))], ["marketing_trace_id", "sent_datetime"]
        )
        mail_by_id = {mail.id: mail for mail in mails}  # records that prefetch together
        engagement = [
            machine_events.Event(row[0], *row[1:3], *row[5:9], url=row[4])
            for row in rows
            if row[2] in ("open", "click") and row[1] in mail_by_id
        ]
        reasons = machine_events.classify(
            engagement, {mail.id: mail.sent_datetime for mail in mails if mail.sent_datetime}
        )
        wake_groups = defaultdict(set)
        to_score = defaultdict(list)
        replied = {}
        for _id, trace_id, event, scored, _url, date, *_request in rows:
            mail = mail_by_id.get(trace_id)
            if mail and event in ("reply", "bounce"):
                if mail.marketing_trace_id:
                    wake_groups[(event, None)].add(mail.marketing_trace_id.id)
                if scored:
                    to_score[event].append(mail)
                if event == "reply":
                    replied.setdefault(trace_id, date)
        new_opens, new_clicks = self._count_engagement(engagement, reasons, replied)
        for event in engagement:
            mail = mail_by_id[event.mail]
            if reasons[event.key] or not mail.marketing_trace_id:
                continue
            wake_groups[("open", None)].add(mail.marketing_trace_id.id)  # a click opens too
            if event.kind == "click":
                wake_groups[("click", event.url)].add(mail.marketing_trace_id.id)
        to_score["open"] += MailingTrace.browse(new_opens)
        to_score["click"] += MailingTrace.browse(new_clicks)
        Trace = self.env["marketing.scenario.trace"].sudo()
        held = set()
        for (event, url), trace_ids in wake_groups.items():
            again = Trace.browse(trace_ids)._on_mail_event(event, url=url)
            held.update((event, url, trace_id) for trace_id in again.ids)
        if any(to_score.values()):
            MailingTrace._marketing_score_mail_events(dict(to_score))
        requeue = [
            row
            for row in rows
            if row[1] in mail_by_id
            and any(
                (*key, mail_by_id[row[1]].marketing_trace_id.id) in held
                for key in _wake_keys(row[2], row[4])
            )
        ]
        self._requeue(requeue)
        return len(rows) - len(requeue)

    def _requeue(self, rows):
        """Put ``rows`` (as the queue returned them) back as they were, for a later run:
        their branch was held by another transaction. Scored already: not again (a
        mail's first open and click are on the mail, replies and bounces keep
        ``scored``)."""
        if not rows:
            return
        _ids, tids, events, _scored, urls, dates, methods, agents, ips = zip(*rows, strict=True)
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO marketing_mail_event
                    (mailing_trace_id, event, scored, url, date, method, user_agent, ip)
                SELECT r.tid, r.event, FALSE, r.url, r.date, r.method, r.ua, r.ip
                  FROM unnest(%(tids)s::int[], %(events)s::varchar[], %(urls)s::varchar[],
                              %(dates)s::timestamp[], %(methods)s::varchar[],
                              %(uas)s::varchar[], %(ips)s::varchar[])
                       AS r(tid, event, url, date, method, ua, ip)
                """,
                tids=list(tids),
                events=list(events),
                urls=list(urls),
                dates=list(dates),
                methods=list(methods),
                uas=list(agents),
                ips=list(ips),
            )
        )
        self.env["marketing.scenario.trace"]._wake_cron_at(fields.Datetime.now())

    @api.model
    def _count_engagement(self, engagement, reasons, replied):
        """Write on the mails a person's first open and click and how many opens and
        clicks machines made (the scenario steps mirror them). The mails are locked and
        read first, so that two workers never both take an open as the first. A reply
        ({mail id: date}) shows that a person read the mail: opened, not scored as such.
        :return: (ids of the mails a person opened, ids of those a person clicked, for the
            first time)"""
        by_mail = defaultdict(lambda: {"opened": None, "clicked": None, "open": 0, "click": 0})
        for event in engagement:
            values = by_mail[event.mail]
            reason = reasons[event.key]
            if reason:
                values[event.kind] += 1
                values["reason"] = reason
                continue
            values["opened"] = min(values["opened"] or event.date, event.date)
            if event.kind == "click":
                values["clicked"] = min(values["clicked"] or event.date, event.date)
        for mail_id, date in replied.items():
            by_mail[mail_id]["read"] = date
        if not by_mail:
            return [], []
        MailingTrace = self.env["mailing.trace"].sudo()
        MailingTrace.flush_model()
        self.env.cr.execute(
            SQL(
                """
                SELECT id, marketing_opened_at, marketing_clicked_at
                  FROM mailing_trace WHERE id = ANY(%s) ORDER BY id FOR UPDATE
                """,
                list(by_mail),
            )
        )
        rows = []  # (mail id, opened, clicked, machines' opens, clicks, reason)
        new_opens, new_clicks = [], []
        for mail_id, opened, clicked in self.env.cr.fetchall():
            values = by_mail[mail_id]
            first_open = first_click = None
            if values["opened"] and not opened:
                first_open = values["opened"]
                new_opens.append(mail_id)
            elif values.get("read") and not opened:
                first_open = values["read"]
            if values["clicked"] and not clicked:
                first_click = values["clicked"]
                new_clicks.append(mail_id)
            if first_open or first_click or values["open"] or values["click"]:
                row = (first_open, first_click, values["open"], values["click"])
                rows.append((mail_id, *row, values.get("reason")))
        if rows:
            # in SQL: the ORM's write costs a millisecond per mail (measured by make bench)
            ids, opened, clicked, machine_opens, machine_clicks, reasons = (
                list(col) for col in zip(*rows, strict=True)
            )
            self.env.cr.execute(
                SQL(
                    """
                    UPDATE mailing_trace mt
                       SET marketing_opened_at = COALESCE(v.opened, mt.marketing_opened_at),
                           marketing_clicked_at = COALESCE(v.clicked, mt.marketing_clicked_at),
                           marketing_machine_opens
                               = COALESCE(mt.marketing_machine_opens, 0) + v.mopens,
                           marketing_machine_clicks
                               = COALESCE(mt.marketing_machine_clicks, 0) + v.mclicks,
                           marketing_machine_reason
                               = COALESCE(v.reason, mt.marketing_machine_reason)
                      FROM unnest(%s::int[], %s::timestamp[], %s::timestamp[], %s::int[],
                                  %s::int[], %s::varchar[])
                           AS v(id, opened, clicked, mopens, mclicks, reason)
                     WHERE mt.id = v.id
                    """,
                    ids,
                    opened,
                    clicked,
                    machine_opens,
                    machine_clicks,
                    reasons,
                )
            )
            mails = MailingTrace.browse(ids)
            mails.invalidate_recordset(COUNTED_FIELDS)
            mails._trigger_marketing_mirror()  # their scenario steps' figures
        return new_opens, new_clicks

    @api.model
    def _next_at(self, hold=0):
        """When the engine should handle the queue next: now, or when the held clicks
        are due (None: nothing queued)."""
        self.env.cr.execute(
            SQL(
                """
                SELECT min(CASE WHEN event = 'click' AND method IS NOT NULL
                                THEN date + %s * interval '1 second' END),
                       bool_or(event != 'click' OR method IS NULL)
                  FROM marketing_mail_event
                """,
                hold,
            )
        )
        held_until, due_now = self.env.cr.fetchone()
        return self.env.cr.now() if due_now else held_until


def _wake_keys(event, url):
    """The (event, link) groups of ``_process_queue`` a queued event wakes branches in:
    a click opens the mail too."""
    if event == "click":
        return [("open", None), ("click", url)]
    return [(event, None)]
