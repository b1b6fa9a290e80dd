from odoo import api, fields, models


class MarketingScenarioTrace(models.Model):
    """Measures of the graph and pivot views of traces: e-mail rates that a pivot can
    average (100 for an opened e-mail, 0 for one that was not), read with the filter
    "E-mail sent" so that each average is a rate of the sent e-mails."""

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
