import json
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.fields import Domain
from odoo.tools import SQL

from ..tools import contacts
from .marketing_scenario_trace import PENDING_STATES, REASONS


class MarketingScenarioParticipant(models.Model):
    """One record's walk through one scenario. A re-entry is a new participant."""

    _name = "marketing.scenario.participant"
    _description = "Scenario Participant"
    _order = "date_start desc, id desc"
    _rec_name = "record_name"

    scenario_id = fields.Many2one(
        "marketing.scenario", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="scenario_id.company_id", store=True, index=True)
    model_name = fields.Char(string="Model", required=True)
    res_id = fields.Many2oneReference(string="Record ID", model_field="model_name", required=True)
    record_name = fields.Char(
        compute="_compute_record_name", search="_search_record_name", string="Record"
    )
    partner_id = fields.Many2one(
        "res.partner", string="Contact", index="btree_not_null", ondelete="set null"
    )
    state = fields.Selection(
        [
            ("running", "Running"),
            ("completed", "Completed"),
            ("converted", "Converted"),
            ("exited", "Exited"),
            ("canceled", "Canceled"),
        ],
        default="running",
        required=True,
        index=True,
    )
    end_reason_code = fields.Selection(REASONS, string="End reason", readonly=True)
    end_reason = fields.Text(string="End details", readonly=True)
    is_test = fields.Boolean(string="Test", readonly=True)
    is_holdout = fields.Boolean(
        string="Held out",
        readonly=True,
        help="In the scenario's holdout (control group): the walk is recorded, nothing is "
        "sent or done, and its conversions measure what the scenario adds.",
    )
    date_start = fields.Datetime(string="Entered on", default=fields.Datetime.now, required=True)
    date_end = fields.Datetime(string="Ended on")
    trace_ids = fields.One2many("marketing.scenario.trace", "participant_id", string="Steps")
    next_step_id = fields.Many2one(
        "marketing.scenario.step", string="Next step", compute="_compute_next_step"
    )
    next_run_at = fields.Datetime(string="Next step on", compute="_compute_next_step")
    # why the record entered, for time-based and event triggers
    anniversary_date = fields.Date(
        string="Anniversary",
        readonly=True,
        help="For an anniversary scenario: the anniversary this walk celebrates (a scenario "
        "enrols a record at most once per anniversary year).",
    )
    payload = fields.Json(
        readonly=True,
        copy=False,
        help="Data of the event that made the record enter. In the e-mails of the scenario: "
        "<t t-out=\"marketing_payload.get(object.id, {}).get('key')\"/>.",
    )
    payload_text = fields.Text(string="Event data", compute="_compute_payload_text")

    # A record walks a scenario once at a time (test walks aside): enforced by the
    # database so that two workers or two transactions can never enrol it twice.
    _running_unique = models.UniqueIndex(
        "(scenario_id, res_id) WHERE state = 'running' AND is_test IS NOT TRUE",
        "This record is already walking through this scenario.",
    )
    _scenario_res_idx = models.Index("(scenario_id, res_id, date_end)")

    @api.depends("model_name", "res_id")
    def _compute_record_name(self):
        by_model = {}
        for participant in self:
            by_model.setdefault(participant.model_name, set()).add(participant.res_id)
        names = {}
        for model_name, res_ids in by_model.items():
            if model_name not in self.env:
                continue
            records = self.env[model_name].browse(res_ids).sudo().exists()
            names.update({(model_name, rec.id): rec.display_name for rec in records})
        for participant in self:
            participant.record_name = names.get(
                (participant.model_name, participant.res_id),
                self.env._("Deleted record #%(id)s", id=participant.res_id),
            )

    def _search_record_name(self, operator, value):
        """Walks by the name of their record: one name search per target model (the
        negative operators are the negation of the positive ones, done by the ORM)."""
        if operator in Domain.NEGATIVE_OPERATORS:
            return NotImplemented
        domain = Domain.FALSE
        for [model_name] in self.sudo()._read_group([], ["model_name"]):
            if model_name not in self.env:
                continue
            records = self.env[model_name].sudo().with_context(active_test=False)
            domain |= Domain("model_name", "=", model_name) & Domain(
                "res_id", "in", records._search(Domain("display_name", operator, value))
            )
        return domain

    def _compute_next_step(self):
        """The earliest pending step of each walk (one query for all)."""
        first = {}
        ids = [pid for pid in self._origin.ids if pid]
        if ids:
            for trace in self.env["marketing.scenario.trace"].search_fetch(
                [("participant_id", "in", ids), ("state", "in", PENDING_STATES)],
                ["participant_id", "step_id", "scheduled_at"],
                order="scheduled_at, id",
            ):
                first.setdefault(trace.participant_id.id, trace)
        for participant in self:
            trace = first.get(participant._origin.id)
            participant.next_step_id = trace.step_id if trace else False
            participant.next_run_at = trace.scheduled_at if trace else False

    @api.depends("payload")
    def _compute_payload_text(self):
        for participant in self:
            participant.payload_text = (
                json.dumps(participant.payload, indent=2, sort_keys=True, ensure_ascii=False)
                if participant.payload
                else False
            )

    # ------------------------------------------------------------
    # Enrolment (set-based)
    # ------------------------------------------------------------

    @api.model
    def _create_for(
        self,
        scenario,
        records,
        test=False,
        new_records=False,
        snapshot=None,
        audience_checked=False,
    ):
        """Create participants and their first traces for ``records`` in a constant number
        of queries, whatever the number of records.

        Test recipients (contacts made for colleagues' addresses by the test wizard) never
        enter a real walk, whatever the trigger.

        Concurrency: a record already walking (or entering in a concurrent transaction)
        is skipped by ``ON CONFLICT DO NOTHING`` on the unique index, never doubled.

        :param dict snapshot: the scenario's ``_entry_snapshot()`` when the caller has it
            (the real-time triggers keep it in cache: no read of the scenario)
        :param bool audience_checked: ``records`` are known to match the audience
        """
        snapshot = snapshot or scenario._entry_snapshot()
        if not (test or audience_checked):
            records = scenario._filter_audience(records, snapshot)
        if not records:
            return self
        res_ids = list(records._ids)
        if not test and not new_records:
            res_ids = self._filter_reentry(scenario, res_ids)
            if not res_ids:
                return self
        partner_ids = contacts.partner_ids_of(records.browse(res_ids), snapshot["partner_field"])
        now = self.env.cr.now()
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO marketing_scenario_participant
                    (scenario_id, company_id, model_name, res_id, partner_id, state, is_test,
                     is_holdout, date_start, version_id,
                     create_uid, create_date, write_uid, write_date)
                SELECT %(scenario)s, %(company)s, %(model)s, r.res_id, r.partner_id, 'running',
                       %(test)s, random() * 100 < %(holdout)s, %(now)s,
                       (SELECT current_version_id FROM marketing_scenario
                         WHERE id = %(scenario)s),
                       %(uid)s, %(now)s, %(uid)s, %(now)s
                  FROM unnest(%(res_ids)s::int[], %(partner_ids)s::int[]) AS r(res_id, partner_id)
                 WHERE %(test)s OR %(model)s != 'res.partner' OR NOT EXISTS (
                       SELECT 1 FROM res_partner tr
                        WHERE tr.id = r.res_id AND tr.marketing_test_recipient)
                    ON CONFLICT (scenario_id, res_id) WHERE state = 'running'
                       AND is_test IS NOT TRUE DO NOTHING
                RETURNING id
                """,
                scenario=snapshot["id"],
                company=snapshot["company_id"] or None,
                model=snapshot["model_name"],
                test=bool(test),
                # test walks are never held out: a test shows what the contacts receive
                holdout=0 if test else snapshot.get("holdout_percent") or 0,
                now=now,
                uid=self.env.uid,
                res_ids=res_ids,
                partner_ids=partner_ids,
            )
        )
        participant_ids = [row[0] for row in self.env.cr.fetchall()]
        participants = self.browse(participant_ids)
        if participants:
            self.env["marketing.scenario.trace"]._create_first_traces(
                scenario, participant_ids, test, now, snapshot=snapshot
            )
            scenario.invalidate_recordset(["participant_ids", "test_participant_ids"])
        return participants

    @api.model
    def _filter_reentry(self, scenario, res_ids):
        """Drop the records that the re-entry policy keeps out (one query)."""
        if scenario.reentry == "always":
            return res_ids  # a running walk is refused by the unique index
        condition = SQL("TRUE")
        if scenario.reentry == "delay":
            condition = SQL(
                "p.state = 'running' OR p.date_end > %s",
                self.env.cr.now() - timedelta(days=scenario.reentry_days),
            )
        self.flush_model(["scenario_id", "res_id", "state", "is_test", "date_end"])
        self.env.cr.execute(
            SQL(
                """
                SELECT DISTINCT p.res_id
                  FROM marketing_scenario_participant p
                 WHERE p.scenario_id = %s AND p.res_id = ANY(%s)
                   AND p.is_test IS NOT TRUE AND (%s)
                """,
                scenario.id,
                res_ids,
                condition,
            )
        )
        blocked = {row[0] for row in self.env.cr.fetchall()}
        return [res_id for res_id in res_ids if res_id not in blocked]

    # ------------------------------------------------------------
    # Reactions to changes of the target records (mail.thread hooks)
    # ------------------------------------------------------------

    @api.model
    def _on_records_deleted(self, records):
        """The walks of deleted records end as canceled, their pending steps with them."""
        cache = self.env["marketing.scenario"]._scenario_cache(records._name)
        self.flush_model(["scenario_id", "res_id", "state"])
        self.env.cr.execute(
            SQL(
                """
                SELECT id, scenario_id FROM marketing_scenario_participant
                 WHERE scenario_id = ANY(%s) AND res_id = ANY(%s) AND state = 'running'
                """,
                list(cache["live"]),
                list(records._ids),
            )
        )
        rows = self.env.cr.fetchall()
        for scenario_id, scenario_rows in _group_rows(rows, 1).items():
            walks = self.browse(row[0] for row in scenario_rows)
            self.env["marketing.scenario"].browse(scenario_id)._react(
                walks._end, "canceled", "record_deleted"
            )

    @api.model
    def _on_records_changed(self, records, entries):
        """After a write: end the walks whose record reached the goal, and wake the
        wait-until steps whose condition became true. One query to find them."""
        wait_step_ids = [sid for entry in entries for sid in entry["wait_steps"]]
        self.env["marketing.scenario.trace"].flush_model(["state", "step_id", "participant_id"])
        self.flush_model(["scenario_id", "res_id", "state"])
        self.env.cr.execute(
            SQL(
                """
                SELECT p.id, p.scenario_id, p.res_id, t.id, t.step_id
                  FROM marketing_scenario_participant p
             LEFT JOIN marketing_scenario_trace t
                    ON t.participant_id = p.id AND t.state = 'waiting' AND t.step_id = ANY(%s)
                 WHERE p.scenario_id = ANY(%s) AND p.res_id = ANY(%s) AND p.state = 'running'
                """,
                wait_step_ids,
                [entry["id"] for entry in entries],
                list(records._ids),
            )
        )
        rows = self.env.cr.fetchall()
        Scenario = self.env["marketing.scenario"]
        for scenario_id, scenario_rows in _group_rows(rows, 1).items():
            # each scenario on its own: evaluated without a savepoint, applied in one
            scenario = Scenario.browse(scenario_id)
            changes = scenario._react(
                self._changes_of, scenario, records, scenario_rows, savepoint=False
            )
            if changes and (changes[0] or changes[1]):
                scenario._react(self._apply_changes, *changes)

    @api.model
    def _changes_of(self, scenario, records, rows):
        """(walks that reached the goal, waiting traces whose condition became true)
        among ``rows`` of ``_on_records_changed`` for ``scenario``."""
        Step = self.env["marketing.scenario.step"]
        goal = scenario._goal_domain()
        reached = set()
        converted = self.browse()
        if goal is not None:
            candidates = records.browse({row[2] for row in rows})
            reached = set(candidates.filtered_domain(goal)._ids)
            converted = self.browse({row[0] for row in rows if row[2] in reached})
        to_wake = []
        for step_id, step_rows in _group_rows(
            [row for row in rows if row[3] and row[2] not in reached], 4
        ).items():
            condition = Step.browse(step_id)._domain("condition_domain")
            candidates = records.browse({row[2] for row in step_rows})
            met = set(candidates.filtered_domain(condition)._ids)
            to_wake += [row[3] for row in step_rows if row[2] in met]
        return converted, to_wake

    @api.model
    def _apply_changes(self, converted, to_wake):
        if converted:
            converted._end("converted", "goal")
        if to_wake:
            now = fields.Datetime.now()
            Trace = self.env["marketing.scenario.trace"]
            Trace.browse(to_wake)._lock_free().write({"state": "scheduled", "scheduled_at": now})
            Trace._wake_cron_at(now)

    # ------------------------------------------------------------
    # End of walk
    # ------------------------------------------------------------

    def _end(self, state, reason_code, reason=None, now=None, keep_trace_ids=()):
        """End these running walks with ``state`` and cancel their pending traces.

        The one way a walk ends (goal, exit, deleted record, stop, cancel...): three
        queries whatever the number of walks, so that the engine uses it for whole batches.

        Locks in the engine's order, traces then participants, and never waits for a
        trace that a cron batch holds: a goal reached in a user's write while a batch runs
        that contact's step neither waits for the batch nor deadlocks with it. The step
        being run is left to the batch (it finds the walk ended, or its next steps do).

        :param keep_trace_ids: traces whose new state the caller writes itself (the
            engine's batch), left alone
        """
        if not self:
            return
        now = now or self.env.cr.now()
        self.flush_model()
        self.env["marketing.scenario.trace"].flush_model()
        self.env.cr.execute(
            SQL(
                """
                SELECT id FROM marketing_scenario_trace
                 WHERE participant_id = ANY(%s) AND state IN ('scheduled', 'waiting')
                   AND NOT (id = ANY(%s))
                   FOR UPDATE SKIP LOCKED
                """,
                self.ids,
                list(keep_trace_ids),
            )
        )
        trace_ids = [row[0] for row in self.env.cr.fetchall()]
        self.env.cr.execute(
            SQL(
                """
                UPDATE marketing_scenario_participant
                   SET state = %(state)s, end_reason_code = %(code)s, end_reason = %(reason)s,
                       date_end = %(now)s, write_date = %(now)s, write_uid = %(uid)s
                 WHERE id = ANY(%(pids)s) AND state = 'running'
                RETURNING id
                """,
                state=state,
                code=reason_code,
                reason=reason,
                now=now,
                uid=self.env.uid,
                pids=self.ids,
            )
        )
        ended_ids = [row[0] for row in self.env.cr.fetchall()]
        if ended_ids and trace_ids:
            self.env.cr.execute(
                SQL(
                    """
                    UPDATE marketing_scenario_trace
                       SET state = 'canceled', reason_code = %(code)s, reason = %(reason)s,
                           done_at = %(now)s, write_date = %(now)s, write_uid = %(uid)s
                     WHERE id = ANY(%(ids)s) AND participant_id = ANY(%(pids)s)
                    """,
                    code=reason_code,
                    reason=reason,
                    now=now,
                    uid=self.env.uid,
                    ids=trace_ids,
                    pids=ended_ids,
                )
            )
        self.invalidate_model()
        self.env["marketing.scenario.trace"].invalidate_model()

    def action_cancel(self):
        self._end("canceled", "manual")
        return True

    def action_run_next_step(self):
        """Test runs: run the next step of these walks now, without waiting for the cron.

        The earliest pending trace of each walk (and those due at the same time, e.g. the
        "opened" and "not opened" branches of one e-mail) is made due and processed right
        here, for these participants only, as the cron would: a step that waits for an
        event reaches its deadline. The mails it queues leave with the next run of the
        mail queue, woken at once.
        """
        if not self:
            return True
        if any(not participant.is_test for participant in self):
            raise UserError(
                self.env._("Only test runs can be fast-forwarded: real contacts keep their timing.")
            )
        Trace = self.env["marketing.scenario.trace"]
        pending = Trace.search(
            [("participant_id", "in", self.ids), ("state", "in", PENDING_STATES)],
            order="scheduled_at, id",
        )
        to_run = Trace
        for traces in pending.grouped("participant_id").values():
            first = traces[0].scheduled_at
            to_run |= traces.filtered(lambda t, first=first: t.scheduled_at == first)
        if not to_run:
            return {
                "type": "ir.actions.client",
                "tag": "display_notification",
                "params": {
                    "message": self.env._("Nothing left to run: the test walk is over."),
                    "type": "warning",
                },
            }
        # with the engine's rights, as the live cron: a test proves what the live run does
        claimed = to_run._as_engine()._claim_now()
        claimed._process()
        self.env["mail.mail"]._trigger_marketing_wake_queue(fields.Datetime.now())
        return True

    def action_view_record(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": self.model_name,
            "res_id": self.res_id,
            "view_mode": "form",
            "target": "current",
        }


def _group_rows(rows, index):
    grouped = {}
    for row in rows:
        grouped.setdefault(row[index], []).append(row)
    return grouped
