from odoo import api, models, tools
from odoo.fields import Domain

from ..tools.domain_paths import domain_paths, watch_points
from ..tools.domains import domain_fields
from ..tools.trace_results import failure_message
from .marketing_scenario import REALTIME_TRIGGERS

# Up to this many records, the audience is checked in memory (no query after a create).
FILTER_IN_MEMORY_LIMIT = 200
# The cache entry of a scenario whose filters no longer evaluate: it watches nothing.
BROKEN_ENTRY = {
    "snapshot": None,
    "score_threshold": 0,
    "audience_fields": frozenset(),
    "goal_fields": frozenset(),
    "wait_steps": (),
    "wait_fields": frozenset(),
    "date_field": None,
}


class MarketingScenario(models.Model):
    """Entry, goal and wait-until in real time: what the ``mail.thread`` hooks call, in
    the transaction of the create or write that fires them."""

    _inherit = "marketing.scenario"

    @api.model
    @tools.ormcache("model_name")
    def _scenario_cache(self, model_name):
        """What the create/write hooks of ``model_name`` must watch, cached per registry.

        The hooks ask for it on every create and write of every ``mail.thread`` model:
        it must cost no query when no scenario targets the model. Only field names are
        cached; domains are evaluated when used (they may depend on today's date).
        """
        scenarios = (
            self.sudo()
            .with_context(active_test=True)
            .search([("model_name", "=", model_name), ("state", "in", ("running", "paused"))])
        )
        entries = []
        for scenario in scenarios.filtered(lambda s: s.state == "running"):
            try:
                entries.append(scenario._cache_entry())
            except Exception as error:  # noqa: BLE001 - a filter that no longer evaluates
                # kept as broken: the hooks of this model go on for every other scenario
                entries.append(
                    dict(
                        BROKEN_ENTRY,
                        id=scenario.id,
                        trigger=scenario.trigger,
                        broken=failure_message(error),
                    )
                )
        return {"live": tuple(scenarios.ids), "running": tuple(entries)}

    def _cache_entry(self):
        goal = self._goal_domain()
        wait_steps = self.step_ids.filtered(lambda s: s.action_type == "wait_until")
        wait_fields = set()
        for step in wait_steps:
            wait_fields |= self._local_fields(self.model_name, step._domain("condition_domain"))
        return {
            "id": self.id,
            "trigger": self.trigger,
            "snapshot": self._entry_snapshot() if self.trigger in REALTIME_TRIGGERS else None,
            "score_threshold": self.score_threshold,
            "audience_fields": frozenset(domain_fields(self._audience_domain())),
            "goal_fields": frozenset(self._local_fields(self.model_name, goal))
            if goal is not None
            else frozenset(),
            "wait_steps": tuple(wait_steps.ids),
            "wait_fields": frozenset(wait_fields),
            "date_field": self.date_field_id.name if self.trigger == "date" else None,
            "broken": None,
        }

    @api.model
    def _local_fields(self, model_name, domain):
        """Fields of ``model_name`` whose write may change ``domain``: those it reads and
        those its stored computed fields are computed from (related records are watched
        by ``_related_watch_map``)."""
        points = watch_points(self.env[model_name], domain_paths(domain))
        return {field for model, field, path in points if not path and model == model_name}

    @api.model
    def _on_records_created(self, records):
        """Enrol new records in the running scenarios that enter on creation (or on
        matching the audience: a new record that matches has started to match).

        Each scenario reacts on its own (``_react``): one that fails does not fail the
        create. The audience is checked first, without a savepoint: a record outside
        every audience costs no query."""
        Participant = self.env["marketing.scenario.participant"]
        for entry in self._scenario_cache(records._name)["running"]:
            scenario = self.browse(entry["id"])
            if entry["broken"]:
                if entry["trigger"] in (*REALTIME_TRIGGERS, "date"):
                    scenario._record_failure(entry["broken"])
            elif entry["trigger"] in REALTIME_TRIGGERS:
                if entry["snapshot"]["roots"]:
                    # what enroll() checks (target model, running, has steps) is known
                    matching = scenario._react(
                        scenario._filter_audience, records, entry["snapshot"], savepoint=False
                    )
                    if matching:
                        scenario._react(
                            Participant._create_for,
                            scenario,
                            matching,
                            new_records=True,
                            snapshot=entry["snapshot"],
                            audience_checked=True,
                        )
            elif entry["trigger"] == "date" and entry["date_field"]:
                scenario._react(scenario._wake_entry_for, records, savepoint=False)

    @api.model
    def _watched_by_write(self, model_name, vals):
        """The scenarios a write of ``vals`` may concern, and why (no query)."""
        written = set(vals)
        watched = []
        for entry in self._scenario_cache(model_name)["running"]:
            reasons = set()
            if entry["trigger"] == "match" and written & entry["audience_fields"]:
                reasons.add("match")
            if written & entry["goal_fields"]:
                reasons.add("goal")
            if written & entry["wait_fields"]:
                reasons.add("wait")
            if entry["date_field"] and entry["date_field"] in written:
                reasons.add("date")
            if reasons:
                watched.append((entry, reasons))
        return watched

    @api.model
    def _records_not_matching(self, records, watched):
        """Before a write: the records that do not match each watched audience yet (a
        scenario whose audience fails to evaluate records it and takes none)."""
        not_matching = {}
        for entry, reasons in watched:
            if "match" in reasons:
                scenario = self.browse(entry["id"])
                matching = scenario._react(
                    scenario._filter_audience, records, entry["snapshot"], savepoint=False
                )
                not_matching[entry["id"]] = records - matching if matching is not None else None
        return not_matching

    @api.model
    def _on_records_written(self, records, watched, not_matching_before):
        """After a write: enrol the records that started to match, wake date scenarios,
        then goals and wait-until (each scenario on its own, see ``_on_records_created``)."""
        Participant = self.env["marketing.scenario.participant"]
        for entry, reasons in watched:
            scenario = self.browse(entry["id"])
            snapshot = entry["snapshot"]
            if "match" in reasons and not_matching_before.get(entry["id"]) and snapshot["roots"]:
                started = scenario._react(
                    scenario._filter_audience,
                    not_matching_before[entry["id"]],
                    snapshot,
                    savepoint=False,
                )
                if started:
                    scenario._react(
                        Participant._create_for,
                        scenario,
                        started,
                        snapshot=snapshot,
                        audience_checked=True,
                    )
            if "date" in reasons:
                scenario._react(scenario._wake_entry_for, records, savepoint=False)
        followed = [entry for entry, reasons in watched if reasons & {"goal", "wait"}]
        if followed:
            Participant._on_records_changed(records, followed)

    def _filter_audience(self, records, snapshot=None):
        """Records that match the audience and have not reached the goal yet."""
        self.ensure_one()
        snapshot = snapshot or self._domain_snapshot()
        domain = self._audience_domain(snapshot)
        goal = self._goal_domain(snapshot)
        if goal is not None:
            domain &= ~goal
        if domain.is_true() or not records:
            return records
        if len(records) > FILTER_IN_MEMORY_LIMIT:
            return records.with_context(active_test=False).search(
                Domain("id", "in", records.ids) & domain
            )
        return records.filtered_domain(domain)
