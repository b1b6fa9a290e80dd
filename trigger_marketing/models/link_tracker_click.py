from odoo import api, models


class LinkTrackerClick(models.Model):
    """Clicks reach the scenario with the URL clicked ("clicked this link" branches)."""

    _inherit = "link.tracker.click"

    @api.model
    def add_click(self, code, **route_values):
        click = super().add_click(code, **route_values)
        if click and click.mailing_trace_id.marketing_trace_id:
            click.mailing_trace_id.marketing_trace_id.sudo()._on_mail_event(
                "click", url=click.link_id.url
            )
        return click
