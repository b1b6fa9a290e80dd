from odoo import api, models

from .marketing_scenario_step import COUPON_QWEB


class MarketingScenario(models.Model):
    _inherit = "marketing.scenario"

    @api.model
    def _template_has_coupon(self):
        return True

    @api.model
    def _template_coupon(self):
        """The ready-made scenarios give a real coupon: a single-use code of the coupon
        program "10 % to come back" (created the first time, then reused; the marketer
        may change its discount or pick another program on the step)."""
        program = self.env.ref(
            "trigger_marketing_loyalty.loyalty_program_comeback", raise_if_not_found=False
        )
        if not program:
            program = self._template_coupon_program()
        return {"step": {"coupon_program_id": program.id}, "code": COUPON_QWEB}

    @api.model
    def _template_coupon_program(self):
        """A coupon program of Odoo's loyalty app: 10 % off the order, one use per code,
        no e-mail of its own (the scenario's e-mail carries the code)."""
        program = (
            self.env["loyalty.program"]
            .sudo()
            .create(
                {
                    "name": self.env._("10 % to come back (scenarios)"),
                    "program_type": "coupons",
                    "applies_on": "current",
                    "trigger": "with_code",
                    "communication_plan_ids": [(5, 0, 0)],
                    "reward_ids": [
                        (5, 0, 0),
                        (
                            0,
                            0,
                            {
                                "reward_type": "discount",
                                "discount": 10,
                                "discount_mode": "percent",
                                "discount_applicability": "order",
                                "required_points": 1,
                            },
                        ),
                    ],
                }
            )
        )
        self.env["ir.model.data"].sudo().create(
            {
                "module": "trigger_marketing_loyalty",
                "name": "loyalty_program_comeback",
                "model": "loyalty.program",
                "res_id": program.id,
                "noupdate": True,
            }
        )
        return program
