import json
import logging
import secrets
from collections import defaultdict
from datetime import date, timedelta

from odoo import api, fields, models, tools
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.fields import Domain
from odoo.tools import SQL, split_every
from odoo.tools.mail import formataddr

from ..tools import entry_dates
from .marketing_scenario_step import DELAY_UNITS
from .marketing_send_window_mixin import WINDOW_FIELDS

_logger = logging.getLogger(__name__)

# Entry triggers that react inside the transaction of a create or a write.
REALTIME_TRIGGERS = ("create", "match")
# Entry triggers processed by the time-based intake cron (ir_cron_scenario_entry).
TIME_TRIGGERS = ("date", "anniversary")
# A birthday wish sent late is worse than none: anniversaries whose moment passed more
# than this before the intake cron could run (server down) are not sent.
ANNIVERSARY_CATCH_UP = timedelta(days=1)
# Targets that an e-mail address identifies (signup by list, events over HTTP).
EMAIL_TARGETS = ("res.partner", "mailing.contact")
# Up to this many records, the audience is checked in memory (no query after a create).
FILTER_IN_MEMORY_LIMIT = 200
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
    participant_count = fields.Integer(compute="_compute_participant_stats")
    running_count = fields.Integer(compute="_compute_participant_stats")
    converted_count = fields.Integer(compute="_compute_participant_stats")
    conversion_rate = fields.Float(compute="_compute_participant_stats")
    date_start = fields.Datetime(string="Started on", copy=False, readonly=True)
    # e-mail results of the whole scenario (real participants only)
    sent_count = fields.Integer(string="Sent", compute="_compute_mail_stats")
    opened_count = fields.Integer(string="Opened", compute="_compute_mail_stats")
    clicked_count = fields.Integer(string="Clicked", compute="_compute_mail_stats")
    open_rate = fields.Float(string="Open rate", compute="_compute_mail_stats")
    click_rate = fields.Float(string="Click rate", compute="_compute_mail_stats")
    # revenue of the converted records (orders...), when the target has an amount_total
    has_revenue = fields.Boolean(compute="_compute_has_revenue")
    converted_revenue = fields.Monetary(
        string="Revenue",
        compute="_compute_converted_revenue",
        currency_field="revenue_currency_id",
        help="Total amount of the records whose walk reached the goal (converted), in the "
        "currency of the scenario's company.",
    )
    revenue_currency_id = fields.Many2one("res.currency", compute="_compute_converted_revenue")
    # preview before going live
    audience_count = fields.Integer(
        string="Would enter now",
        compute="_compute_audience_count",
        help="Records that match the audience and have not reached the goal yet.",
    )
    preview_step_ids = fields.Many2many(
        "marketing.scenario.step",
        string="Branches",
        compute="_compute_preview_step_ids",
        help="Condition and wait-until steps, with how many records of today's audience "
        "would take each branch.",
    )
    # adding the whole audience, in the background
    enroll_pending = fields.Boolean(
        string="Adding the audience",
        copy=False,
        readonly=True,
        help="The audience is being added in the background.",
    )
    enroll_todo = fields.Integer(string="Audience to add", copy=False, readonly=True)
    enroll_done = fields.Integer(string="Audience checked", copy=False, readonly=True)
    enroll_added = fields.Integer(string="Audience added", copy=False, readonly=True)
    enroll_last_id = fields.Integer(copy=False, readonly=True)
    enroll_progress = fields.Float(string="Progress", compute="_compute_enroll_progress")
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

    # --- entry trigger "signup"
    signup_source = fields.Selection(
        [
            ("account", "Creates an account"),
            ("list", "Subscribes to a mailing list"),
        ],
        string="Signs up by",
        default="account",
        help="Creates an account: a visitor signs up on the website or portal; their contact "
        "enters. Subscribes to a mailing list: a subscription to one of the lists below (a "
        "newsletter form, a white paper download...) makes the subscriber enter.",
    )
    signup_list_ids = fields.Many2many(
        "mailing.list",
        "marketing_scenario_signup_list_rel",
        "scenario_id",
        "list_id",
        string="Mailing lists",
        help="A subscription to any of these lists makes the subscriber enter. On a scenario "
        "on contacts, the contact with the subscriber's e-mail enters (created if missing).",
    )
    # --- entry triggers "date" and "anniversary"
    date_field_id = fields.Many2one(
        "ir.model.fields",
        string="Date field",
        compute="_compute_date_field_id",
        store=True,
        readonly=False,
        precompute=True,
        ondelete="set null",
        domain="[('model_id', '=', model_id), ('ttype', 'in', ('date', 'datetime')), "
        "('store', '=', True)]",
        help="The date (or date and time) of the record that makes it enter.",
    )
    date_field_type = fields.Selection(related="date_field_id.ttype", string="Date field type")
    trigger_offset = fields.Integer(
        string="Offset",
        help="Moves the entry before (negative) or after (positive) the date, e.g. -7 days: "
        "7 days before the end of a subscription.",
    )
    trigger_offset_unit = fields.Selection(
        DELAY_UNITS, string="Offset unit", default="days", required=True
    )
    trigger_hour = fields.Float(
        string="At (local time)",
        default=9.0,
        help="Time of day of the entry for anniversaries and for dates without a time, in "
        "the contact's time zone (their own, else the company's, else UTC).",
    )
    last_entry_check = fields.Datetime(
        string="Entries checked until",
        readonly=True,
        copy=False,
        help="Time-based entries: every record whose date (with the offset) fell before this "
        "moment was considered. The next check takes the records due since.",
    )
    # --- entry trigger "event"
    event_name = fields.Char(
        string="Event name",
        help="Records enter when this event is fired, by code (fire_event) or by the signed "
        "HTTP endpoint of the scenario (e.g. whitepaper_downloaded).",
    )
    webhook_secret = fields.Char(
        string="Webhook secret",
        copy=False,
        groups="trigger_marketing.marketing_scenario_group_manager",
        help="Key of the HMAC-SHA256 signature of the events sent to the HTTP endpoint.",
    )
    webhook_url = fields.Char(
        string="Webhook URL",
        compute="_compute_webhook_url",
        groups="trigger_marketing.marketing_scenario_group_manager",
    )
    event_ids = fields.One2many(
        "marketing.scenario.event", "scenario_id", string="Received events", readonly=True
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
            scenario.conversion_rate = 100.0 * scenario.converted_count / total if total else 0.0

    @api.depends("trigger", "model_id")
    def _compute_date_field_id(self):
        birthdate = self.env["ir.model.fields"]._get("res.partner", "birthdate")
        for scenario in self:
            if scenario.date_field_id and scenario.date_field_id.model_id == scenario.model_id:
                continue
            if scenario.trigger == "anniversary" and scenario.model_name == "res.partner":
                scenario.date_field_id = birthdate
            else:
                scenario.date_field_id = False

    def _compute_webhook_url(self):
        base_url = self.get_base_url() if self else ""
        for scenario in self:
            scenario.webhook_url = (
                f"{base_url}/trigger_marketing/event/{scenario._origin.id}"
                if scenario._origin.id
                else False
            )

    def _compute_mail_stats(self):
        """Sent, opened and clicked e-mails of real participants: one query for all."""
        stats = defaultdict(lambda: defaultdict(int))
        scenario_ids = [sid for sid in self._origin.ids if sid]
        if scenario_ids:
            for scenario, status, count, sent, clicked in self.env[
                "marketing.scenario.trace"
            ]._read_group(
                [
                    ("scenario_id", "in", scenario_ids),
                    ("is_test", "=", False),
                    ("mail_status", "!=", False),
                ],
                ["scenario_id", "mail_status"],
                ["__count", "mail_sent_at:count", "mail_clicked_at:count"],
            ):
                st = stats[scenario.id]
                st["sent"] += sent
                st["clicked"] += clicked
                if status in ("open", "reply"):
                    st["opened"] += count
        for scenario in self:
            st = stats[scenario._origin.id]
            scenario.sent_count = st["sent"]
            scenario.opened_count = st["opened"]
            scenario.clicked_count = st["clicked"]
            scenario.open_rate = 100.0 * st["opened"] / st["sent"] if st["sent"] else 0.0
            scenario.click_rate = 100.0 * st["clicked"] / st["sent"] if st["sent"] else 0.0

    def _revenue_field(self):
        """The stored monetary ``amount_total`` of the target model, if it has one."""
        self.ensure_one()
        if not self.model_name or self.model_name not in self.env:
            return None
        field = self.env[self.model_name]._fields.get("amount_total")
        if field and field.type == "monetary" and field.store:
            return field
        return None

    @api.depends("model_id")
    def _compute_has_revenue(self):
        for scenario in self:
            scenario.has_revenue = bool(scenario._revenue_field())

    def _compute_converted_revenue(self):
        """Sum of ``amount_total`` of the converted records, generic over the target model.

        One query per target model, whatever the number of scenarios and participants;
        amounts in other currencies are converted at today's rate into the currency of the
        scenario's company.
        """
        sums = defaultdict(list)  # scenario id -> [(currency id, amount)]
        by_model = defaultdict(list)
        for scenario in self:
            if scenario._origin.id and scenario._revenue_field():
                by_model[scenario.model_name].append(scenario._origin.id)
        Participant = self.env["marketing.scenario.participant"]
        for model_name, scenario_ids in by_model.items():
            model = self.env[model_name]
            currency_fname = model._fields["amount_total"].get_currency_field(model)
            currency_field = model._fields.get(currency_fname) if currency_fname else None
            currency_column = (
                SQL.identifier("r", currency_fname)
                if currency_field and currency_field.store
                else SQL("NULL::int")
            )
            Participant.flush_model(["scenario_id", "res_id", "state", "is_test"])
            model.flush_model(["amount_total"] + ([currency_fname] if currency_fname else []))
            self.env.cr.execute(
                SQL(
                    """
                    SELECT p.scenario_id, %(currency)s, SUM(r.amount_total)
                      FROM marketing_scenario_participant p
                      JOIN %(table)s r ON r.id = p.res_id
                     WHERE p.scenario_id = ANY(%(ids)s) AND p.state = 'converted'
                       AND p.is_test IS NOT TRUE
                     GROUP BY 1, 2
                    """,
                    currency=currency_column,
                    table=SQL.identifier(model._table),
                    ids=scenario_ids,
                )
            )
            for scenario_id, currency_id, amount in self.env.cr.fetchall():
                sums[scenario_id].append((currency_id, amount or 0.0))
        today = fields.Date.context_today(self)
        Currency = self.env["res.currency"]
        for scenario in self:
            company = scenario.company_id or self.env.company
            currency = company.currency_id
            total = 0.0
            for currency_id, amount in sums.get(scenario._origin.id, ()):
                source = Currency.browse(currency_id) if currency_id else currency
                total += (
                    amount
                    if source == currency
                    else source._convert(amount, currency, company, today)
                )
            scenario.revenue_currency_id = currency
            scenario.converted_revenue = total

    @api.depends("domain", "goal_domain", "model_id", "company_id")
    def _compute_audience_count(self):
        for scenario in self:
            scenario.audience_count = 0
            if not scenario.model_name or scenario.model_name not in self.env:
                continue
            try:
                domain = scenario._audience_domain()
                goal = scenario._goal_domain()
            except ValidationError:
                continue  # the form shows the error where the filter is written
            if goal is not None:
                domain &= ~goal
            scenario.audience_count = self.env[scenario.model_name].sudo().search_count(domain)

    @api.depends("step_ids.action_type")
    def _compute_preview_step_ids(self):
        for scenario in self:
            scenario.preview_step_ids = scenario.step_ids.filtered(
                lambda s: s.action_type in ("condition", "wait_until")
            )

    @api.depends("enroll_todo", "enroll_done", "enroll_pending")
    def _compute_enroll_progress(self):
        for scenario in self:
            if scenario.enroll_todo:
                scenario.enroll_progress = min(
                    100.0, 100.0 * scenario.enroll_done / scenario.enroll_todo
                )
            else:
                scenario.enroll_progress = 0.0 if scenario.enroll_pending else 100.0

    @api.onchange("trigger")
    def _onchange_trigger(self):
        if self.trigger == "anniversary" and self.reentry == "never":
            # a birthday comes back every year (the scenario still sends at most one a year)
            self.reentry = "always"

    @api.constrains(
        "trigger",
        "model_id",
        "date_field_id",
        "trigger_offset_unit",
        "trigger_hour",
        "event_name",
        "signup_source",
        "signup_list_ids",
    )
    def _check_trigger_settings(self):
        for scenario in self:
            scenario._check_trigger_settings_one()

    def _check_trigger_settings_one(self):
        _ = self.env._
        trigger = self.trigger
        if trigger in TIME_TRIGGERS:
            field = self.date_field_id
            if not field:
                raise ValidationError(
                    _("Scenario %(name)s enters on a date: choose the date field.", name=self.name)
                )
            if field.model_id != self.model_id:
                raise ValidationError(
                    _(
                        "Scenario %(name)s: the field %(field)s belongs to %(model)s, not to "
                        "the target %(target)s.",
                        name=self.name,
                        field=field.field_description,
                        model=field.model_id.name,
                        target=self.model_id.name,
                    )
                )
            if field.ttype not in ("date", "datetime") or not field.store:
                raise ValidationError(
                    _(
                        "Scenario %(name)s: the field %(field)s is not a stored date or date "
                        "and time field.",
                        name=self.name,
                        field=field.field_description,
                    )
                )
            if trigger == "anniversary" and self.trigger_offset_unit in ("minutes", "hours"):
                raise ValidationError(
                    _(
                        "Scenario %(name)s: an anniversary moves by days, weeks or months; "
                        "set the time of day instead of an offset in hours.",
                        name=self.name,
                    )
                )
            if not 0 <= self.trigger_hour < 24:
                raise ValidationError(
                    _(
                        "Scenario %(name)s: the time of day must be between 00:00 and 23:59.",
                        name=self.name,
                    )
                )
        elif trigger == "event":
            if not (self.event_name or "").strip():
                raise ValidationError(
                    _("Scenario %(name)s enters on an event: give the event name.", name=self.name)
                )
        elif trigger == "signup":
            if self.model_name not in EMAIL_TARGETS:
                raise ValidationError(
                    _(
                        "Scenario %(name)s enters on signup: its target must be contacts or "
                        "mailing contacts.",
                        name=self.name,
                    )
                )
            if self.signup_source == "account" and self.model_name != "res.partner":
                raise ValidationError(
                    _(
                        "Scenario %(name)s: an account is created for a contact; target "
                        "contacts, or choose mailing list subscriptions.",
                        name=self.name,
                    )
                )
            if self.signup_source == "list" and not self.signup_list_ids:
                raise ValidationError(
                    _(
                        "Scenario %(name)s enters on a list subscription: choose the lists.",
                        name=self.name,
                    )
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

    @api.constrains("trigger", "model_id", "score_threshold")
    def _check_score_trigger(self):
        for scenario in self.filtered(lambda s: s.trigger == "score"):
            if scenario.model_name != "res.partner":
                raise ValidationError(
                    self.env._(
                        "Scenario %(name)s: only scenarios on contacts can start on a score "
                        "threshold (the score belongs to the contact).",
                        name=scenario.name,
                    )
                )
            if scenario.score_threshold <= 0:
                raise ValidationError(
                    self.env._(
                        "Scenario %(name)s: set a score threshold above 0.",
                        name=scenario.name,
                    )
                )

    def _parse_domain(self, domain_text, label):
        """Evaluate and validate a domain of the scenario's target model.

        :return: a :class:`Domain`, raising a ``ValidationError`` that names the field.
        """
        self.ensure_one()
        return self.env["marketing.scenario.step"]._validate_domain(
            self.model_name,
            domain_text,
            self.env._("%(label)s of scenario %(name)s", label=label, name=self.name),
        )

    # ------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("event_name"):
                vals["event_name"] = vals["event_name"].strip()
        scenarios = super().create(vals_list)
        # generated here rather than as a default: the field is readable by managers only,
        # every scenario needs one whoever creates it
        for scenario in scenarios.sudo():
            scenario.webhook_secret = self._new_webhook_secret()
        for scenario in scenarios.filtered(lambda s: not s.campaign_id):
            scenario.campaign_id = self.env["utm.campaign"].sudo().create({"name": scenario.name})
        self.env.registry.clear_cache()
        return scenarios

    def write(self, vals):
        if "model_id" in vals and self.env["marketing.scenario.participant"].search_count(
            [("scenario_id", "in", self.ids)], limit=1
        ):
            raise UserError(
                self.env._("The target of a scenario cannot change once records have entered it.")
            )
        if vals.get("event_name"):
            vals = dict(vals, event_name=vals["event_name"].strip())
        # time-based intake starts from now when a scenario (re)starts or changes trigger:
        # what fell due while it was not running does not enter (as for real-time triggers)
        restarting = self.browse()
        if vals.get("state") == "running" or "trigger" in vals:
            restarting = self.filtered(
                lambda s: s.state != "running" or s.trigger != vals.get("trigger", s.trigger)
            )
        res = super().write(vals)
        if restarting:
            super(MarketingScenario, restarting).write({"last_entry_check": fields.Datetime.now()})
        if CACHED_FIELDS & set(vals):
            self.env.registry.clear_cache()
        if "state" in vals or "active" in vals:
            self.env["marketing.scenario.trace"]._schedule_next_run()
        if {
            "state",
            "active",
            "trigger",
            "domain",
            "date_field_id",
            "trigger_offset",
            "trigger_offset_unit",
            "trigger_hour",
        } & set(vals) and any(s.trigger in TIME_TRIGGERS for s in self):
            self._wake_entry_cron(fields.Datetime.now())
        return res

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
        action["views"] = [(False, "hierarchy"), (False, "list"), (False, "form")]
        return action

    def action_view_traces(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "trigger_marketing.marketing_scenario_trace_action"
        )
        action["domain"] = [("scenario_id", "=", self.id)]
        action["context"] = {"search_default_filter_real": 1}
        return action

    def action_add_step(self):
        """Add a first step (it starts when a record enters the scenario)."""
        self.ensure_one()
        return self._action_new_step()

    def _action_new_step(self, parent=None, trigger_type="after"):
        """The form of a new step, in a dialog, preset under ``parent`` for ``trigger_type``.

        Behaviour branches wait 3 days for the event by default; a plain next step comes
        1 day after its parent.
        """
        self.ensure_one()
        context = {
            "default_scenario_id": self.id,
            "default_parent_id": parent.id if parent else False,
            "default_trigger_type": trigger_type,
            "default_action_type": "mail",
            "default_delay": 0,
            "default_delay_unit": "days",
        }
        if trigger_type.startswith("mail_"):
            context["default_delay"] = 3
        elif trigger_type == "after" and parent:
            context["default_delay"] = 1
        labels = dict(
            self.env["marketing.scenario.step"]
            ._fields["trigger_type"]
            ._description_selection(self.env)
        )
        return {
            "type": "ir.actions.act_window",
            "name": (
                self.env._(
                    "New step after “%(parent)s”: %(when)s",
                    parent=parent.name,
                    when=labels[trigger_type].lower(),
                )
                if parent
                else self.env._("New first step")
            ),
            "res_model": "marketing.scenario.step",
            "views": [[False, "form"]],
            "target": "new",
            "context": context,
        }

    def _action_mailing_traces(self, domain):
        action = self.env["ir.actions.act_window"]._for_xml_id("mass_mailing.mailing_trace_action")
        action["domain"] = [*domain, ("marketing_trace_id.is_test", "=", False)]
        action["context"] = {"create": False}
        action["display_name"] = self.env._("E-mails")
        return action

    def action_view_mails(self):
        """The e-mails of the scenario (mass_mailing's traces), real participants only."""
        self.ensure_one()
        return self._action_mailing_traces([("marketing_trace_id.scenario_id", "=", self.id)])

    def action_view_conversions(self):
        action = self.action_view_participants()
        action["context"] = dict(action["context"], search_default_filter_converted=1)
        action["display_name"] = self.env._("Conversions")
        return action

    def action_open_test(self):
        """The test-run wizard: pick records or type colleagues' addresses."""
        self.ensure_one()
        if not self.step_ids:
            raise UserError(self.env._("Add a step before testing the scenario."))
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Test %s", self.name),
            "res_model": "marketing.scenario.test",
            "views": [[False, "form"]],
            "target": "new",
            "context": {"default_scenario_id": self.id},
        }

    def action_view_test_participants(self):
        self.ensure_one()
        action = self.action_view_participants()
        action["context"] = {"default_scenario_id": self.id, "search_default_filter_test": 1}
        action["display_name"] = self.env._("Test runs of %s", self.name)
        return action

    # ------------------------------------------------------------
    # The whole audience, in the background
    # ------------------------------------------------------------

    def action_enroll_audience(self):
        """Add every record that matches the audience now, in the background.

        A cron adds them batch after batch (``_cron_enroll_audience``), each committed
        with its progress, so that 100,000 records neither block the marketer's screen
        nor hit the request time limit. The form shows the progress.
        """
        for scenario in self:
            if scenario.state != "running":
                raise UserError(
                    self.env._(
                        "Start scenario %(name)s before adding its audience.", name=scenario.name
                    )
                )
            if not scenario.step_ids:
                raise UserError(
                    self.env._("Scenario %(name)s has no step yet.", name=scenario.name)
                )
        for scenario in self:
            todo = self.env[scenario.model_name].sudo().search_count(scenario._audience_domain())
            scenario.write(
                {
                    "enroll_pending": True,
                    "enroll_todo": todo,
                    "enroll_done": 0,
                    "enroll_added": 0,
                    "enroll_last_id": 0,
                }
            )
        self.env.ref("trigger_marketing.ir_cron_scenario_enroll")._trigger()
        return True

    def _enroll_audience_batch(self, limit):
        """Add the next ``limit`` records of the audience (by increasing id).

        A constant number of queries whatever ``limit``: one search, then the set-based
        :meth:`enroll`. Records created since the start also enter (their id is higher).

        :return: the number of records checked (0 when the audience is exhausted)
        """
        self.ensure_one()
        records = (
            self.env[self.model_name]
            .sudo()
            .search(
                self._audience_domain() & Domain("id", ">", self.enroll_last_id),
                order="id",
                limit=limit,
            )
        )
        if not records:
            self.enroll_pending = False
            return 0
        participants = self.enroll(records)
        self.write(
            {
                "enroll_last_id": records[-1].id,
                "enroll_done": self.enroll_done + len(records),
                "enroll_added": self.enroll_added + len(participants),
                # a short batch was the last one: no need for an empty round
                "enroll_pending": len(records) == limit,
            }
        )
        return len(records)

    @api.model
    def _cron_enroll_audience(self):
        """Cron: add the audiences requested by "Add the current audience now"."""
        Cron = self.env["ir.cron"]
        scenarios = self.search([("enroll_pending", "=", True), ("state", "!=", "paused")])
        Cron._commit_progress(
            remaining=sum(max(s.enroll_todo - s.enroll_done, 1) for s in scenarios)
        )
        batch_size = self.env["marketing.scenario.trace"]._batch_size()
        for scenario in scenarios:
            while scenario.enroll_pending:
                if scenario.state != "running":
                    # stopped meanwhile (a paused one is resumed by action_resume)
                    if scenario.state != "paused":
                        scenario.enroll_pending = False
                    break
                checked = scenario._enroll_audience_batch(batch_size)
                if not Cron._commit_progress(checked):
                    if scenario.enroll_pending:
                        self.env.ref("trigger_marketing.ir_cron_scenario_enroll")._trigger()
                    return
                self.env.invalidate_all()

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
        snap = snapshot or self._domain_snapshot()
        if not snap["goal_domain"]:
            return None
        return self._snapshot_domain(snap, snap["goal_domain"], self.env._("Goal"))

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
                    "snapshot": scenario._entry_snapshot()
                    if scenario.trigger in REALTIME_TRIGGERS
                    else None,
                    "score_threshold": scenario.score_threshold,
                    "audience_fields": frozenset(_domain_fields(scenario._audience_domain())),
                    "goal_fields": frozenset(_domain_fields(goal))
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

    # ------------------------------------------------------------
    # Entry trigger "signup": accounts and mailing list subscriptions
    # ------------------------------------------------------------

    @api.model
    @tools.ormcache()
    def _signup_cache(self):
        """The running signup scenarios, cached per registry so that the hooks of
        ``res.users`` and of the mailing subscriptions cost no query when none runs.

        :return: {"account": (scenario ids), "lists": {list id: (scenario ids)}}
        """
        scenarios = (
            self.sudo()
            .with_context(active_test=True)
            .search([("trigger", "=", "signup"), ("state", "=", "running")], order="id")
        )
        lists = defaultdict(list)
        for scenario in scenarios.filtered(lambda s: s.signup_source == "list"):
            for list_id in scenario.signup_list_ids.ids:
                lists[list_id].append(scenario.id)
        return {
            "account": tuple(scenarios.filtered(lambda s: s.signup_source == "account").ids),
            "lists": {list_id: tuple(ids) for list_id, ids in lists.items()},
        }

    @api.model
    def _on_account_signup(self, partners):
        """Contacts of the accounts just created by ``auth_signup`` enter the running
        "creates an account" scenarios, in the signup transaction."""
        for scenario_id in self._signup_cache()["account"]:
            self.browse(scenario_id).enroll(partners)

    @api.model
    def _on_list_subscribed(self, pairs):
        """New (or renewed) subscriptions ``pairs`` = [(mailing.contact id, list id)]
        make the subscribers enter the scenarios that watch these lists: the mailing
        contacts themselves, or for a scenario on contacts the contact with the same
        e-mail (created if missing)."""
        watched = self._signup_cache()["lists"]
        contact_ids_by_scenario = defaultdict(set)
        for contact_id, list_id in pairs:
            for scenario_id in watched.get(list_id, ()):
                contact_ids_by_scenario[scenario_id].add(contact_id)
        if not contact_ids_by_scenario:
            return
        Contact = self.env["mailing.contact"].sudo().with_context(active_test=False)
        all_contacts = Contact.browse(set().union(*contact_ids_by_scenario.values()))
        all_contacts.fetch(["name", "email", "email_normalized"])
        for scenario_id, contact_ids in contact_ids_by_scenario.items():
            scenario = self.browse(scenario_id)
            contacts = Contact.browse(sorted(contact_ids))
            if scenario.model_name == "mailing.contact":
                scenario.enroll(contacts)
            else:
                scenario.enroll(
                    scenario._partners_for_emails(
                        [(c.name, c.email_normalized) for c in contacts if c.email_normalized]
                    )
                )

    def _partners_for_emails(self, name_emails):
        """The contacts of ``name_emails`` = [(name, normalized e-mail)] among the contacts
        of the scenario's company (or shared ones), the oldest first; created in the
        scenario's company when missing. Set-based: one search, one create."""
        self.ensure_one()
        Partner = self.env["res.partner"].sudo()
        if not name_emails:
            return Partner
        company = self.company_id
        emails = [formataddr((name or "", email)) for name, email in name_emails]
        found = Partner._find_or_create_from_emails(
            emails,
            filter_found=lambda p: not p.company_id or not company or p.company_id == company,
            additional_values={email: {"company_id": company.id} for _name, email in name_emails}
            if company
            else None,
        )
        return Partner.concat(*[partner for partner in found if partner])

    # ------------------------------------------------------------
    # Entry trigger "event": fired by code or by the signed HTTP endpoint
    # ------------------------------------------------------------

    @api.model
    def fire_event(self, name, records, payload=None):
        """Make ``records`` enter the running scenarios that wait for the event ``name``
        (same transaction), with ``payload`` stored on their participants for the steps.

        Public requests (website controllers) call it with ``sudo()``.

        :param str name: the event name, e.g. ``"whitepaper_downloaded"``
        :param records: records of the target model of the scenarios
        :param payload: JSON-serializable data about the event (e.g. the file name)
        :return: the new participants
        """
        if not (
            self.env.su
            or self.env.user.has_group("trigger_marketing.marketing_scenario_group_user")
        ):
            raise AccessError(self.env._("Only marketing users can fire scenario events."))
        Participant = self.env["marketing.scenario.participant"].sudo()
        if not records or not name:
            return Participant
        _check_payload(self.env, payload)
        # the event scores once, whichever scenarios it starts
        self.env["res.partner"].sudo()._marketing_score_records(
            "event", records.sudo(), event_name=name.strip()
        )
        scenarios = self.sudo().search(
            [
                ("trigger", "=", "event"),
                ("event_name", "=", name.strip()),
                ("model_name", "=", records._name),
                ("state", "=", "running"),
            ]
        )
        for scenario in scenarios:
            Participant |= scenario._enroll_with_payload(records, payload)
        return Participant

    def _enroll_with_payload(self, records, payload):
        participants = self.enroll(records)
        if participants and payload is not None:
            participants.write({"payload": payload})
        return participants

    @api.model
    def _new_webhook_secret(self):
        return secrets.token_hex(32)

    def action_regenerate_webhook_secret(self):
        """A new secret: events signed with the old one are refused from now on."""
        if not self.env.user.has_group("trigger_marketing.marketing_scenario_group_manager"):
            raise AccessError(self.env._("Only marketing managers can change webhook secrets."))
        for scenario in self.sudo():
            scenario.webhook_secret = self._new_webhook_secret()
        return True

    def _accepts_http_events(self):
        self.ensure_one()
        return self.trigger == "event" and self.active and self.model_name in EMAIL_TARGETS

    def _receive_event(self, event_id, email, payload=None, name=None):
        """An event received (and authenticated) by the HTTP endpoint.

        The event id is claimed first, atomically: a replay (even concurrent) of the same
        id for this scenario inserts nothing and enrols nobody.

        :return: dict for the JSON answer
        """
        self.ensure_one()
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO marketing_scenario_event
                    (scenario_id, company_id, event_id, name, email,
                     create_uid, create_date, write_uid, write_date)
                VALUES (%(scenario)s, %(company)s, %(event_id)s, %(name)s, %(email)s,
                        %(uid)s, %(now)s, %(uid)s, %(now)s)
                ON CONFLICT (scenario_id, event_id) DO NOTHING
                RETURNING id
                """,
                scenario=self.id,
                company=self.company_id.id or None,
                event_id=event_id,
                name=self.event_name,
                email=email,
                uid=self.env.uid,
                now=self.env.cr.now(),
            )
        )
        row = self.env.cr.fetchone()
        if not row:
            return {"ok": True, "duplicate": True, "enrolled": False}
        event = self.env["marketing.scenario.event"].sudo().browse(row[0])
        records = self._records_for_email(email, name)
        self.env["res.partner"].sudo()._marketing_score_records(
            "event", records, source=event, scenario=self, event_name=self.event_name
        )
        participants = self._enroll_with_payload(records, payload or {})
        event.write({"res_id": records[:1].id, "participant_id": participants[:1].id})
        return {"ok": True, "duplicate": False, "enrolled": bool(participants)}

    def _records_for_email(self, email, name=None):
        """The record of the target with this (normalized) e-mail, created if missing:
        an event about an unknown visitor makes a new lead."""
        self.ensure_one()
        if self.model_name == "res.partner":
            return self._partners_for_emails([(name, email)])
        Contact = self.env["mailing.contact"].sudo()
        contact = Contact.search([("email_normalized", "=", email)], order="id", limit=1)
        return contact or Contact.create({"name": name or email, "email": email})

    # ------------------------------------------------------------
    # Time-based entry triggers ("date", "anniversary"): the intake cron
    # ------------------------------------------------------------

    @api.model
    def _cron_entry(self):
        """Enrol the records whose date (± offset) or anniversary fell due since the last
        check of each running time-based scenario, batch after batch.

        Each scenario keeps a checkpoint (``last_entry_check``): a run takes the records
        due in (checkpoint, now], so a record enters once per date value; the checkpoint
        moves when the whole window is done. A run cut short (time limit, crash) starts
        again from the old checkpoint and skips what already entered.
        """
        Cron = self.env["ir.cron"]
        now = self.env.cr.now()
        scenarios = self.search([("state", "=", "running"), ("trigger", "in", TIME_TRIGGERS)])
        Cron._commit_progress(remaining=len(scenarios))
        for scenario in scenarios:
            if not scenario._enter_due_records(now) or not Cron._commit_progress(1):
                break
        self._schedule_entry_cron(now)

    def _enter_due_records(self, now):
        """Enrol the records of this scenario due in (checkpoint, now].

        :return: False if the cron ran out of time (the checkpoint did not move)
        """
        self.ensure_one()
        start = self.last_entry_check
        if not start or not self.date_field_id:
            self.last_entry_check = now
            return True
        if self.trigger == "anniversary":
            start = max(start, now - ANNIVERSARY_CATCH_UP)
        if start >= now:
            return True
        Cron = self.env["ir.cron"]
        try:
            # a broken scenario (e.g. its audience names a removed field) is logged and
            # retried next time from the same checkpoint; the others go on
            with self.env.cr.savepoint():
                records, anniversaries = self._due_records(start, now)
            for res_ids in split_every(
                self.env["marketing.scenario.trace"]._batch_size(), records.ids
            ):
                with self.env.cr.savepoint():
                    participants = self.enroll(records.browse(res_ids))
                    if anniversaries and participants:
                        self._set_anniversary_dates(participants, anniversaries)
                # each batch is committed with its progress; cut short, the next run
                # starts again from the old checkpoint and skips what entered
                if not Cron._commit_progress():
                    return False
        except Exception:  # noqa: BLE001 - recorded in the log, the cron goes on
            _logger.exception("Entry check of scenario %s failed", self.id)
            return True
        self.last_entry_check = now
        return True

    def _due_records(self, start, end):
        """The records of the audience due in (start, end], not entered since ``start``.

        :return: (records, {res_id: anniversary date} for anniversaries)
        """
        self.ensure_one()
        if self.trigger == "anniversary":
            return self._due_anniversaries(start, end)
        if self.date_field_type == "datetime":
            records = self._due_by_moment(start, end)
        else:
            records = self._due_by_day(start, end)
        if records:
            entered = self._entered_since(records.ids, start)
            records = records.browse(i for i in records.ids if i not in entered)
        return records, {}

    def _target(self):
        return self.env[self.model_name].sudo().with_context(active_test=True, tz=False)

    def _offset(self):
        return entry_dates.offset_delta(self.trigger_offset, self.trigger_offset_unit)

    def _tz_path(self):
        """Path of the contact's time zone from a target record (None: no contact)."""
        if self.model_name == "res.partner":
            return "tz"
        fname = self._partner_field()
        return f"{fname}.tz" if fname and fname != "id" else None

    def _tz_domain(self, tz_name):
        path = self._tz_path()
        domain = Domain(path, "=", tz_name or False)
        if not tz_name and "." in path:
            domain |= Domain(path.split(".")[0], "=", False)
        return domain

    def _default_tz(self):
        company = self.company_id or self.env.company
        return company.partner_id.tz

    def _due_by_moment(self, start, end):
        """Date and time field: due at the value ± offset, whatever the time zone."""
        fname = self.date_field_id.name
        delta = self._offset()
        margin = entry_dates.MONTH_MARGIN if self.trigger_offset_unit == "months" else timedelta(0)
        records = self._target().search_fetch(
            self._audience_domain()
            & Domain(fname, ">", start - delta - margin)
            & Domain(fname, "<=", end - delta + margin),
            [fname],
        )
        return records.filtered(lambda r: start < r[fname] + delta <= end)

    def _day_groups(self, first, last):
        """(date value, time zone) pairs of the audience with a value in [first, last]."""
        fname = self.date_field_id.name
        tz_path = self._tz_path()
        groupby = [f"{fname}:day"] + ([tz_path] if tz_path else [])
        groups = self._target()._read_group(
            self._audience_domain() & Domain(fname, ">=", first) & Domain(fname, "<=", last),
            groupby,
            ["__count"],
        )
        return [(row[0], row[1] if tz_path else False) for row in groups]

    def _day_moment(self, value, tz_name):
        tz = entry_dates.get_tz(tz_name, self._default_tz())
        return entry_dates.day_at(value, self.trigger_hour, tz, self._offset())

    def _due_by_day(self, start, end):
        """Date field: due on the date ± offset at the time of day, in the contact's time
        zone. One grouped query finds the (date, time zone) pairs due in the window, one
        search their records."""
        delta = self._offset()
        margin = entry_dates.TZ_SPREAD
        if self.trigger_offset_unit == "months":
            margin += entry_dates.MONTH_MARGIN
        first = (start - delta - margin).date()
        last = (end - delta + margin).date()
        due = defaultdict(list)
        for value, tz_name in self._day_groups(first, last):
            if start < self._day_moment(value, tz_name) <= end:
                due[tz_name].append(value)
        Target = self._target()
        if not due:
            return Target
        fname = self.date_field_id.name
        by_tz = [
            Domain(fname, "in", values)
            & (self._tz_domain(tz_name) if self._tz_path() else Domain.TRUE)
            for tz_name, values in due.items()
        ]
        return Target.search(self._audience_domain() & Domain.OR(by_tz), order="id")

    def _anniversary_groups(self, first, last):
        """(month, day, time zone) of the audience whose anniversary (± offset) may fall
        on a local date in [first, last]: a set-based query on date parts."""
        fname = self.date_field_id.name
        pairs = entry_dates.anniversary_month_days(
            first, last, self._offset(), self.trigger_offset_unit
        )
        month_days = Domain.OR(
            Domain(f"{fname}.month_number", "=", month) & Domain(f"{fname}.day_of_month", "=", day)
            for month, day in sorted(pairs)
        )
        tz_path = self._tz_path()
        groupby = [f"{fname}:month_number", f"{fname}:day_of_month"]
        if tz_path:
            groupby.append(tz_path)
        groups = self._target()._read_group(
            self._audience_domain() & Domain(fname, "!=", False) & month_days,
            groupby,
            ["__count"],
        )
        return [(int(row[0]), int(row[1]), row[2] if tz_path else False) for row in groups]

    def _anniversary_moments(self, month, day, tz_name, around):
        tz = entry_dates.get_tz(tz_name, self._default_tz())
        return entry_dates.anniversary_moments(
            month, day, self._offset(), self.trigger_hour, tz, around
        )

    def _due_anniversaries(self, start, end):
        """Anniversaries (± offset) whose moment, at the time of day in the contact's time
        zone, falls in (start, end], at most one per anniversary year and record."""
        due = {}  # (month, day, tz) -> anniversary date
        for month, day, tz_name in self._anniversary_groups(
            (start - entry_dates.TZ_SPREAD).date(), (end + entry_dates.TZ_SPREAD).date()
        ):
            for occurrence, moment in self._anniversary_moments(month, day, tz_name, end):
                if start < moment <= end:
                    due[(month, day, tz_name)] = occurrence
        Target = self._target()
        if not due:
            return Target, {}
        fname = self.date_field_id.name
        tz_path = self._tz_path()
        keys = [
            Domain(f"{fname}.month_number", "=", month)
            & Domain(f"{fname}.day_of_month", "=", day)
            & (self._tz_domain(tz_name) if tz_path else Domain.TRUE)
            for month, day, tz_name in due
        ]
        partner_fname = tz_path.split(".")[0] if tz_path and "." in tz_path else None
        records = Target.search_fetch(
            self._audience_domain() & Domain.OR(keys),
            [fname] + (["tz"] if tz_path == "tz" else [partner_fname] if partner_fname else []),
            order="id",
        )
        if partner_fname:
            records[partner_fname].fetch(["tz"])
        occurrences = {}
        for record in records:
            value = record[fname]
            if tz_path == "tz":
                tz_name = record.tz
            elif partner_fname:
                tz_name = record[partner_fname].tz
            else:
                tz_name = False
            occurrence = due.get((value.month, value.day, tz_name or False))
            if occurrence:
                occurrences[record.id] = occurrence
        already = self._anniversary_years_done(
            list(occurrences), min(occurrences.values(), default=None)
        )
        occurrences = {
            res_id: occurrence
            for res_id, occurrence in occurrences.items()
            if (res_id, occurrence.year) not in already
        }
        return records.browse(sorted(occurrences)), occurrences

    def _anniversary_years_done(self, res_ids, since):
        """{(res_id, year)} of the anniversaries that already made these records enter."""
        if not res_ids:
            return set()
        self.env["marketing.scenario.participant"].flush_model()
        self.env.cr.execute(
            SQL(
                """
                SELECT res_id, EXTRACT(YEAR FROM anniversary_date)::int
                  FROM marketing_scenario_participant
                 WHERE scenario_id = %s AND res_id = ANY(%s) AND is_test IS NOT TRUE
                   AND anniversary_date >= %s
                """,
                self.id,
                res_ids,
                date(since.year, 1, 1),
            )
        )
        return set(self.env.cr.fetchall())

    def _set_anniversary_dates(self, participants, anniversaries):
        """Record on each new participant the anniversary it entered for (one query)."""
        participants.flush_recordset(["res_id"])
        self.env.cr.execute(
            SQL(
                """
                UPDATE marketing_scenario_participant p
                   SET anniversary_date = v.day
                  FROM unnest(%s::int[], %s::date[]) AS v(id, day)
                 WHERE p.id = v.id
                """,
                participants.ids,
                [anniversaries[p.res_id] for p in participants],
            )
        )
        participants.invalidate_recordset(["anniversary_date"])

    def _entered_since(self, res_ids, since):
        """Records of ``res_ids`` that entered this scenario after ``since`` (by any way):
        a run of the intake cron cut short never enrols them twice."""
        self.env["marketing.scenario.participant"].flush_model()
        self.env.cr.execute(
            SQL(
                """
                SELECT DISTINCT res_id FROM marketing_scenario_participant
                 WHERE scenario_id = %s AND res_id = ANY(%s) AND is_test IS NOT TRUE
                   AND date_start > %s
                """,
                self.id,
                res_ids,
                since,
            )
        )
        return {row[0] for row in self.env.cr.fetchall()}

    # --- waking the intake cron at the exact next due moment

    @api.model
    def _wake_entry_cron(self, at):
        cron = self.env.ref("trigger_marketing.ir_cron_scenario_entry", raise_if_not_found=False)
        if cron:
            cron.sudo()._trigger(max(at, fields.Datetime.now()))

    @api.model
    def _schedule_entry_cron(self, now):
        """Wake the intake cron when the next record of a running scenario falls due."""
        scenarios = self.search([("state", "=", "running"), ("trigger", "in", TIME_TRIGGERS)])
        moments = [m for m in (s._next_entry_due(now) for s in scenarios) if m]
        if moments:
            self._wake_entry_cron(min(moments))
        return min(moments) if moments else None

    def _next_entry_due(self, now):
        """The next moment after ``now`` at which a record of this scenario falls due."""
        self.ensure_one()
        if not self.date_field_id:
            return None
        if self.trigger == "anniversary":
            return self._next_anniversary_due(now)
        if self.date_field_type == "datetime":
            return self._next_moment_due(now)
        return self._next_day_due(now)

    def _next_anniversary_due(self, now):
        """The next anniversary moment within the hour, else the next hour boundary: the
        hourly wake-up also catches birth dates edited or created meanwhile."""
        next_hour = (now + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
        moments = [next_hour]
        for month, day, tz_name in self._anniversary_groups(
            (now - entry_dates.TZ_SPREAD).date(), (next_hour + entry_dates.TZ_SPREAD).date()
        ):
            moments += [
                moment
                for _occurrence, moment in self._anniversary_moments(month, day, tz_name, now)
                if now < moment < next_hour
            ]
        return min(moments)

    def _next_moment_due(self, now):
        """Date and time field: the smallest value whose moment ± offset is after now."""
        fname = self.date_field_id.name
        delta = self._offset()
        margin = entry_dates.MONTH_MARGIN if self.trigger_offset_unit == "months" else timedelta(0)
        lower = now - delta - margin
        Target = self._target()
        for _attempt in range(10):
            records = Target.search_fetch(
                self._audience_domain() & Domain(fname, ">", lower),
                [fname],
                order=f"{fname}, id",
                limit=50,
            )
            moments = [r[fname] + delta for r in records if r[fname] + delta > now]
            if moments:
                return min(moments)
            if len(records) < 50:
                return None
            lower = records[-1][fname]
        return None

    def _next_day_due(self, now):
        """Date field: the values just after now, grouped by time zone, give the exact next
        moment (two queries)."""
        fname = self.date_field_id.name
        delta = self._offset()
        margin = entry_dates.TZ_SPREAD
        if self.trigger_offset_unit == "months":
            margin += entry_dates.MONTH_MARGIN
        first = (now - delta - margin).date()
        Target = self._target()
        for _attempt in range(10):
            nearest = Target.search_fetch(
                self._audience_domain() & Domain(fname, ">=", first),
                [fname],
                order=f"{fname}, id",
                limit=1,
            )
            if not nearest:
                return None
            last = nearest[fname] + timedelta(days=3)
            moments = [
                moment
                for value, tz_name in self._day_groups(first, last)
                if (moment := self._day_moment(value, tz_name)) > now
            ]
            if moments:
                return min(moments)
            first = last + timedelta(days=1)
        return None

    def _wake_entry_for(self, records):
        """Records of a running date scenario were created or their date changed: wake the
        intake cron by the time the earliest of them falls due (no query for datetime
        fields; early for dates, which depend on the time zone, and exact at the next run).
        """
        self.ensure_one()
        fname = self.date_field_id.name
        delta = self._offset()
        now = fields.Datetime.now()
        earliest = entry_dates.get_tz("Etc/GMT-14")  # the first local day on Earth
        moments = []
        for value in {rec[fname] for rec in records if rec[fname]}:
            if self.date_field_type == "datetime":
                moment = value + delta
            else:
                moment = entry_dates.day_at(value, self.trigger_hour, earliest, delta)
            if moment > now:
                moments.append(moment)
        if moments:
            self._wake_entry_cron(min(moments))


def _domain_fields(domain):
    """Names of the fields of the model that ``domain`` reads (first part of each path)."""
    return {condition.field_expr.split(".")[0] for condition in domain.iter_conditions()}


def _check_payload(env, payload):
    """A payload must be JSON data (it is stored on the participants)."""
    if payload is None:
        return
    try:
        json.dumps(payload)
    except (TypeError, ValueError) as e:
        raise UserError(env._("The event payload must be JSON data: %s", e)) from e
