from collections import defaultdict

from odoo import api, fields, models

# the e-mail figures of traces (people's opens, clicks and replies; machines' apart)
MAIL_FIGURES = ("sent", "opened", "clicked", "replied", "machine_opens", "machine_clicks")


class MarketingScenarioTrace(models.Model):
    """The e-mail figures of traces: counted for the scenario, its steps and its
    versions (``_mail_figures``), and as measures of the graph and pivot views: rates
    that a pivot can average (100 for an opened e-mail, 0 for one that was not), read
    with the filter "E-mail sent" so that each average is a rate of the sent e-mails."""

    _inherit = "marketing.scenario.trace"

    mail_sent_count = fields.Integer(
        string="E-mails sent", compute="_compute_mail_rates", store=True, aggregator="sum"
    )
    mail_open_rate = fields.Float(
        string="Open rate (%)", compute="_compute_mail_rates", store=True, aggregator="avg"
    )
    mail_click_rate = fields.Float(
        string="Click rate (%)", compute="_compute_mail_rates", store=True, aggregator="avg"
    )
    mail_reply_rate = fields.Float(
        string="Reply rate (%)", compute="_compute_mail_rates", store=True, aggregator="avg"
    )

    @api.depends("mail_sent_at", "mail_opened_at", "mail_clicked_at", "mail_replied_at")
    def _compute_mail_rates(self):
        for trace in self:
            trace.mail_sent_count = 1 if trace.mail_sent_at else 0
            trace.mail_open_rate = 100.0 if trace.mail_opened_at else 0.0
            trace.mail_click_rate = 100.0 if trace.mail_clicked_at else 0.0
            trace.mail_reply_rate = 100.0 if trace.mail_replied_at else 0.0

    @api.model
    def _mail_figures(self, domain, groupby):
        """The e-mail figures of the real traces of ``domain`` by ``groupby`` (a
        many2one): ``{group id: {figure: count}}``, the figures of ``MAIL_FIGURES`` and
        ``bounced``. One query; the one count behind every e-mail figure on screen."""
        figures = defaultdict(lambda: defaultdict(int))
        for group, status, count, *values in self._read_group(
            [*domain, ("is_test", "=", False), ("mail_status", "!=", False)],
            [groupby, "mail_status"],
            [
                "__count",
                "mail_sent_at:count",
                "mail_opened_at:count",
                "mail_clicked_at:count",
                "mail_replied_at:count",
                "mail_machine_opens:sum",
                "mail_machine_clicks:sum",
            ],
        ):
            counts = figures[group.id]
            for name, value in zip(MAIL_FIGURES, values, strict=True):
                counts[name] += value or 0
            if status == "bounce":
                counts["bounced"] += count
        return figures
