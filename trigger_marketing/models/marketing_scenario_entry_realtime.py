from odoo import api, models, tools
from odoo.fields import Domain

from ..tools.domain_paths import domain_paths, watch_points
from ..tools.domains import domain_fields
from .marketing_scenario import REALTIME_TRIGGERS

# Up to this many records, the audience is checked in memory (no query after a create).
FILTER_IN_MEMORY_LIMIT = 200


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
            goal = scenario._goal_domain()
            wait_steps = scenario.step_ids.filtered(lambda s: s.action_type == "wait_until")
            wait_fields = set()
            for step in wait_steps:
                wait_fields |= self._local_fields(model_name, step._domain("condition_domain"))
            entries.append(
                {
                    "id": scenario.id,
                    "trigger": scenario.trigger,
                    "snapshot": scenario._entry_snapshot()
                    if scenario.trigger in REALTIME_TRIGGERS
                    else None,
                    "score_threshold": scenario.score_threshold,
                    "audience_fields": frozenset(domain_fields(scenario._audience_domain())),
                    "goal_fields": frozenset(self._local_fields(model_name, goal))
                    if goal is not None
                    else frozenset(),
                    "wait_steps": tuple(wait_steps.ids),
                    "wait_fields": frozenset(wait_fields),
                    "date_field": scenario.date_field_id.name
                    if scenario.trigger == "date"
                    else None,
                }
            )
        return {"live": tuple(scenarios.ids), "running": tuple(entries)}

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
        matching the audience: a new record that matches has started to match)."""
        Participant = self.env["marketing.scenario.participant"]
        for entry in self._scenario_cache(records._name)["running"]:
            if entry["trigger"] in REALTIME_TRIGGERS:
                if entry["snapshot"]["roots"]:
                    # what enroll() checks (target model, running, has steps) is known
                    Participant._create_for(
                        self.browse(entry["id"]),
                        records,
                        new_records=True,
                        snapshot=entry["snapshot"],
                    )
            elif entry["trigger"] == "date" and entry["date_field"]:
                self.browse(entry["id"])._wake_entry_for(records)

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
        """Before a write: the records that do not match each watched audience yet."""
        return {
            entry["id"]: records - self.browse(entry["id"])._filter_audience(records)
            for entry, reasons in watched
            if "match" in reasons
        }

    @api.model
    def _on_records_written(self, records, watched, not_matching_before):
        for entry, reasons in watched:
            if "match" in reasons and not_matching_before.get(entry["id"]):
                self.browse(entry["id"]).enroll(not_matching_before[entry["id"]])
            if "date" in reasons:
                self.browse(entry["id"])._wake_entry_for(records)
        followed = [entry for entry, reasons in watched if reasons & {"goal", "wait"}]
        if followed:
            self.env["marketing.scenario.participant"]._on_records_changed(records, followed)

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
