from datetime import timedelta

from odoo import api, fields, models

# Accepted event ids are kept this long: a replay within it is recognised and ignored.
EVENT_RETENTION = timedelta(days=365)


class MarketingScenarioEvent(models.Model):
    """An event accepted by the HTTP endpoint of a scenario.

    The unique constraint on (scenario, event id) makes a replay of the same event do
    nothing, even when two copies arrive at the same time.
    """

    _name = "marketing.scenario.event"
    _description = "Scenario Event Received"
    _order = "id desc"
    _rec_name = "event_id"

    scenario_id = fields.Many2one(
        "marketing.scenario", required=True, ondelete="cascade", index=True, readonly=True
    )
    company_id = fields.Many2one("res.company", index=True, readonly=True)
    event_id = fields.Char(string="Event ID", required=True, readonly=True)
    name = fields.Char(string="Event", readonly=True)
    email = fields.Char(readonly=True)
    res_id = fields.Integer(string="Record ID", readonly=True)
    participant_id = fields.Many2one(
        "marketing.scenario.participant",
        ondelete="set null",
        readonly=True,
        help="Empty when the record did not enter (audience, goal or re-entry policy).",
    )

    _scenario_event_unique = models.Constraint(
        "UNIQUE(scenario_id, event_id)",
        "This event was already received by this scenario.",
    )

    @api.autovacuum
    def _gc_events(self):
        self.search([("create_date", "<", fields.Datetime.now() - EVENT_RETENTION)]).unlink()
