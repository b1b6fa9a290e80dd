from odoo import api, fields, models
from odoo.exceptions import ValidationError

from .res_partner_score import DEFAULT_HOT, DEFAULT_WARM


class ResConfigSettings(models.TransientModel):
    """The "Trigger Marketing" app of the settings: processing, lead score, send windows."""

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

    marketing_score_warm = fields.Integer(
        string="Warm from",
        config_parameter="trigger_marketing.score_warm",
        default=DEFAULT_WARM,
        help="A contact is warm from this score on.",
    )
    marketing_score_hot = fields.Integer(
        string="Hot from",
        config_parameter="trigger_marketing.score_hot",
        default=DEFAULT_HOT,
        help="A contact is hot from this score on.",
    )
    marketing_score_decay = fields.Boolean(
        string="Score decay",
        config_parameter="trigger_marketing.score_decay",
        help="Lower every positive score regularly, so that old behaviour weighs less.",
    )
    marketing_score_decay_percent = fields.Integer(
        string="Decay (%)",
        config_parameter="trigger_marketing.score_decay_percent",
        default=10,
    )
    marketing_score_decay_period = fields.Selection(
        [
            ("week", "Every week"),
            ("month", "Every month"),
            ("quarter", "Every quarter"),
            ("year", "Every year"),
        ],
        string="Decay period",
        config_parameter="trigger_marketing.score_decay_period",
        default="month",
    )

    @api.constrains("marketing_score_warm", "marketing_score_hot")
    def _check_marketing_score_bands(self):
        for settings in self:
            if not 0 < settings.marketing_score_warm < settings.marketing_score_hot:
                raise ValidationError(
                    self.env._(
                        "Score bands: the warm threshold must be above 0 and below the hot "
                        "threshold."
                    )
                )

    @api.constrains("marketing_score_decay", "marketing_score_decay_percent")
    def _check_marketing_score_decay(self):
        for settings in self:
            if settings.marketing_score_decay and not (
                0 < settings.marketing_score_decay_percent <= 100
            ):
                raise ValidationError(
                    self.env._("Score decay: the percentage must be between 1 and 100.")
                )

    def set_values(self):
        Partner = self.env["res.partner"]
        before = Partner._marketing_score_thresholds()
        res = super().set_values()
        if Partner._marketing_score_thresholds() != before:
            Partner._marketing_recompute_bands()
        return res
