import logging
from collections import defaultdict

from odoo import api, fields, models, tools
from odoo.exceptions import UserError, ValidationError
from odoo.fields import Domain
from odoo.tools import SQL

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
    _inherit = ["mail.thread", "mail.activity.mixin"]
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
        string="Adding the audience", copy=False, readonly=True,
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

    def _compute_mail_stats(self):
        """Sent, opened and clicked e-mails of real participants: one query for all."""
        stats = defaultdict(lambda: defaultdict(int))
        scenario_ids = [sid for sid in self._origin.ids if sid]
        if scenario_ids:
            for scenario, status, count, sent, clicked in self.env[
                "marketing.scenario.trace"
            ]._read_group(
                [("scenario_id", "in", scenario_ids), ("is_test", "=", False),
                 ("mail_status", "!=", False)],
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
                    amount if source == currency
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

    @api.constrains("domain", "goal_domain", "model_id")
    def _check_domains(self):
        for scenario in self:
            scenario._parse_domain(scenario.domain, scenario.env._("Audience"))
            if scenario.goal_domain:
                scenario._parse_domain(scenario.goal_domain, scenario.env._("Goal"))

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
        labels = dict(self.env["marketing.scenario.step"]._fields["trigger_type"]
                      ._description_selection(self.env))
        return {
            "type": "ir.actions.act_window",
            "name": (
                self.env._("New step after “%(parent)s”: %(when)s", parent=parent.name,
                           when=labels[trigger_type].lower())
                if parent else self.env._("New first step")
            ),
            "res_model": "marketing.scenario.step",
            "views": [[False, "form"]],
            "target": "new",
            "context": context,
        }

    def _action_mailing_traces(self, domain):
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mass_mailing.mailing_trace_action"
        )
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
                    self.env._("Start scenario %(name)s before adding its audience.",
                               name=scenario.name)
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
        records = self.env[self.model_name].sudo().search(
            self._audience_domain() & Domain("id", ">", self.enroll_last_id),
            order="id",
            limit=limit,
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
