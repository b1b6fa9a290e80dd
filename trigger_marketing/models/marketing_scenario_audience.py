from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.fields import Domain


class MarketingScenario(models.Model):
    """Records added by hand: the whole current audience in the background, and the
    "Add to scenario" action of every target model."""

    _inherit = "marketing.scenario"

    # adding the whole audience, in the background
    enroll_pending = fields.Boolean(
        string="Adding the audience",
        copy=False,
        readonly=True,
        help="The audience is being added in the background.",
    )
    enroll_todo = fields.Integer(string="Audience to add", copy=False, readonly=True)
    enroll_done = fields.Integer(string="Audience checked", copy=False, readonly=True)
    enroll_added = fields.Integer(string="Audience added", copy=False, readonly=True)
    enroll_last_id = fields.Integer(copy=False, readonly=True)
    enroll_progress = fields.Float(string="Progress", compute="_compute_enroll_progress")

    # ------------------------------------------------------------
    # The whole audience, in the background
    # ------------------------------------------------------------

    @api.depends("enroll_todo", "enroll_done", "enroll_pending")
    def _compute_enroll_progress(self):
        for scenario in self:
            if scenario.enroll_todo:
                scenario.enroll_progress = min(
                    100.0, 100.0 * scenario.enroll_done / scenario.enroll_todo
                )
            else:
                scenario.enroll_progress = 0.0 if scenario.enroll_pending else 100.0

    def action_enroll_audience(self):
        """Add every record that matches the audience now, in the background.

        A cron adds them batch after batch (``_cron_enroll_audience``), each committed
        with its progress, so that 100,000 records neither block the marketer's screen
        nor hit the request time limit. The form shows the progress.
        """
        for scenario in self:
            if scenario.state != "running":
                raise UserError(
                    self.env._(
                        "Start scenario %(name)s before adding its audience.", name=scenario.name
                    )
                )
            if not scenario.step_ids:
                raise UserError(
                    self.env._("Scenario %(name)s has no step yet.", name=scenario.name)
                )
        for scenario in self:
            todo = self.env[scenario.model_name].sudo().search_count(scenario._audience_domain())
            scenario.write(
                {
                    "enroll_pending": True,
                    "enroll_todo": todo,
                    "enroll_done": 0,
                    "enroll_added": 0,
                    "enroll_last_id": 0,
                }
            )
        self.env.ref("trigger_marketing.ir_cron_scenario_enroll")._trigger()
        return True

    def _enroll_audience_batch(self, limit):
        """Add the next ``limit`` records of the audience (by increasing id).

        A constant number of queries whatever ``limit``: one search, then the set-based
        :meth:`enroll`. Records created since the start also enter (their id is higher).

        :return: the number of records checked (0 when the audience is exhausted)
        """
        self.ensure_one()
        records = (
            self.env[self.model_name]
            .sudo()
            .search(
                self._audience_domain() & Domain("id", ">", self.enroll_last_id),
                order="id",
                limit=limit,
            )
        )
        if not records:
            self.enroll_pending = False
            return 0
        participants = self.enroll(records)
        self.write(
            {
                "enroll_last_id": records[-1].id,
                "enroll_done": self.enroll_done + len(records),
                "enroll_added": self.enroll_added + len(participants),
                # a short batch was the last one: no need for an empty round
                "enroll_pending": len(records) == limit,
            }
        )
        return len(records)

    @api.model
    def _cron_enroll_audience(self):
        """Cron: add the audiences requested by "Add the current audience now"."""
        Cron = self.env["ir.cron"]
        scenarios = self.search([("enroll_pending", "=", True), ("state", "!=", "paused")])
        Cron._commit_progress(
            remaining=sum(max(s.enroll_todo - s.enroll_done, 1) for s in scenarios)
        )
        batch_size = self.env["marketing.scenario.trace"]._batch_size()
        for scenario in scenarios:
            while scenario.enroll_pending:
                if scenario.state != "running":
                    # stopped meanwhile (a paused one is resumed by action_resume)
                    if scenario.state != "paused":
                        scenario.enroll_pending = False
                    break
                checked = scenario._enroll_audience_batch(batch_size)
                if not Cron._commit_progress(checked):
                    if scenario.enroll_pending:
                        self.env.ref("trigger_marketing.ir_cron_scenario_enroll")._trigger()
                    return
                self.env.invalidate_all()

    # ------------------------------------------------------------
    # "Add to scenario" on the target's records
    # ------------------------------------------------------------

    def _ensure_enroll_binding(self):
        """Make "Add to scenario" available in the Actions menu of every target model."""
        wizard_action = self.env.ref(
            "trigger_marketing.marketing_scenario_enroll_action", raise_if_not_found=False
        )
        if not wizard_action:
            return
        for model in self.model_id:
            if model.model == "res.partner":
                continue  # bound by data
            name = self.env._("Add to scenario")
            existing = (
                self.env["ir.actions.act_window"]
                .sudo()
                .search(
                    [
                        ("res_model", "=", "marketing.scenario.enroll"),
                        ("binding_model_id", "=", model.id),
                    ],
                    limit=1,
                )
            )
            if not existing:
                wizard_action.sudo().copy(
                    {"name": name, "binding_model_id": model.id, "binding_view_types": "list,form"}
                )
