from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import html2plaintext

from ..tools import domains
from .marketing_send_window_mixin import WINDOW_FIELDS

DELAY_UNITS = [
    ("minutes", "Minutes"),
    ("hours", "Hours"),
    ("days", "Days"),
    ("weeks", "Weeks"),
    ("months", "Months"),
]

# What wakes a step up, relative to its parent.
TRIGGER_TYPES = [
    ("after", "After the previous step"),
    ("yes", "Condition met"),
    ("no", "Condition not met"),
    ("mail_open", "Mail opened"),
    ("mail_not_open", "Mail not opened"),
    ("mail_click", "Mail clicked"),
    ("mail_not_click", "Mail not clicked"),
    ("mail_reply", "Mail replied"),
    ("mail_not_reply", "Mail not replied"),
    ("mail_bounce", "Mail bounced"),
]
# Behaviour branches: the parent must be an e-mail step. Positive ones wait for the
# event during the child's delay; negative ones fire at the end of the delay if the
# mail was really sent and the event did not happen.
MAIL_POSITIVE = {
    "mail_open": "open",
    "mail_click": "click",
    "mail_reply": "reply",
    "mail_bounce": "bounce",
}
MAIL_NEGATIVE = {
    "mail_not_open": "open",
    "mail_not_click": "click",
    "mail_not_reply": "reply",
}
BRANCH_TRIGGERS = ("yes", "no")

ACTION_TYPES = [
    ("mail", "Send an e-mail"),
    ("condition", "Check a condition"),
    ("wait", "Wait"),
    ("wait_until", "Wait until"),
    ("score", "Add or remove score points"),
    ("list_add", "Add to a mailing list"),
    ("list_remove", "Remove from a mailing list"),
    ("tag_add", "Add tags"),
    ("tag_remove", "Remove tags"),
    ("activity", "Schedule an activity"),
    ("server_action", "Run a server action"),
    ("exit", "Exit the scenario"),
]
# Actions whose outcome (yes / no) selects the children of type yes / no.
BRANCHING_ACTIONS = ("condition", "wait_until")
# Font Awesome icon of each action, for the step tree.
ACTION_ICONS = {
    "mail": "fa-envelope",
    "condition": "fa-code-fork",
    "wait": "fa-hourglass-half",
    "wait_until": "fa-hourglass-o",
    "score": "fa-line-chart",
    "list_add": "fa-user-plus",
    "list_remove": "fa-user-times",
    "tag_add": "fa-tag",
    "tag_remove": "fa-tags",
    "activity": "fa-phone",
    "server_action": "fa-cogs",
    "exit": "fa-sign-out",
    "split": "fa-random",
}


# Actions that reach the contact: the scenario's send window applies to them by default.
# Other actions (conditions, score, tags, lists, activities for the salesperson...) run at
# once unless their step has a window of its own.
WINDOW_ACTIONS = ("mail",)

# Fields of a step that marketing.scenario._scenario_cache reads (first steps and their
# delays, wait-until conditions): writing one clears the cache.
CACHED_STEP_FIELDS = {
    "active",
    "scenario_id",
    "parent_id",
    "delay",
    "delay_unit",
    "action_type",
    "condition_domain",
}


def delay_to_relativedelta(number, unit):
    return relativedelta(**{unit: number})


