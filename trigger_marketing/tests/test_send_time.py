from datetime import timedelta

from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import NOW, TriggerMarketingCase

# NOW is Monday 2 March 2026, 09:00 UTC: 10:00 in Brussels (UTC+1 in winter)


@tagged("post_install", "-at_install")
class TestSendTime(TriggerMarketingCase):
    def setUp(self):
        super().setUp()
        self.alice, self.bob, self.carol = self.env["res.partner"].create(
            [
                {"name": "Alice", "email": "alice@example.com", "tz": "Europe/Brussels"},
                {"name": "Bob", "email": "bob@example.com", "tz": "UTC"},
                {"name": "Carol", "email": "carol@example.com", "tz": "Europe/Brussels"},
            ]
        )
        history = self.env["mailing.mailing"].create(
            {"name": "Old news", "subject": "Old news", "body_html": "<p>News</p>"}
        )
        # Alice reads at 19:xx Brussels (18:xx UTC), Carol at 07:xx Brussels (06:xx UTC)
        opens = [(self.alice, 18, day) for day in range(1, 6)]
        opens += [(self.carol, 6, day) for day in range(1, 5)]
        self.env["mailing.trace"].create(
            [
                {
                    "mass_mailing_id": history.id,
                    "model": "res.partner",
                    "res_id": partner.id,
                    "email": partner.email,
                    "trace_status": "open",
                    "sent_datetime": NOW - timedelta(days=day, hours=2),
                    "open_datetime": (NOW - timedelta(days=day)).replace(hour=hour, minute=20),
                }
                for partner, hour, day in opens
            ]
        )

    def _scenario(self, **step_vals):
        scenario = self.make_scenario(name="Best hour")
        step = self.make_step(scenario, "mail", name="Offer", send_time="optimal", **step_vals)
        return scenario, step

    def test_each_contact_gets_its_own_best_hour(self):
        scenario, step = self._scenario()
        with self.at(NOW), self.mock_mail_gateway():
            scenario.action_start()
            scenario.enroll(self.alice | self.carol)
            self.run_cron()
        alice, carol = self.trace_of(step, self.alice), self.trace_of(step, self.carol)
        self.assertEqual(alice.state, "scheduled")
        self.assertEqual(alice.scheduled_at, NOW.replace(hour=18))
        self.assertIn("19:00 (Europe/Brussels)", alice.reason)
        self.assertIn("own 5 opens", alice.reason)
        self.assertEqual(carol.scheduled_at, (NOW + timedelta(days=1)).replace(hour=6))
        self.assertFalse(self.mailing_trace(step, self.alice), "nothing sent before the hour")
        with self.at(NOW.replace(hour=18, minute=1)), self.mock_mail_gateway():
            self.run_cron()
        self.assertEqual(alice.state, "done", "sent at its hour, not postponed again")
        self.assertTrue(self.mailing_trace(step, self.alice))
        self.assertEqual(carol.state, "scheduled")

    def test_too_little_history_takes_the_audience_best_hour(self):
        scenario, step = self._scenario()
        with self.at(NOW), self.mock_mail_gateway():
            scenario.action_start()
            scenario.enroll(self.alice | self.bob | self.carol)
            self.run_cron()
        bob = self.trace_of(step, self.bob)
        # the audience reads most at 19:00 local (Alice's 5 against Carol's 4 at 07:00)
        self.assertEqual(bob.scheduled_at, NOW.replace(hour=19))
        self.assertIn("audience's best hour", bob.reason)

    def test_never_waits_more_than_the_maximum(self):
        scenario, step = self._scenario(send_time_max_delay=2)
        with self.at(NOW), self.mock_mail_gateway():
            scenario.action_start()
            scenario.enroll(self.alice)
            self.run_cron()
        self.assertEqual(self.trace_of(step, self.alice).state, "done", "19:00 is 9 hours away")

    def test_the_best_hour_stays_inside_the_send_window(self):
        scenario, step = self._scenario()
        scenario.write({"window_enabled": True, "window_hour_from": 8.0, "window_hour_to": 18.0})
        with self.at(NOW), self.mock_mail_gateway():
            scenario.action_start()
            scenario.enroll(self.alice)
            self.run_cron()
        # 19:00 is outside 08:00-18:00: no personal hour fits, the audience's is Alice's
        # too, so the window alone decides: sent now (10:00 local is inside)
        self.assertEqual(self.trace_of(step, self.alice).state, "done")

    def test_test_walks_are_not_delayed(self):
        scenario, step = self._scenario()
        with self.at(NOW), self.mock_mail_gateway():
            scenario.enroll(self.alice, test=True)
            self.run_cron()
        self.assertEqual(self.trace_of(step, self.alice).state, "done")

    def test_maximum_is_bounded(self):
        scenario, step = self._scenario()
        with self.assertRaisesRegex(ValidationError, "1 to 168 hours"):
            step.send_time_max_delay = 500
