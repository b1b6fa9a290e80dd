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