class MarketingScenarioStep(models.Model):
    """A node of a scenario: what wakes it up, when, under which condition, and one action."""

    _name = "marketing.scenario.step"
    _description = "Scenario Step"
    _inherit = ["marketing.send.window.mixin"]
    _order = "scenario_id, sequence, id"

    name = fields.Char(required=True, translate=True)
    active = fields.Boolean(default=True)
    sequence = fields.Integer(default=10)
    scenario_id = fields.Many2one(
        "marketing.scenario", required=True, ondelete="cascade", index=True
    )
    model_name = fields.Char(related="scenario_id.model_name")
    scenario_state = fields.Selection(related="scenario_id.state", string="Scenario state")
    model_id = fields.Many2one(related="scenario_id.model_id")
    company_id = fields.Many2one(related="scenario_id.company_id", store=True, index=True)
    parent_id = fields.Many2one(
        "marketing.scenario.step",
        string="After",
        ondelete="cascade",
        index=True,
        domain="[('scenario_id', '=', scenario_id), ('id', '!=', id)]",
        help="Leave empty for a first step: it starts when the record enters the scenario.",
    )
    child_ids = fields.One2many("marketing.scenario.step", "parent_id", string="Next steps")
    parent_action_type = fields.Selection(related="parent_id.action_type", string="Parent action")
    trigger_type = fields.Selection(TRIGGER_TYPES, string="Wake-up", default="after", required=True)
    delay = fields.Integer(
        default=0,
        help="How long after the parent was done (or the record entered). For a branch on a "
        "mail event (opened, clicked...), the time the event is waited for.",
    )
    delay_unit = fields.Selection(DELAY_UNITS, default="days", required=True)
    filter_domain = fields.Char(
        string="Only if",
        help="The step runs only for records matching this filter; the others are skipped "
        "with the reason, and their walk goes on no further on this branch.",
    )
    link_url = fields.Char(
        string="Link",
        help="For a 'mail clicked' branch: only a click on a link whose URL starts with this "
        "one counts. Leave empty for any link.",
    )
    action_type = fields.Selection(ACTION_TYPES, string="Action", default="mail", required=True)
    # condition / wait until
    condition_domain = fields.Char(
        string="Condition",
        help="Condition: children 'yes' run when the record matches, 'no' otherwise. "
        "Wait until: the step waits until the record matches, at most the time-out.",
    )
    wait_timeout = fields.Integer(string="Time-out", default=7)
    wait_timeout_unit = fields.Selection(DELAY_UNITS, default="days", required=True)
    # score
    score_points = fields.Integer(
        string="Points", help="Points added to the contact's score; negative to remove points."
    )
    # mailing list
    mailing_list_id = fields.Many2one("mailing.list", string="Mailing list", ondelete="restrict")
    # tags
    tag_ids = fields.Many2many("res.partner.category", string="Tags")
    # activity
    activity_type_id = fields.Many2one("mail.activity.type", string="Activity type")
    activity_summary = fields.Char(string="Summary")
    activity_note = fields.Html(string="Note")
    activity_days = fields.Integer(string="Due in (days)", default=0)
    activity_user_id = fields.Many2one(
        "res.users",
        string="Assigned to",
        help="Leave empty to assign the salesperson of the record (or of its contact), or the "
        "scenario's responsible.",
    )
    # server action
    server_action_id = fields.Many2one(
        "ir.actions.server",
        string="Server action",
        ondelete="restrict",
        domain="[('model_id.model', '=', model_name), ('usage', '=', 'ir_actions_server')]",
    )
    window_mode = fields.Selection(
        [
            ("scenario", "Scenario's window"),
            ("none", "Any time"),
            ("own", "Own window"),
        ],
        string="Send window",
        default="scenario",
        required=True,
        help="Scenario's window: the send window of the scenario, for e-mail steps (other "
        "actions run at once). Any time: no window for this step. Own window: the days "
        "and hours below, whatever the action.",
    )
    icon = fields.Char(compute="_compute_icon")

    # ------------------------------------------------------------
    # Computes
    # ------------------------------------------------------------

    @api.depends("action_type")
    def _compute_icon(self):
        for step in self:
            step.icon = ACTION_ICONS.get(step.action_type, "fa-circle")

    # ------------------------------------------------------------
    # Constraints
    # ------------------------------------------------------------

    @api.model
    def _validate_domain(self, model_name, domain_text, label, check_access=False):
        """Evaluate a filter text on ``model_name``; a clear ``ValidationError`` if invalid.

        :param check_access: at save time, also refuse fields the writer may not read
        """
        domain = domains.parse_domain(self.env, model_name, domain_text, label)
        if check_access:
            domains.check_readable(self.env, model_name, domain, label)
        return domain

    def _domain(self, fname, check_access=False):
        self.ensure_one()
        label = self._fields[fname]._description_string(self.env)
        return self._validate_domain(
            self.model_name,
            self[fname],
            self.env._("%(field)s of step %(step)s", field=label, step=self.name),
            check_access=check_access,
        )

    @api.constrains("parent_id", "scenario_id")
    def _check_tree(self):
        if self._has_cycle():
            raise ValidationError(self.env._("A step cannot come after itself: cycle in the tree."))
        for step in self:
            if step.parent_id and step.parent_id.scenario_id != step.scenario_id:
                raise ValidationError(
                    self.env._(
                        "Step %(step)s and its parent %(parent)s belong to different scenarios.",
                        step=step.name,
                        parent=step.parent_id.name,
                    )
                )

    @api.constrains("trigger_type", "parent_id", "delay")
    def _check_trigger_type(self):
        for step in self:
            trigger = step.trigger_type
            if trigger in MAIL_POSITIVE or trigger in MAIL_NEGATIVE:
                if step.parent_id.action_type != "mail":
                    raise ValidationError(
                        self.env._(
                            "Step %(step)s waits for a mail event (%(event)s) but its parent "
                            "is not an e-mail step.",
                            step=step.name,
                            event=dict(TRIGGER_TYPES)[trigger],
                        )
                    )
                if step.delay <= 0:
                    raise ValidationError(
                        self.env._(
                            "Step %(step)s: a branch on a mail event needs a delay, the time "
                            "during which the event is waited for.",
                            step=step.name,
                        )
                    )
            elif trigger == "split" and step.parent_id.action_type != "split":
                raise ValidationError(
                    self.env._(
                        "Step %(step)s is a branch of a split but its parent is not a split step.",
                        step=step.name,
                    )
                )
            elif trigger in BRANCH_TRIGGERS and step.parent_id.action_type not in BRANCHING_ACTIONS:
                raise ValidationError(
                    self.env._(
                        "Step %(step)s is a yes/no branch but its parent is not a condition or a "
                        "wait-until step.",
                        step=step.name,
                    )
                )

    @api.constrains("window_mode", *WINDOW_FIELDS)
    def _check_window(self):
        self._check_send_window()

    def _window_is_set(self):
        return self.window_mode == "own"

    def _send_window(self):
        """The record (this step or its scenario) whose send window applies, or None."""
        self.ensure_one()
        if self.window_mode == "own":
            return self
        if (
            self.window_mode == "scenario"
            and self.action_type in WINDOW_ACTIONS
            and self.scenario_id.window_enabled
        ):
            return self.scenario_id
        return None

    @api.constrains("action_type")
    def _check_children_trigger_types(self):
        """A step that stops being an e-mail (or a condition) step keeps no branch on
        mail events (or yes/no branches) under it."""
        self.child_ids._check_trigger_type()

    @api.constrains("filter_domain", "condition_domain", "scenario_id")
    def _check_domains(self):
        for step in self:
            step._domain("filter_domain", check_access=True)
            step._domain("condition_domain", check_access=True)
            if step.action_type in BRANCHING_ACTIONS and not step.condition_domain:
                raise ValidationError(
                    self.env._("Step %(step)s needs a condition.", step=step.name)
                )

    @api.constrains(
        "action_type",
        "mailing_id",
        "mailing_list_id",
        "tag_ids",
        "score_points",
        "activity_type_id",
        "server_action_id",
    )
    def _check_action_parameters(self):
        for step in self:
            step._check_action_parameters_one()

    def _check_action_parameters_one(self):
        _ = self.env._
        action = self.action_type
        missing = None
        if action == "mail":
            mailing = self.mailing_id
            if not mailing:
                missing = _("an e-mail")
            elif not (mailing.subject or "").strip():
                missing = _("a subject for its e-mail")
            elif not html2plaintext(mailing.body_html or "").strip():
                missing = _("a body for its e-mail")
            elif mailing.mailing_model_real != self.model_name:
                raise ValidationError(
                    _(
                        "Step %(step)s: its e-mail is written for %(model)s, the scenario "
                        "targets %(target)s.",
                        step=self.name,
                        model=mailing.mailing_model_real,
                        target=self.model_name,
                    )
                )
        elif action in ("list_add", "list_remove") and not self.mailing_list_id:
            missing = _("a mailing list")
        elif action in ("tag_add", "tag_remove") and not self.tag_ids:
            missing = _("at least one tag")
        elif action == "score" and not self.score_points:
            missing = _("a number of points")
        elif action == "activity" and not self.activity_type_id:
            missing = _("an activity type")
        elif action == "server_action":
            if not self.server_action_id:
                missing = _("a server action")
            elif self.server_action_id.model_id.model != self.model_name:
                raise ValidationError(
                    _(
                        "Step %(step)s: the server action works on another model.",
                        step=self.name,
                    )
                )
        if missing:
            raise ValidationError(_("Step %(step)s needs %(what)s.", step=self.name, what=missing))

    def _check_ready_to_run(self):
        """Checks done when a scenario starts (the constraints already hold)."""
        for step in self:
            step._check_action_parameters_one()

    # ------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        steps = super().create(vals_list)
        self.env.registry.clear_cache()  # wait-until steps are watched by the write hooks
        return steps

    def write(self, vals):
        res = super().write(vals)
        if CACHED_STEP_FIELDS & set(vals):
            # the real-time hooks cache the tree (wait-until steps, first steps and delays)
            self.env.registry.clear_cache()
        return res

    def unlink(self):
        """Steps that already ran are archived, not deleted: history is kept for statistics.

        Pending traces of the step and of its descendants are cancelled with the reason.
        """
        descendants = self.with_context(active_test=False).search([("id", "child_of", self.ids)])
        Trace = self.env["marketing.scenario.trace"]
        pending = Trace.search(
            [("step_id", "in", descendants.ids), ("state", "in", ("scheduled", "waiting"))]
        )
        pending._cancel("step_deleted")
        with_history = self.browse(
            step.id
            for [step] in Trace._read_group([("step_id", "in", descendants.ids)], ["step_id"])
        )
        with_history.write({"active": False})
        self.env.registry.clear_cache()
        return super(MarketingScenarioStep, descendants - with_history).unlink()

    def _copy_tree(self, scenario, parent=None):
        """Copy these steps and their descendants under ``parent`` into ``scenario``."""
        for step in self:
            vals = {"scenario_id": scenario.id, "parent_id": parent.id if parent else False}
            if step.mailing_id:
                vals["mailing_id"] = step.mailing_id.copy(
                    {"name": step.mailing_id.name or step.name}
                ).id
            new_step = step.copy(vals)
            step.child_ids._copy_tree(scenario, new_step)

    # ------------------------------------------------------------
    # Scheduling helpers
    # ------------------------------------------------------------

    def _delay_delta(self):
        self.ensure_one()
        return delay_to_relativedelta(self.delay, self.delay_unit)

    def _timeout_delta(self):
        self.ensure_one()
        return delay_to_relativedelta(self.wait_timeout, self.wait_timeout_unit)

    def _planned_date(self, start):
        """When this step is due (or, for a behaviour branch, its deadline) given its start."""
        self.ensure_one()
        return start + self._delay_delta()

    def action_delete(self):
        """Delete from the step form (the step tree opens steps in a dialog)."""
        self.unlink()
        return {"type": "ir.actions.act_window_close"}

    def action_add_child(self):
        """Add a step under this one, woken by ``tm_trigger_type`` of the context (the
        buttons of the step tree: "+ next step", "+ if opened", "+ yes"...)."""
        self.ensure_one()
        trigger_type = self.env.context.get("tm_trigger_type") or "after"
        return self.scenario_id._action_new_step(parent=self, trigger_type=trigger_type)

    def action_view_traces(self):
        """The traces of this step (real participants), filtered by ``tm_state``."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "trigger_marketing.marketing_scenario_trace_action"
        )
        action["domain"] = [("step_id", "=", self.id)]
        context = {"search_default_filter_real": 1}
        state_filter = self.env.context.get("tm_state")
        if state_filter:
            context[f"search_default_filter_{state_filter}"] = 1
        if state_filter == "skipped":
            context["search_default_group_reason"] = 1
        action["context"] = context
        action["display_name"] = self.env._("Traces of %s", self.name)
        return action

    # ------------------------------------------------------------
    # Actions (set-based: ``traces`` is a batch of due traces of this step)
    # ------------------------------------------------------------
