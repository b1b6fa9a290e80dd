from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.fields import Domain

from ..tools import contacts
from .marketing_send_window_mixin import WINDOW_FIELDS

# Entry triggers that react inside the transaction of a create or a write.
REALTIME_TRIGGERS = ("create", "match")
# Entry triggers processed by the time-based intake cron (ir_cron_scenario_entry).
TIME_TRIGGERS = ("date", "anniversary")
# Targets that an e-mail address identifies (signup by list, events over HTTP).
EMAIL_TARGETS = ("res.partner", "mailing.contact")
# Fields of a scenario that _scenario_cache depends on: writing one clears the cache.
CACHED_FIELDS = {
    "name",
    "state",
    "trigger",
    "domain",
    "goal_domain",
    "model_id",
    "active",
    "company_id",
    "signup_source",
    "signup_list_ids",
    "event_name",
    "date_field_id",
    "score_threshold",
    "holdout_percent",
}


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
    score_threshold = fields.Integer(
        help="Score trigger: a contact enters when its score crosses this threshold upwards "
        "(from below it to at least it), in the same transaction as the event that scored.",
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
    date_start = fields.Datetime(string="Started on", copy=False, readonly=True)
    test_participant_ids = fields.One2many(
        "marketing.scenario.participant",
        "scenario_id",
        string="Test runs",
        domain=[("is_test", "=", True)],
    )
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

    @api.constrains(
        "trigger",
        "model_id",
        "date_field_id",
        "trigger_offset_unit",
        "trigger_hour",
        "event_name",
        "signup_source",
        "signup_list_ids",
        "score_threshold",
    )
    def _check_trigger_settings(self):
        """Each entry trigger checks its own settings: ``_check_entry_<trigger>``, written
        next to the trigger (``marketing_scenario_entry_*.py``)."""
        for scenario in self:
            check = getattr(scenario, f"_check_entry_{scenario.trigger}", None)
            if check:
                check()

    @api.constrains("domain", "goal_domain", "model_id")
    def _check_domains(self):
        for scenario in self:
            scenario._parse_domain(scenario.domain, scenario.env._("Audience"), check_access=True)
            if scenario.goal_domain:
                scenario._parse_domain(
                    scenario.goal_domain, scenario.env._("Goal"), check_access=True
                )

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

    def _check_entry_score(self):
        if self.model_name != "res.partner":
            raise ValidationError(
                self.env._(
                    "Scenario %(name)s: only scenarios on contacts can start on a score "
                    "threshold (the score belongs to the contact).",
                    name=self.name,
                )
            )
        if self.score_threshold <= 0:
            raise ValidationError(
                self.env._("Scenario %(name)s: set a score threshold above 0.", name=self.name)
            )

    def _parse_domain(self, domain_text, label, check_access=False):
        """Evaluate and validate a domain of the scenario's target model.

        :param check_access: at save time, also refuse fields the writer may not read
        :return: a :class:`Domain`, raising a ``ValidationError`` that names the field.
        """
        self.ensure_one()
        return self.env["marketing.scenario.step"]._validate_domain(
            self.model_name,
            domain_text,
            self.env._("%(label)s of scenario %(name)s", label=label, name=self.name),
            check_access=check_access,
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
        if "model_id" in vals:
            self.filtered(lambda s: s.model_id.id != vals["model_id"])._check_target_change()
        res = super().write(vals)
        if CACHED_FIELDS & set(vals):
            self.env.registry.clear_cache()
        if "state" in vals or "active" in vals:
            self.env["marketing.scenario.trace"]._schedule_next_run()
        return res

    def _check_target_change(self):
        """The target is what the steps' filters and e-mails are written for: it cannot
        change under them (a condition on another model's field fails when opened)."""
        for scenario in self:
            steps = scenario.with_context(active_test=False).step_ids
            if steps or scenario.participant_ids:
                raise UserError(
                    self.env._(
                        "Scenario %(name)s: the target cannot change while the scenario has "
                        "steps or participants: its filters and e-mails are written for "
                        "%(model)s. Create a new scenario for another target.",
                        name=scenario.name,
                        model=scenario.model_id.name,
                    )
                )

    def unlink(self):
        """Scenarios with history are archived, not deleted.

        Their pending steps are cancelled with the reason, and the participants, traces
        and mails that statistics and contact timelines need are kept.
        """
        with_history = self.browse(
            scenario.id
            for [scenario] in self.env["marketing.scenario.participant"]._read_group(
                [("scenario_id", "in", self.ids), ("is_test", "=", False)], ["scenario_id"]
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
        paused = self.filtered(lambda s: s.state == "paused")
        paused.write({"state": "running"})
        if any(paused.mapped("enroll_pending")):
            self.env.ref("trigger_marketing.ir_cron_scenario_enroll")._trigger()
        return True

    def action_stop(self):
        """Stop for good: pending steps are cancelled, running walks end as canceled."""
        self._cancel_pending("scenario_stopped")
        self.write({"state": "stopped", "enroll_pending": False})
        return True

    def action_reset_draft(self):
        self.filtered(lambda s: s.state == "stopped").write({"state": "draft"})
        return True

    # ------------------------------------------------------------
    # Enrolment
    # ------------------------------------------------------------

    def _entry_snapshot(self):
        """What entering the scenario needs, as plain data.

        ``_scenario_cache`` keeps it for the running scenarios, so that a real-time
        trigger enrols a new record without reading the scenario or its steps: the
        create that fires it pays only the inserts (participant, first traces, cron
        wake-up).
        """
        self.ensure_one()
        roots = self.step_ids.filtered(lambda s: not s.parent_id)
        return {
            "id": self.id,
            "name": self.name,
            "model_name": self.model_name,
            "company_id": self.company_id.id,
            "domain": self.domain,
            "goal_domain": self.goal_domain or False,
            "partner_field": self._partner_field(),
            "holdout_percent": self.holdout_percent,
            "roots": tuple((step.id, step.delay, step.delay_unit) for step in roots),
        }

    def _domain_snapshot(self):
        self.ensure_one()
        return {
            "name": self.name,
            "model_name": self.model_name,
            "company_id": self.company_id.id,
            "domain": self.domain,
            "goal_domain": self.goal_domain or False,
        }

    def _audience_domain(self, snapshot=None):
        """The audience as a :class:`Domain`, restricted to the scenario's company.

        :param dict snapshot: the scenario's data (``_entry_snapshot``) when known
        """
        snap = snapshot or self._domain_snapshot()
        domain = self._snapshot_domain(snap, snap["domain"], self.env._("Audience"))
        company_field = self.env[snap["model_name"]]._mail_get_company_field()
        if snap["company_id"] and company_field:
            domain &= Domain(company_field, "in", [snap["company_id"], False])
        return domain

    def _goal_domain(self, snapshot=None):
        """The goal as a :class:`Domain`, or None without a goal (an empty filter is no
        goal: "match all records" would convert every record before it enters)."""
        snap = snapshot or self._domain_snapshot()
        if not snap["goal_domain"]:
            return None
        goal = self._snapshot_domain(snap, snap["goal_domain"], self.env._("Goal"))
        return None if goal.is_true() else goal

    @api.model
    def _snapshot_domain(self, snap, domain_text, label):
        return self.env["marketing.scenario.step"]._validate_domain(
            snap["model_name"],
            domain_text,
            self.env._("%(label)s of scenario %(name)s", label=label, name=snap["name"]),
        )

    def _partner_field(self):
        """Name of the field that gives the contact of a target record ('id' for contacts)."""
        self.ensure_one()
        return contacts.partner_field(self.env[self.model_name])

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

    @api.model
    def _demo_populate(self):
        """Demo data: contacts that walked the running demo scenarios (demo/populate.py)."""
        from ..demo.populate import populate  # noqa: PLC0415 - demo code, loaded on demand

        return populate(self.env)

    def _cancel_pending(self, reason_code, reason=None):
        """Cancel every pending step of these scenarios and close their running walks."""
        participants = self.env["marketing.scenario.participant"].search(
            [("scenario_id", "in", self.ids), ("state", "=", "running")]
        )
        participants._end("canceled", reason_code, reason)
