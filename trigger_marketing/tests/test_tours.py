from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install")
class TestTours(HttpCase):
    """The marketer's screens in a real browser (headless Chromium)."""

    def test_build_test_start_follow(self):
        """Create a scenario from a template, add a branch under its e-mail, test it on a
        contact, start it and open its statistics (``trigger_marketing_scenario_tour``)."""
        self.env.ref("base.user_admin").email = "admin@example.com"  # the mailings' sender
        self.env["res.partner"].create(
            {"name": "Tour Contact", "email": "tour.contact@example.com"}
        )
        self.start_tour(
            "/odoo/action-trigger_marketing.marketing_scenario_action",
            "trigger_marketing_scenario_tour",
            login="admin",
        )
        scenario = self.env["marketing.scenario"].search([("name", "=", "Welcome series")])
        self.assertEqual(scenario.state, "running")
        welcome = scenario.step_ids.filtered(lambda s: s.name == "Welcome")
        thanks = scenario.step_ids.filtered(lambda s: s.name == "Thanks for clicking")
        self.assertEqual((thanks.parent_id, thanks.trigger_type), (welcome, "mail_click"))
        self.assertEqual(thanks.mailing_id.subject, "Glad you liked it")
        self.assertEqual(thanks.mailing_id.mailing_model_real, "res.partner")
        walk = scenario.test_participant_ids
        self.assertEqual(walk.partner_id.name, "Tour Contact")
        self.assertEqual(walk.trace_ids.filtered(lambda t: t.step_id == welcome).state, "done")
        self.assertEqual(scenario.participant_count, 0)

    def test_build_from_scratch(self):
        """A scenario from scratch: its first step, then a "not opened" branch under it
        (``trigger_marketing_scratch_tour``)."""
        self.env.ref("base.user_admin").email = "admin@example.com"
        self.start_tour(
            "/odoo/action-trigger_marketing.marketing_scenario_action",
            "trigger_marketing_scratch_tour",
            login="admin",
        )
        scenario = self.env["marketing.scenario"].search([("name", "=", "Tour welcome")])
        welcome = scenario.step_ids.filtered(lambda s: s.name == "Welcome")
        reminder = scenario.step_ids.filtered(lambda s: s.name == "Reminder")
        self.assertFalse(welcome.parent_id)
        self.assertEqual(welcome.mailing_id.subject, "Welcome aboard")
        self.assertEqual((reminder.parent_id, reminder.trigger_type), (welcome, "mail_not_open"))
        self.assertEqual(reminder.mailing_id.subject, "Did you see our welcome?")

    def test_contact_timeline(self):
        """The contact's marketing tab: score, history and timeline (tour
        ``trigger_marketing_contact_tour``)."""
        scenario = self.env["marketing.scenario"].create(
            {"name": "Tour series", "model_id": self.env["ir.model"]._get_id("res.partner")}
        )
        points = self.env["marketing.scenario.step"].create(
            {
                "scenario_id": scenario.id,
                "name": "Points",
                "action_type": "score",
                "score_points": 3,
            }
        )
        self.env["marketing.scenario.step"].create(
            {
                "scenario_id": scenario.id,
                "name": "More points",
                "action_type": "score",
                "score_points": 2,
                "parent_id": points.id,
                "delay": 2,
            }
        )
        scenario.action_start()
        partner = self.env["res.partner"].create(
            {"name": "Timeline Contact", "email": "timeline@example.com"}
        )
        scenario.enroll(partner)
        scenario.step_ids.invalidate_recordset()
        trace = self.env["marketing.scenario.trace"].search([("step_id", "=", points.id)])
        trace._claim_now()._process()
        self.assertEqual(partner.marketing_score, 3)
        self.start_tour(
            f"/odoo/res.partner/{partner.id}", "trigger_marketing_contact_tour", login="admin"
        )
