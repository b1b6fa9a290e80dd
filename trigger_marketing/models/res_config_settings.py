from odoo import api, fields, models
from odoo.exceptions import ValidationError


class ResConfigSettings(models.TransientModel):
    """The "Trigger Marketing" block of the settings; other parts of the module add their
    defaults to it (send windows, score decay, abandoned carts)."""

    _inherit = "res.config.settings"

    trigger_marketing_batch_size = fields.Integer(
        string="Processing batch size",
        config_parameter="trigger_marketing.batch_size",
        default=500,
        help="How many steps (or audience records) the background jobs handle per committed "
        "batch. Smaller batches show progress sooner; larger ones go faster.",
    )

    @api.constrains("trigger_marketing_batch_size")
    def _check_trigger_marketing_batch_size(self):
        for settings in self:
            if not 1 <= settings.trigger_marketing_batch_size <= 100000:
                raise ValidationError(
                    self.env._("The processing batch size must be between 1 and 100,000.")
                )
