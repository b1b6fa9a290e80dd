from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import NOW, TriggerMarketingCase


@tagged("post_install", "-at_install")
class TestSecurity(TriggerMarketingCase):
    """User and Manager groups; multi-company rules."""

    def test_user_builds_and_runs_scenarios_without_code(self):
        env = self.env(user=self.user_marketing)
        scenario = env["marketing.scenario"].create(
            {"name": "Mine", "model_id": self.partner_model.id, "domain": "[]"}
        )
        env["marketing.scenario.step"].create(
            {"name": "Score", "scenario_id": scenario.id, "action_type": "score", "score_points": 1}
        )
        scenario.action_start()
        partner = self.env["res.partner"].create({"name": "P", "email": "p@example.com"})
        self.assertTrue(scenario.enroll(partner.with_env(env)))
        action = self.env["ir.actions.server"].create(
            {"name": "Code", "model_id": self.partner_model.id, "state": "code", "code": "1"}
        )
        with self.assertRaisesRegex(AccessError, "Only marketing managers"):
            env["marketing.scenario.step"].create(
                {
                    "name": "Run code",
                    "scenario_id": scenario.id,
                    "action_type": "server_action",
                    "server_action_id": action.id,
                }
            )

    def test_manager_may_use_server_actions(self):
        env = self.env(user=self.user_manager)
        scenario = env["marketing.scenario"].create(
            {"name": "Mine", "model_id": self.partner_model.id, "domain": "[]"}
        )
        action = self.env["ir.actions.server"].create(
            {"name": "Code", "model_id": self.partner_model.id, "state": "code", "code": "1"}
        )
        step = env["marketing.scenario.step"].create(
            {
                "name": "Run code",
                "scenario_id": scenario.id,
                "action_type": "server_action",
                "server_action_id": action.id,
            }
        )
        self.assertEqual(step.server_action_id, action)

    def test_employee_without_group_sees_nothing(self):
        employee = new_test_user(self.env, login="tm_employee", groups="base.group_user")
        scenario = self.make_scenario()
        with self.assertRaises(AccessError):
            scenario.with_user(employee).read(["name"])
        with self.assertRaises(AccessError):
            self.env["marketing.scenario"].with_user(employee).create(
                {"name": "x", "model_id": self.partner_model.id}
            )

    def test_users_do_not_create_traces_by_hand(self):
        with self.assertRaises(AccessError):
            self.env["marketing.scenario.trace"].with_user(self.user_marketing).check_access(
                "create"
            )

    def test_multi_company(self):
        with self.at(NOW):
            other = self.env["res.company"].create({"name": "Other Co"})
            mine = self.make_scenario(name="Mine")
            theirs = self.make_scenario(name="Theirs", company_id=other.id)
            shared = self.make_scenario(name="Shared", company_id=False)
            visible = (
                self.env["marketing.scenario"]
                .with_user(self.user_marketing)
                .search([("id", "in", (mine | theirs | shared).ids)])
            )
            self.assertEqual(visible, mine | shared)
            self.user_marketing.write({"company_ids": [(4, other.id)]})
            visible = (
                self.env["marketing.scenario"]
                .with_user(self.user_marketing)
                .with_context(allowed_company_ids=[other.id])
                .search([("id", "in", (mine | theirs).ids)])
            )
            self.assertEqual(visible, theirs)
