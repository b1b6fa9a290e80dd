import logging
from collections import defaultdict
from datetime import timedelta

import psycopg2

from odoo import api, fields, models, tools
from odoo.exceptions import UserError
from odoo.tools import SQL

from .marketing_scenario_step import (
    BRANCH_TRIGGERS,
    MAIL_NEGATIVE,
    MAIL_POSITIVE,
    delay_to_relativedelta,
)

_logger = logging.getLogger(__name__)

PENDING_STATES = ("scheduled", "waiting")
MAX_ATTEMPTS = 3
PROCESSING_CODE = "model._cron_process()"
# A "not opened" branch waits for its parent mail to leave the queue before it decides;
# past this delay the mail is considered never sent.
MAIL_QUEUE_GRACE = timedelta(days=2)
MAIL_QUEUE_RECHECK = timedelta(hours=1)

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
    ("error", "Error"),
]


def failure_message(error, limit=500):
    """What a marketer reads on a failed trace: the error's first line and its root
    cause (a rendering error carries a whole traceback; the server log keeps it)."""
    message = (str(error).strip() or type(error).__name__).split("\n", 1)[0][:limit]
    root, seen = error, {id(error)}
    while True:
        cause = root.__cause__ or (None if root.__suppress_context__ else root.__context__)
        if cause is None or id(cause) in seen:
            break
        seen.add(id(cause))
        root = cause
    if root is not error:
        message += f" ({type(root).__name__}: {str(root)[:limit]})"
    return message


