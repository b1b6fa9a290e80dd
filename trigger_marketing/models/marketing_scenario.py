import logging

from odoo import api, fields, models, tools
from odoo.exceptions import UserError, ValidationError
from odoo.fields import Domain

from .marketing_send_window_mixin import WINDOW_FIELDS

_logger = logging.getLogger(__name__)

# Entry triggers that react inside the transaction of a create or a write.
REALTIME_TRIGGERS = ("create", "match")
# Up to this many records, the audience is checked in memory (no query after a create).
FILTER_IN_MEMORY_LIMIT = 200


class MarketingScenario(models.Model):
    """A tree of steps walked by the records of one model.

    The scenario owns the audience (who may enter), the goal (what we want the
    contact to do; reaching it ends the walk as *converted*) and the re-entry
    policy. Records enter with :meth:`enroll`; the steps are run by the
    processing cron of ``marketing.scenario.trace``.
    """

    _name = "marketing.scenario"
    _description = "Marketing Scenario"
    _inherit = ["mail.thread", "mail.activity.mixin", "marketing.send.window.mixin"]
    _order = "sequence, id desc"

    name = fields.Char(required=True, translate=True, tracking=True)
    active = fields.Boolean(default=True)
    sequence = fields.Integer(default=10)
    color = fields.Integer()
    company_id = fields.Many2one(
        "res.company",
        default=lambda self: self.env.company,
        index=True,
        help="Leave empty to run the scenario for every company.",
    )
    user_id = fields.Many2one(
        "res.users", string="Responsible", default=lambda self: self.env.user, tracking=True
    )
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("running", "Running"),
            ("paused", "Paused"),
            ("stopped", "Stopped"),
        ],
        default="draft",
        required=True,
        copy=False,
        tracking=True,
        index=True,
    )
    model_id = fields.Many2one(
        "ir.model",
        string="Target",
        required=True,
        ondelete="cascade",
        default=lambda self: self.env["ir.model"]._get_id("res.partner"),
        domain=[("is_mail_thread", "=", True), ("transient", "=", False)],
        help="The kind of record that walks through the scenario: contacts, orders...",
    )
    model_name = fields.Char(related="model_id.model", store=True, index=True, precompute=True)
    trigger = fields.Selection(
        [
            ("manual", "Added by hand"),
            ("create", "Record created"),
            ("match", "Record starts matching the audience"),
            ("signup", "Signs up"),
            ("date", "Date of the record"),
            ("anniversary", "Anniversary"),
            ("score", "Score reaches a threshold"),
            ("event", "Named event"),
        ],
        string="Entry",
        default="manual",
        required=True,
        tracking=True,
        help="When a record enters the scenario. Whatever the trigger, records can also be "
        "added by hand.",
    )
    domain = fields.Char(
        string="Audience",
        default="[]",
        required=True,
        help="Only records matching this filter enter the scenario.",
    )
    goal_domain = fields.Char(
        string="Goal",
        help="When a participant's record matches this filter, the walk ends as converted and "
        "its pending steps are cancelled.",
    )
    reentry = fields.Selection(
        [
            ("never", "Never"),
            ("delay", "After a delay"),
            ("always", "Always"),
        ],
        string="Re-entry",
        default="never",
        required=True,
        help="May a record enter again once its previous walk is over? A record never walks "
        "twice at the same time.",
    )
    reentry_days = fields.Integer(
        string="Re-entry after (days)",
        default=30,
        help="Days after the end of the previous walk.",
    )
    test_email = fields.Char(
        string="Test recipient",
        default=lambda self: self.env.user.email,
        help="E-mails of test participants are sent to this address instead of the contact.",
    )
    campaign_id = fields.Many2one(
        "utm.campaign",
        string="Campaign",
        ondelete="set null",
        copy=False,
        help="Groups the mailings of the scenario in e-mail marketing reports.",
    )
    step_ids = fields.One2many("marketing.scenario.step", "scenario_id", string="Steps")
    root_step_ids = fields.One2many(
        "marketing.scenario.step",
        "scenario_id",
        string="First steps",
        domain=[("parent_id", "=", False)],
    )
    participant_ids = fields.One2many("marketing.scenario.participant", "scenario_id")
    step_count = fields.Integer(compute="_compute_step_count")
    participant_count = fields.Integer(compute="_compute_participant_stats")
    running_count = fields.Integer(compute="_compute_participant_stats")
    converted_count = fields.Integer(compute="_compute_participant_stats")
    conversion_rate = fields.Float(compute="_compute_participant_stats")
    date_start = fields.Datetime(string="Started on", copy=False, readonly=True)
    window_enabled = fields.Boolean(
        string="Send window",
        help="E-mails are sent only on these days and hours, in the recipient's time zone "
        "(the contact's, else the company's, else UTC). An e-mail due outside the window "
        "waits for its next opening. Steps can have their own window or none.",
    )

    # ------------------------------------------------------------
    # Computes and constraints
    # ------------------------------------------------------------

    @api.depends("step_ids")
    def _compute_step_count(self):
        counts = dict(
            self.env["marketing.scenario.step"]._read_group(
                [("scenario_id", "in", self.ids)], ["scenario_id"], ["__count"]
            )
        )
        for scenario in self:
            scenario.step_count = counts.get(scenario._origin, 0)

    def _compute_participant_stats(self):
        stats = {
            (scenario.id, state): count
            for scenario, state, count in self.env["marketing.scenario.participant"]._read_group(
                [("scenario_id", "in", self.ids), ("is_test", "=", False)],
                ["scenario_id", "state"],
                ["__count"],
            )
        }
        for scenario in self:
            sid = scenario._origin.id
            total = sum(c for (s, _state), c in stats.items() if s == sid)
            scenario.participant_count = total
            scenario.running_count = stats.get((sid, "running"), 0)
            scenario.converted_count = stats.get((sid, "converted"), 0)
            scenario.conversion_rate = (
                100.0 * scenario.converted_count / total if total else 0.0
            )

    @api.constrains("domain", "goal_domain", "model_id")
    def _check_domains(self):
        for scenario in self:
            scenario._parse_domain(scenario.domain, scenario.env._("Audience"))
            if scenario.goal_domain:
                scenario._parse_domain(scenario.goal_domain, scenario.env._("Goal"))

    @api.constrains("window_enabled", *WINDOW_FIELDS)
    def _check_window(self):
        self._check_send_window()

    def _window_is_set(self):
        return self.window_enabled

    @api.constrains("reentry", "reentry_days")
    def _check_reentry_days(self):
        for scenario in self:
            if scenario.reentry == "delay" and scenario.reentry_days <= 0:
                raise ValidationError(
                    self.env._(
                        "Scenario %(name)s: the re-entry delay must be at least one day.",
                        name=scenario.name,
                    )
                )

    @api.constrains("model_id", "step_ids")
    def _check_model_unchanged(self):
        for scenario in self:
            if scenario.participant_ids and any(
                p.model_name != scenario.model_name for p in scenario.participant_ids[:1]
            ):
                raise ValidationError(
                    self.env._(
                        "The target of scenario %(name)s cannot change once records have "
                        "entered it.",
                        name=scenario.name,
                    )
                )

    def _parse_domain(self, domain_text, label):
        """Evaluate and validate a domain of the scenario's target model.

        :return: a :class:`Domain`, raising a ``ValidationError`` that names the field.
        """
        self.ensure_one()
        return self.env["marketing.scenario.step"]._validate_domain(
            self.model_name, domain_text, self.env._("%(label)s of scenario %(name)s",
                                                    label=label, name=self.name)
        )

    # ------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        scenarios = super().create(vals_list)
        for scenario in scenarios.filtered(lambda s: not s.campaign_id):
            scenario.campaign_id = self.env["utm.campaign"].sudo().create({"name": scenario.name})
        self.env.registry.clear_cache()
        return scenarios

    def write(self, vals):
        if "model_id" in vals and any(s.participant_ids for s in self):
            raise UserError(
                self.env._("The target of a scenario cannot change once records have entered it.")
            )
        res = super().write(vals)
        if {"state", "trigger", "domain", "goal_domain", "model_id", "active", "company_id"} & set(
            vals
        ):
            self.env.registry.clear_cache()
        if "state" in vals or "active" in vals:
            self.env["marketing.scenario.trace"]._schedule_next_run()
        return res

    def unlink(self):
        """Scenarios with history are archived, not deleted.

        Their pending steps are cancelled with the reason, and the participants, traces
        and mails that statistics and contact timelines need are kept.
        """
        with_history = self.filtered(
            lambda s: s.with_context(active_test=False).participant_ids.filtered(
                lambda p: not p.is_test
            )
        )
        if with_history:
            with_history._cancel_pending("scenario_deleted")
            with_history.write({"active": False, "state": "stopped"})
        res = super(MarketingScenario, self - with_history).unlink()
        self.env.registry.clear_cache()
        return res

    def copy_data(self, default=None):
        vals_list = super().copy_data(default=default)
        return [
            dict(vals, name=self.env._("%s (copy)", scenario.name))
            for scenario, vals in zip(self, vals_list, strict=True)
        ]

    def copy(self, default=None):
        new_scenarios = super().copy(default)
        for old, new in zip(self, new_scenarios, strict=True):
            old.root_step_ids._copy_tree(new)
        return new_scenarios

    # ------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------

    def action_start(self):
        for scenario in self:
            if not scenario.step_ids:
                raise UserError(
                    self.env._("Scenario %(name)s has no step yet.", name=scenario.name)
                )
            scenario.step_ids._check_ready_to_run()
        self.filtered(lambda s: not s.date_start).date_start = fields.Datetime.now()
        self.write({"state": "running"})
        self._ensure_enroll_binding()
        return True

    def action_pause(self):
        self.filtered(lambda s: s.state == "running").write({"state": "paused"})
        return True

    def action_resume(self):
        self.filtered(lambda s: s.state == "paused").write({"state": "running"})
        return True

    def action_stop(self):
        """Stop for good: pending steps are cancelled, running walks end as canceled."""
        self._cancel_pending("scenario_stopped")
        self.write({"state": "stopped"})
        return True

    def action_reset_draft(self):
        self.filtered(lambda s: s.state == "stopped").write({"state": "draft"})
        return True

    def action_view_participants(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "trigger_marketing.marketing_scenario_participant_action"
        )
        action["domain"] = [("scenario_id", "=", self.id)]
        action["context"] = {"default_scenario_id": self.id, "search_default_filter_real": 1}
        return action

    def action_view_step_tree(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "trigger_marketing.marketing_scenario_step_action"
        )
        action["domain"] = [("scenario_id", "=", self.id)]
        action["context"] = {"default_scenario_id": self.id}
        action["display_name"] = self.env._("Steps of %s", self.name)
        return action

    def action_view_traces(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "trigger_marketing.marketing_scenario_trace_action"
        )
        action["domain"] = [("scenario_id", "=", self.id)]
        action["context"] = {"search_default_filter_real": 1}
        return action

    def _ensure_enroll_binding(self):
        """Make "Add to scenario" available in the Actions menu of every target model."""
        wizard_action = self.env.ref(
            "trigger_marketing.marketing_scenario_enroll_action", raise_if_not_found=False
        )
        if not wizard_action:
            return
        for model in self.model_id:
            if model.model == "res.partner":
                continue  # bound by data
            name = self.env._("Add to scenario")
            existing = (
                self.env["ir.actions.act_window"]
                .sudo()
                .search(
                    [
                        ("res_model", "=", "marketing.scenario.enroll"),
                        ("binding_model_id", "=", model.id),
                    ],
                    limit=1,
                )
            )
            if not existing:
                wizard_action.sudo().copy(
                    {"name": name, "binding_model_id": model.id, "binding_view_types": "list,form"}
                )

    # ------------------------------------------------------------
    # Enrolment
    # ------------------------------------------------------------

    def _audience_domain(self):
        """The audience as a :class:`Domain`, restricted to the scenario's company."""
        self.ensure_one()
        domain = self._parse_domain(self.domain, self.env._("Audience"))
        company_field = self.env[self.model_name]._mail_get_company_field()
        if self.company_id and company_field:
            domain &= Domain(company_field, "in", [self.company_id.id, False])
        return domain

    def _goal_domain(self):
        self.ensure_one()
        if not self.goal_domain:
            return None
        return self._parse_domain(self.goal_domain, self.env._("Goal"))

    def _partner_field(self):
        """Name of the field that gives the contact of a target record ('id' for contacts)."""
        self.ensure_one()
        model = self.env[self.model_name]
        if self.model_name == "res.partner":
            return "id"
        fnames = [
            fname
            for fname in model._mail_get_partner_fields(introspect_fields=True)
            if model._fields[fname].type == "many2one"
        ]
        return fnames[0] if fnames else None

    def enroll(self, records, test=False, new_records=False):
        """Make ``records`` enter the scenario, set-based.

        Only records that match the audience, have not reached the goal yet, are not
        walking the scenario already and are allowed by the re-entry policy enter.
        Test participants ignore the re-entry policy and never block a real one.

        :param records: records of the scenario's target model
        :param bool test: create test participants (their e-mails go to the test address)
        :param bool new_records: the records were just created (no previous walk to check)
        :return: the new ``marketing.scenario.participant`` records
        """
        self.ensure_one()
        Participant = self.env["marketing.scenario.participant"]
        if not records:
            return Participant
        if records._name != self.model_name:
            raise UserError(
                self.env._(
                    "Scenario %(name)s works on %(model)s, not on %(other)s.",
                    name=self.name,
                    model=self.model_id.name,
                    other=records._name,
                )
            )
        if not test and self.state != "running":
            raise UserError(
                self.env._(
                    "Scenario %(name)s is not running: start it before adding records.",
                    name=self.name,
                )
            )
        if not self.step_ids:
            return Participant
        return Participant._create_for(self, records, test=test, new_records=new_records)

    def _cancel_pending(self, reason_code, reason=None):
        """Cancel every pending step of these scenarios and close their running walks."""
        participants = self.env["marketing.scenario.participant"].search(
            [("scenario_id", "in", self.ids), ("state", "=", "running")]
        )
        participants._end("canceled", reason_code, reason)

    # ------------------------------------------------------------
    # Real-time entry, goal and wait-until (called by the mail.thread hooks)
    # ------------------------------------------------------------

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
                wait_fields |= _domain_fields(step._domain("condition_domain"))
            entries.append(
                {
                    "id": scenario.id,
                    "trigger": scenario.trigger,
                    "audience_fields": frozenset(_domain_fields(scenario._audience_domain())),
                    "goal_fields": frozenset(_domain_fields(goal)) if goal is not None
                    else frozenset(),
                    "wait_steps": tuple(wait_steps.ids),
                    "wait_fields": frozenset(wait_fields),
                }
            )
        return {"live": tuple(scenarios.ids), "running": tuple(entries)}

    @api.model
    def _on_records_created(self, records):
        """Enrol new records in the running scenarios that enter on creation (or on
        matching the audience: a new record that matches has started to match)."""
        for entry in self._scenario_cache(records._name)["running"]:
            if entry["trigger"] in REALTIME_TRIGGERS:
                self.browse(entry["id"]).enroll(records, new_records=True)

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
        followed = [entry for entry, reasons in watched if reasons & {"goal", "wait"}]
        if followed:
            self.env["marketing.scenario.participant"]._on_records_changed(records, followed)

    def _filter_audience(self, records):
        """Records that match the audience and have not reached the goal yet."""
        self.ensure_one()
        domain = self._audience_domain()
        goal = self._goal_domain()
        if goal is not None:
            domain &= ~goal
        if domain.is_true() or not records:
            return records
        if len(records) > FILTER_IN_MEMORY_LIMIT:
            return records.with_context(active_test=False).search(
                Domain("id", "in", records.ids) & domain
            )
        return records.filtered_domain(domain)


def _domain_fields(domain):
    """Names of the fields of the model that ``domain`` reads (first part of each path)."""
    return {condition.field_expr.split(".")[0] for condition in domain.iter_conditions()}
