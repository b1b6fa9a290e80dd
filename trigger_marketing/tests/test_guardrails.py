from datetime import timedelta

from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import NOW, TriggerMarketingCase


@tagged("post_install", "-at_install")
class TestGuardrails(TriggerMarketingCase):
    def _sent(self, count):
        scenario = self.make_scenario(name="Newsletter", user_id=self.user_marketing.id)
        step = self.make_step(scenario, "mail", name="News")
        partners = self.make_partners(count)
        with self.at(NOW), self.mock_mail_gateway():
            scenario.action_start()
            scenario.enroll(partners)
            self.run_cron()
            self.send_queue()
        mails = self.env["mailing.trace"].search([("mass_mailing_id", "=", step.mailing_id.id)])
        self.assertEqual(len(mails), count)
        return scenario, partners, mails

    def _check(self):
        with self.at(NOW + timedelta(hours=1)):
            self.env["marketing.scenario"]._cron_guardrails()

    def test_bounces_above_the_limit_pause_and_tell_the_owner(self):
        scenario, _partners, mails = self._sent(120)
        mails[:10].set_bounced()  # 8.3 % > 5 %
        self._check()
        self.assertEqual(scenario.state, "paused")
        self.assertIn("bounced", scenario.guard_note)
        activity = scenario.activity_ids
        self.assertEqual(activity.user_id, self.user_marketing)
        self.assertIn("guardrails", scenario.message_ids[0].body)
        scenario.action_resume()
        self.assertEqual(scenario.state, "running")
        self.assertFalse(scenario.guard_note)

    def test_bounces_under_the_limit_go_on(self):
        scenario, _partners, mails = self._sent(120)
        mails[:3].set_bounced()  # 2.5 %
        self._check()
        self.assertEqual(scenario.state, "running")

    def test_unsubscribes_above_the_limit_pause(self):
        scenario, partners, _mails = self._sent(120)
        with self.at(NOW + timedelta(minutes=30)):
            for partner in partners[:3]:  # 2.5 % > 1 %
                self.env["mail.blacklist"].sudo()._add(partner.email)
        self._check()
        self.assertEqual(scenario.state, "paused")
        self.assertIn("unsubscribed", scenario.guard_note)

    def test_too_few_sends_are_not_judged(self):
        scenario, _partners, mails = self._sent(50)
        mails[:20].set_bounced()
        self._check()
        self.assertEqual(scenario.state, "running", "50 sends < 100: not judged yet")

    def test_guardrails_off(self):
        scenario, _partners, mails = self._sent(120)
        scenario.guard_enabled = False
        mails[:60].set_bounced()
        self._check()
        self.assertEqual(scenario.state, "running")

    def test_bounded_settings(self):
        scenario = self.make_scenario()
        with self.assertRaisesRegex(ValidationError, "0.1 % to 100 %"):
            scenario.guard_bounce_rate = 0
        with self.assertRaisesRegex(ValidationError, "10 to 100,000"):
            scenario.guard_window = 5