class TraceOutcome:
    """Collects what happened to each trace of a batch, applied in a few queries."""

    def __init__(self, now):
        self.now = now
        # trace id -> dict of the new values
        self.updates = {}
        self.ended = {}  # participant id -> (state, reason_code)

    def done(self, traces, outcome=None, reason=None):
        for trace in traces:
            self.updates[trace.id] = {
                "state": "done",
                "done_at": self.now,
                "outcome": outcome,
                "reason": reason,
            }

    def skip(self, traces, code, reason=None):
        for trace in traces:
            self.updates[trace.id] = {
                "state": "skipped",
                "reason_code": code,
                "reason": reason,
                "done_at": self.now,
            }

    def cancel(self, traces, code, reason=None):
        for trace in traces:
            self.updates[trace.id] = {
                "state": "canceled",
                "reason_code": code,
                "reason": reason,
                "done_at": self.now,
            }

    def fail(self, traces, reason):
        for trace in traces:
            self.updates[trace.id] = {
                "state": "failed",
                "reason_code": "error",
                "reason": reason,
                "done_at": self.now,
            }

    def postpone(self, traces, at, reason=None, attempt=False):
        for trace in traces:
            vals = {"state": "scheduled", "scheduled_at": at, "reason": reason}
            if attempt:
                vals["attempt_count"] = trace.attempt_count + 1
            self.updates[trace.id] = vals

    def wait(self, traces, deadline):
        for trace in traces:
            self.updates[trace.id] = {"state": "waiting", "scheduled_at": deadline}

    def end_participants(self, participants, state, code):
        for participant in participants:
            self.ended[participant.id] = (state, code)

    def merge(self, other):
        self.updates.update(other.updates)
        self.ended.update(other.ended)


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
    mail_opened_at = fields.Datetime(compute="_compute_mail_tracking", store=True)
    mail_clicked_at = fields.Datetime(compute="_compute_mail_tracking", store=True)
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

    @api.depends(
        "mailing_trace_ids.trace_status",
        "mailing_trace_ids.sent_datetime",
        "mailing_trace_ids.open_datetime",
        "mailing_trace_ids.links_click_datetime",
        "mailing_trace_ids.reply_datetime",
    )
    def _compute_mail_tracking(self):
        for trace in self:
            mail = trace.mailing_trace_ids[:1]
            trace.mail_status = mail.trace_status or False
            trace.mail_sent_at = mail.sent_datetime
            trace.mail_opened_at = mail.open_datetime
            trace.mail_clicked_at = mail.links_click_datetime
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
                     is_test, state, attempt_count,
                     create_uid, create_date, write_uid, write_date)
                SELECT r.pid, r.sid, r.at, r.parent, %(scenario)s, %(company)s, %(test)s,
                       r.state, 0, %(uid)s, %(now)s, %(uid)s, %(now)s
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

    @api.model
    @tools.ormcache()
    def _processing_cron_ids(self):
        """The processing cron and its extra lanes (see ``_set_processing_lanes``)."""
        main_id = self.env["ir.model.data"]._xmlid_to_res_id(
            "trigger_marketing.ir_cron_scenario_process"
        )
        if not main_id:
            return ()
        lanes = (
            self.env["ir.cron"]
            .sudo()
            .with_context(active_test=False)
            .search(
                [
                    ("model_id.model", "=", self._name),
                    ("code", "=", PROCESSING_CODE),
                    ("id", "!=", main_id),
                ]
            )
        )
        return (main_id, *lanes.ids)

    @api.model
    def _set_processing_lanes(self, count):
        """Run the processing in ``count`` crons at once.

        Odoo runs one cron job in one worker at a time; extra crons with the same code
        let several workers (or servers) share the due traces, which they claim with
        ``FOR UPDATE SKIP LOCKED``.
        """
        count = max(1, int(count))
        main = self.env.ref("trigger_marketing.ir_cron_scenario_process").sudo()
        lanes = self.env["ir.cron"].browse(self._processing_cron_ids()[1:]).sudo()
        for index in range(len(lanes) + 2, count + 1):
            main.copy({"name": f"{main.name} (lane {index})", "active": main.active})
        lanes[count - 1 :].unlink()
        self.env["ir.config_parameter"].sudo().set_param(
            "trigger_marketing.processing_lanes", count
        )
        self.env.registry.clear_cache()

    @api.model
    def _wake_cron_at(self, at):
        """Wake the processing cron(s) at ``at``: ``ir.cron._trigger``, lean for the hot path.

        Real-time enrolment calls this inside the user's create or write, so it costs one
        INSERT, and none when this transaction already woke the cron at an earlier or
        equal time: that run schedules the next one itself (``_schedule_next_run``).
        """
        now = self.env.cr.now()
        at = max(at, now)
        woken = self.env.cr.postcommit.data
        key = "trigger_marketing.woken_at"
        if woken.get(key) and woken[key] <= at:
            return
        cron_ids = self._processing_cron_ids()
        if not cron_ids:
            return
        woken[key] = at
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO ir_cron_trigger (cron_id, call_at, create_uid, create_date,
                                             write_uid, write_date)
                SELECT cron_id, %(at)s, %(uid)s, %(now)s, %(uid)s, %(now)s
                  FROM unnest(%(crons)s::int[]) AS cron_id
                """,
                crons=list(cron_ids),
                at=at,
                uid=self.env.uid,
                now=now,
            )
        )
        if at <= now:
            # as ir.cron._trigger does: tell the cron workers right after the commit
            self.env.cr.postcommit.add(self.env["ir.cron"]._notifydb)

    @api.model
    def _schedule_next_run(self):
        """Wake the processing cron when the next pending trace is due."""
        self.flush_model(["state", "scheduled_at", "scenario_id", "is_test"])
        self.env.cr.execute(
            SQL(
                """
                SELECT min(t.scheduled_at)
                  FROM marketing_scenario_trace t
                  JOIN marketing_scenario s ON s.id = t.scenario_id
                 WHERE t.state IN ('scheduled', 'waiting')
                   AND (t.is_test OR s.state = 'running')
                """
            )
        )
        next_due = self.env.cr.fetchone()[0]
        if next_due:
            self._wake_cron_at(next_due)
        return next_due

    # ------------------------------------------------------------
    # Processing cron
    # ------------------------------------------------------------

    @api.model
    def _batch_size(self):
        return int(
            self.env["ir.config_parameter"].sudo().get_param("trigger_marketing.batch_size", 500)
        )

    @api.model
    def _cron_process(self):
        """Process every due trace, batch after batch, each committed with its progress.

        Safe to run from several workers at once: a batch is claimed with
        ``FOR UPDATE SKIP LOCKED`` so two workers never take the same trace, and the
        actions of a batch and the new states of its traces commit together.
        """
        Cron = self.env["ir.cron"]
        remaining = self._count_due()
        Cron._commit_progress(remaining=remaining)
        batch_size = self._batch_size()
        while True:
            batch = self._claim_due(batch_size)
            if not batch:
                break
            batch._process()
            if not Cron._commit_progress(len(batch)):
                break
            self.env.invalidate_all()
        self._schedule_next_run()

    def _running_scope(self):
        return SQL(
            "(t.is_test OR t.scenario_id IN "
            "(SELECT id FROM marketing_scenario WHERE state = 'running'))"
        )

    @api.model
    def _count_due(self):
        self.env.cr.execute(
            SQL(
                """
                SELECT count(*) FROM marketing_scenario_trace t
                 WHERE t.state IN ('scheduled', 'waiting') AND t.scheduled_at <= %s AND %s
                """,
                self.env.cr.now(),
                self._running_scope(),
            )
        )
        return self.env.cr.fetchone()[0]

    @api.model
    def _claim_due(self, limit):
        """Lock and return up to ``limit`` due traces that no other worker holds."""
        self.env.cr.execute(
            SQL(
                """
                SELECT t.id FROM marketing_scenario_trace t
                 WHERE t.state IN ('scheduled', 'waiting') AND t.scheduled_at <= %s AND %s
                 ORDER BY t.scheduled_at, t.id
                 LIMIT %s
                   FOR UPDATE SKIP LOCKED
                """,
                self.env.cr.now(),
                self._running_scope(),
                limit,
            )
        )
        return self.browse([row[0] for row in self.env.cr.fetchall()])

    def _process(self):
        """Run this batch of claimed traces: a constant number of queries per step."""
        now = self.env.cr.now()
        outcome = TraceOutcome(now)
        self.fetch(
            [
                "state",
                "step_id",
                "participant_id",
                "parent_id",
                "is_test",
                "attempt_count",
                "scheduled_at",
            ]
        )
        self.participant_id.fetch(["state", "res_id", "model_name", "partner_id", "scenario_id"])
        # steps of walks that ended meanwhile (defensive: ending a walk cancels them)
        ended = self.filtered(lambda t: t.participant_id.state != "running")
        for trace in ended:
            outcome.cancel(
                trace,
                trace.participant_id.end_reason_code or "manual",
                self.env._("The walk had already ended."),
            )
        for step, traces in (self - ended).grouped("step_id").items():
            self._process_step_guarded(step, traces, outcome)
        self._apply(outcome)

    def _process_step_guarded(self, step, traces, outcome):
        """Process the traces of one step of the batch; an error of the step itself (a
        filter or goal that no longer evaluates, e.g. its field was removed with a
        module) fails these traces with the message: the other steps of the batch, and
        the batches after it, go on."""
        step_outcome = TraceOutcome(outcome.now)
        try:
            with self.env.cr.savepoint():
                self._process_step(step, traces, step_outcome)
        except Exception as e:  # noqa: BLE001 - recorded on the traces
            _logger.warning("Step %s failed for %s traces: %s", step.id, len(traces), e)
            step_outcome = TraceOutcome(outcome.now)
            for trace in traces:
                self._record_failure(trace, e, step_outcome)
        outcome.merge(step_outcome)

    def _process_step(self, step, traces, outcome):
        scenario = step.scenario_id
        model = self.env[scenario.model_name].with_context(active_test=False)
        records_by_trace = {t: model.browse(t.participant_id.res_id) for t in traces}
        existing = model.browse({r.id for r in records_by_trace.values()}).exists()
        deleted = traces.filtered(lambda t: records_by_trace[t] not in existing)
        if deleted:
            outcome.cancel(deleted, "record_deleted")
            outcome.end_participants(deleted.participant_id, "canceled", "record_deleted")
            traces -= deleted
        if not traces:
            return

        # the goal ends the walk before anything else happens
        goal = scenario._goal_domain()
        if goal is not None:
            records = model.browse(records_by_trace[t].id for t in traces)
            reached = records.filtered_domain(goal) if records else records
            if reached:
                converted = traces.filtered(lambda t: records_by_trace[t] in reached)
                outcome.cancel(converted, "goal")
                outcome.end_participants(converted.participant_id, "converted", "goal")
                traces -= converted
        if not traces:
            return

        waiting = traces.filtered(lambda t: t.state == "waiting")
        if waiting:
            self._process_deadline(step, waiting, records_by_trace, outcome)
            traces -= waiting
        if step.trigger_type in MAIL_NEGATIVE:
            traces = self._check_mail_negative(step, traces, outcome)
        elif step.trigger_type in MAIL_POSITIVE:
            # woken by the event: nothing more to check
            pass
        if not traces:
            return

        only_if = step._domain("filter_domain")
        if not only_if.is_true():
            records = model.browse(records_by_trace[t].id for t in traces)
            matching = records.filtered_domain(only_if)
            not_matching = traces.filtered(lambda t: records_by_trace[t] not in matching)
            outcome.skip(not_matching, "condition")
            traces -= not_matching
        traces = self._apply_send_window(step, traces, outcome)
        if traces:
            self._execute_isolated(step, traces, records_by_trace, outcome)

    def _apply_send_window(self, step, traces, outcome):
        """Postpone the traces due outside the step's send window to its next opening in
        the recipient's time zone; return those to run now.

        The recipient's time zone is the contact's, else the scenario company's, else UTC.
        Set-based: the time zones are read in one query and the next opening is computed
        once per time zone, not per trace. Test participants ignore windows: a test run
        must show its mails at once. The cron is woken at the earliest opening by
        ``_schedule_next_run`` at the end of the run.
        """
        window = step._send_window()
        real = traces.filtered(lambda t: not t.is_test)
        if not window or not real:
            return traces
        partners = real.participant_id.partner_id
        partners.fetch(["tz"])
        default_tz = step.scenario_id.company_id.partner_id.tz or "UTC"
        by_tz = defaultdict(list)
        for trace in real:
            by_tz[trace.participant_id.partner_id.tz or default_tz].append(trace.id)
        to_run = traces - real
        for tz_name, trace_ids in by_tz.items():
            group = self.browse(trace_ids)
            opening = window._window_next_opening(outcome.now, tz_name)
            if opening is None or opening <= outcome.now:
                to_run |= group
            else:
                outcome.postpone(
                    group,
                    opening,
                    self.env._(
                        "Outside the send window (%(window)s, %(tz)s): postponed to its "
                        "next opening.",
                        window=window.window_description,
                        tz=tz_name,
                    ),
                )
        return to_run

    def _process_deadline(self, step, traces, records_by_trace, outcome):
        """Traces that waited for something until their deadline."""
        if step.action_type == "wait_until":
            model = self.env[step.model_name]
            records = model.browse(records_by_trace[t].id for t in traces)
            met = records.filtered_domain(step._domain("condition_domain"))
            yes = traces.filtered(lambda t: records_by_trace[t] in met)
            outcome.done(yes, outcome=True)
            outcome.done(
                traces - yes,
                outcome=False,
                reason=self.env._("Time-out: the condition was not met in time."),
            )
        elif step.trigger_type in MAIL_POSITIVE:
            outcome.skip(traces, "event_missed")
        else:  # a scheduled step left waiting by mistake: run it next time
            outcome.postpone(traces, outcome.now)

    def _check_mail_negative(self, step, traces, outcome):
        """A "not opened" branch fires only when the parent mail was really sent."""
        event = MAIL_NEGATIVE[step.trigger_type]
        mails = (
            self.env["mailing.trace"]
            .sudo()
            .search([("marketing_trace_id", "in", traces.parent_id.ids)])
        )
        mail_by_parent = {m.marketing_trace_id.id: m for m in mails}
        to_run = self.browse()
        for trace in traces:
            mail = mail_by_parent.get(trace.parent_id.id)
            status = mail.trace_status if mail else False
            if not mail or status in ("cancel", "error", "bounce"):
                detail = (mail.failure_type or status) if mail else self.env._("no mail")
                outcome.skip(trace, "mail_not_sent", str(detail))
            elif status in ("outgoing", "process"):
                # still in the queue: decide once it has left it
                deadline = step._planned_date(trace.parent_id.done_at)
                if outcome.now > deadline + MAIL_QUEUE_GRACE:
                    outcome.skip(trace, "mail_not_sent", self.env._("still in the outgoing queue"))
                else:
                    outcome.postpone(
                        trace,
                        outcome.now + MAIL_QUEUE_RECHECK,
                        self.env._("Waiting for the mail to leave the queue."),
                    )
            elif (
                (event == "open" and (mail.open_datetime or status in ("open", "reply")))
                or (event == "click" and mail.links_click_datetime)
                or (event == "reply" and (mail.reply_datetime or status == "reply"))
            ):
                outcome.skip(trace, "event_happened")
            else:
                to_run |= trace
        return to_run

    def _execute_isolated(self, step, traces, records_by_trace, outcome):
        """Run the action for the whole group; if it fails, record by record.

        One bad record fails its own trace with the error, the others go on. Transient
        database errors are retried a bounded number of times.
        """
        try:
            with self.env.cr.savepoint():
                batch_outcome = TraceOutcome(outcome.now)
                step._execute(traces, records_by_trace, batch_outcome)
            outcome.merge(batch_outcome)
            return
        except Exception:  # noqa: BLE001 - any failure falls back to record by record
            _logger.info(
                "Step %s failed for a batch of %s, retrying one by one",
                step.id,
                len(traces),
                exc_info=True,
            )
        for trace in traces:
            try:
                with self.env.cr.savepoint():
                    trace_outcome = TraceOutcome(outcome.now)
                    step._execute(trace, records_by_trace, trace_outcome)
                outcome.merge(trace_outcome)
            except Exception as e:  # noqa: BLE001 - recorded on the trace
                self._record_failure(trace, e, outcome)

    def _record_failure(self, trace, error, outcome):
        message = failure_message(error)
        transient = isinstance(error, psycopg2.OperationalError)
        if transient and trace.attempt_count + 1 < MAX_ATTEMPTS:
            delay = timedelta(minutes=5 * 2**trace.attempt_count)
            outcome.postpone(
                trace,
                outcome.now + delay,
                self.env._("Retry after error: %s", message),
                attempt=True,
            )
        else:
            outcome.fail(trace, message)
        _logger.info("Trace %s failed: %s", trace.id, message)

    # ------------------------------------------------------------
    # Applying the outcome of a batch
    # ------------------------------------------------------------

    def _apply(self, outcome):
        """Write the new states, create the next steps and close finished walks."""
        self.env.flush_all()
        if outcome.updates:
            self._write_updates(outcome)
        if outcome.ended:
            self._end_participants(outcome)
        self.invalidate_model()
        self.env["marketing.scenario.participant"].invalidate_model()
        done_ids = [tid for tid, vals in outcome.updates.items() if vals.get("state") == "done"]
        if done_ids:
            self.browse(done_ids)._create_children(outcome.now)
        participant_ids = list({t.participant_id.id for t in self.browse(outcome.updates)})
        if participant_ids:
            self._complete_participants(participant_ids, outcome.now)
        self.invalidate_model()
        self.env["marketing.scenario.participant"].invalidate_model()

    def _write_updates(self, outcome):
        columns = (
            "state",
            "scheduled_at",
            "done_at",
            "outcome",
            "reason_code",
            "reason",
            "attempt_count",
        )
        types = ("varchar", "timestamp", "timestamp", "bool", "varchar", "text", "int")
        ids = list(outcome.updates)
        values = {col: [outcome.updates[i].get(col) for i in ids] for col in columns}
        # a column absent from the update keeps its current value
        keep = {col: [col not in outcome.updates[i] for i in ids] for col in columns}
        assignments = SQL(", ").join(
            SQL(
                "%s = CASE WHEN v.%s THEN t.%s ELSE v.%s END",
                SQL.identifier(col),
                SQL.identifier(f"keep_{col}"),
                SQL.identifier(col),
                SQL.identifier(col),
            )
            for col in columns
        )
        unnest_args = [SQL("%s::int[]", ids)]
        aliases = ["id"]
        for col, typ in zip(columns, types, strict=True):
            unnest_args.append(SQL(f"%s::{typ}[]", values[col]))
            unnest_args.append(SQL("%s::bool[]", keep[col]))
            aliases += [col, f"keep_{col}"]
        self.env.cr.execute(
            SQL(
                """
                UPDATE marketing_scenario_trace t
                   SET %s, write_date = %s, write_uid = %s
                  FROM unnest(%s) AS v(%s)
                 WHERE t.id = v.id
                """,
                assignments,
                outcome.now,
                self.env.uid,
                SQL(", ").join(unnest_args),
                SQL(", ").join(SQL.identifier(a) for a in aliases),
            )
        )

    def _end_participants(self, outcome):
        """End walks (goal, exit, deleted record) and cancel their other pending traces."""
        by_state = defaultdict(list)
        for pid, (state, code) in outcome.ended.items():
            by_state[(state, code)].append(pid)
        for (state, code), pids in by_state.items():
            self.env.cr.execute(
                SQL(
                    """
                    UPDATE marketing_scenario_participant
                       SET state = %(state)s, end_reason_code = %(code)s, date_end = %(now)s,
                           write_date = %(now)s, write_uid = %(uid)s
                     WHERE id = ANY(%(pids)s) AND state = 'running'
                    """,
                    state=state,
                    code=code,
                    now=outcome.now,
                    uid=self.env.uid,
                    pids=pids,
                )
            )
            self.env.cr.execute(
                SQL(
                    """
                    UPDATE marketing_scenario_trace
                       SET state = 'canceled', reason_code = %(code)s, done_at = %(now)s,
                           write_date = %(now)s, write_uid = %(uid)s
                     WHERE participant_id = ANY(%(pids)s)
                       AND state IN ('scheduled', 'waiting')
                       AND NOT (id = ANY(%(handled)s))
                    """,
                    code=code,
                    now=outcome.now,
                    uid=self.env.uid,
                    pids=pids,
                    handled=list(outcome.updates),
                )
            )

    def _create_children(self, now):
        """Create the traces of the next steps of these done traces, in one query per scenario.

        Delays run from when the parent was actually done. Behaviour branches on a mail
        start waiting for the event until their deadline; yes/no branches follow the
        parent's outcome.
        """
        self.fetch(
            [
                "step_id",
                "participant_id",
                "outcome",
                "done_at",
                "scenario_id",
                "is_test",
                "company_id",
            ]
        )
        steps = self.step_id
        children = self.env["marketing.scenario.step"].search(
            [("parent_id", "in", steps.ids)], order="sequence, id"
        )
        children_by_parent = children.grouped("parent_id")
        running_pids = set(self.participant_id.filtered(lambda p: p.state == "running").ids)
        rows_by_key = defaultdict(list)
        for trace in self:
            if trace.participant_id.id not in running_pids:
                continue
            for child in children_by_parent.get(trace.step_id, ()):
                trigger = child.trigger_type
                if trigger in BRANCH_TRIGGERS and (trigger == "yes") != bool(trace.outcome):
                    continue
                at = child._planned_date(trace.done_at or now)
                key = (trace.scenario_id.id, trace.company_id.id, trace.is_test)
                state = "waiting" if trigger in MAIL_POSITIVE else "scheduled"
                rows_by_key[key].append((trace.participant_id.id, child.id, at, trace.id, state))
        for (scenario_id, company_id, is_test), rows in rows_by_key.items():
            self._insert_traces(scenario_id, company_id, is_test, rows, now)

    def _complete_participants(self, participant_ids, now):
        """Walks with nothing pending any more are completed."""
        self.env.cr.execute(
            SQL(
                """
                UPDATE marketing_scenario_participant p
                   SET state = 'completed', date_end = %(now)s, write_date = %(now)s,
                       write_uid = %(uid)s
                 WHERE p.id = ANY(%(pids)s) AND p.state = 'running'
                   AND NOT EXISTS (
                       SELECT 1 FROM marketing_scenario_trace t
                        WHERE t.participant_id = p.id AND t.state IN ('scheduled', 'waiting'))
                """,
                now=now,
                uid=self.env.uid,
                pids=participant_ids,
            )
        )

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

        Light on purpose, it runs inside the public tracking request: it only wakes the
        waiting branches (their action runs in the cron) and closes the opposite ones.
        """
        if not self:
            return
        children = self.search([("parent_id", "in", self.ids), ("state", "in", PENDING_STATES)])
        if not children:
            return
        now = fields.Datetime.now()
        wake = self.browse()
        close = self.browse()
        for child in children:
            trigger = child.step_id.trigger_type
            if MAIL_POSITIVE.get(trigger) == event and child.state == "waiting":
                link = child.step_id.link_url
                if event == "click" and link and not (url or "").startswith(link):
                    continue
                wake |= child
            elif event == "bounce" and trigger in MAIL_NEGATIVE:
                close |= child
            elif (
                MAIL_NEGATIVE.get(trigger) == event
                or (event == "reply" and MAIL_NEGATIVE.get(trigger) == "open")
                or (event == "click" and MAIL_NEGATIVE.get(trigger) == "open")
            ):
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
                    "reason": self.env._("Mail %s", event),
                }
            )
            self.flush_model()
            self._complete_participants(close.participant_id.ids, self.env.cr.now())

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
            return True
        mails.set_opened()
        if event == "click":
            mails.set_clicked()
            self._on_mail_event("click")
        elif event == "reply":
            mails.set_replied()
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
        """Test helper for marketers: make these pending traces due now."""
        pending = self.filtered(lambda t: t.state in PENDING_STATES)
        now = fields.Datetime.now()
        pending.write({"scheduled_at": now})
        self._wake_cron_at(now)
        return True
