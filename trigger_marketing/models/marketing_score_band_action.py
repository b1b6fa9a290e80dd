from odoo import api, fields, models
from odoo.exceptions import ValidationError

# Score bands, lowest first. Thresholds are settings (see res.config.settings).
BANDS = [
    ("cold", "Cold"),
    ("warm", "Warm"),
    ("hot", "Hot"),
]
BAND_RANK = {band: rank for rank, (band, _label) in enumerate(BANDS)}


class MarketingScoreBandAction(models.Model):
    """What happens when a contact's score enters a band from below: tags, a mailing
    list, a scenario.

    Only upward crossings act: a contact cooling down from hot to warm changes band but
    starts nothing (optionally, the tags of the band it left are removed). A contact
    jumping several bands at once gets the actions of the band it lands in only.
    """

    _name = "marketing.score.band.action"
    _description = "Score Band Action"
    _order = "band, sequence, id"

    name = fields.Char(required=True, translate=True)
    active = fields.Boolean(default=True)
    sequence = fields.Integer(default=10)
    band = fields.Selection(
        [band for band in BANDS if band[0] != "cold"],
        required=True,
        default="hot",
        help="Acts when the contact's score enters this band from a lower one.",
    )
    tag_ids = fields.Many2many("res.partner.category", string="Add tags")
    remove_tags_below = fields.Boolean(
        string="Remove the tags when the contact falls below the band",
        help="When the score falls below this band (decay, bounces...), remove these tags "
        "again so that they always mean 'currently in this band'.",
    )
    mailing_list_id = fields.Many2one(
        "mailing.list",
        string="Subscribe to",
        ondelete="restrict",
        help="Subscribe the contact to this mailing list (never back after an opt-out).",
    )
    scenario_id = fields.Many2one(
        "marketing.scenario",
        string="Start scenario",
        ondelete="restrict",
        domain=[("model_name", "=", "res.partner")],
        help="Enter the contact in this scenario (a running one, targeting contacts).",
    )

    @api.constrains("band", "tag_ids", "mailing_list_id", "scenario_id")
    def _check_action(self):
        for action in self:
            if not (action.tag_ids or action.mailing_list_id or action.scenario_id):
                raise ValidationError(
                    self.env._(
                        "Band action %(name)s does nothing: add tags, a mailing list or a "
                        "scenario.",
                        name=action.name,
                    )
                )
            if action.scenario_id and action.scenario_id.model_name != "res.partner":
                raise ValidationError(
                    self.env._(
                        "Band action %(name)s: scenario %(scenario)s does not target contacts.",
                        name=action.name,
                        scenario=action.scenario_id.name,
                    )
                )

    @api.model
    def _run_crossings(self, crossings):
        """Run the band actions for ``crossings`` = {partner_id: (old_band, new_band)}.

        Set-based: one search for the actions, then one write, one subscription and one
        enrolment per action, whatever the number of contacts.
        """
        up, down = {}, {}
        for partner_id, (old, new) in crossings.items():
            if BAND_RANK[new] > BAND_RANK[old]:
                up.setdefault(new, []).append(partner_id)
            elif BAND_RANK[new] < BAND_RANK[old]:
                for band, rank in BAND_RANK.items():
                    if BAND_RANK[new] < rank <= BAND_RANK[old]:
                        down.setdefault(band, []).append(partner_id)
        if not up and not any(down.values()):
            return
        actions = self.sudo().search([("band", "in", list(set(up) | set(down)))])
        Partner = self.env["res.partner"].sudo()
        for action in actions:
            if action.band in up:
                partners = Partner.browse(up[action.band])
                if action.tag_ids:
                    partners.write(
                        {"category_id": [fields.Command.link(t.id) for t in action.tag_ids]}
                    )
                if action.mailing_list_id:
                    partners._marketing_list_subscribe(action.mailing_list_id)
                if action.scenario_id and action.scenario_id.state == "running":
                    action.scenario_id._react(action.scenario_id.enroll, partners)
            if action.band in down and action.remove_tags_below and action.tag_ids:
                Partner.browse(down[action.band]).write(
                    {"category_id": [fields.Command.unlink(t.id) for t in action.tag_ids]}
                )
