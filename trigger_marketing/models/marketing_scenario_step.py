from collections import defaultdict

from dateutil.relativedelta import relativedelta
from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.fields import Domain
from odoo.tools import SQL, html2plaintext, is_html_empty
from odoo.tools.safe_eval import datetime as safe_datetime
from odoo.tools.safe_eval import dateutil as safe_dateutil
from odoo.tools.safe_eval import safe_eval
from odoo.tools.safe_eval import time as safe_time

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
}


# Actions that reach the contact: the scenario's send window applies to them by default.
# Other actions (conditions, score, tags, lists, activities for the salesperson...) run at
# once unless their step has a window of its own.
WINDOW_ACTIONS = ("mail",)

# mailing.trace failure types (mass_mailing) -> our skip reasons
MAIL_FAILURE_REASONS = {
    "mail_bl": "blacklisted",
    "mail_optout": "opted_out",
    "mail_email_missing": "no_email",
    "mail_email_invalid": "invalid_email",
    "mail_dup": "duplicate",
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
    # e-mail
    mailing_id = fields.Many2one(
        "mailing.mailing",
        string="E-mail",
        ondelete="restrict",
        copy=False,
        domain="[('use_in_trigger_marketing', '=', True)]",
    )
    # Written on the step, kept on its mailing: a new step creates its mailing on save.
    mail_subject = fields.Char(
        string="Subject",
        compute="_compute_mail_content",
        inverse="_inverse_mail_subject",
        help="Subject of the e-mail. Placeholders such as {{ object.name }} are not "
        "rendered in subjects: keep it plain.",
    )
    mail_body_html = fields.Html(
        string="Message",
        compute="_compute_mail_content",
        inverse="_inverse_mail_body",
        sanitize="email_outgoing",
    )
    mail_designed = fields.Boolean(
        compute="_compute_mail_content",
        help="The e-mail was laid out with the e-mail designer: edit it there.",
    )
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
    summary = fields.Char(
        string="In plain language", compute="_compute_summary", help="The step in plain language."
    )
    icon = fields.Char(compute="_compute_icon")
    # statistics (real participants only; test runs never count)
    stat_pending = fields.Integer(string="Pending", compute="_compute_statistics")
    stat_done = fields.Integer(string="Done", compute="_compute_statistics")
    stat_skipped = fields.Integer(string="Skipped", compute="_compute_statistics")
    stat_failed = fields.Integer(string="Failed", compute="_compute_statistics")
    stat_canceled = fields.Integer(string="Canceled", compute="_compute_statistics")
    stat_skipped_detail = fields.Char(string="Skipped because", compute="_compute_statistics")
    stat_yes = fields.Integer(
        string="Yes",
        compute="_compute_statistics",
        help="Condition met (condition and wait-until steps).",
    )
    stat_no = fields.Integer(
        string="No",
        compute="_compute_statistics",
        help="Condition not met (condition and wait-until steps).",
    )
    stat_sent = fields.Integer(string="Sent", compute="_compute_statistics")
    stat_opened = fields.Integer(string="Opened", compute="_compute_statistics")
    stat_clicked = fields.Integer(string="Clicked", compute="_compute_statistics")
    stat_replied = fields.Integer(string="Replied", compute="_compute_statistics")
    stat_bounced = fields.Integer(string="Bounced", compute="_compute_statistics")
    stat_unsubscribed = fields.Integer(
        string="Unsubscribed",
        compute="_compute_statistics",
        help="Recipients who were blacklisted (unsubscribed) after this e-mail was sent to them.",
    )
    rate_opened = fields.Float(
        string="Open rate", compute="_compute_statistics", help="Percentage of the sent e-mails."
    )
    rate_clicked = fields.Float(
        string="Click rate", compute="_compute_statistics", help="Percentage of the sent e-mails."
    )
    rate_replied = fields.Float(
        string="Reply rate", compute="_compute_statistics", help="Percentage of the sent e-mails."
    )
    rate_bounced = fields.Float(
        string="Bounce rate", compute="_compute_statistics", help="Percentage of the sent e-mails."
    )
    rate_unsubscribed = fields.Float(
        string="Unsubscribe rate",
        compute="_compute_statistics",
        help="Percentage of the sent e-mails.",
    )
    # preview before going live (condition and wait-until steps)
    preview_yes_count = fields.Integer(
        string="Would say yes",
        compute="_compute_preview_counts",
        help="Records of today's audience that would reach this step and meet its condition.",
    )
    preview_no_count = fields.Integer(
        string="Would say no",
        compute="_compute_preview_counts",
        help="Records of today's audience that would reach this step and not meet its condition.",
    )

    # ------------------------------------------------------------
    # Computes
    # ------------------------------------------------------------

    @api.depends(
        "trigger_type",
        "delay",
        "delay_unit",
        "parent_id.name",
        "action_type",
        "name",
        "mailing_id.subject",
        "score_points",
        "mailing_list_id.name",
        "activity_summary",
        "server_action_id.name",
        "tag_ids",
        "filter_domain",
        "wait_timeout",
        "wait_timeout_unit",
    )
    def _compute_summary(self):
        for step in self:
            step.summary = step._plain_language()

    def _delay_text(self, number, unit):
        """ "2 days", "1 hour": whole phrases, so that every language can say them."""
        _ = self.env._
        if number == 1:
            return {
                "minutes": _("1 minute"),
                "hours": _("1 hour"),
                "days": _("1 day"),
                "weeks": _("1 week"),
                "months": _("1 month"),
            }[unit]
        return {
            "minutes": _("%(count)s minutes", count=number),
            "hours": _("%(count)s hours", count=number),
            "days": _("%(count)s days", count=number),
            "weeks": _("%(count)s weeks", count=number),
            "months": _("%(count)s months", count=number),
        }[unit]

    def _plain_language(self):
        """The step in one sentence: "2 days after “Welcome” if not opened: send “Reminder”".

        Each sentence is one translatable string with named placeholders, so that
        translators can reorder words and use their own quotation marks.
        """
        self.ensure_one()
        _ = self.env._
        parent = self.parent_id.name or ""
        delay = self._delay_text(self.delay, self.delay_unit)
        trigger = self.trigger_type
        if trigger == "after":
            if parent:
                when = (
                    _("%(delay)s after “%(parent)s”", delay=delay, parent=parent)
                    if self.delay
                    else _("Right after “%(parent)s”", parent=parent)
                )
            else:
                when = (
                    _("%(delay)s after entering the scenario", delay=delay)
                    if self.delay
                    else _("As soon as the record enters the scenario")
                )
        elif trigger in ("yes", "no"):
            if trigger == "yes":
                when = _("If “%(parent)s” says yes", parent=parent)
            else:
                when = _("If “%(parent)s” says no", parent=parent)
            if self.delay:
                when = _("%(when)s, %(delay)s later", when=when, delay=delay)
        else:
            when = {
                "mail_open": _("When “%(parent)s” is opened (within %(delay)s)"),
                "mail_click": _("When a link of “%(parent)s” is clicked (within %(delay)s)"),
                "mail_reply": _("When “%(parent)s” gets a reply (within %(delay)s)"),
                "mail_bounce": _("When “%(parent)s” bounces (within %(delay)s)"),
                "mail_not_open": _("%(delay)s after “%(parent)s” if not opened"),
                "mail_not_click": _("%(delay)s after “%(parent)s” if not clicked"),
                "mail_not_reply": _("%(delay)s after “%(parent)s” if no reply"),
            }[trigger] % {"parent": parent, "delay": delay}
        if self.filter_domain and self.filter_domain.strip() not in ("", "[]"):
            when = _("%(when)s, only if the filter matches", when=when)
        tags = ", ".join(self.tag_ids.mapped("name")) or "?"
        what = {
            "mail": lambda: _("send “%(mail)s”", mail=self.mailing_id.subject or self.name),
            "condition": lambda: _("check “%(name)s”", name=self.name),
            "wait": lambda: _("wait"),
            "wait_until": lambda: _(
                "wait until “%(name)s” (at most %(timeout)s)",
                name=self.name,
                timeout=self._delay_text(self.wait_timeout, self.wait_timeout_unit),
            ),
            "score": lambda: (
                _("add %(points)s points to the score", points=self.score_points)
                if self.score_points >= 0
                else _("remove %(points)s points from the score", points=-self.score_points)
            ),
            "list_add": lambda: _(
                "add to the list “%(list)s”", list=self.mailing_list_id.name or "?"
            ),
            "list_remove": lambda: _(
                "remove from the list “%(list)s”", list=self.mailing_list_id.name or "?"
            ),
            "tag_add": lambda: _("add the tags %(tags)s", tags=tags),
            "tag_remove": lambda: _("remove the tags %(tags)s", tags=tags),
            "activity": lambda: _(
                "schedule “%(name)s” for the salesperson", name=self.activity_summary or self.name
            ),
            "server_action": lambda: _(
                "run “%(name)s”", name=self.server_action_id.name or self.name
            ),
            "exit": lambda: _("leave the scenario"),
        }[self.action_type]()
        return _("%(when)s: %(what)s", when=when, what=what)

    @api.depends("action_type")
    def _compute_icon(self):
        for step in self:
            step.icon = ACTION_ICONS.get(step.action_type, "fa-circle")

    @api.depends("mailing_id.subject", "mailing_id.body_html", "mailing_id.body_arch")
    def _compute_mail_content(self):
        for step in self:
            mailing = step.mailing_id
            step.mail_subject = mailing.subject
            step.mail_body_html = mailing.body_html
            step.mail_designed = bool(mailing.body_arch and "o_layout" in mailing.body_arch)

    def _inverse_mail_subject(self):
        self._write_mailing("subject", "mail_subject")

    def _inverse_mail_body(self):
        self._write_mailing("body_html", "mail_body_html")

    def _write_mailing(self, mailing_fname, fname):
        """Keep what the marketer wrote on the step on its mailing (creating it if needed).

        One inverse per field: while a field is being inverted, the ORM protects the other
        fields of the same compute, so each inverse reads only its own field.
        """
        to_create = self.browse()
        for step in self.filtered(lambda s: s.action_type == "mail"):
            value = step[fname]
            if not step.mailing_id:
                to_create |= step
                continue
            if mailing_fname == "subject" and not (value or "").strip():
                raise ValidationError(
                    self.env._("Step %(step)s needs a subject for its e-mail.", step=step.name)
                )
            if mailing_fname == "body_html":
                if step.mailing_id.body_arch and "o_layout" in step.mailing_id.body_arch:
                    continue  # laid out in the designer: edited there only
                if not html2plaintext(value or "").strip():
                    raise ValidationError(
                        self.env._("Step %(step)s needs a body for its e-mail.", step=step.name)
                    )
            if (value or "") != (step.mailing_id[mailing_fname] or ""):
                vals = {mailing_fname: value}
                if mailing_fname == "body_html":
                    vals["body_arch"] = value
                step.mailing_id.write(vals)
        for step in to_create:
            values = {"subject": step.name, "body_html": False}
            values[mailing_fname] = step[fname]
            if (values["subject"] or "").strip() and not is_html_empty(values["body_html"]):
                step.mailing_id = self.env["mailing.mailing"].create(
                    self._mailing_values(
                        step.scenario_id, step.name, values["subject"], values["body_html"]
                    )
                )

    @api.model
    def _mailing_values(self, scenario, name, subject, body):
        company = scenario.company_id or self.env.company
        return {
            # mass_mailing requires a sender: the marketer, else the company
            "email_from": self.env.user.email_formatted
            or company.email_formatted
            or company.partner_id.email_formatted
            or company.alias_domain_id.default_from_email
            or self.env["ir.mail_server"]._get_default_from_address(),
            "name": name,
            "subject": subject or name,
            "body_arch": body,
            "body_html": body,
            "mailing_model_id": scenario.model_id.id,
            "mailing_type": "mail",
            "use_in_trigger_marketing": True,
            "campaign_id": scenario.campaign_id.id,
        }

    @api.model
    def _create_mailings_from_vals(self, vals_list):
        """New e-mail steps written with a subject and a message get their mailing before
        they are created, so that the "needs an e-mail" constraint sees it."""
        todo = [
            vals
            for vals in vals_list
            if vals.get("action_type", "mail") == "mail"
            and not vals.get("mailing_id")
            and vals.get("scenario_id")
            and (vals.get("mail_subject") or not is_html_empty(vals.get("mail_body_html")))
        ]
        if not todo:
            return
        Scenario = self.env["marketing.scenario"]
        mailings = self.env["mailing.mailing"].create(
            [
                self._mailing_values(
                    Scenario.browse(vals["scenario_id"]),
                    vals.get("name"),
                    vals.get("mail_subject"),
                    vals.get("mail_body_html"),
                )
                for vals in todo
            ]
        )
        for vals, mailing in zip(todo, mailings, strict=True):
            vals["mailing_id"] = mailing.id
            vals.pop("mail_subject", None)
            vals.pop("mail_body_html", None)

    @api.model
    def _starter_mail_body(self, scenario):
        """A first message for a new e-mail step, greeting the contact by name."""
        partner_field = scenario._partner_field() if scenario.model_name else None
        if partner_field == "id":
            expression = "object.name"
        elif partner_field:
            expression = f"object.{partner_field}.name"
        else:
            expression = None
        greeting = (
            Markup('<p>%s <t t-out="%s"/>,</p>') % (self.env._("Hello"), expression)
            if expression
            else Markup("<p>%s</p>") % self.env._("Hello,")
        )
        return greeting + Markup("<p>%s</p>") % self.env._("Write your message here.")

    @api.model
    def default_get(self, fields):
        vals = super().default_get(fields)
        if (
            "mail_body_html" in fields
            and not vals.get("mail_body_html")
            and vals.get("action_type", "mail") == "mail"
            and vals.get("scenario_id")
        ):
            scenario = self.env["marketing.scenario"].browse(vals["scenario_id"])
            vals["mail_body_html"] = self._starter_mail_body(scenario)
        return vals

    def _compute_statistics(self):
        """Step statistics of the real participants, for any number of steps in 3 queries."""
        Trace = self.env["marketing.scenario.trace"]
        step_ids = [sid for sid in self._origin.ids if sid]
        stats = defaultdict(lambda: defaultdict(int))
        skip_reasons = defaultdict(lambda: defaultdict(int))
        unsubscribed = {}
        if step_ids:
            base = [("step_id", "in", step_ids), ("is_test", "=", False)]
            for step, state, reason, outcome, count in Trace._read_group(
                base, ["step_id", "state", "reason_code", "outcome"], ["__count"]
            ):
                st = stats[step.id]
                st[state] += count
                if state == "skipped":
                    skip_reasons[step.id][reason] += count
                elif state == "done" and step.action_type in BRANCHING_ACTIONS:
                    st["yes" if outcome else "no"] += count
            for step, status, count, sent, clicked, replied in Trace._read_group(
                [*base, ("mail_status", "!=", False)],
                ["step_id", "mail_status"],
                ["__count", "mail_sent_at:count", "mail_clicked_at:count", "mail_replied_at:count"],
            ):
                st = stats[step.id]
                st["sent"] += sent
                st["clicked"] += clicked
                st["replied"] += replied
                if status in ("open", "reply"):
                    st["opened"] += count
                elif status == "bounce":
                    st["bounced"] += count
            unsubscribed = self._unsubscribed_counts(step_ids)
        reason_labels = dict(Trace._fields["reason_code"]._description_selection(self.env))
        for step in self:
            st = stats[step._origin.id]
            sent = st["sent"]
            step.stat_pending = st["scheduled"] + st["waiting"]
            step.stat_done = st["done"]
            step.stat_skipped = st["skipped"]
            step.stat_failed = st["failed"]
            step.stat_canceled = st["canceled"]
            step.stat_yes = st["yes"]
            step.stat_no = st["no"]
            step.stat_sent = sent
            step.stat_opened = st["opened"]
            step.stat_clicked = st["clicked"]
            step.stat_replied = st["replied"]
            step.stat_bounced = st["bounced"]
            step.stat_unsubscribed = unsubscribed.get(step._origin.id, 0)
            for fname in ("opened", "clicked", "replied", "bounced", "unsubscribed"):
                step[f"rate_{fname}"] = 100.0 * step[f"stat_{fname}"] / sent if sent else 0.0
            reasons = sorted(skip_reasons[step._origin.id].items(), key=lambda r: -r[1])
            step.stat_skipped_detail = ", ".join(
                f"{reason_labels.get(code, code or '?')}: {count}" for code, count in reasons
            )

    def _unsubscribed_counts(self, step_ids):
        """Recipients blacklisted after this step's e-mail was sent to them, by step.

        Unsubscribing from a scenario e-mail blacklists the address (mass_mailing's
        unsubscribe page); the blacklist does not say which e-mail caused it, so the step
        counts the addresses blacklisted since it mailed them.
        """
        self.env["marketing.scenario.trace"].flush_model(["step_id", "is_test"])
        self.env["mailing.trace"].flush_model(["marketing_trace_id", "email", "sent_datetime"])
        self.env["mail.blacklist"].flush_model(["email", "active"])
        self.env.cr.execute(
            SQL(
                """
                SELECT t.step_id, COUNT(DISTINCT mt.id)
                  FROM marketing_scenario_trace t
                  JOIN mailing_trace mt ON mt.marketing_trace_id = t.id
                  JOIN mail_blacklist bl ON bl.email = mt.email AND bl.active
                 WHERE t.step_id = ANY(%s) AND t.is_test IS NOT TRUE
                   AND mt.sent_datetime IS NOT NULL AND bl.write_date >= mt.sent_datetime
                 GROUP BY t.step_id
                """,
                step_ids,
            )
        )
        return dict(self.env.cr.fetchall())

    def _preview_path_domain(self):
        """Records of today's audience that would reach this step (as far as data tells).

        Audience, not at the goal yet, every "only if" filter on the way, and the yes/no
        answers of the conditions above. Behaviour branches (opened, clicked...) cannot be
        foreseen: they keep everyone.
        """
        self.ensure_one()
        scenario = self.scenario_id
        domain = scenario._audience_domain()
        goal = scenario._goal_domain()
        if goal is not None:
            domain &= ~goal
        step = self
        while step:
            domain &= step._domain("filter_domain")
            parent = step.parent_id
            if parent.action_type in BRANCHING_ACTIONS and step.trigger_type in BRANCH_TRIGGERS:
                condition = parent._domain("condition_domain")
                domain &= condition if step.trigger_type == "yes" else ~condition
            step = parent
        return domain

    @api.depends(
        "action_type",
        "condition_domain",
        "filter_domain",
        "parent_id",
        "trigger_type",
        "scenario_id.domain",
        "scenario_id.goal_domain",
    )
    def _compute_preview_counts(self):
        """Per condition step, two counts: one ``search_count`` per branch."""
        for step in self:
            step.preview_yes_count = step.preview_no_count = 0
            if step.action_type not in BRANCHING_ACTIONS or not step.model_name:
                continue
            try:
                path = step._preview_path_domain()
                condition = step._domain("condition_domain")
            except ValidationError:
                continue  # the form shows the error where the filter is written
            Model = self.env[step.model_name].sudo()
            step.preview_yes_count = Model.search_count(path & condition)
            step.preview_no_count = Model.search_count(path & ~condition)

    # ------------------------------------------------------------
    # Constraints
    # ------------------------------------------------------------

    @api.model
    def _domain_eval_context(self):
        return {
            "datetime": safe_datetime,
            "dateutil": safe_dateutil,
            "time": safe_time,
            "relativedelta": relativedelta,
            "context_today": lambda: fields.Date.context_today(self),
            "uid": self.env.uid,
            "user": self.env.user,
        }

    @api.model
    def _validate_domain(self, model_name, domain_text, label):
        """Evaluate a domain text on ``model_name``; a clear ``ValidationError`` if invalid."""
        if not domain_text:
            return Domain.TRUE
        try:
            domain = Domain(safe_eval(domain_text, self._domain_eval_context()))
            domain.validate(self.env[model_name])
        except Exception as e:  # noqa: BLE001 - any evaluation error is the user's input
            raise ValidationError(
                self.env._("%(label)s is not a valid filter: %(error)s", label=label, error=e)
            ) from e
        return domain

    def _domain(self, fname):
        self.ensure_one()
        label = self._fields[fname]._description_string(self.env)
        return self._validate_domain(
            self.model_name,
            self[fname],
            self.env._("%(field)s of step %(step)s", field=label, step=self.name),
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

    @api.constrains("delay", "wait_timeout", "activity_days")
    def _check_delays(self):
        for step in self:
            if step.delay < 0 or step.wait_timeout < 0 or step.activity_days < 0:
                raise ValidationError(
                    self.env._("Step %(step)s: a delay cannot be negative.", step=step.name)
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
            step._domain("filter_domain")
            step._domain("condition_domain")
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

    def _check_server_action_rights(self):
        if self.env.su or self.env.user.has_group(
            "trigger_marketing.marketing_scenario_group_manager"
        ):
            return
        if any(step.action_type == "server_action" for step in self):
            raise AccessError(
                self.env._("Only marketing managers can make a step run a server action.")
            )

    # ------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        self._create_mailings_from_vals(vals_list)
        steps = super().create(vals_list)
        steps._check_server_action_rights()
        steps._link_mailings()
        self.env.registry.clear_cache()  # wait-until steps are watched by the write hooks
        return steps

    def write(self, vals):
        if {"mail_subject", "mail_body_html"} & set(vals) and not vals.get("mailing_id"):
            # a step becoming an e-mail step, written with its subject and message
            for step in self.filtered(
                lambda s: not s.mailing_id and vals.get("action_type", s.action_type) == "mail"
            ):
                body = vals.get("mail_body_html")
                if not is_html_empty(body):
                    step.mailing_id = self.env["mailing.mailing"].create(
                        self._mailing_values(
                            step.scenario_id,
                            vals.get("name", step.name),
                            vals.get("mail_subject"),
                            body,
                        )
                    )
        res = super().write(vals)
        if {"action_type", "server_action_id"} & set(vals):
            self._check_server_action_rights()
        if "mailing_id" in vals or "action_type" in vals:
            self._link_mailings()
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

    def _link_mailings(self):
        for step in self.filtered("mailing_id"):
            mailing = step.mailing_id
            vals = {}
            if not mailing.use_in_trigger_marketing:
                vals["use_in_trigger_marketing"] = True
            if step.scenario_id.campaign_id and mailing.campaign_id != step.scenario_id.campaign_id:
                vals["campaign_id"] = step.scenario_id.campaign_id.id
            if vals:
                mailing.sudo().write(vals)

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

    def action_open_mailing(self):
        """Open the step's e-mail in mass_mailing's designer (themes, blocks, images)."""
        self.ensure_one()
        if not self.mailing_id:
            raise UserError(self.env._("This step has no e-mail yet."))
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("E-mail of %s", self.name),
            "res_model": "mailing.mailing",
            "res_id": self.mailing_id.id,
            "views": [[False, "form"]],
            "target": "current",
        }

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

    def action_view_mails(self):
        """The e-mails this step sent (mass_mailing's traces), real participants only."""
        self.ensure_one()
        return self.scenario_id._action_mailing_traces(
            [("marketing_trace_id.step_id", "=", self.id)]
        )

    # ------------------------------------------------------------
    # Actions (set-based: ``traces`` is a batch of due traces of this step)
    # ------------------------------------------------------------

    def _execute(self, traces, records_by_trace, outcome):
        """Run this step's action for ``traces`` and record what happened in ``outcome``."""
        self.ensure_one()
        getattr(self, f"_execute_{self.action_type}")(traces, records_by_trace, outcome)

    def _records_of(self, traces, records_by_trace):
        return self.env[self.model_name].browse(records_by_trace[t].id for t in traces)

    def _with_partner(self, traces, outcome):
        """Traces whose participant has a contact; the others are skipped with the reason."""
        without = traces.filtered(lambda t: not t.participant_id.partner_id)
        outcome.skip(without, "no_contact")
        return traces - without

    def _execute_wait(self, traces, records_by_trace, outcome):
        outcome.done(traces)

    def _execute_exit(self, traces, records_by_trace, outcome):
        outcome.done(traces)
        outcome.end_participants(traces.participant_id, "exited", "exited")

    def _execute_condition(self, traces, records_by_trace, outcome):
        records = self._records_of(traces, records_by_trace)
        met = records.filtered_domain(self._domain("condition_domain"))
        yes = traces.filtered(lambda t: records_by_trace[t] in met)
        outcome.done(yes, outcome=True)
        outcome.done(traces - yes, outcome=False)

    def _execute_wait_until(self, traces, records_by_trace, outcome):
        records = self._records_of(traces, records_by_trace)
        met = records.filtered_domain(self._domain("condition_domain"))
        yes = traces.filtered(lambda t: records_by_trace[t] in met)
        outcome.done(yes, outcome=True)
        outcome.wait(traces - yes, outcome.now + self._timeout_delta())

    def _execute_score(self, traces, records_by_trace, outcome):
        traces = self._with_partner(traces, outcome)
        if not traces:
            return
        self.env["res.partner"]._add_marketing_score(
            [
                {
                    "partner_id": trace.participant_id.partner_id.id,
                    "points": self.score_points,
                    "description": self.name,
                    "scenario_id": self.scenario_id.id,
                    "step_id": self.id,
                    "trace_id": trace.id,
                }
                for trace in traces
            ]
        )
        outcome.done(traces)

    def _execute_tag_add(self, traces, records_by_trace, outcome):
        traces = self._with_partner(traces, outcome)
        traces.participant_id.partner_id.write(
            {"category_id": [fields.Command.link(tag.id) for tag in self.tag_ids]}
        )
        outcome.done(traces)

    def _execute_tag_remove(self, traces, records_by_trace, outcome):
        traces = self._with_partner(traces, outcome)
        traces.participant_id.partner_id.write(
            {"category_id": [fields.Command.unlink(tag.id) for tag in self.tag_ids]}
        )
        outcome.done(traces)

    def _list_contacts(self, traces, outcome, create):
        """The mailing contacts of the traces' contacts, by trace (matched on e-mail)."""
        traces = self._with_partner(traces, outcome)
        no_email = traces.filtered(lambda t: not t.participant_id.partner_id.email_normalized)
        outcome.skip(no_email, "no_email")
        traces -= no_email
        Contact = self.env["mailing.contact"].sudo()
        emails = set(traces.participant_id.partner_id.mapped("email_normalized"))
        contacts = Contact.search([("email_normalized", "in", list(emails))], order="id")
        by_email = {}
        for contact in contacts:
            by_email.setdefault(contact.email_normalized, contact)
        if create:
            missing = {}
            for trace in traces:
                partner = trace.participant_id.partner_id
                if partner.email_normalized not in by_email:
                    missing.setdefault(partner.email_normalized, partner)
            if missing:
                # no "contact created" message nor follower per contact: thousands of
                # contacts are created per batch
                new_contacts = Contact.with_context(
                    mail_create_nolog=True, mail_create_nosubscribe=True
                ).create(
                    [{"name": partner.name, "email": partner.email} for partner in missing.values()]
                )
                by_email.update(zip(missing, new_contacts, strict=True))
        return {
            trace: by_email.get(trace.participant_id.partner_id.email_normalized, Contact)
            for trace in traces
        }

    def _execute_list_add(self, traces, records_by_trace, outcome):
        contact_by_trace = self._list_contacts(traces, outcome, create=True)
        contacts = self.env["mailing.contact"].sudo().concat(*contact_by_trace.values())
        Subscription = self.env["mailing.subscription"].sudo()
        subscriptions = Subscription.search(
            [("contact_id", "in", contacts.ids), ("list_id", "=", self.mailing_list_id.id)]
        )
        subscribed = {s.contact_id: s for s in subscriptions}
        to_create = contacts.browse({c.id for c in contacts if c not in subscribed})
        Subscription.create(
            [{"contact_id": c.id, "list_id": self.mailing_list_id.id} for c in to_create]
        )
        for trace, contact in contact_by_trace.items():
            subscription = subscribed.get(contact)
            if subscription and subscription.opt_out:
                # the contact unsubscribed from this list: never subscribe them back
                outcome.skip(trace, "opted_out")
            else:
                outcome.done(trace)

    def _execute_list_remove(self, traces, records_by_trace, outcome):
        contact_by_trace = self._list_contacts(traces, outcome, create=False)
        contacts = self.env["mailing.contact"].sudo().concat(*contact_by_trace.values())
        self.env["mailing.subscription"].sudo().search(
            [("contact_id", "in", contacts.ids), ("list_id", "=", self.mailing_list_id.id)]
        ).unlink()
        outcome.done(self.env["marketing.scenario.trace"].concat(*contact_by_trace))

    def _activity_user(self, record, partner):
        if self.activity_user_id:
            return self.activity_user_id
        user_field = record._fields.get("user_id")
        if user_field and user_field.comodel_name == "res.users" and record.user_id:
            return record.user_id
        if partner and partner.user_id:
            return partner.user_id
        return self.scenario_id.user_id or self.env.user

    def _execute_activity(self, traces, records_by_trace, outcome):
        model_id = self.env["ir.model"]._get_id(self.model_name)
        deadline = fields.Date.context_today(self) + relativedelta(days=self.activity_days)
        vals_list = []
        for trace in traces:
            record = records_by_trace[trace]
            vals_list.append(
                {
                    "res_model_id": model_id,
                    "res_id": record.id,
                    "activity_type_id": self.activity_type_id.id,
                    "summary": self.activity_summary or self.name,
                    "note": self.activity_note,
                    "date_deadline": deadline,
                    "user_id": self._activity_user(record, trace.participant_id.partner_id).id,
                }
            )
        self.env["mail.activity"].sudo().create(vals_list)
        outcome.done(traces)

    def _execute_server_action(self, traces, records_by_trace, outcome):
        records = self._records_of(traces, records_by_trace)
        self.server_action_id.with_context(
            active_model=self.model_name, active_ids=records.ids, active_id=records[:1].id
        ).run()
        outcome.done(traces)

    def _execute_mail(self, traces, records_by_trace, outcome):
        """Send through mass_mailing so that tracking, unsubscribe and blacklist apply.

        Mails are queued (``mail.mail``) in this transaction, with their mailing traces
        linked to ours; the mail queue sends them. Skips are read back from the mailing
        traces that mass_mailing cancelled (blacklisted, opted out, invalid e-mail...).
        """
        tests = traces.filtered("is_test")
        real = self._skip_duplicate_addresses(traces - tests, outcome)
        self.mailing_id._send_for_traces(real, records_by_trace)
        for chunk in self._unique_record_chunks(tests, records_by_trace):
            self.mailing_id._send_for_traces(
                chunk, records_by_trace, test_email=self.scenario_id.test_email
            )
        self._read_mail_results(real | tests, outcome)

    @staticmethod
    def _unique_record_chunks(traces, records_by_trace):
        """Split test traces so that a record appears once per chunk (the composer is keyed
        by record)."""
        chunks = []
        for trace in traces:
            record = records_by_trace[trace]
            for chunk in chunks:
                if record.id not in chunk[0]:
                    chunk[0].add(record.id)
                    chunk[1].append(trace)
                    break
            else:
                chunks.append(({record.id}, [trace]))
        return [traces.browse(t.id for t in chunk[1]) for chunk in chunks]

    def _skip_duplicate_addresses(self, traces, outcome):
        """Never mail one address twice for this step at the same time: not twice in a
        batch, and not when another running walk was already sent this step."""
        if not traces:
            return traces
        emails = {
            t: t.participant_id.partner_id.email_normalized
            for t in traces
            if t.participant_id.partner_id.email_normalized
        }
        already = set()
        if emails:
            self.env.flush_all()
            # From the addresses of the batch (mailing.trace's index on the e-mails of
            # scenario mails), then each mail's trace and walk by primary key: never from
            # the step's traces or the running walks, which grow with the audience (with
            # stale statistics PostgreSQL would scan them: O(N) per batch). The LATERAL
            # ... LIMIT 1 and the scalar subquery cannot be flattened: the plan stays.
            self.env.cr.execute(
                SQL(
                    """
                    SELECT DISTINCT mt.email
                      FROM mailing_trace mt
                      CROSS JOIN LATERAL (
                          SELECT 1
                            FROM marketing_scenario_trace t
                           WHERE t.id = mt.marketing_trace_id AND t.step_id = %s
                             AND t.is_test IS NOT TRUE
                             AND (SELECT p.state FROM marketing_scenario_participant p
                                   WHERE p.id = t.participant_id) = 'running'
                           LIMIT 1
                      ) AS walking
                     WHERE mt.marketing_trace_id IS NOT NULL AND mt.email = ANY(%s)
                       AND mt.trace_status NOT IN ('cancel', 'error')
                    """,
                    self.id,
                    list(set(emails.values())),
                )
            )
            already = {row[0] for row in self.env.cr.fetchall()}
        duplicates = traces.browse()
        for trace in traces:
            email = emails.get(trace)
            if not email:
                continue
            if email in already:
                duplicates |= trace
            already.add(email)
        outcome.skip(duplicates, "duplicate")
        return traces - duplicates

    def _read_mail_results(self, traces, outcome):
        if not traces:
            return
        mails = (
            self.env["mailing.trace"]
            .sudo()
            .search_fetch(
                [("marketing_trace_id", "in", traces.ids)],
                ["marketing_trace_id", "trace_status", "failure_type", "failure_reason"],
            )
        )
        mail_by_trace = {m.marketing_trace_id.id: m for m in mails}
        for trace in traces:
            mail = mail_by_trace.get(trace.id)
            if not mail:
                outcome.fail(trace, self.env._("No mail was generated for this record."))
            elif mail.trace_status == "cancel":
                code = MAIL_FAILURE_REASONS.get(mail.failure_type, "mail_canceled")
                outcome.skip(trace, code, mail.failure_reason or mail.failure_type)
            elif mail.trace_status == "error":
                outcome.fail(trace, mail.failure_reason or mail.failure_type or "error")
            else:
                outcome.done(trace)
