from odoo import api, models


class LinkTrackerClick(models.Model):
    """Clicks reach the scenario with the URL clicked ("clicked this link" branches):
    recorded for the engine, as every mail event (``marketing.mail.event``)."""

    _inherit = "link.tracker.click"

    @api.model
    def add_click(self, code, **route_values):
        click = super().add_click(code, **route_values)
        if click and click.mailing_trace_id.marketing_trace_id:
            self.env["marketing.mail.event"].sudo()._record(
                [(click.mailing_trace_id.id, "click", False, click.link_id.url)]
            )
        return click
