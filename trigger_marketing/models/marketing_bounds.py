from collections import ChainMap

from odoo import api, models

from ..tools import bounds


class MarketingBoundsMixin(models.AbstractModel):
    """Numbers and texts that a marketer types, bounded before they are written.

    Checked in ``create``/``write`` rather than in ``@api.constrains``: a constraint runs
    after the database has the value, and 10^12 never gets there (it does not fit an
    integer column: a raw ``NumericValueOutOfRange``). Models declare their bounds in
    ``_marketing_bounds``; extensions add theirs with ``super()``.
    """

    _name = "marketing.bounds.mixin"
    _description = "Bounds of what a marketer types"

    def _marketing_bounds(self):
        """:return: (what the record is, translated; numbers; texts), as
        :func:`~odoo.addons.trigger_marketing.tools.bounds.check_values` takes them"""
        return "", [], []

    def _marketing_bounds_check(self, values, name):
        kind, numbers, texts = self._marketing_bounds()
        label = f"{kind} {bounds.short(name)}" if name else kind
        bounds.check_values(self, label, values, numbers, texts)

    @api.model_create_multi
    def create(self, vals_list):
        _kind, numbers, _texts = self._marketing_bounds()
        units = [spec[3] for spec in numbers if len(spec) > 3]
        defaults = self.default_get(units) if units else {}
        for vals in vals_list:
            self._marketing_bounds_check({**defaults, **vals}, vals.get("name"))
        return super().create(vals_list)

    def write(self, vals):
        _kind, numbers, texts = self._marketing_bounds()
        checked = {spec[0] for spec in numbers} | {spec[3] for spec in numbers if len(spec) > 3}
        if checked.intersection(vals) or {fname for fname, _limit in texts}.intersection(vals):
            for record in self:
                values = ChainMap(vals, {f: record[f] for f in checked}, vals)
                record._marketing_bounds_check(values, vals.get("name") or record.display_name)
        return super().write(vals)


NEG_TEN_YEARS = {unit: -high for unit, high in bounds.TEN_YEARS.items()}
ZERO = dict.fromkeys(bounds.TEN_YEARS, 0)
FILTER_TEXTS = [("domain", bounds.MAX_FILTER), ("goal_domain", bounds.MAX_FILTER)]


class MarketingScenario(models.Model):
    _name = "marketing.scenario"
    _inherit = ["marketing.scenario", "marketing.bounds.mixin"]

    def _marketing_bounds(self):
        kind = self.env._("Scenario")
        return (
            kind,
            [
                ("reentry_days", 0, bounds.MAX_DAYS),
                ("score_threshold", 0, bounds.SCORE_LIMIT),
                ("trigger_offset", NEG_TEN_YEARS, bounds.TEN_YEARS, "trigger_offset_unit"),
            ],
            [
                ("name", bounds.MAX_NAME),
                ("test_email", bounds.MAX_EMAIL),
                ("event_name", bounds.MAX_NAME),
                *FILTER_TEXTS,
            ],
        )


class MarketingScenarioStep(models.Model):
    _name = "marketing.scenario.step"
    _inherit = ["marketing.scenario.step", "marketing.bounds.mixin"]

    def _marketing_bounds(self):
        kind = self.env._("Step")
        return (
            kind,
            [
                ("delay", ZERO, bounds.TEN_YEARS, "delay_unit"),
                ("wait_timeout", ZERO, bounds.TEN_YEARS, "wait_timeout_unit"),
                ("activity_days", 0, bounds.MAX_DAYS),
                ("score_points", -bounds.MAX_POINTS, bounds.MAX_POINTS),
            ],
            [
                ("name", bounds.MAX_NAME),
                ("filter_domain", bounds.MAX_FILTER),
                ("condition_domain", bounds.MAX_FILTER),
                ("link_url", bounds.MAX_URL),
                ("activity_summary", bounds.MAX_SUBJECT),
                ("mail_subject", bounds.MAX_SUBJECT),
            ],
        )


class MarketingScoreRule(models.Model):
    _name = "marketing.score.rule"
    _inherit = ["marketing.score.rule", "marketing.bounds.mixin"]

    def _marketing_bounds(self):
        kind = self.env._("Score rule")
        return (
            kind,
            [
                ("points", -bounds.MAX_POINTS, bounds.MAX_POINTS),
                # a negative cap has its own message (_check_rule)
                ("cap_points", -bounds.MAX_CAP, bounds.MAX_CAP),
            ],
            [("name", bounds.MAX_NAME), ("event_name", bounds.MAX_NAME)],
        )


class MarketingScoreBandAction(models.Model):
    _name = "marketing.score.band.action"
    _inherit = ["marketing.score.band.action", "marketing.bounds.mixin"]

    def _marketing_bounds(self):
        kind = self.env._("Band action")
        return kind, [], [("name", bounds.MAX_NAME)]


class ResConfigSettings(models.TransientModel):
    _name = "res.config.settings"
    _inherit = ["res.config.settings", "marketing.bounds.mixin"]

    def _marketing_bounds(self):
        kind = self.env._("Settings")
        return (
            kind,
            [
                ("trigger_marketing_batch_size", 1, 100_000),
                ("marketing_score_warm", 0, bounds.SCORE_LIMIT),
                ("marketing_score_hot", 0, bounds.SCORE_LIMIT),
                ("marketing_score_decay_percent", 0, 100),
            ],
            [],
        )
