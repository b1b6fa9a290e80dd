from odoo import models
from odoo.exceptions import UserError


class MarketingScenario(models.Model):
    """The scenario's screen actions: the lists it opens (participants, steps, traces,
    e-mails, conversions, test runs) and the dialogs it opens (a new step, a test run)."""

    _inherit = "marketing.scenario"

    def action_view_participants(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "trigger_marketing.marketing_scenario_participant_action"
        )
        action["domain"] = [("scenario_id", "=", self.id)]
        action["context"] = {"default_scenario_id": self.id, "search_default_filter_real": 1}
        return action

    def action_view_step_tree(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "trigger_marketing.marketing_scenario_step_action"
        )
        action["domain"] = [("scenario_id", "=", self.id)]
        action["context"] = {"default_scenario_id": self.id}
        action["display_name"] = self.env._("Steps of %s", self.name)
        action["views"] = [(False, "hierarchy"), (False, "list"), (False, "form")]
        return action

    def action_view_traces(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "trigger_marketing.marketing_scenario_trace_action"
        )
        action["domain"] = [("scenario_id", "=", self.id)]
        action["context"] = {"search_default_filter_real": 1}
        return action

    def action_add_step(self):
        """Add a first step (it starts when a record enters the scenario)."""
        self.ensure_one()
        return self._action_new_step()

    def _action_new_step(self, parent=None, trigger_type="after"):
        """The form of a new step, in a dialog, preset under ``parent`` for ``trigger_type``.

        Behaviour branches wait 3 days for the event by default; a plain next step comes
        1 day after its parent.
        """
        self.ensure_one()
        context = {
            "default_scenario_id": self.id,
            "default_parent_id": parent.id if parent else False,
            "default_trigger_type": trigger_type,
            "default_action_type": "mail",
            "default_delay": 0,
            "default_delay_unit": "days",
        }
        if trigger_type.startswith("mail_"):
            context["default_delay"] = 3
        elif trigger_type == "after" and parent:
            context["default_delay"] = 1
        labels = dict(
            self.env["marketing.scenario.step"]
            ._fields["trigger_type"]
            ._description_selection(self.env)
        )
        return {
            "type": "ir.actions.act_window",
            "name": (
                self.env._(
                    "New step after “%(parent)s”: %(when)s",
                    parent=parent.name,
                    when=labels[trigger_type].lower(),
                )
                if parent
                else self.env._("New first step")
            ),
            "res_model": "marketing.scenario.step",
            "views": [[False, "form"]],
            "target": "new",
            "context": context,
        }

    def _action_mailing_traces(self, domain):
        action = self.env["ir.actions.act_window"]._for_xml_id("mass_mailing.mailing_trace_action")
        action["domain"] = [*domain, ("marketing_trace_id.is_test", "=", False)]
        action["context"] = {"create": False}
        action["display_name"] = self.env._("E-mails")
        return action

    def action_view_mails(self):
        """The e-mails of the scenario (mass_mailing's traces), real participants only."""
        self.ensure_one()
        return self._action_mailing_traces([("marketing_trace_id.scenario_id", "=", self.id)])

    def action_view_conversions(self):
        action = self.action_view_participants()
        action["context"] = dict(action["context"], search_default_filter_converted=1)
        action["display_name"] = self.env._("Conversions")
        return action

    def action_open_test(self):
        """The test-run wizard: pick records or type colleagues' addresses."""
        self.ensure_one()
        if not self.step_ids:
            raise UserError(self.env._("Add a step before testing the scenario."))
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Test %s", self.name),
            "res_model": "marketing.scenario.test",
            "views": [[False, "form"]],
            "target": "new",
            "context": {"default_scenario_id": self.id},
        }

    def action_view_test_participants(self):
        self.ensure_one()
        action = self.action_view_participants()
        action["context"] = {"default_scenario_id": self.id, "search_default_filter_test": 1}
        action["display_name"] = self.env._("Test runs of %s", self.name)
        return action
