from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from .mailing_trace import MIRRORED_FIELDS
from .marketing_scenario_step import (
    MAIL_NEGATIVE,
    MAIL_POSITIVE,
    delay_to_relativedelta,
)

PENDING_STATES = ("scheduled", "waiting")

REASONS = [
    ("condition", "Condition not met"),
    ("goal", "Goal reached"),
    ("blacklisted", "Blacklisted"),
    ("opted_out", "Opted out"),
    ("no_email", "No e-mail address"),
    ("invalid_email", "Invalid e-mail address"),
    ("duplicate", "Already sent to this address"),
    ("mail_canceled", "Mail canceled"),
    ("mail_not_sent", "Previous mail not sent"),
    ("event_happened", "Event happened"),
    ("event_missed", "Event did not happen in time"),
    ("no_contact", "No contact"),
    ("record_deleted", "Record deleted"),
    ("step_deleted", "Step deleted"),
    ("scenario_stopped", "Scenario stopped"),
    ("scenario_deleted", "Scenario deleted"),
    ("exited", "Exited the scenario"),
    ("manual", "Canceled by a user"),
    ("holdout", "Held out (control group)"),
    ("error", "Error"),
]


class MarketingScenarioTrace(models.Model):
    """One step for one participant: when it is due, what happened, and why."""

    _name = "marketing.scenario.trace"
    _description = "Scenario Step Trace"
    _order = "scheduled_at desc, id desc"
    _rec_name = "step_id"

    # participant_id and step_id are indexed by the unique (participant_id, step_id)
    # index and by (step_id, state): every index slows down each update of a trace
    # (a new state never is a HOT update), so there is no other index on them.
    participant_id = fields.Many2one(
        "marketing.scenario.participant", required=True, ondelete="cascade"
    )
    step_id = fields.Many2one("marketing.scenario.step", required=True, ondelete="cascade")
    scenario_id = fields.Many2one(
        "marketing.scenario", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one("res.company", readonly=True)
    parent_id = fields.Many2one(
        "marketing.scenario.trace",
        string="Previous step",
        ondelete="cascade",
        index="btree_not_null",
    )
    child_ids = fields.One2many("marketing.scenario.trace", "parent_id", string="Next steps")
    action_type = fields.Selection(related="step_id.action_type")
    trigger_type = fields.Selection(related="step_id.trigger_type")
    model_name = fields.Char(related="participant_id.model_name")
    res_id = fields.Many2oneReference(related="participant_id.res_id")
    record_name = fields.Char(related="participant_id.record_name", string="Record")
    partner_id = fields.Many2one(related="participant_id.partner_id", string="Contact")
    is_test = fields.Boolean(string="Test", readonly=True)
    state = fields.Selection(
        [
            ("waiting", "Waiting"),
            ("scheduled", "Scheduled"),
            ("done", "Done"),
            ("skipped", "Skipped"),
            ("failed", "Failed"),
            ("canceled", "Canceled"),
        ],
        default="scheduled",
        required=True,
    )
    scheduled_at = fields.Datetime(
        string="Planned for",
        required=True,
        help="When the step is due; for a step that waits for an event, its deadline.",
    )
    done_at = fields.Datetime(string="Done on", readonly=True)
    outcome = fields.Boolean(
        readonly=True, help="For a condition or wait-until step: whether the condition was met."
    )
    branch_step_id = fields.Many2one(
        "marketing.scenario.step",
        string="Branch taken",
        readonly=True,
        ondelete="set null",
        help="For a split step: the branch this participant was sent to.",
    )
    send_time_at = fields.Datetime(
        string="Best hour chosen",
        readonly=True,
        help="E-mail steps sent at the contact's best hour: the moment chosen (why: in the "
        "details).",
    )
    reason_code = fields.Selection(REASONS, string="Reason", readonly=True)
    reason = fields.Text(string="Details", readonly=True)
    attempt_count = fields.Integer(string="Attempts", readonly=True)
    # e-mail tracking, mirrored from mass_mailing's mailing.trace
    mailing_trace_ids = fields.One2many("mailing.trace", "marketing_trace_id", string="Mails")
    mail_status = fields.Selection(
        [
            ("outgoing", "Outgoing"),
            ("process", "Processing"),
            ("pending", "Sent"),
            ("sent", "Delivered"),
            ("open", "Opened"),
            ("reply", "Replied"),
            ("bounce", "Bounced"),
            ("error", "Exception"),
            ("cancel", "Cancelled"),
        ],
        compute="_compute_mail_tracking",
        store=True,
    )
    mail_sent_at = fields.Datetime(compute="_compute_mail_tracking", store=True)
    # a person's first open and click, machines' counts: written by the engine from the
    # queued events (marketing.mail.event), as on the mail (mailing.trace.marketing_*)
    mail_opened_at = fields.Datetime(
        string="Opened (person)",
        readonly=True,
        help="First open by a person (a click opens too); machines' opens do not count.",
    )
    mail_clicked_at = fields.Datetime(
        string="Clicked (person)",
        readonly=True,
        help="First click by a person; security scanners' clicks do not count.",
    )
    mail_machine_opens = fields.Integer(
        string="Machine opens",
        readonly=True,
        help="Opens made by machines: mail privacy proxies (Apple Mail), security scanners, "
        "robots. They neither wake branches nor score.",
    )
    mail_machine_clicks = fields.Integer(
        string="Machine clicks",
        readonly=True,
        help="Clicks made by security scanners and robots. They neither wake branches nor score.",
    )
    mail_replied_at = fields.Datetime(compute="_compute_mail_tracking", store=True)
    mail_bounced = fields.Boolean(compute="_compute_mail_tracking", store=True)

    _participant_step_unique = models.UniqueIndex(
        "(participant_id, step_id)", "A step runs once per participant."
    )
    # The processing cron finds due traces through this partial index only.
    _due_idx = models.Index("(scheduled_at, id) WHERE state IN ('scheduled', 'waiting')")
    _step_state_idx = models.Index("(step_id, state)")
    # "Has this walk anything pending?" after each batch, when a walk ends...: without
    # it PostgreSQL combines the participant index with a state index that holds every
    # trace ever processed, and the check costs a second per batch at 20,000 contacts.
    _participant_pending_idx = models.Index(
        "(participant_id) WHERE state IN ('scheduled', 'waiting')"
    )

    # Only on the link itself: changes of the mailing traces' status and dates are
    # mirrored by mailing.trace (``_trigger_marketing_mirror``), for the traces of a
    # scenario only. A dependency on ``mailing_trace_ids.trace_status`` would make the
    # ORM read ``marketing_trace_id`` of every mailing trace mass_mailing marks sent,
    # one mail at a time in Odoo's queue.
    @api.depends("mailing_trace_ids")
    def _compute_mail_tracking(self):
        # read together: the slice below would read one mail at a time
        self.mailing_trace_ids.fetch(sorted(MIRRORED_FIELDS))
        for trace in self:
            mail = trace.mailing_trace_ids[:1]
            trace.mail_status = mail.trace_status or False
            trace.mail_sent_at = mail.sent_datetime
            trace.mail_opened_at = mail.marketing_opened_at
            trace.mail_clicked_at = mail.marketing_clicked_at
            trace.mail_machine_opens = mail.marketing_machine_opens
            trace.mail_machine_clicks = mail.marketing_machine_clicks
            trace.mail_replied_at = mail.reply_datetime
            trace.mail_bounced = mail.trace_status == "bounce"

    @api.depends("step_id", "participant_id")
    def _compute_display_name(self):
        for trace in self:
            trace.display_name = f"{trace.step_id.name} / {trace.participant_id.record_name}"

    # ------------------------------------------------------------
    # Creation (set-based, in SQL: the hot path of enrolment and processing)
    # ------------------------------------------------------------

    @api.model
    def _create_first_traces(self, scenario, participant_ids, test, now, snapshot=None):
        """The traces of the first steps of new participants (one query).

        :param dict snapshot: the scenario's ``_entry_snapshot()`` (no read of the steps)
        """
        snapshot = snapshot or scenario._entry_snapshot()
        if not snapshot["roots"] or not participant_ids:
            return
        rows = [
            (pid, step_id, now + delay_to_relativedelta(delay, unit), None, "scheduled")
            for step_id, delay, unit in snapshot["roots"]
            for pid in participant_ids
        ]
        self._insert_traces(snapshot["id"], snapshot["company_id"], test, rows, now)

    @api.model
    def _insert_traces(self, scenario_id, company_id, test, rows, now):
        """Insert traces ``rows`` = [(participant_id, step_id, scheduled_at, parent_id, state)]
        (all of one scenario) in one query, and wake the cron for the earliest."""
        if not rows:
            return
        participant_ids, step_ids, dates, parent_ids, states = zip(*rows, strict=True)
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO marketing_scenario_trace
                    (participant_id, step_id, scheduled_at, parent_id, scenario_id, company_id,
                     is_test, state, attempt_count, version_id,
                     create_uid, create_date, write_uid, write_date)
                SELECT r.pid, r.sid, r.at, r.parent, %(scenario)s, %(company)s, %(test)s,
                       r.state, 0,
                       (SELECT current_version_id FROM marketing_scenario
                         WHERE id = %(scenario)s),
                       %(uid)s, %(now)s, %(uid)s, %(now)s
                  FROM unnest(%(pids)s::int[], %(sids)s::int[], %(dates)s::timestamp[],
                              %(parents)s::int[], %(states)s::varchar[])
                       AS r(pid, sid, at, parent, state)
                ON CONFLICT DO NOTHING
                """,
                scenario=scenario_id,
                company=company_id or None,
                test=bool(test),
                uid=self.env.uid,
                now=now,
                pids=list(participant_ids),
                sids=list(step_ids),
                dates=list(dates),
                parents=list(parent_ids),
                states=list(states),
            )
        )
        self._wake_cron_at(min(dates))

    # ------------------------------------------------------------
    # Processing cron
    # ------------------------------------------------------------

    # ------------------------------------------------------------
    # Applying the outcome of a batch
    # ------------------------------------------------------------

    # ------------------------------------------------------------
    # Cancellation and events
    # ------------------------------------------------------------

    def _cancel(self, reason_code, reason=None, complete=True):
        """Cancel these pending traces with the reason.

        :param bool complete: complete the walks left with nothing pending (not needed
            when the walks were just ended)
        """
        pending = self.filtered(lambda t: t.state in PENDING_STATES)
        if pending:
            pending.write(
                {
                    "state": "canceled",
                    "reason_code": reason_code,
                    "reason": reason,
                    "done_at": fields.Datetime.now(),
                }
            )
        participants = pending.participant_id if complete else None
        if participants:
            self.flush_model()
            self._complete_participants(participants.ids, self.env.cr.now())
            participants.invalidate_recordset()

    def _on_mail_event(self, event, url=None):
        """A mail of these (e-mail step) traces was opened, clicked, replied or bounced.

        Run by the engine for the queued events (``marketing.mail.event``): it wakes the
        waiting branches (their action runs in the same run) and closes the opposite ones.
        Only the branches the event changes are locked, skipping those another
        transaction holds (a batch, the handling of the same mail's other event): nobody
        waits, and the event is handled again later for those.

        :return: the traces of ``self`` whose event must be handled again (a branch it
            changes was held by another transaction)
        """
        if not self:
            return self
        children = self.search([("parent_id", "in", self.ids), ("state", "in", PENDING_STATES)])
        concerned = children.filtered(
            lambda child: _mail_event_effect(child.step_id, event, url) is not None
        )
        if not concerned:
            return self.browse()
        concerned.flush_model()
        # their state once locked: as the transaction that held them may have left it
        self.env.cr.execute(
            SQL(
                "SELECT id, state FROM marketing_scenario_trace WHERE id = ANY(%s)"
                " FOR UPDATE SKIP LOCKED",
                concerned.ids,
            )
        )
        state_of = dict(self.env.cr.fetchall())
        held = concerned.filtered(lambda child: child.id not in state_of)
        now = fields.Datetime.now()
        wake = self.browse()
        close = self.browse()
        for child in concerned - held:
            effect = _mail_event_effect(child.step_id, event, url)
            if effect == "wake" and state_of[child.id] == "waiting":
                wake |= child
            elif effect == "close" and state_of[child.id] in PENDING_STATES:
                close |= child
        if wake:
            wake.write({"state": "scheduled", "scheduled_at": now})
            self._wake_cron_at(now)
        if close:
            reason_code = "mail_not_sent" if event == "bounce" else "event_happened"
            close.write(
                {
                    "state": "skipped",
                    "reason_code": reason_code,
                    "done_at": now,
                    "reason": self._mail_event_label(event),
                }
            )
            self.flush_model()
            self._complete_participants(close.participant_id.ids, self.env.cr.now())
        return held.parent_id

    @api.model
    def _mail_event_label(self, event):
        """What happened to the mail, in words: "Mail opened"... (the label of the branch
        that waits for ``event``, in the language of the environment)."""
        trigger = next(t for t, e in MAIL_POSITIVE.items() if e == event)
        Step = self.env["marketing.scenario.step"]
        return dict(Step._fields["trigger_type"]._description_selection(self.env))[trigger]

    def _lock_free(self):
        """Lock these traces, skipping those another transaction holds (a cron batch):
        nobody waits for a batch. :return: the traces locked."""
        if not self:
            return self
        self.flush_model()
        self.env.cr.execute(
            SQL(
                "SELECT id FROM marketing_scenario_trace WHERE id = ANY(%s) FOR UPDATE SKIP LOCKED",
                self.ids,
            )
        )
        return self.browse([row[0] for row in self.env.cr.fetchall()])

    def _claim_now(self):
        """Lock these pending traces (skipping those a cron worker holds) and make them due
        now. :return: the traces claimed."""
        if not self:
            return self
        self.flush_model(["state"])
        self.env.cr.execute(
            SQL(
                """
                SELECT id FROM marketing_scenario_trace
                 WHERE id = ANY(%s) AND state IN ('scheduled', 'waiting')
                   FOR UPDATE SKIP LOCKED
                """,
                self.ids,
            )
        )
        claimed = self.browse([row[0] for row in self.env.cr.fetchall()])
        if claimed:
            now = self.env.cr.now()
            self.env.cr.execute(
                SQL(
                    "UPDATE marketing_scenario_trace SET scheduled_at = %s WHERE id = ANY(%s)",
                    now,
                    claimed.ids,
                )
            )
            claimed.invalidate_recordset(["scheduled_at"])
        return claimed

    def _simulate_mail_event(self, event):
        """Test runs: pretend the contact opened, clicked, replied to or bounced the mail
        of these (e-mail step) traces, as mass_mailing's tracking would record it."""
        if any(not trace.is_test for trace in self):
            raise UserError(self.env._("Only the e-mails of test runs can be simulated."))
        mails = self.filtered(lambda t: t.action_type == "mail").mailing_trace_ids.sudo()
        if not mails:
            raise UserError(self.env._("This step sent no e-mail."))
        if event == "bounce":
            mails.set_bounced(bounce_message=self.env._("Simulated bounce (test run)"))
        else:
            mails.set_opened()
            if event == "click":
                mails.set_clicked()
            elif event == "reply":
                mails.set_replied()
        # handled at once, as the engine's next run would
        self._as_engine().env["marketing.mail.event"]._process_queue(mailing_trace_ids=mails.ids)
        return True

    def action_simulate_open(self):
        return self._simulate_mail_event("open")

    def action_simulate_click(self):
        return self._simulate_mail_event("click")

    def action_simulate_reply(self):
        return self._simulate_mail_event("reply")

    def action_simulate_bounce(self):
        return self._simulate_mail_event("bounce")

    def action_run_now(self):
        """Make these pending traces due now.

        A real contact's step that waits (for an open, a click, a condition) would end its
        wait at once: "event did not happen" or "time-out". That is asked first (the
        screens call it again with ``trigger_marketing_end_wait`` once confirmed), never
        done silently.
        """
        pending = self.filtered(lambda t: t.state in PENDING_STATES)
        waiting = pending.filtered(lambda t: t.state == "waiting" and not t.is_test)
        if waiting and not self.env.context.get("trigger_marketing_end_wait"):
            raise UserError(
                self.env._(
                    "%(count)s step(s) wait for something the contact may still do (%(steps)s):"
                    ' running them now ends the wait as if it had not happened. Use "End the'
                    ' wait now" to confirm.',
                    count=len(waiting),
                    steps=", ".join(sorted(set(waiting.step_id.mapped("name")))),
                )
            )
        pending._claim_now()
        self._wake_cron_at(self.env.cr.now())
        return True


def _mail_event_effect(step, event, url=None):
    """What ``event`` on the parent's mail does to a pending branch of ``step``: "wake"
    (the branch waits for it: opened, clicked this link...), "close" (the opposite
    branch, or any branch of a bounced mail), or None."""
    trigger = step.trigger_type
    if MAIL_POSITIVE.get(trigger) == event:
        link = step.link_url
        if event == "click" and link and not (url or "").startswith(link):
            return None
        return "wake"
    if event == "bounce" and trigger in MAIL_NEGATIVE:
        return "close"
    if (
        MAIL_NEGATIVE.get(trigger) == event
        or (event == "reply" and MAIL_NEGATIVE.get(trigger) == "open")
        or (event == "click" and MAIL_NEGATIVE.get(trigger) == "open")
    ):
        return "close"
    return None
