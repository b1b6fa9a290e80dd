from odoo import api, models

from .marketing_score_rule import MAIL_SCORE_EVENTS


class LinkTrackerClick(models.Model):
    """Every click of a tracked mail reaches the engine with its URL ("clicked this
    link" branches) and its request (machine or person): recorded as every mail event
    (``marketing.mail.event``). mass_mailing's open and click of the trace that the
    click implies are not recorded apart: the engine takes a person's click as an open.
    """

    _inherit = "link.tracker.click"

    @api.model
    def add_click(self, code, **route_values):
        click = super(LinkTrackerClick, self.with_context(trigger_marketing_click=True)).add_click(
            code, **route_values
        )
        mail = click.mailing_trace_id if click else None
        if mail and (
            mail.marketing_trace_id
            or self.env["marketing.score.rule"]._has_rules(MAIL_SCORE_EVENTS)
        ):
            self.env["marketing.mail.event"].sudo()._record(
                [(mail.id, "click", True, click.link_id.url)]
            )
        return click.with_env(self.env) if click else click
