from odoo import api, models


class MailThread(models.AbstractModel):
    """Real-time entry, goal and wait-until for every ``mail.thread`` model.

    Hooked on ``mail.thread`` rather than patched per model at registry load (as
    ``base_automation`` does): it needs no registry reload when a scenario changes,
    survives other modules' patches, and costs no query on models that no running
    scenario targets (the list of scenarios per model is cached).
    """

    _inherit = "mail.thread"

    def _trigger_marketing_enabled(self):
        return (
            self.env.registry.ready
            and not self._name.startswith("marketing.")
            and not self.env.context.get("trigger_marketing_skip")
            and "marketing.scenario" in self.env
        )

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        if self._trigger_marketing_enabled():
            self.env["marketing.scenario"].sudo()._on_records_created(records)
        return records

    def write(self, vals):
        if not (self and self._trigger_marketing_enabled()):
            return super().write(vals)
        Scenario = self.env["marketing.scenario"].sudo()
        watched = Scenario._watched_by_write(self._name, vals)
        if not watched:
            return super().write(vals)
        not_matching_before = Scenario._records_not_matching(self, watched)
        res = super().write(vals)
        Scenario._on_records_written(self, watched, not_matching_before)
        return res

    def unlink(self):
        if self and self._trigger_marketing_enabled():
            Scenario = self.env["marketing.scenario"].sudo()
            if Scenario._scenario_cache(self._name)["live"]:
                self.env["marketing.scenario.participant"].sudo()._on_records_deleted(self)
        return super().unlink()
