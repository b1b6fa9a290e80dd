from collections import defaultdict

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL


class MarketingScenario(models.Model):
    """What a scenario did and would do: participants, e-mails, revenue, preview."""

    _inherit = "marketing.scenario"

    participant_count = fields.Integer(compute="_compute_participant_stats")
    running_count = fields.Integer(compute="_compute_participant_stats")
    converted_count = fields.Integer(compute="_compute_participant_stats")
    conversion_rate = fields.Float(compute="_compute_participant_stats")
    # e-mail results of the whole scenario (real participants only)
    sent_count = fields.Integer(string="Sent", compute="_compute_mail_stats")
    opened_count = fields.Integer(
        string="Opened",
        compute="_compute_mail_stats",
        help="E-mails opened by a person (a click opens too); machines' opens do not count.",
    )
    clicked_count = fields.Integer(
        string="Clicked",
        compute="_compute_mail_stats",
        help="E-mails clicked by a person; security scanners' clicks do not count.",
    )
    machine_open_count = fields.Integer(
        string="Machine opens",
        compute="_compute_mail_stats",
        help="Opens made by machines (mail privacy proxies, security scanners, robots): "
        "counted apart, they neither wake branches nor score.",
    )
    machine_click_count = fields.Integer(
        string="Machine clicks",
        compute="_compute_mail_stats",
        help="Clicks made by security scanners and robots: counted apart, they neither wake "
        "branches nor score.",
    )
    open_rate = fields.Float(string="Open rate", compute="_compute_mail_stats")
    click_rate = fields.Float(string="Click rate", compute="_compute_mail_stats")
    recipient_count = fields.Integer(
        string="Recipients",
        compute="_compute_mail_stats",
        help="Participants who were sent at least one e-mail.",
    )
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
    revenue_per_recipient = fields.Monetary(
        string="Revenue per recipient",
        compute="_compute_revenue_per_recipient",
        currency_field="revenue_currency_id",
        help="Revenue of the converted records divided by the participants who were sent at "
        "least one e-mail.",
    )
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

    # ------------------------------------------------------------
    # Participants and e-mails
    # ------------------------------------------------------------

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

    def _compute_mail_stats(self):
        """Sent, opened and clicked e-mails (people's), machines' opens and clicks, and
        recipients of real participants: two queries for all."""
        stats = defaultdict(lambda: defaultdict(int))
        scenario_ids = [sid for sid in self._origin.ids if sid]
        if scenario_ids:
            stats.update(
                self.env["marketing.scenario.trace"]._mail_figures(
                    [("scenario_id", "in", scenario_ids)], "scenario_id"
                )
            )
            for scenario, recipients in self.env["marketing.scenario.trace"]._read_group(
                [
                    ("scenario_id", "in", scenario_ids),
                    ("is_test", "=", False),
                    ("mail_sent_at", "!=", False),
                ],
                ["scenario_id"],
                ["participant_id:count_distinct"],
            ):
                stats[scenario.id]["recipients"] = recipients
        for scenario in self:
            st = stats[scenario._origin.id]
            scenario.recipient_count = st["recipients"]
            scenario.sent_count = st["sent"]
            scenario.opened_count = st["opened"]
            scenario.clicked_count = st["clicked"]
            scenario.machine_open_count = st["machine_opens"]
            scenario.machine_click_count = st["machine_clicks"]
            scenario.open_rate = 100.0 * st["opened"] / st["sent"] if st["sent"] else 0.0
            scenario.click_rate = 100.0 * st["clicked"] / st["sent"] if st["sent"] else 0.0

    def action_view_mail_analysis(self):
        """Graph and pivot of the e-mail rates, filtered on this scenario (from the menu:
        on the scenario started last; the filter is a facet the marketer can remove)."""
        scenario = self[:1] or self.search(
            [("state", "in", ("running", "paused", "stopped")), ("date_start", "!=", False)],
            order="date_start desc",
            limit=1,
        )
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "trigger_marketing.marketing_scenario_trace_action_mail_analysis"
        )
        context = {"search_default_filter_real": 1, "search_default_filter_mail_sent": 1}
        if scenario:
            context["search_default_scenario_id"] = scenario.id
            action["display_name"] = self.env._("E-mail results of %s", scenario.name)
        action["context"] = context
        return action

    # ------------------------------------------------------------
    # Revenue of the converted records
    # ------------------------------------------------------------

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

    def _revenue_amounts(self):
        """``{scenario id: [(currency id, amount)]}``: what the converted walks brought.

        Here, generic over the target model: the ``amount_total`` of the converted
        records (orders...), one query per target model whatever the number of scenarios.
        Bridges add other sources (the sale bridge: orders of converted contacts).
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
        return sums

    def _compute_converted_revenue(self):
        """Revenue of the converted walks (``_revenue_amounts``), converted at today's rate
        into the currency of the scenario's company."""
        sums = self._revenue_amounts()
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

    def _compute_revenue_per_recipient(self):
        for scenario in self:
            recipients = scenario.recipient_count
            scenario.revenue_per_recipient = (
                scenario.converted_revenue / recipients if recipients else 0.0
            )

    # ------------------------------------------------------------
    # Preview before going live
    # ------------------------------------------------------------

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
