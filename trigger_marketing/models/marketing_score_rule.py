from collections import namedtuple

from dateutil.relativedelta import relativedelta

from odoo import api, fields, models, tools
from odoo.exceptions import ValidationError

# What a contact does that a score rule can reward (or punish).
SCORE_EVENTS = [
    ("mail_open", "E-mail opened"),
    ("mail_click", "E-mail clicked"),
    ("mail_reply", "E-mail replied"),
    ("mail_bounce", "E-mail bounced"),
    ("unsubscribe", "Unsubscribed"),
    ("order_confirmed", "Order confirmed"),
    ("cart_abandoned", "Cart abandoned"),
    ("signup", "Signed up"),
    ("event", "Named event"),
]
MAIL_SCORE_EVENTS = ("mail_open", "mail_click", "mail_reply", "mail_bounce")

CAP_PERIODS = [
    ("day", "Day"),
    ("week", "Week"),
    ("month", "Month"),
    ("year", "Year"),
]
CAP_DELTAS = {
    "day": relativedelta(days=1),
    "week": relativedelta(weeks=1),
    "month": relativedelta(months=1),
    "year": relativedelta(years=1),
}

# The cached, read-only form of a rule used on the hot path (no query per event).
CachedRule = namedtuple(
    "CachedRule",
    "id name event event_name points cap_points cap_period company_id scenario_ids",
)


# Fields of a rule that _rules_by_event caches: writing one clears the cache.
CACHED_RULE_FIELDS = {
    "name",
    "active",
    "company_id",
    "event",
    "event_name",
    "points",
    "cap_points",
    "cap_period",
    "scenario_ids",
}


class MarketingScoreRule(models.Model):
    """An event of a contact gives (or removes) points, optionally capped per period and
    restricted to the mails and walks of some scenarios.

    Rules are read from a per-registry cache: applying them to a batch of events costs
    no query to find them, one query for the caps and one for the new totals.
    """

    _name = "marketing.score.rule"
    _description = "Score Rule"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    active = fields.Boolean(default=True)
    sequence = fields.Integer(default=10)
    company_id = fields.Many2one(
        "res.company",
        default=lambda self: self.env.company,
        index=True,
        help="The rule counts only the events of this company (the company of the scenario, "
        "of the order...). Leave empty for every company.",
    )
    event = fields.Selection(SCORE_EVENTS, required=True, default="mail_click")
    event_name = fields.Char(
        string="Event name",
        help="For a named event: the name sent by the website or by code, e.g. "
        "'pricing_page_visited'.",
    )
    points = fields.Integer(
        required=True,
        default=5,
        help="Points given each time the event happens; negative to remove points.",
    )
    cap_points = fields.Integer(
        string="At most",
        default=0,
        help="At most this many points (in absolute value) per contact from this rule in any "
        "sliding period. 0: no cap.",
    )
    cap_period = fields.Selection(CAP_PERIODS, string="Per", default="week", required=True)
    scenario_ids = fields.Many2many(
        "marketing.scenario",
        string="Only from scenarios",
        help="Only events coming from the e-mails or walks of these scenarios count. Leave "
        "empty to count every event, including plain mass mailings.",
    )
    summary = fields.Char(compute="_compute_summary", string="In plain language")
    history_count = fields.Integer(compute="_compute_history_count", string="Times applied")

    # ------------------------------------------------------------
    # Computes and constraints
    # ------------------------------------------------------------

    @api.depends("event", "event_name", "points", "cap_points", "cap_period", "scenario_ids")
    def _compute_summary(self):
        events = dict(self._fields["event"]._description_selection(self.env))
        periods = dict(self._fields["cap_period"]._description_selection(self.env))
        for rule in self:
            if not rule.event:
                rule.summary = False
                continue
            what = events[rule.event]
            if rule.event == "event":
                what = f"{what} '{rule.event_name or '?'}'"
            text = self.env._("%(event)s: %(points)+d points", event=what, points=rule.points)
            if rule.cap_points:
                text += self.env._(
                    ", at most %(cap)s per %(period)s",
                    cap=rule.cap_points,
                    period=periods[rule.cap_period].lower(),
                )
            if rule.scenario_ids:
                text += self.env._(
                    ", only from %(scenarios)s",
                    scenarios=", ".join(rule.scenario_ids.mapped("name")),
                )
            rule.summary = text

    def _compute_history_count(self):
        counts = dict(
            self.env["marketing.score.history"]._read_group(
                [("rule_id", "in", self.ids)], ["rule_id"], ["__count"]
            )
        )
        for rule in self:
            rule.history_count = counts.get(rule._origin, 0)

    @api.constrains("points", "event", "event_name", "cap_points")
    def _check_rule(self):
        _ = self.env._
        for rule in self:
            if not rule.points:
                raise ValidationError(
                    _(
                        "Score rule %(name)s gives no points: set a positive or negative number.",
                        name=rule.name,
                    )
                )
            if rule.event == "event" and not (rule.event_name or "").strip():
                raise ValidationError(
                    _(
                        "Score rule %(name)s counts a named event: give the event's name.",
                        name=rule.name,
                    )
                )
            if rule.cap_points < 0:
                raise ValidationError(
                    _(
                        "Score rule %(name)s: the cap cannot be negative (0 means no cap).",
                        name=rule.name,
                    )
                )
            if rule.cap_points and rule.cap_points < abs(rule.points):
                raise ValidationError(
                    _(
                        "Score rule %(name)s: the cap (%(cap)s) is smaller than the points of a "
                        "single event (%(points)s).",
                        name=rule.name,
                        cap=rule.cap_points,
                        points=abs(rule.points),
                    )
                )

    # ------------------------------------------------------------
    # CRUD: the rules are cached per registry
    # ------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("event_name"):
                vals["event_name"] = vals["event_name"].strip()
        rules = super().create(vals_list)
        self.env.registry.clear_cache()
        return rules

    def write(self, vals):
        if vals.get("event_name"):
            vals["event_name"] = vals["event_name"].strip()
        res = super().write(vals)
        if CACHED_RULE_FIELDS & set(vals):
            self.env.registry.clear_cache()
        return res

    def unlink(self):
        res = super().unlink()
        self.env.registry.clear_cache()
        return res

    @api.model
    @tools.ormcache()
    def _rules_by_event(self):
        """The active rules grouped by event: {event: (CachedRule, ...)}, cached per
        registry (cleared when a rule changes)."""
        rules = self.sudo().with_context(active_test=True).search([])
        by_event = {}
        for rule in rules:
            by_event.setdefault(rule.event, []).append(
                CachedRule(
                    id=rule.id,
                    name=rule.name,
                    event=rule.event,
                    event_name=(rule.event_name or None) if rule.event == "event" else None,
                    points=rule.points,
                    cap_points=rule.cap_points,
                    cap_period=rule.cap_period,
                    company_id=rule.company_id.id or None,
                    scenario_ids=frozenset(rule.scenario_ids.ids),
                )
            )
        return {event: tuple(rules) for event, rules in by_event.items()}

    @api.model
    def _has_rules(self, events):
        """Whether an active rule counts one of ``events`` (no query once cached)."""
        by_event = self._rules_by_event()
        return any(event in by_event for event in events)

    def action_view_history(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "trigger_marketing.marketing_score_history_action"
        )
        action["domain"] = [("rule_id", "=", self.id)]
        action["context"] = {}
        return action
