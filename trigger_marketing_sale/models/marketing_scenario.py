from odoo import api, models


class MarketingScenario(models.Model):
    _inherit = "marketing.scenario"

    @api.model
    def _scenario_templates(self):
        return [
            *super()._scenario_templates(),
            {
                "code": "offer_ending",
                "name": self.env._("Quotation expires soon"),
                "description": self.env._(
                    "3 days before a quotation expires: remind the customer with a link to "
                    "the quotation online; if the mail is not opened within 2 days, the "
                    "salesperson gets a call to make. Ends as soon as the order is confirmed."
                ),
                "model": "sale.order",
            },
        ]

    @api.model
    def _template_offer_ending(self):
        _ = self.env._
        return self._template_create(
            {
                "name": _("Quotation expires soon"),
                "model": "sale.order",
                **self._template_trigger_values(
                    "date", model="sale.order", date_field="validity_date", offset=-3
                ),
                "domain": "[('state', 'in', ('draft', 'sent')), ('validity_date', '!=', False)]",
                "goal_domain": "[('state', '=', 'sale')]",
                "reentry": "never",
            },
            [
                {
                    "name": _("Expires soon"),
                    "mail": (
                        _("Your quotation expires soon"),
                        self._template_mail_html(
                            _("Your quotation expires soon"),
                            [
                                _(
                                    "Your quotation is valid for a few more days only. Review "
                                    "it and confirm it online in one click."
                                )
                            ],
                            button=(_("View my quotation"), "object.get_portal_url()"),
                            greeting="object.partner_id.name",
                        ),
                    ),
                    "children": [
                        {
                            "name": _("Call before it expires"),
                            "trigger_type": "mail_not_open",
                            "delay": 2,
                            "delay_unit": "days",
                            "action_type": "activity",
                            "activity_type_id": self.env.ref("mail.mail_activity_data_call").id,
                            "activity_summary": _("Quotation expires tomorrow: call the customer"),
                            "activity_days": 0,
                        }
                    ],
                }
            ],
        )
