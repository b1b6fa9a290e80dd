from collections import defaultdict

from odoo import api, fields, models, tools
from odoo.fields import Domain

from ..tools.domain_paths import domain_paths, watch_points


class MarketingScenario(models.Model):
    """The goal: whether the scenario has one, and noticing it in real time when it
    reads related records (goals and wait-until conditions alike).

    "Has a confirmed order" is a filter on the contact (``sale_order_ids.state``) that
    changes when an order is created, confirmed or moved to another customer. The
    ``base`` hooks (``models/base.py``) ask ``_related_watch_map`` which models and
    fields the running scenarios read through such paths, and on a create, write or
    delete there find the target records concerned and check them, in the transaction
    of the change.
    """

    _inherit = "marketing.scenario"

    goal_enabled = fields.Boolean(
        string="Has a goal",
        compute="_compute_goal_enabled",
        inverse="_inverse_goal_enabled",
        help="A goal is what you want the contact to do (buy, sign up...): a walk whose "
        "record reaches it ends as converted. Without a goal, walks end when their last step "
        "is done and no conversion figure is shown.",
    )

    @api.depends("goal_domain")
    def _compute_goal_enabled(self):
        for scenario in self:
            scenario.goal_enabled = not _is_empty_domain(scenario.goal_domain)

    def _inverse_goal_enabled(self):
        self.filtered(lambda s: not s.goal_enabled).goal_domain = False

    @api.model
    @tools.ormcache()
    def _related_watch_map(self):
        """For each model reached by a path of a running goal or wait-until condition:
        ``{"fields": {field: watches}, "all": watches}``, a watch being
        ``(scenario id, target model, path from the target)``. Cached per registry (it
        is cleared with ``_scenario_cache``)."""
        scenarios = self.sudo().with_context(active_test=True).search([("state", "=", "running")])
        by_model = defaultdict(lambda: defaultdict(set))
        for scenario in scenarios:
            if scenario.model_name not in self.env:
                continue
            try:
                domains = [
                    step._domain("condition_domain")
                    for step in scenario.step_ids
                    if step.action_type == "wait_until"
                ]
                goal = scenario._goal_domain()
            except Exception:  # noqa: BLE001 - a filter that no longer evaluates
                # watches nothing related: every create/write of every model asks for this
                # map, one broken scenario must not break them (the real-time cache keeps
                # it as broken and the engine fails its traces with the message)
                continue
            if goal is not None:
                domains.append(goal)
            paths = set().union(*(domain_paths(domain) for domain in domains))
            target = self.env[scenario.model_name]
            for model_name, field, path in watch_points(target, paths):
                if path and not model_name.startswith("marketing."):
                    by_model[model_name][field].add((scenario.id, scenario.model_name, path))
        return {
            model_name: {
                "fields": {field: frozenset(watches) for field, watches in fields_.items()},
                "all": frozenset().union(*fields_.values()),
            }
            for model_name, fields_ in by_model.items()
        }

    @api.model
    def _related_targets(self, records, watches):
        """The target records reached from ``records`` by each watch's path, by target
        model: ``{model name: (target ids, scenario ids)}``.

        A one2many read backwards (the orders of a contact: the order's customer) costs
        no query when the record is in cache; any other path is one ``search``.
        """
        grouped = defaultdict(set)
        for scenario_id, target_model, path in watches:
            grouped[target_model, path].add(scenario_id)
        result = defaultdict(lambda: (set(), set()))
        for (target_model, path), scenario_ids in grouped.items():
            Target = self.env[target_model].sudo().with_context(active_test=False)
            field = Target._fields[path[0]]
            if len(path) == 1 and field.type == "one2many" and field.inverse_name:
                inverse = records._fields.get(field.inverse_name)
                if inverse is None or inverse.type != "many2one":
                    continue
                ids = set(records.sudo()[field.inverse_name]._ids)
            else:
                ids = set(Target._search(Domain(".".join(path), "in", records.ids)))
            if ids:
                result[target_model][0].update(ids)
                result[target_model][1].update(scenario_ids)
        return result

    @api.model
    def _on_related_targets_changed(self, targets):
        """Check the goal (and wait-until conditions) of the targets' running walks."""
        Participant = self.env["marketing.scenario.participant"]
        for target_model, (ids, scenario_ids) in targets.items():
            entries = [
                entry
                for entry in self._scenario_cache(target_model)["running"]
                if entry["id"] in scenario_ids
            ]
            if entries and ids:
                Participant._on_records_changed(self.env[target_model].browse(ids), entries)


def _is_empty_domain(text):
    """No goal: nothing written, or the domain editor's "match all records"."""
    return not text or text.replace(" ", "") in ("[]", "()")
