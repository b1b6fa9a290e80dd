from datetime import timedelta

from odoo.tests import tagged

from .common import NOW, TriggerMarketingCase


@tagged("post_install", "-at_install")
class TestHonestFigures(TriggerMarketingCase):
    """What the screens say is what happened: no goal means no conversion figure, rates
    of the sent e-mails, the trend of each step, subjects rendered per recipient."""

    def test_empty_goal_is_no_goal(self):
        """The domain editor writes "[]" when every rule is removed: that is no goal (it
        used to convert every record before it entered, so nobody entered)."""
        with self.at(NOW):
            scenario = self.make_scenario(goal_domain="[]")
            self.make_step(scenario, "wait", name="Wait", delay=1)
            self.assertFalse(scenario.goal_enabled)
            scenario.action_start()
            partners = self.make_partners(2)
            self.assertEqual(len(scenario.enroll(partners)), 2)
            with_goal = self.make_scenario(goal_domain="[('is_company', '=', True)]")
            self.assertTrue(with_goal.goal_enabled)
            with_goal.goal_enabled = False
            self.assertFalse(with_goal.goal_domain, "switching the goal off clears it")

    def test_rates_and_revenue_per_recipient(self):
        with self.at(NOW):
            scenario = self.make_scenario(domain="[]")
            welcome = self.make_step(scenario, "mail", name="Welcome")
            self.make_step(scenario, "mail", name="Second", parent=welcome, delay=0)
            scenario.action_start()
            partners = self.make_partners(4)
            scenario.enroll(partners)
            with self.mock_mail_gateway():
                self.run_cron()
                self.send_queue()
            self.mailing_trace(welcome, partners[0]).set_clicked()
            self.handle_mail_events()  # the engine counts people's opens and clicks
            self.assertEqual(
                (scenario.sent_count, scenario.recipient_count), (8, 4), "two e-mails each"
            )
            self.assertEqual(scenario.click_rate, 12.5)
            self.assertEqual(scenario.revenue_per_recipient, 0.0)

    def test_trend_of_a_step(self):
        """Sent, opened, clicked and converted per day over the last 30 days."""
        with self.at(NOW - timedelta(days=40)):
            scenario = self.make_scenario(domain="[]", goal_domain="[('is_company', '=', True)]")
            welcome = self.make_step(scenario, "mail", name="Welcome")
            self.make_step(scenario, "wait", name="Then", parent=welcome, delay=60)
            scenario.action_start()
            old = self.make_partners(1, name="Old", email="old@example.com")
            scenario.enroll(old)
            with self.mock_mail_gateway():
                self.run_cron()
                self.send_queue()
        with self.at(NOW - timedelta(days=2)):
            partners = self.make_partners(3)
            scenario.enroll(partners)
            with self.mock_mail_gateway():
                self.run_cron()
                self.send_queue()
            self.mailing_trace(welcome, partners[0]).set_opened()
            self.handle_mail_events()
        with self.at(NOW):
            self.mailing_trace(welcome, partners[1]).set_clicked()
            self.handle_mail_events()
            partners[1].is_company = True  # reaches the goal today
            self.env.invalidate_all()
            trend = welcome.stat_trend
            self.assertEqual(len(trend["days"]), 30)
            self.assertEqual(trend["days"][-1], "2026-03-02")
            self.assertEqual(sum(trend["sent"]), 3, "the mail of 40 days ago is out of range")
            self.assertEqual(trend["sent"][-3], 3)
            self.assertEqual(trend["opened"][-3], 1)
            self.assertEqual(trend["clicked"][-1], 1)
            self.assertEqual(trend["converted"][-1], 1)
            self.assertEqual(sum(trend["converted"]), 1)

    def test_subject_placeholders_are_rendered(self):
        """The subject's help says placeholders are replaced per recipient: they are."""
        with self.at(NOW):
            scenario = self.make_scenario(domain="[]")
            self.make_step(scenario, "mail", name="Hi", mail_subject="Hello {{ object.name }}")
            scenario.action_start()
            alice = self.make_partners(1, name="Alice", email="alice@example.com")
            scenario.enroll(alice)
            with self.mock_mail_gateway():
                self.run_cron()
                self.send_queue()
                self.assertEqual(
                    self._find_sent_email_wemail(alice.email_formatted)["subject"], "Hello Alice"
                )
            help_text = self.env["marketing.scenario.step"]._fields["mail_subject"].help
            self.assertIn("{{ object.name }}", help_text)
            self.assertNotIn("not rendered", help_text)
