import logging
from collections import defaultdict
from datetime import timedelta

import psycopg2
import psycopg2.extensions

from odoo import api, models
from odoo.tools import SQL

from ..tools import machine_events
from ..tools.company_language import in_company_language
from ..tools.trace_results import TraceResults, failure_message
from .marketing_scenario_failure import NOT_ISOLATED
from .marketing_scenario_step import (
    BRANCH_TRIGGERS,
    MAIL_NEGATIVE,
    MAIL_POSITIVE,
)

_logger = logging.getLogger(__name__)

# Transient database errors are retried this many times in all.
MAX_ATTEMPTS = 3
# A "not opened" branch waits for its parent mail to leave the queue before it decides;
# past this delay the mail is considered never sent.
MAIL_QUEUE_GRACE = timedelta(days=2)
# Steps that change nothing for the contact: the holdout walks them as everyone does.
HOLDOUT_NEUTRAL_ACTIONS = ("wait", "condition", "wait_until", "exit", "split")
MAIL_QUEUE_RECHECK = timedelta(hours=1)


class MarketingScenarioTrace(models.Model):
    """The engine: claim a batch of due traces, run each step for the whole batch, and
    apply the results (new states, next steps, finished walks) in the same transaction."""

    _inherit = "marketing.scenario.trace"

    # ------------------------------------------------------------
    # Claiming due traces
    # ------------------------------------------------------------

    @api.model
    def _cron_process(self):
        """Process every due trace, batch after batch, each committed with its progress.

        Safe to run from several workers at once: a batch is claimed with
        ``FOR UPDATE SKIP LOCKED`` so two workers never take the same trace, and the
        actions of a batch and the new states of its traces commit together. Each batch
        runs in READ COMMITTED (``_read_committed``).
        """
        self = in_company_language(self)  # a cron has no language
        Cron = self.env["ir.cron"]
        batch_size = self._batch_size()
        remaining = self._count_due()
        Cron._commit_progress(remaining=remaining)
        Events = self.env["marketing.mail.event"]
        while True:
            self._read_committed()
            # mail events first: the branches they wake are due in this very batch
            events = Events._process_queue(batch_size, hold=machine_events.BURST_SECONDS)
            batch = self._claim_due(batch_size)
            if batch:
                batch._process_isolated()
            elif not events:
                break
            if not Cron._commit_progress(len(batch) + events):
                break
            self.env.invalidate_all()
        self._schedule_next_run()

    def _read_committed(self):
        """Run the transaction that starts now in READ COMMITTED (the engine's batches).

        Under Odoo's REPEATABLE READ, ``FOR UPDATE SKIP LOCKED`` fails with
        ``SerializationFailure`` on a due row that another worker committed after this
        transaction's snapshot; in READ COMMITTED PostgreSQL re-reads that row and skips
        it when it is no longer due. Crash safety stays the database's: the claim is the
        row lock of the batch's own transaction, gone with it on a crash (nothing claimed
        and unprocessed is ever committed). The batch's writes are set-based SQL that
        re-check their conditions (``state = 'running'``, ``marketing_score + points``),
        which READ COMMITTED applies to the newest row instead of failing.

        Only possible before the transaction's first query: on a cursor already in a
        transaction (tests, a caller's request) it changes nothing.
        """
        connection = getattr(self.env.cr, "_cnx", None)
        if (
            connection is not None
            and connection.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_IDLE
        ):
            self.env.cr.execute(SQL("SET TRANSACTION ISOLATION LEVEL READ COMMITTED"))

    def _as_engine(self):
        """These traces in the engine's environment: the processing cron's user with
        superuser rights, as the live cron runs them. "Run next step now" uses it so that
        a test run proves what the live run will do, whatever the rights of the user."""
        cron = self.env.ref("trigger_marketing.ir_cron_scenario_process", raise_if_not_found=False)
        user = cron.sudo().user_id if cron else self.env.ref("base.user_root")
        return self.with_user(user).sudo()

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

    # ------------------------------------------------------------
    # Processing a batch
    # ------------------------------------------------------------

    def _process_isolated(self):
        """Run this batch; if it fails as a whole (e.g. a child step whose delay overflows
        the dates, saved before the bounds), run it again step by step, each in its own
        savepoint: the failing step's traces fail with the error, recorded on their
        scenario too, and every other step of the batch goes on in the same run."""
        Scenario = self.env["marketing.scenario"]
        try:
            with Scenario._isolated():
                self._process()
            return
        except NOT_ISOLATED:
            raise
        except Exception:  # noqa: BLE001 - narrowed down below
            _logger.warning("A batch of %s traces failed, retried step by step", len(self))
        for step, traces in self.grouped("step_id").items():
            try:
                with Scenario._isolated():
                    traces._process()
            except NOT_ISOLATED:
                raise
            except Exception as error:  # noqa: BLE001 - recorded on the traces and scenario
                message = failure_message(error)
                results = TraceResults(self.env.cr.now())
                results.fail(traces, message)
                traces._apply(results)
                step.scenario_id._record_failure(
                    self.env._("Step %(step)s: %(error)s", step=step.name, error=message)
                )

    def _process(self):
        """Run this batch of claimed traces: a constant number of queries per step."""
        now = self.env.cr.now()
        results = TraceResults(now)
        self.fetch(
            [
                "state",
                "step_id",
                "participant_id",
                "parent_id",
                "is_test",
                "attempt_count",
                "scheduled_at",
                "send_time_at",
            ]
        )
        self.participant_id.fetch(
            ["state", "res_id", "model_name", "partner_id", "scenario_id", "is_holdout"]
        )
        # steps of walks that ended meanwhile (defensive: ending a walk cancels them)
        ended = self.filtered(lambda t: t.participant_id.state != "running")
        for trace in ended:
            results.cancel(
                trace,
                trace.participant_id.end_reason_code or "manual",
                self.env._("The walk had already ended."),
            )
        # scenarios in their order: the first ones get the contact's capped e-mail slots
        by_step = sorted(
            (self - ended).grouped("step_id").items(),
            key=lambda item: (item[0].scenario_id.sequence, item[0].scenario_id.id, item[0].id),
        )
        for step, traces in by_step:
            self._process_step_guarded(step, traces, results)
        self._apply(results)

    def _process_step_guarded(self, step, traces, results):
        """Process the traces of one step of the batch; an error of the step itself (a
        filter or goal that no longer evaluates, e.g. its field was removed with a
        module) fails these traces with the message: the other steps of the batch, and
        the batches after it, go on."""
        step_results = TraceResults(results.now, batch=results)
        try:
            with self.env.cr.savepoint():
                self._process_step(step, traces, step_results)
        except Exception as e:  # noqa: BLE001 - recorded on the traces
            _logger.warning("Step %s failed for %s traces: %s", step.id, len(traces), e)
            step_results = TraceResults(results.now, batch=results)
            for trace in traces:
                self._record_failure(trace, e, step_results)
        results.merge(step_results)

    def _process_step(self, step, traces, results):
        scenario = step.scenario_id
        model = self.env[scenario.model_name].with_context(active_test=False)
        records_by_trace = {t: model.browse(t.participant_id.res_id) for t in traces}
        existing = model.browse({r.id for r in records_by_trace.values()}).exists()
        deleted = traces.filtered(lambda t: records_by_trace[t] not in existing)
        if deleted:
            results.cancel(deleted, "record_deleted")
            results.end_participants(deleted.participant_id, "canceled", "record_deleted")
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
                results.cancel(converted, "goal")
                results.end_participants(converted.participant_id, "converted", "goal")
                traces -= converted
        if not traces:
            return

        waiting = traces.filtered(lambda t: t.state == "waiting")
        if waiting:
            self._process_deadline(step, waiting, records_by_trace, results)
            traces -= waiting
        if step.trigger_type in MAIL_NEGATIVE:
            traces = self._check_mail_negative(step, traces, results)
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
            results.skip(not_matching, "condition")
            traces -= not_matching
        traces = self._hold_out(step, traces, results)
        traces = self._apply_send_time(step, traces, results)
        traces = self._apply_send_window(step, traces, results)
        traces = self._apply_frequency_cap(step, traces, results)
        if traces:
            self._execute_isolated(step, traces, records_by_trace, results)

    def _hold_out(self, step, traces, results):
        """Participants of the holdout (control group) walk the tree with its timing, but
        no action reaches them or anyone about them: each step is done with the reason.
        :return: the traces to run"""
        if step.action_type in HOLDOUT_NEUTRAL_ACTIONS:
            return traces
        held = traces.filtered(lambda t: t.participant_id.is_holdout)
        results.done(
            held,
            reason=self.env._("Held out (control group): nothing sent or done."),
            code="holdout",
        )
        return traces - held

    def _apply_send_window(self, step, traces, results):
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
            opening = window._window_next_opening(results.now, tz_name)
            if opening is None or opening <= results.now:
                to_run |= group
            else:
                results.postpone(
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

    def _process_deadline(self, step, traces, records_by_trace, results):
        """Traces that waited for something until their deadline."""
        if step.action_type == "wait_until":
            model = self.env[step.model_name]
            records = model.browse(records_by_trace[t].id for t in traces)
            met = records.filtered_domain(step._domain("condition_domain"))
            yes = traces.filtered(lambda t: records_by_trace[t] in met)
            results.done(yes, met=True)
            results.done(
                traces - yes,
                met=False,
                reason=self.env._("Time-out: the condition was not met in time."),
            )
        elif step.trigger_type in MAIL_POSITIVE:
            results.skip(traces, "event_missed")
        else:  # a scheduled step left waiting by mistake: run it next time
            results.postpone(traces, results.now)

    def _check_mail_negative(self, step, traces, results):
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
                results.skip(trace, "mail_not_sent", str(detail))
            elif status in ("outgoing", "process"):
                # still in the queue: decide once it has left it
                deadline = step._planned_date(trace.parent_id.done_at)
                if results.now > deadline + MAIL_QUEUE_GRACE:
                    results.skip(trace, "mail_not_sent", self.env._("still in the outgoing queue"))
                else:
                    results.postpone(
                        trace,
                        results.now + MAIL_QUEUE_RECHECK,
                        self.env._("Waiting for the mail to leave the queue."),
                    )
            elif (
                # people's only: a machine's open or click is no reason to skip
                (event == "open" and (mail.marketing_opened_at or mail.reply_datetime))
                or (event == "click" and mail.marketing_clicked_at)
                or (event == "reply" and (mail.reply_datetime or status == "reply"))
            ):
                results.skip(trace, "event_happened")
            else:
                to_run |= trace
        return to_run

    def _execute_isolated(self, step, traces, records_by_trace, results):
        """Run the action for the whole group; if it fails, record by record.

        One bad record fails its own trace with the error, the others go on. Transient
        database errors are retried a bounded number of times.
        """
        try:
            with self.env.cr.savepoint():
                batch_results = TraceResults(results.now)
                step._execute(traces, records_by_trace, batch_results)
            results.merge(batch_results)
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
                    trace_results = TraceResults(results.now)
                    step._execute(trace, records_by_trace, trace_results)
                results.merge(trace_results)
            except Exception as e:  # noqa: BLE001 - recorded on the trace
                self._record_failure(trace, e, results)

    def _record_failure(self, trace, error, results):
        message = failure_message(error)
        transient = isinstance(error, psycopg2.OperationalError)
        if transient and trace.attempt_count + 1 < MAX_ATTEMPTS:
            delay = timedelta(minutes=5 * 2**trace.attempt_count)
            results.postpone(
                trace,
                results.now + delay,
                self.env._("Retry after error: %s", message),
                attempt=True,
            )
        else:
            results.fail(trace, message)
        _logger.info("Trace %s failed: %s", trace.id, message)

    # ------------------------------------------------------------
    # Applying the results of a batch
    # ------------------------------------------------------------

    def _apply(self, results):
        """Write the new states, create the next steps and close finished walks."""
        self.env.flush_all()
        if results.updates:
            self._write_updates(results)
        if results.ended:
            self._end_participants(results)
        self.invalidate_model()
        self.env["marketing.scenario.participant"].invalidate_model()
        done_ids = [tid for tid, vals in results.updates.items() if vals.get("state") == "done"]
        if done_ids:
            self.browse(done_ids)._create_children(results.now)
        participant_ids = list({t.participant_id.id for t in self.browse(results.updates)})
        if participant_ids:
            self._complete_participants(participant_ids, results.now)
        self.invalidate_model()
        self.env["marketing.scenario.participant"].invalidate_model()

    def _write_updates(self, results):
        columns = (
            "state",
            "scheduled_at",
            "done_at",
            "outcome",
            "reason_code",
            "reason",
            "attempt_count",
            "branch_step_id",
            "send_time_at",
        )
        types = (
            "varchar",
            "timestamp",
            "timestamp",
            "bool",
            "varchar",
            "text",
            "int",
            "int",
            "timestamp",
        )
        ids = list(results.updates)
        values = {col: [results.updates[i].get(col) for i in ids] for col in columns}
        # a column absent from the update keeps its current value
        keep = {col: [col not in results.updates[i] for i in ids] for col in columns}
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
                results.now,
                self.env.uid,
                SQL(", ").join(unnest_args),
                SQL(", ").join(SQL.identifier(a) for a in aliases),
            )
        )

    def _end_participants(self, results):
        """End walks (goal, exit, deleted record) and cancel their other pending traces."""
        by_state = defaultdict(list)
        for pid, (state, code) in results.ended.items():
            by_state[(state, code)].append(pid)
        Participant = self.env["marketing.scenario.participant"]
        for (state, code), pids in by_state.items():
            Participant.browse(pids)._end(
                state, code, now=results.now, keep_trace_ids=list(results.updates)
            )

    def _create_children(self, now):
        """Create the traces of the next steps of these done traces, in one query per scenario.

        Delays run from when the parent was actually done. Behaviour branches on a mail
        start waiting for the event until their deadline; yes/no branches follow the
        parent's outcome; a split continues on the one branch it chose.
        """
        self.fetch(
            [
                "step_id",
                "participant_id",
                "outcome",
                "branch_step_id",
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
                if trigger == "split" and child != trace.branch_step_id:
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
