from collections import defaultdict

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from .marketing_scenario_step import BRANCH_TRIGGERS, BRANCHING_ACTIONS


class MarketingScenarioStep(models.Model):
    """What a step did (real participants only) and, before going live, would do."""

    _inherit = "marketing.scenario.step"

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
    stat_opened = fields.Integer(
        string="Opened",
        compute="_compute_statistics",
        help="E-mails opened by a person (a click opens too); machines' opens do not count.",
    )
    stat_clicked = fields.Integer(
        string="Clicked",
        compute="_compute_statistics",
        help="E-mails clicked by a person; security scanners' clicks do not count.",
    )
    stat_machine_opens = fields.Integer(
        string="Machine opens",
        compute="_compute_statistics",
        help="Opens made by machines (mail privacy proxies, security scanners, robots): "
        "counted apart, they neither wake branches nor score.",
    )
    stat_machine_clicks = fields.Integer(
        string="Machine clicks",
        compute="_compute_statistics",
        help="Clicks made by security scanners and robots: counted apart, they neither wake "
        "branches nor score.",
    )
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
    # Statistics
    # ------------------------------------------------------------

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
            for step_id, figures in Trace._mail_figures(base, "step_id").items():
                stats[step_id].update(figures)
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
            step.stat_machine_opens = st["machine_opens"]
            step.stat_machine_clicks = st["machine_clicks"]
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

    # ------------------------------------------------------------
    # Preview before going live
    # ------------------------------------------------------------

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
