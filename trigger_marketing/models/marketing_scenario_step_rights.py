from odoo import api, fields, models
from odoo.exceptions import AccessError

from .marketing_scenario_step import ACTION_TYPES

MANAGER_GROUP = "trigger_marketing.marketing_scenario_group_manager"
# What the step form offers a User: every action but running a server action (code).
USER_ACTION_TYPES = [choice for choice in ACTION_TYPES if choice[0] != "server_action"]


class MarketingScenarioStep(models.Model):
    """Steps that run a server action belong to marketing managers.

    A User may not create one, make a step run one, nor change any field of such a step,
    move it, re-parent it or delete it (nor the steps above it, nor its scenario): the
    engine runs server actions as the superuser, so whoever shapes such a step runs code.
    The step form offers Users only the actions without code (``action_choice``).
    """

    _inherit = "marketing.scenario.step"

    action_choice = fields.Selection(
        USER_ACTION_TYPES,
        string="Step action",
        compute="_compute_action_choice",
        inverse="_inverse_action_choice",
        help="What the step does (the choices of a User: no server action).",
    )
    server_action_locked = fields.Boolean(
        compute="_compute_server_action_locked",
        help="This step runs a server action: only marketing managers may change it.",
    )

    @api.depends("action_type")
    def _compute_action_choice(self):
        for step in self:
            step.action_choice = step.action_type if step.action_type != "server_action" else False

    def _inverse_action_choice(self):
        for step in self:
            if step.action_choice and step.action_choice != step.action_type:
                step.action_type = step.action_choice

    @api.onchange("action_choice")
    def _onchange_action_choice(self):
        if self.action_choice:
            self.action_type = self.action_choice

    @api.depends("action_type")
    @api.depends_context("uid")
    def _compute_server_action_locked(self):
        manager = self._may_run_server_actions()
        for step in self:
            step.server_action_locked = step.action_type == "server_action" and not manager

    # ------------------------------------------------------------
    # Checks
    # ------------------------------------------------------------

    def _may_run_server_actions(self):
        return self.env.su or self.env.user.has_group(MANAGER_GROUP)

    def _check_server_action_rights(self, vals=None):
        """Refuse (``AccessError``) unless the user may touch these steps: none of them
        runs a server action and ``vals`` does not make them run one."""
        if self._may_run_server_actions():
            return
        makes_one = bool(vals) and (
            vals.get("action_type") == "server_action" or bool(vals.get("server_action_id"))
        )
        if makes_one or any(step.action_type == "server_action" for step in self):
            raise AccessError(
                self.env._(
                    "Only marketing managers can create, change, move or delete a step that "
                    "runs a server action, or make a step run one."
                )
            )

    # ------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self.browse()._check_server_action_rights(vals)
        steps = super().create(vals_list)
        steps._check_server_action_rights()  # e.g. a default_action_type in the context
        return steps

    def write(self, vals):
        self._check_server_action_rights(vals)
        return super().write(vals)

    def unlink(self):
        # deleting a step deletes the steps under it
        self.with_context(active_test=False).search(
            [("id", "child_of", self.ids)]
        )._check_server_action_rights()
        return super().unlink()

    def _update_field_translations(self, field_name, translations, digest=None, source_lang=""):
        self._check_server_action_rights()
        return super()._update_field_translations(
            field_name, translations, digest=digest, source_lang=source_lang
        )


class MarketingScenario(models.Model):
    _inherit = "marketing.scenario"

    def unlink(self):
        """Deleting a scenario deletes its steps: not those that run a server action, for
        a User."""
        self.with_context(active_test=False).step_ids._check_server_action_rights()
        return super().unlink()
