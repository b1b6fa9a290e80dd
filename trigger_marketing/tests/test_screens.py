from odoo.exceptions import ValidationError
from odoo.tests import Form, tagged

from .common import NOW, TriggerMarketingCase


@tagged("post_install", "-at_install")
class TestScreens(TriggerMarketingCase):
    """What the screens rely on: plain-language steps, e-mails written on the step, the
    buttons of the step tree, the contact timeline and the settings."""

    def test_plain_language(self):
        scenario = self.make_scenario()
        welcome = self.make_step(scenario, "mail", name="Welcome")
        reminder = self.make_step(
            scenario, "mail", welcome, name="Reminder", trigger_type="mail_not_open", delay=2
        )
        self.assertEqual(reminder.summary, "2 days after “Welcome” if not opened: send “Reminder”")
        self.assertEqual(
            welcome.summary, "As soon as the record enters the scenario: send “Welcome”"
        )
        later = self.make_step(
            scenario, "score", welcome, name="Later", delay=1, delay_unit="weeks", score_points=-3
        )
        self.assertEqual(later.summary, "1 week after “Welcome”: remove 3 points from the score")
        check = self.make_step(
            scenario,
            "condition",
            welcome,
            name="Has a phone",
            condition_domain="[('phone', '!=', False)]",
        )
        yes = self.make_step(
            scenario,
            "exit",
            check,
            trigger_type="yes",
            name="Stop",
            filter_domain="[('city', '=', 'Paris')]",
        )
        self.assertEqual(
            yes.summary, "If “Has a phone” says yes, only if City is “Paris”: leave the scenario"
        )

    def test_mail_written_on_the_step(self):
        scenario = self.make_scenario()
        form = Form(
            self.env["marketing.scenario.step"]
            .with_user(self.user_marketing)
            .with_context(default_scenario_id=scenario.id)
        )
        self.assertIn('t-out="object.name"', form.mail_body_html, "a first message to start from")
        form.name = "Welcome"
        form.mail_subject = "Welcome aboard"
        step = form.save()
        mailing = step.mailing_id
        self.assertTrue(mailing, "the step created its mailing")
        self.assertEqual(mailing.subject, "Welcome aboard")
        self.assertEqual(mailing.mailing_model_real, "res.partner")
        self.assertTrue(mailing.use_in_trigger_marketing)
        self.assertEqual(mailing.campaign_id, scenario.campaign_id)
        self.assertIn("Write your message here", mailing.body_arch, "the designer edits it")
        self.assertIn('t-out="object.name"', mailing.body_html)
        step.mail_subject = "Welcome!"
        step.mail_body_html = "<p>Hi there</p>"
        self.assertEqual(mailing.subject, "Welcome!")
        self.assertIn("Hi there", mailing.body_html)
        with self.assertRaises(ValidationError):
            step.mail_body_html = "<p><br></p>"  # an empty e-mail is refused at save
        # a step that becomes an e-mail step, written with its subject and message
        wait = self.make_step(scenario, "wait", name="Pause", delay=1)
        wait.write(
            {
                "action_type": "mail",
                "mail_subject": "Still there?",
                "mail_body_html": "<p>Hello again</p>",
            }
        )
        self.assertEqual(wait.mailing_id.subject, "Still there?")
        self.assertIn("Hello again", wait.mailing_id.body_html)

    def test_add_child_presets(self):
        scenario = self.make_scenario()
        welcome = self.make_step(scenario, "mail", name="Welcome")
        action = welcome.with_context(tm_trigger_type="mail_not_open").action_add_child()
        context = action["context"]
        self.assertEqual(action["target"], "new")
        self.assertEqual(
            (
                context["default_parent_id"],
                context["default_trigger_type"],
                context["default_delay"],
            ),
            (welcome.id, "mail_not_open", 3),
        )
        step = Form(self.env["marketing.scenario.step"].with_context(**context))
        step.name = "Reminder"
        step.mail_subject = "Did you see this?"
        step = step.save()
        self.assertEqual((step.parent_id, step.trigger_type), (welcome, "mail_not_open"))
        self.assertEqual(step.action_delete()["type"], "ir.actions.act_window_close")
        self.assertFalse(step.exists(), "a step that never ran is really deleted")
        first = scenario.action_add_step()["context"]
        self.assertEqual((first["default_parent_id"], first["default_delay"]), (False, 0))

    def test_contact_timeline(self):
        scenario = self.make_scenario(name="Welcome series")
        first = self.make_step(scenario, "score", name="Points", score_points=3)
        self.make_step(scenario, "score", first, name="More points", score_points=2, delay=2)
        scenario.action_start()
        partner = self.make_partners(1)
        with self.at(NOW):
            scenario.enroll(partner)
            self.run_cron()
        timeline = partner.get_marketing_timeline()
        self.assertEqual(len(timeline), 1)
        walk = timeline[0]
        self.assertEqual(
            (walk["scenario_name"], walk["state"], walk["is_test"]),
            ("Welcome series", "running", False),
        )
        self.assertEqual([s["name"] for s in walk["steps"]], ["Points", "More points"])
        self.assertEqual([s["state"] for s in walk["steps"]], ["done", "scheduled"])
        self.assertTrue(walk["steps"][1]["pending"])

        other = self.make_scenario(name="Other")
        self.make_step(other, "wait", delay=1)
        other.action_start()
        other.enroll(partner)
        scenario.enroll(partner, test=True)
        self.env.invalidate_all()
        with self.assertQueryCount(5):
            timeline = partner.get_marketing_timeline()
        self.assertEqual(len(timeline), 3)
        self.assertEqual(sum(walk["is_test"] for walk in timeline), 1)

    def test_settings_batch_size(self):
        settings = self.env["res.config.settings"].create({"trigger_marketing_batch_size": 200})
        settings.execute()
        self.assertEqual(self.env["marketing.scenario.trace"]._batch_size(), 200)
        with self.assertRaises(ValidationError):
            self.env["res.config.settings"].create({"trigger_marketing_batch_size": 0})
