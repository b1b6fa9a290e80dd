from odoo import api, fields, models
from odoo.tools import SQL

from .marketing_scenario_live import LIVE_STATES
from .marketing_scenario_step import BRANCH_TRIGGERS, MAIL_POSITIVE
from .marketing_scenario_version import STEP_FIELDS, _plain

# Changes of a step that concern the contacts waiting for it.
TIMING_FIELDS = {"delay", "delay_unit"}
PENDING_FIELDS = set(STEP_FIELDS) - TIMING_FIELDS - {"name"}
LIVE_FIELDS = TIMING_FIELDS | PENDING_FIELDS
CHOICE_FIELDS = ("live_timing_choice", "live_pending_choice", "live_new_choice")
# The mail event of a positive branch -> the column of the parent trace that records it.
EVENT_COLUMNS = {
    "open": "mail_opened_at",
    "click": "mail_clicked_at",
    "reply": "mail_replied_at",
    "bounce": "mail_bounced",
}


def _interval(delay, unit):
    """A step's delay as a PostgreSQL interval ('3 days'); units are a closed list."""
    return SQL("%s::interval", f"{int(delay or 0)} {unit or 'days'}")


class MarketingScenarioStep(models.Model):
    """Live edits: a change of a step of a running (or paused) scenario says, before it is
    saved, how many contacts it concerns and what happens to them, with a choice.

    The form shows the counts (``live_preview``, computed on the pending values:
    ``marketing_scenario_step_live_preview.py``) and asks for the choices;
    ``write``/``create`` apply them set-based (one UPDATE or one
    INSERT ... SELECT per step) and record a version of the scenario. Without a choice
    (code), what was there keeps going: waiting contacts keep their dates and go on
    with the changed step, a new step is for contacts who arrive from now on.
    """

    _inherit = "marketing.scenario.step"

    # ------------------------------------------------------------
    # Saving: the choices applied, set-based, and a version recorded
    # ------------------------------------------------------------

    def _live(self):
        if self.env.context.get("tm_live_skip"):
            return self.browse()
        return self.filtered(lambda s: s.scenario_id.state in LIVE_STATES)

    @api.model_create_multi
    def create(self, vals_list):
        choices = [{f: vals.pop(f, False) for f in CHOICE_FIELDS} for vals in vals_list]
        steps = super().create(vals_list)
        above = self.browse(self.env.context.get("tm_insert_above") or []).exists()
        live = steps._live()
        if above and steps[:1].scenario_id == above.scenario_id:
            # "insert above" (any state): the existing step moves under the first new one
            above.with_context(tm_live_skip=True).write(
                {"parent_id": steps[0].id, **above._live_trigger_under(steps[0])}
            )
        # the version first: the traces planned by the choices record it
        versions = self._live_open_versions(live.scenario_id)
        changes = {}
        for step, choice in zip(steps, choices, strict=True):
            if step not in live:
                continue
            step_above = above if above and above.parent_id == step else None
            change, done = step._live_apply_new(choice.get("live_new_choice"), step_above)
            changes.setdefault(step.scenario_id, []).append((change, done))
        self._live_record_versions(changes, versions)
        return steps

    def write(self, vals):
        choices = {f: vals.pop(f) for f in CHOICE_FIELDS if f in vals}
        # a User changes the action through its choice (the actions without code)
        live_fields = LIVE_FIELDS & (
            set(vals) | ({"action_type"} if "action_choice" in vals else set())
        )
        live = self._live() if live_fields else self.browse()
        before = {
            step.id: {f: (_norm(step, f), _plain(step, f)) for f in live_fields} for step in live
        }
        # the inverses of computed fields (the User's action choice...) write the step
        # again inside: one change, one version
        res = super(MarketingScenarioStep, self.with_context(tm_live_skip=True)).write(vals)
        changed_by_step = {}
        for step in live:
            old = before[step.id]
            changed = {f for f in live_fields if _norm(step, f) != old[f][0]}
            if changed:
                changed_by_step[step] = (changed, {f: old[f][1] for f in changed})
        if not changed_by_step:
            return res
        versions = self._live_open_versions(self.browse().union(*changed_by_step).scenario_id)
        changes = {}
        for step, (changed, old_values) in changed_by_step.items():
            change, done = step._live_apply_write(changed, old_values, choices)
            changes.setdefault(step.scenario_id, []).append((change, done))
        self._live_record_versions(changes, versions)
        return res

    def unlink(self):
        live = self._live()
        changes = {}
        for step in live:
            below = len(step.with_context(active_test=False).search([("id", "child_of", step.id)]))
            change = self.env._("Step deleted: %s", step.name)
            if below > 1:
                change += " " + self.env._("(and %s step(s) under it)", below - 1)
            done = self.env._("Their waiting steps were canceled (step deleted).")
            if self.env.context.get("tm_live_done"):
                done += " " + self.env.context["tm_live_done"]
            changes.setdefault(step.scenario_id, []).append((change, done))
        res = super().unlink()
        if changes:
            scenarios = self.env["marketing.scenario"].union(*changes)
            self._live_record_versions(changes, self._live_open_versions(scenarios))
        return res

    @api.model
    def _live_open_versions(self, scenarios):
        """A new version of each scenario (its change is written once applied)."""
        if not scenarios:
            return {}
        return dict(zip(scenarios, scenarios._create_version("…"), strict=True))

    @api.model
    def _live_record_versions(self, changes, versions):
        """Write on each new version the change and what was done for the contacts."""
        for scenario, items in changes.items():
            versions[scenario].write(
                {
                    "change": "\n".join(change for change, _done in items),
                    "choice": "\n".join(done for _change, done in items if done) or False,
                }
            )

    def _live_apply_write(self, changed, before, choices):
        """Apply the choices for the contacts waiting for this step (just written).

        :return: (the change in words, what was done for the contacts in words)
        """
        _ = self.env._
        labels = ", ".join(
            f"{self._fields[f]._description_string(self.env)}: {before[f]} → {_plain(self, f)}"
            for f in sorted(changed)
        )
        change = _("Step %(step)s changed (%(fields)s)", step=self.name, fields=labels)
        done = []
        pending_changes = changed - TIMING_FIELDS
        if pending_changes and choices.get("live_pending_choice") == "cancel":
            count = self._live_cancel_pending()
            done.append(_("%s waiting contact(s): this step canceled for them.", count))
        elif "trigger_type" in changed:
            count, due = self._live_retime(restate=True)
            done.append(
                _(
                    "%(count)s waiting contact(s) follow the new wake-up (%(due)s due now).",
                    count=count,
                    due=due,
                )
            )
        elif TIMING_FIELDS & changed and choices.get("live_timing_choice") == "retime":
            count, due = self._live_retime()
            done.append(
                _("%(count)s waiting contact(s) re-timed (%(due)s due now).", count=count, due=due)
            )
        elif TIMING_FIELDS & changed:
            done.append(_("Waiting contacts keep their planned dates."))
        if "parent_id" in changed:
            change_new, done_new = self._live_apply_new(choices.get("live_new_choice"))
            done.append(done_new)
        return change, " ".join(d for d in done if d)

    def _live_apply_new(self, choice, above=None):
        """A step added (or moved) where running walks already passed: run it for them now
        (one INSERT ... SELECT) or only for the walks that get there from now on.

        :param above: an existing step that moved under this new one ("insert above")
        """
        _ = self.env._
        change = _(
            "Step added: %(step)s (after %(parent)s)",
            step=self.name,
            parent=self.parent_id.name or _("the entry"),
        )
        if above:
            change += " " + _("above %s", above.name)
        if choice != "run_now":
            return change, _("Only contacts who arrive from now on walk it.")
        now = self.env.cr.now()
        moved = 0
        if above:
            moved = self._live_take_over(above, now)
        query = self._live_passed_query(
            self.scenario_id,
            self.parent_id,
            self,
            _interval(self.delay, self.delay_unit),
            now,
            test=True,
        )
        inserted = []
        if query is not None:
            self.flush_model()
            self.env.cr.execute(
                SQL(
                    """
                    INSERT INTO marketing_scenario_trace
                        (participant_id, step_id, scheduled_at, parent_id, scenario_id,
                         company_id, is_test, state, attempt_count, version_id,
                         create_uid, create_date, write_uid, write_date)
                    SELECT q.pid, %(step)s, GREATEST(q.at, %(now)s), q.parent, %(scenario)s,
                           %(company)s, q.is_test, q.state, 0,
                           (SELECT current_version_id FROM marketing_scenario
                             WHERE id = %(scenario)s),
                           %(uid)s, %(now)s, %(uid)s, %(now)s
                      FROM (%(query)s) AS q
                    ON CONFLICT DO NOTHING
                    RETURNING scheduled_at, is_test
                    """,
                    step=self.id,
                    now=now,
                    scenario=self.scenario_id.id,
                    company=self.scenario_id.company_id.id or None,
                    uid=self.env.uid,
                    query=query,
                )
            )
            inserted = self.env.cr.fetchall()
        Trace = self.env["marketing.scenario.trace"]
        Trace.invalidate_model()
        if inserted:
            Trace._wake_cron_at(min(at for at, _test in inserted))
        real = sum(1 for _at, test in inserted if not test)
        return change, _(
            "Run now for %(count)s contact(s) already past this point.", count=real + moved
        )

    def _live_trigger_under(self, new_parent):
        """Values that keep this step valid under ``new_parent``: a branch on an event of
        its old parent becomes a plain next step."""
        if self.trigger_type == "after":
            return {}
        fits = (self.trigger_type.startswith("mail_") and new_parent.action_type == "mail") or (
            self.trigger_type in BRANCH_TRIGGERS
            and new_parent.action_type in ("condition", "wait_until")
        )
        return {} if fits else {"trigger_type": "after"}

    def _live_take_over(self, above, now):
        """ "Insert above": the contacts waiting for ``above`` walk this new step first:
        their pending trace becomes this step's (one UPDATE), re-timed from the same start.

        :return: how many real contacts
        """
        self.flush_model()
        self.env["marketing.scenario.trace"].flush_model()
        self.env.cr.execute(
            SQL(
                """
                UPDATE marketing_scenario_trace t
                   SET step_id = %(step)s,
                       scheduled_at = GREATEST(COALESCE(
                           (SELECT p.done_at FROM marketing_scenario_trace p
                             WHERE p.id = t.parent_id), pa.date_start) + %(iv)s, %(now)s),
                       state = %(state)s, write_date = %(now)s, write_uid = %(uid)s
                  FROM marketing_scenario_participant pa
                 WHERE pa.id = t.participant_id AND t.step_id = %(above)s
                   AND t.state IN ('scheduled', 'waiting')
                RETURNING t.is_test
                """,
                step=self.id,
                iv=_interval(self.delay, self.delay_unit),
                now=now,
                state="waiting" if self.trigger_type in MAIL_POSITIVE else "scheduled",
                uid=self.env.uid,
                above=above.id,
            )
        )
        rows = self.env.cr.fetchall()
        self.env["marketing.scenario.trace"].invalidate_model()
        if rows:
            self.env["marketing.scenario.trace"]._wake_cron_at(now)
        return sum(1 for (test,) in rows if not test)

    def _live_retime(self, restate=False):
        """Re-plan the pending traces of this step with its delay, from when their previous
        step was done (or the walk entered): one UPDATE.

        :param restate: also set the state of its wake-up (waiting for a mail event or
            scheduled), and cancel the yes/no branch that no longer matches the outcome
        :return: (real contacts re-timed, of which due now)
        """
        Trace = self.env["marketing.scenario.trace"]
        Trace.flush_model()
        now = self.env.cr.now()
        if restate and self.trigger_type in BRANCH_TRIGGERS:
            wrong = Trace.search(
                [
                    ("step_id", "=", self.id),
                    ("state", "in", ("scheduled", "waiting")),
                    ("parent_id.outcome", "!=" if self.trigger_type == "yes" else "=", True),
                ]
            )
            wrong._cancel("step_changed", self.env._("The branch no longer matches the outcome."))
            Trace.flush_model()
        state = SQL("t.state")
        if restate:
            state = SQL("%s", "waiting" if self.trigger_type in MAIL_POSITIVE else "scheduled")
        self.env.cr.execute(
            SQL(
                """
                UPDATE marketing_scenario_trace t
                   SET scheduled_at = COALESCE(
                           (SELECT p.done_at FROM marketing_scenario_trace p
                             WHERE p.id = t.parent_id), pa.date_start) + %(iv)s,
                       state = %(state)s, write_date = %(now)s, write_uid = %(uid)s
                  FROM marketing_scenario_participant pa
                 WHERE pa.id = t.participant_id AND t.step_id = %(step)s
                   AND t.state IN ('scheduled', 'waiting')
                RETURNING t.scheduled_at, t.is_test
                """,
                iv=_interval(self.delay, self.delay_unit),
                state=state,
                now=now,
                uid=self.env.uid,
                step=self.id,
            )
        )
        rows = self.env.cr.fetchall()
        Trace.invalidate_model()
        if rows:
            Trace._wake_cron_at(min(at for at, _test in rows))
        real = [at for at, test in rows if not test]
        return len(real), sum(1 for at in real if at <= now)

    def _live_cancel_pending(self):
        traces = self.env["marketing.scenario.trace"].search(
            [("step_id", "=", self.id), ("state", "in", ("scheduled", "waiting"))]
        )
        traces._cancel("step_changed", self.env._("The step changed while they waited for it."))
        return len(traces.filtered(lambda t: not t.is_test))

    # ------------------------------------------------------------
    # Deleting a step contacts wait for
    # ------------------------------------------------------------

    def _live_can_reattach(self):
        """Whether every step under this one stays valid under this one's parent."""
        self.ensure_one()
        parent = self.parent_id
        for child in self.child_ids:
            trigger = child.trigger_type
            if trigger == "after":
                continue
            if trigger.startswith("mail_") and parent.action_type == "mail":
                continue
            if trigger in BRANCH_TRIGGERS and parent.action_type in ("condition", "wait_until"):
                continue
            return False
        return True

    def _live_delete(self, choice):
        """Delete this step; ``reattach``: the steps under it move up to its parent and
        keep their waiting contacts (those waiting for this step are canceled)."""
        self.ensure_one()
        if choice == "reattach" and self.child_ids and self._live_can_reattach():
            children = self.child_ids
            children.with_context(tm_live_skip=True).write({"parent_id": self.parent_id.id})
            done = self.env._("Steps under it moved up: %s.", ", ".join(children.mapped("name")))
            return self.with_context(tm_live_done=done).unlink()
        return self.unlink()

    # ------------------------------------------------------------
    # Screen actions
    # ------------------------------------------------------------

    def action_delete(self):
        """Deleting a step that contacts wait for (it or a step under it) first says what
        happens to them, in a dialog with the choice (``marketing.scenario.live.edit``)."""
        self.ensure_one()
        if self._live():
            return self.env["marketing.scenario.live.edit"]._for_delete(self)._action_open()
        return super().action_delete()

    def action_insert_above(self):
        """A new step in this step's place, this step moving under it."""
        self.ensure_one()
        action = self.scenario_id._action_new_step(
            parent=self.parent_id or None, trigger_type=self.trigger_type
        )
        action["context"] = dict(
            action["context"],
            default_delay=self.delay,
            default_delay_unit=self.delay_unit,
            tm_insert_above=self.id,
        )
        action["name"] = self.env._("New step above “%s”", self.name)
        return action


class MarketingScenarioTrace(models.Model):
    _inherit = "marketing.scenario.trace"

    reason_code = fields.Selection(
        selection_add=[("step_changed", "Step changed while waiting")],
        ondelete={"step_changed": "set null"},
    )


def _norm(step, fname):
    """A field's value comparable between a record being edited and its saved origin."""
    field = step._fields[fname]
    value = step[fname]
    if field.type == "many2one":
        return value._origin.id or value.id or False
    if field.type in ("many2many", "one2many"):
        return sorted(value._origin.ids)
    if field.type in ("char", "text", "html"):
        return _plain(step, fname) or ""
    return value
