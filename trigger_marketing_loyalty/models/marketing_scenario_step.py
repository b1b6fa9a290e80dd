from odoo import api, fields, models
from odoo.exceptions import ValidationError

from odoo.addons.trigger_marketing.tools import contacts

# how the e-mail prints the contact's own code
COUPON_QWEB = "<t t-out=\"marketing_coupon.get(object.id, '')\"/>"


class MarketingScenarioStep(models.Model):
    """E-mail steps that give each recipient a single-use code of a coupon program."""

    _inherit = "marketing.scenario.step"

    coupon_program_id = fields.Many2one(
        "loyalty.program",
        string="Coupon",
        domain=[("program_type", "=", "coupons")],
        ondelete="restrict",
        help="Each recipient of this e-mail gets a new single-use code of this coupon "
        "program (Sales > Products > Discount & Loyalty), shown in the e-mail where it says "
        + COUPON_QWEB
        + ". The shop accepts it once.",
    )

    @api.constrains("coupon_program_id", "action_type")
    def _check_coupon_program(self):
        for step in self:
            if step.coupon_program_id and step.action_type != "mail":
                raise ValidationError(
                    self.env._("Step %(step)s: only an e-mail can give a coupon.", step=step.name)
                )

    def _execute_mail(self, traces, records_by_trace, results):
        if self.coupon_program_id and traces:
            self._create_coupons(traces, records_by_trace)
        return super()._execute_mail(traces, records_by_trace, results)

    def _create_coupons(self, traces, records_by_trace):
        """One coupon per trace of the batch, for the record's contact, in one create.

        Odoo's own "coupon created" e-mail is not sent (``loyalty_no_mail``): the code
        goes in the scenario's e-mail. Test walks get codes too (the marketer checks the
        e-mail as contacts will see it); they are single-use codes like the others.
        """
        records = self.env[self.model_name].browse([records_by_trace[t].id for t in traces])
        partner_ids = contacts.partner_ids_of(records, self.scenario_id._partner_field())
        program = self.coupon_program_id
        points = min(program.reward_ids.mapped("required_points") or [1.0])
        self.env["loyalty.card"].sudo().with_context(loyalty_no_mail=True).create(
            [
                {
                    "program_id": program.id,
                    "partner_id": partner_id or False,
                    "points": points,
                    "marketing_trace_id": trace.id,
                }
                for trace, partner_id in zip(traces, partner_ids, strict=True)
            ]
        )
