from contextlib import contextmanager
from datetime import datetime

from odoo.addons.base.tests.test_ir_cron import CronMixinCase
from odoo.addons.mass_mailing.tests.common import MassMailCase
from odoo.tests import new_test_user

NOW = datetime(2026, 3, 2, 9, 0, 0)  # a Monday


class TriggerMarketingCase(MassMailCase, CronMixinCase):
    """Scenarios on real Odoo: helpers to build trees, move time and run the cron."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cron = cls.env.ref("trigger_marketing.ir_cron_scenario_process")
        cls.user_marketing = new_test_user(
            cls.env,
            login="tm_user",
            groups="base.group_user,trigger_marketing.marketing_scenario_group_user",
            email="tm.user@example.com",
            name="Maria Marketer",
        )
        cls.user_manager = new_test_user(
            cls.env,
            login="tm_manager",
            groups="base.group_user,trigger_marketing.marketing_scenario_group_manager",
            email="tm.manager@example.com",
        )
        cls.partner_model = cls.env["ir.model"]._get("res.partner")

    # ------------------------------------------------------------
    # Builders
    # ------------------------------------------------------------

    def make_scenario(self, **vals):
        values = {
            "name": "Scenario",
            "model_id": self.partner_model.id,
            "trigger": "manual",
            "domain": "[('email', '!=', False)]",
        }
        values.update(vals)
        return self.env["marketing.scenario"].create(values)

    def make_mailing(self, scenario, subject="Hello", body="<p>Hello {{ object.name }}</p>"):
        return self.env["mailing.mailing"].create(
            {
                "name": subject,
                "subject": subject,
                "body_html": body,
                "mailing_model_id": scenario.model_id.id,
                "use_in_trigger_marketing": True,
            }
        )

    def make_step(self, scenario, action_type="wait", parent=None, **vals):
        values = {
            "name": vals.pop("name", action_type.capitalize()),
            "scenario_id": scenario.id,
            "action_type": action_type,
            "parent_id": parent.id if parent else False,
        }
        if action_type == "mail" and "mailing_id" not in vals:
            values["mailing_id"] = self.make_mailing(scenario, subject=values["name"]).id
        values.update(vals)
        return self.env["marketing.scenario.step"].create(values)

    def make_partners(self, count, **vals):
        return self.env["res.partner"].create(
            [
                dict(
                    {"name": f"Contact {i}", "email": f"contact{i}@example.com"},
                    **vals,
                )
                for i in range(count)
            ]
        )

    # ------------------------------------------------------------
    # Time and cron
    # ------------------------------------------------------------

    @contextmanager
    def at(self, when):
        """Freeze Python and database time at ``when``."""
        with self.mock_datetime_and_now(when):
            yield

    def run_cron(self):
        """Run the processing cron as the scheduler would (its own cursor, commits)."""
        with self.enter_registry_test_mode():
            self.cron.method_direct_trigger()
        self.env.invalidate_all()

    def traces(self, step, state=None):
        domain = [("step_id", "=", step.id)]
        if state:
            domain.append(("state", "=", state))
        return self.env["marketing.scenario.trace"].search(domain)
