from odoo import fields
from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install")
class TestToursScreens(HttpCase):
    """What the marketer sees is true (headless Chromium): no conversion figure without a
    goal, rules in words, the per-step trend, tooltips, the designer of a step's e-mail,
    the ready-made birthday audience."""

    def setUp(self):
        super().setUp()
        self.env.ref("base.user_admin").email = "admin@example.com"
        self.env["marketing.scenario"].search([("state", "=", "running")]).state = "stopped"
        partner_model = self.env["ir.model"]._get_id("res.partner")
        Scenario = self.env["marketing.scenario"]
        Step = self.env["marketing.scenario.step"]
        self.with_goal = Scenario.create(
            {
                "name": "Tour with a goal",
                "model_id": partner_model,
                "goal_domain": "[('is_company', '=', True)]",
            }
        )
        Step.create({"scenario_id": self.with_goal.id, "name": "Wait", "action_type": "wait"})
        self.scenario = Scenario.create(
            {"name": "Tour without goal", "model_id": partner_model, "domain": "[]"}
        )
        self.welcome = Step.create(
            {
                "scenario_id": self.scenario.id,
                "name": "Welcome",
                "action_type": "mail",
                "mail_subject": "Welcome",
                "mail_body_html": "<p>Hello</p>",
            }
        )
        Step.create(
            {
                "scenario_id": self.scenario.id,
                "parent_id": self.welcome.id,
                "name": "In the US?",
                "action_type": "condition",
                "delay": 5,
                "condition_domain": f"[('country_id', '=', {self.env.ref('base.us').id})]",
            }
        )
        (self.with_goal | self.scenario).action_start()

    def _walk_welcome(self, count):
        """``count`` contacts received the welcome e-mail today, the first opened it."""
        partners = self.env["res.partner"].create(
            [{"name": f"Tour {i}", "email": f"tour{i}@example.com"} for i in range(count)]
        )
        self.scenario.enroll(partners)
        traces = self.env["marketing.scenario.trace"].search([("step_id", "=", self.welcome.id)])
        traces._claim_now()._process()
        mails = self.env["mailing.trace"].search([("marketing_trace_id", "in", traces.ids)])
        mails.write({"trace_status": "sent", "sent_datetime": fields.Datetime.now()})
        mails[:1].set_opened()
        self.env["marketing.mail.event"].sudo()._process_queue()  # the engine's next run
        self.assertEqual(len(mails), count)

    def test_honest_screens(self):
        self._walk_welcome(3)
        self.start_tour(
            "/odoo/action-trigger_marketing.marketing_scenario_action",
            "trigger_marketing_honest_screens_tour",
            login="admin",
        )

    def test_designer_of_a_step_mail(self):
        self.start_tour(
            f"/odoo/action-trigger_marketing.marketing_scenario_step_action/{self.welcome.id}",
            "trigger_marketing_designer_tour",
            login="admin",
        )

    def test_birthday_template_audience(self):
        self.start_tour(
            "/odoo/action-trigger_marketing.marketing_scenario_action",
            "trigger_marketing_birthday_template_tour",
            login="admin",
        )
        scenario = self.env["marketing.scenario"].search([("name", "=", "Birthday")])
        self.assertEqual(scenario.domain, "[('email', '!=', False)]")
