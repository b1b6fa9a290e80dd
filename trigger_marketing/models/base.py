from odoo import api, models


class Base(models.AbstractModel):
    """Creates, writes and deletes of records that a running goal or wait-until condition
    reads through a path (the orders of a contact, the stage of a lead...).

    Costs a cached lookup and no query on the models that no such path reaches
    (``marketing.scenario._related_watch_map``). The target models themselves are
    watched by the ``mail.thread`` hooks.
    """

    _inherit = "base"

    def _trigger_marketing_related_watch(self):
        env = self.env
        if (
            not env.registry.ready
            or "marketing.scenario" not in env
            or env.context.get("trigger_marketing_skip")
        ):
            return None
        return env["marketing.scenario"]._related_watch_map().get(self._name)

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        watch = records._trigger_marketing_related_watch()
        if watch:
            Scenario = self.env["marketing.scenario"].sudo()
            Scenario._on_related_targets_changed(Scenario._related_targets(records, watch["all"]))
        return records

    def write(self, vals):
        res = super().write(vals)
        watch = self and self._trigger_marketing_related_watch()
        if watch:
            watches = set()
            for fname in vals:
                watches |= watch["fields"].get(fname, frozenset())
            if watches:
                Scenario = self.env["marketing.scenario"].sudo()
                Scenario._on_related_targets_changed(Scenario._related_targets(self, watches))
        return res

    def unlink(self):
        watch = self and self._trigger_marketing_related_watch()
        if not watch:
            return super().unlink()
        Scenario = self.env["marketing.scenario"].sudo()
        targets = Scenario._related_targets(self, watch["all"])
        res = super().unlink()
        Scenario._on_related_targets_changed(targets)
        return res
