from markupsafe import Markup

from odoo import api, fields, models
from odoo.tools import SQL

from .marketing_scenario_live import LIVE_STATES
from .marketing_scenario_step import BRANCH_TRIGGERS, MAIL_POSITIVE
from .marketing_scenario_step_live import (
    EVENT_COLUMNS,
    LIVE_FIELDS,
    TIMING_FIELDS,
    _interval,
    _norm,
)


class MarketingScenarioStep(models.Model):
    """Live edits, the preview: on the values being edited in the form, how many
    contacts wait for the step or are past it, what the change does to them, and the
    choices it needs (``marketing_scenario_step_live.py`` applies them on save)."""

    _inherit = "marketing.scenario.step"

    live_preview = fields.Html(
        string="Contacts concerned", compute="_compute_live_preview", sanitize=False
    )
    live_timing_needed = fields.Boolean(compute="_compute_live_preview")
    live_pending_needed = fields.Boolean(compute="_compute_live_preview")
    live_new_needed = fields.Boolean(compute="_compute_live_preview")
    live_timing_choice = fields.Selection(
        [
            ("retime", "Re-time them to the new delay"),
            ("keep", "Keep their planned dates"),
        ],
        string="Contacts waiting for this step",
        compute="_compute_live_choices",
        inverse="_inverse_live_choices",
    )
    live_pending_choice = fields.Selection(
        [
            ("apply", "They go on with the changed step"),
            ("cancel", "Cancel this step for them"),
        ],
        string="Contacts waiting for this step (change)",
        compute="_compute_live_choices",
        inverse="_inverse_live_choices",
    )
    live_new_choice = fields.Selection(
        [
            ("run_now", "Run it for them now"),
            ("new_only", "Only for contacts who arrive from now on"),
        ],
        string="Contacts already past this point",
        compute="_compute_live_choices",
        inverse="_inverse_live_choices",
    )

    # ------------------------------------------------------------
    # The preview, on the values being edited
    # ------------------------------------------------------------

    @api.depends()
    def _compute_live_choices(self):
        # no dependency: never reset while the marketer edits; read back empty
        for step in self:
            step.live_timing_choice = False
            step.live_pending_choice = False
            step.live_new_choice = False

    def _inverse_live_choices(self):
        """Applied by write/create (popped from the values before): nothing to store."""

    @api.depends(*LIVE_FIELDS, "scenario_id")
    @api.depends_context("tm_insert_above")
    def _compute_live_preview(self):
        for step in self:
            step.live_timing_needed = step.live_pending_needed = step.live_new_needed = False
            step.live_preview = False
            scenario = step.scenario_id._origin
            if scenario.state not in LIVE_STATES:
                continue
            origin = step._origin
            changed = {
                fname
                for fname in LIVE_FIELDS
                if origin and _norm(step, fname) != _norm(origin, fname)
            }
            if origin and not changed:
                continue
            counts = step._live_counts(origin, changed)
            step.live_timing_needed = bool(counts["pending"] and counts["timing"])
            step.live_pending_needed = bool(counts["pending"] and counts["pending_changes"])
            step.live_new_needed = bool(counts["passed"])
            step.live_preview = step._live_preview_html(counts)

    def _live_counts(self, origin, changed):
        """Exact counts of the contacts a change concerns (real participants; set-based).

        ``self`` holds the new values (a record being edited, or the step just written);
        ``origin`` is the saved step (empty for a new one).
        """
        parent = self.parent_id._origin
        scenario = self.scenario_id._origin
        counts = {
            "timing": bool(TIMING_FIELDS & changed),
            "pending_changes": sorted(changed - TIMING_FIELDS),
            "pending": 0,
            "pending_due": 0,
            "passed": 0,
            "passed_due": 0,
            "above": self.env["marketing.scenario.step"],
        }
        interval = _interval(self.delay, self.delay_unit)
        now = self.env.cr.now()
        if origin:
            self.env.cr.execute(
                SQL(
                    """
                    SELECT count(*), count(*) FILTER (
                           WHERE COALESCE(p.done_at, pa.date_start) + %(iv)s <= %(now)s)
                      FROM marketing_scenario_trace t
                      JOIN marketing_scenario_participant pa ON pa.id = t.participant_id
                      LEFT JOIN marketing_scenario_trace p ON p.id = t.parent_id
                     WHERE t.step_id = %(step)s AND t.state IN ('scheduled', 'waiting')
                       AND NOT t.is_test
                    """,
                    iv=interval,
                    now=now,
                    step=origin.id,
                )
            )
            counts["pending"], counts["pending_due"] = self.env.cr.fetchone()
        above = self.browse(self.env.context.get("tm_insert_above") or [])
        if not origin or "parent_id" in changed:
            counts["above"] = above.exists()
            query = self._live_passed_query(scenario, parent, origin, interval, now)
            if query is not None:
                self.env.cr.execute(
                    SQL(
                        "SELECT count(*), count(*) FILTER (WHERE at <= %s) FROM (%s) AS q",
                        now,
                        query,
                    )
                )
                counts["passed"], counts["passed_due"] = self.env.cr.fetchone()
        return counts

    def _live_passed_query(self, scenario, parent, origin, interval, now, test=False):
        """The running walks already past this step's place (its parent done with the
        branch it follows, or entered for a first step) that have no trace of it: SELECT
        participant, parent trace, planned date, state.

        :param origin: the saved step (its traces are excluded), or empty
        """
        trigger = self.trigger_type
        if trigger == "split":
            return None  # a split chooses its branch when it runs
        conditions = [
            SQL("pa.scenario_id = %s AND pa.state = 'running'", scenario.id),
            SQL("pa.is_test IS NOT TRUE") if not test else SQL("TRUE"),
        ]
        if origin:
            conditions.append(
                SQL(
                    "NOT EXISTS (SELECT 1 FROM marketing_scenario_trace x "
                    "WHERE x.participant_id = pa.id AND x.step_id = %s)",
                    origin.id,
                )
            )
        state = SQL("'scheduled'")
        if parent:
            join = SQL(
                "JOIN marketing_scenario_trace p ON p.participant_id = pa.id "
                "AND p.step_id = %s AND p.state = 'done'",
                parent.id,
            )
            base = SQL("p.done_at")
            parent_col = SQL("p.id")
            if trigger in BRANCH_TRIGGERS:
                conditions.append(
                    SQL("p.outcome IS TRUE" if trigger == "yes" else "p.outcome IS NOT TRUE")
                )
            if trigger in MAIL_POSITIVE:
                happened = SQL(
                    "p.%s" if trigger == "mail_bounce" else "p.%s IS NOT NULL",
                    SQL.identifier(EVENT_COLUMNS[MAIL_POSITIVE[trigger]]),
                )
                state = SQL("CASE WHEN %s THEN 'scheduled' ELSE 'waiting' END", happened)
                base = SQL("CASE WHEN %s THEN %s - %s ELSE p.done_at END", happened, now, interval)
        else:
            join, base, parent_col = SQL(""), SQL("pa.date_start"), SQL("NULL::int")
        return SQL(
            """
            SELECT pa.id AS pid, %(parent)s AS parent, %(base)s + %(iv)s AS at,
                   %(state)s AS state, pa.is_test AS is_test
              FROM marketing_scenario_participant pa %(join)s
             WHERE %(where)s
            """,
            parent=parent_col,
            base=base,
            iv=interval,
            state=state,
            join=join,
            where=SQL(" AND ").join(conditions),
        )

    def _live_preview_html(self, counts):
        """What the change does to the contacts, in words (empty when it concerns none)."""
        _ = self.env._
        lines = []
        if counts["pending"]:
            lines.append(_("%(count)s contact(s) wait for this step.", count=counts["pending"]))
            if counts["timing"]:
                lines.append(
                    _(
                        "Re-timed to the new delay, %(due)s of them would be due at once.",
                        due=counts["pending_due"],
                    )
                )
            if counts["pending_changes"]:
                labels = [
                    self._fields[f]._description_string(self.env) for f in counts["pending_changes"]
                ]
                lines.append(_("Changed for them: %s.", ", ".join(labels)))
        if counts["passed"]:
            where = (
                _("its previous step “%s” was already done", self.parent_id.name)
                if self.parent_id
                else _("they entered before this step existed")
            )
            lines.append(
                _(
                    "%(count)s contact(s) still in the scenario are past this point (%(where)s)"
                    ": run now for them, %(due)s would be due at once.",
                    count=counts["passed"],
                    where=where,
                    due=counts["passed_due"],
                )
            )
        if counts["above"]:
            lines.append(
                _(
                    "“%s” moves under this new step: contacts waiting for it walk this step "
                    "first if you run it for them now.",
                    counts["above"].name,
                )
            )
        if not lines:
            return False
        return Markup("").join(Markup("<p class='mb-1'>%s</p>") % line for line in lines)
