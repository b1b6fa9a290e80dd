from odoo import api, models
from odoo.tools import SQL

# Fields whose concurrent edits could together break what each edit checks alone: two
# transactions moving two steps under each other (a cycle), one turning an e-mail step
# into a wait while the other adds an "opened" branch under it...
TREE_FIELDS = {"parent_id", "scenario_id", "action_type", "trigger_type", "active"}


class MarketingScenarioStep(models.Model):
    """Edits of a scenario's tree are serialized per scenario.

    Each constraint of the tree is checked in the snapshot of its own transaction: two
    concurrent edits that are each valid could commit together into an invalid tree.
    An edit of the tree first touches its scenario's row: the second of two concurrent
    edits waits for the first, then fails with a serialization error (Odoo retries the
    request), and its retry sees the first edit and is checked against it.
    """

    _inherit = "marketing.scenario.step"

    @api.model_create_multi
    def create(self, vals_list):
        self._touch_scenarios({vals.get("scenario_id") for vals in vals_list})
        return super().create(vals_list)

    def write(self, vals):
        if TREE_FIELDS.intersection(vals):
            self._touch_scenarios({*self.scenario_id.ids, vals.get("scenario_id")})
        return super().write(vals)

    def _touch_scenarios(self, scenario_ids):
        scenario_ids = sorted(sid for sid in scenario_ids if sid)
        if scenario_ids:
            self.env.cr.execute(
                SQL(
                    "UPDATE marketing_scenario SET write_date = write_date WHERE id = ANY(%s)",
                    scenario_ids,
                )
            )
