from odoo import fields, models


class CrmLead(models.Model):
    """The score lives on the contact (res.partner): a lead shows its contact's score
    and band, always current, with no copy to keep in sync. Related fields are
    searchable: "hot leads" filters work on leads too."""

    _inherit = "crm.lead"

    marketing_score = fields.Integer(related="partner_id.marketing_score", string="Lead score")
    marketing_score_band = fields.Selection(
        related="partner_id.marketing_score_band", string="Score band"
    )
