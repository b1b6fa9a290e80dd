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

    trigger_marketing_cap_per_day = fields.Integer(
        string="E-mails per contact per day",
        config_parameter="trigger_marketing.cap_per_day",
        help="At most this many marketing e-mails of scenarios per contact in 24 hours, all "
        "scenarios together; more are deferred to the contact's next free slot (never "
        "dropped). 0: no cap. Transactional e-mails are exempt.",
    )
    trigger_marketing_cap_per_week = fields.Integer(
        string="E-mails per contact per week",
        config_parameter="trigger_marketing.cap_per_week",
        help="At most this many marketing e-mails of scenarios per contact in 7 days. 0: no cap.",
    )

    @api.constrains("trigger_marketing_cap_per_day", "trigger_marketing_cap_per_week")
    def _check_trigger_marketing_caps(self):
        for settings in self:
            for cap in (
                settings.trigger_marketing_cap_per_day,
                settings.trigger_marketing_cap_per_week,
            ):
                if not 0 <= cap <= 1000:
                    raise ValidationError(
                        self.env._("A frequency cap is a number of e-mails from 0 (none) to 1,000.")
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
