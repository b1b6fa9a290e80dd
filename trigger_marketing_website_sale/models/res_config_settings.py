from odoo import fields, models

from odoo.addons.trigger_marketing.tools.bounds import MAX_CART_HOURS

from .marketing_scenario import HOURS_PARAM


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    trigger_marketing_cart_abandoned_hours = fields.Float(
        string="Cart abandoned after (hours)",
        config_parameter=HOURS_PARAM,
        default=1.0,
        help="Default delay of new cart-abandonment scenarios: a cart is abandoned when it "
        "has not changed for this long.",
    )
    trigger_marketing_cart_scenario_ids = fields.Many2many(
        related="website_id.trigger_marketing_cart_scenario_ids"
    )

    def _marketing_bounds(self):
        kind, numbers, texts = super()._marketing_bounds()
        return (
            kind,
            [*numbers, ("trigger_marketing_cart_abandoned_hours", 0, MAX_CART_HOURS)],
            texts,
        )

    def action_trigger_marketing_cart_scenarios(self):
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "trigger_marketing.marketing_scenario_action"
        )
        action["domain"] = [("trigger", "=", "cart_abandoned")]
        action["context"] = {"default_trigger": "cart_abandoned"}
        return action
