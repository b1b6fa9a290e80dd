from datetime import timedelta

from odoo import fields
from odoo.tests import HttpCase, new_test_user, tagged


@tagged("post_install", "-at_install")
class TestToursLive(HttpCase):
    """Live edits and versions as the marketer sees them (headless Chromium)."""

    def setUp(self):
        super().setUp()
        self.env["marketing.scenario"].search([("state", "=", "running")]).state = "stopped"
        self.marketer = new_test_user(
            self.env,
            login="tm_tour_marketer",
            password="tm_tour_marketer",
            groups="base.group_user,trigger_marketing.marketing_scenario_group_user",
            name="Maria Marketer",
            email="maria@example.com",
        )
        Step = self.env["marketing.scenario.step"]
        self.scenario = self.env["marketing.scenario"].create(
            {
                "name": "Live tour",
                "model_id": self.env["ir.model"]._get_id("res.partner"),
                "domain": "[]",
            }
        )
        self.first = Step.create(
            {"scenario_id": self.scenario.id, "name": "First", "action_type": "wait"}
        )
        self.later = Step.create(
            {
                "scenario_id": self.scenario.id,
                "parent_id": self.first.id,
                "name": "Later",
                "action_type": "score",
                "score_points": 1,
                "delay": 2,
            }
        )
        self.scenario.action_start()
        partners = self.env["res.partner"].create(
            [{"name": f"Walker {i}", "email": f"walker{i}@example.com"} for i in range(5)]
        )
        self.scenario.enroll(partners)
        Trace = self.env["marketing.scenario.trace"]
        Trace.search([("step_id", "=", self.first.id)])._claim_now()._process()
        # three of them were done with the first step a day and a half ago
        done = Trace.search([("step_id", "=", self.first.id)], order="id")[:3]
        long_ago = fields.Datetime.now() - timedelta(hours=36)
        done.write({"done_at": long_ago})
        self.early = Trace.search([("step_id", "=", self.later.id), ("parent_id", "in", done.ids)])

    def test_live_edit_preview(self):
        self.start_tour(
            f"/odoo/action-trigger_marketing.marketing_scenario_step_action/{self.later.id}",
            "trigger_marketing_live_edit_tour",
            login="tm_tour_marketer",
        )
        self.assertEqual(self.later.delay, 1)
        for trace in self.early:
            self.assertEqual(trace.scheduled_at, trace.parent_id.done_at + timedelta(days=1))
        version = self.scenario.current_version_id
        self.assertEqual((version.number, version.author_id), (2, self.marketer))
        self.assertIn("5 waiting contact(s) re-timed (3 due now)", version.choice)

    def test_version_compare(self):
        self.later.with_user(self.marketer).write({"delay": 1, "live_timing_choice": "keep"})
        self.start_tour(
            f"/odoo/action-trigger_marketing.marketing_scenario_action/{self.scenario.id}",
            "trigger_marketing_version_compare_tour",
            login="tm_tour_marketer",
        )

    def test_designer_notice(self):
        """The e-mail of a step contacts wait for, opened in the designer, says it."""
        Step = self.env["marketing.scenario.step"]
        scenario = self.env["marketing.scenario"].create(
            {
                "name": "Designer tour",
                "model_id": self.env["ir.model"]._get_id("res.partner"),
                "domain": "[]",
            }
        )
        first = Step.create({"scenario_id": scenario.id, "name": "Start", "action_type": "wait"})
        news = Step.create(
            {
                "scenario_id": scenario.id,
                "parent_id": first.id,
                "name": "News",
                "action_type": "mail",
                "mail_subject": "News",
                "mail_body_html": "<p>News</p>",
                "delay": 2,
            }
        )
        scenario.action_start()
        scenario.enroll(
            self.env["res.partner"].create(
                [{"name": f"Reader {i}", "email": f"reader{i}@example.com"} for i in range(2)]
            )
        )
        Trace = self.env["marketing.scenario.trace"]
        Trace.search([("step_id", "=", first.id)])._claim_now()._process()
        self.start_tour(
            f"/odoo/mailing.mailing/{news.mailing_id.id}",
            "trigger_marketing_live_designer_tour",
            login="tm_tour_marketer",
        )
