from datetime import date, datetime, timedelta

from odoo.tests import Form, tagged, users

from .common import NOW, TriggerMarketingCase
from .common_triggers import TriggerEntryCase


@tagged("post_install", "-at_install")
class TestTemplates(TriggerMarketingCase):
    """Ready-made scenarios: each template builds a valid scenario that starts."""

    def test_every_template_creates_a_scenario_that_starts(self):
        Scenario = self.env["marketing.scenario"].with_user(self.user_marketing)
        codes = [t["code"] for t in Scenario._available_templates()]
        self.assertTrue(
            {"welcome", "onboarding", "birthday", "reengagement", "hot_lead"} <= set(codes)
        )
        for code in codes:
            with self.subTest(template=code):
                scenario = Scenario._create_from_template(code)
                self.assertEqual(scenario.state, "draft")
                self.assertTrue(scenario.step_ids)
                mails = scenario.step_ids.filtered(lambda s: s.action_type == "mail")
                for mailing in mails.mailing_id:
                    self.assertTrue(mailing.use_in_trigger_marketing)
                    self.assertIn("/unsubscribe_from_list", mailing.body_html)
                    self.assertIn("t-out", mailing.body_html)
                    self.assertEqual(mailing.campaign_id, scenario.campaign_id)
                scenario.action_start()
                self.assertEqual(scenario.state, "running")

    def test_template_triggers(self):
        Scenario = self.env["marketing.scenario"]
        expected = {
            "welcome": "create",
            "onboarding": "signup",
            "birthday": "anniversary",
            "reengagement": "date",
            "hot_lead": "score",
        }
        for code, trigger in expected.items():
            self.assertEqual(Scenario._create_from_template(code).trigger, trigger, code)
        hot_lead = Scenario._create_from_template("hot_lead")
        self.assertEqual(hot_lead.score_threshold, 50, "the hot threshold of the settings")

    @users("tm_user")
    def test_wizard_creates_the_scenario(self):
        form = Form(self.env["marketing.scenario.template.wizard"])
        form.template = "welcome"
        self.assertIn("welcome e-mail", form.description)
        action = form.save().action_create()
        scenario = self.env["marketing.scenario"].browse(action["res_id"])
        self.assertEqual(scenario.name, "Welcome series")

    def test_welcome_mail_is_personal(self):
        scenario = self.env["marketing.scenario"]._create_from_template("welcome", start=True)
        welcome = scenario.step_ids.filtered(lambda s: s.name == "Welcome")
        with self.at(NOW):
            alice = self.env["res.partner"].create(
                {"name": "Alice Example", "email": "alice@example.com"}
            )
            self.assertTrue(self.trace_of(welcome, alice), "entered on creation")
            with self.mock_mail_gateway():
                self.run_cron()
                self.send_queue()
            sent = self._find_sent_email_wemail(alice.email_formatted)
            self.assertIn("Hello Alice Example", sent["body"])
            self.assertIn("/mailing/", sent["body"], "personal unsubscribe link")
            self.assertNotIn("/unsubscribe_from_list", sent["body"])

    def test_hot_lead_schedules_a_call(self):
        scenario = self.env["marketing.scenario"]._create_from_template("hot_lead", start=True)
        salesperson = self.user_marketing
        alice = self.make_partners(1, user_id=salesperson.id)
        with self.at(NOW):
            self.env["res.partner"]._add_marketing_score(
                [{"partner_id": alice.id, "points": 60, "description": "test"}]
            )
            self.run_cron()
        activity = alice.activity_ids
        self.assertEqual(activity.user_id, salesperson)
        self.assertEqual(activity.activity_type_id, self.env.ref("mail.mail_activity_data_call"))
        self.assertIn("Hot lead", alice.category_id.mapped("name"))
        self.assertEqual(scenario.participant_count, 1)


@tagged("post_install", "-at_install")
class TestTemplateTriggers(TriggerEntryCase):
    """The date-based templates are wired to the real entry triggers."""

    def test_reengagement_enters_90_days_after_the_last_engagement(self):
        self.make_rule("mail_click", 5)
        scenario = self.env["marketing.scenario"]
        with self.at(NOW):
            scenario = scenario._create_from_template("reengagement", start=True)
            alice, bob = self.make_partners(2)
            self.env["res.partner"]._marketing_score_event("mail_click", alice | bob)
        with self.at(NOW + timedelta(days=60)):
            # bob engages again: his 90 days start again
            self.env["res.partner"]._marketing_score_event("mail_click", bob)
        with self.at(NOW + timedelta(days=90, hours=1)):
            self.run_entry_cron()
            self.assertEqual(self.entered(scenario), alice)
        with self.at(NOW + timedelta(days=150, hours=1)):
            self.run_entry_cron()
            self.assertEqual(self.entered(scenario), alice | bob)

    def test_birthday_enters_on_the_birthday(self):
        with self.at(NOW):
            scenario = self.env["marketing.scenario"]._create_from_template("birthday", start=True)
            alice = self.make_partners(1, birthdate=date(1990, 3, 10), tz="UTC")
            self.make_partners(1, birthdate=False)
        with self.at(datetime(2026, 3, 9, 12, 0)):
            self.run_entry_cron()
            self.assertFalse(self.entered(scenario))
        with self.at(datetime(2026, 3, 10, 9, 30)):
            self.run_entry_cron()
            self.assertEqual(self.entered(scenario), alice)
