from datetime import timedelta

from odoo.tests import tagged

from .common import NOW, TriggerMarketingCase


@tagged("post_install", "-at_install")
class TestSmoke(TriggerMarketingCase):
    def test_walk(self):
        with self.at(NOW):
            scenario = self.make_scenario()
            mail = self.make_step(scenario, "mail", name="Welcome")
            score = self.make_step(
                scenario, "score", parent=mail, score_points=10, delay=1, delay_unit="days"
            )
            scenario.action_start()
            partners = self.make_partners(3)
            participants = scenario.enroll(partners)
            self.assertEqual(len(participants), 3)
            with self.mock_mail_gateway():
                self.run_cron()
            self.assertEqual(len(self.traces(mail, "done")), 3)
            self.assertEqual(len(self.traces(score, "scheduled")), 3)
        with self.at(NOW + timedelta(days=1, minutes=1)):
            self.run_cron()
            self.assertEqual(len(self.traces(score, "done")), 3)
            self.assertEqual(partners.mapped("marketing_score"), [10, 10, 10])
            self.assertEqual(set(participants.mapped("state")), {"completed"})
