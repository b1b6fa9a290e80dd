from datetime import timedelta

from odoo.tests import tagged

from .common import NOW, TriggerMarketingCase


@tagged("post_install", "-at_install")
class TestMailBranches(TriggerMarketingCase):
    """E-mail steps through mass_mailing, and the branches on what the contact did."""

    def setUp(self):
        super().setUp()
        self.scenario = self.make_scenario()
        self.welcome = self.make_step(
            self.scenario,
            "mail",
            name="Welcome",
            mailing_id=self.make_mailing(
                self.scenario,
                "Welcome",
                '<p>Hi <t t-out="object.name"/>, <a href="https://www.example.com/shop">shop</a> '
                '<a href="https://www.example.com/blog">blog</a></p>',
            ).id,
        )
        window = {"delay": 2, "delay_unit": "days"}
        self.opened = self.make_step(
            self.scenario,
            "score",
            self.welcome,
            name="Opened",
            trigger_type="mail_open",
            score_points=5,
            **window,
        )
        self.not_opened = self.make_step(
            self.scenario,
            "mail",
            self.welcome,
            name="Reminder",
            trigger_type="mail_not_open",
            **window,
        )
        self.clicked_shop = self.make_step(
            self.scenario,
            "score",
            self.welcome,
            name="Shop",
            trigger_type="mail_click",
            score_points=20,
            link_url="https://www.example.com/shop",
            **window,
        )
        self.not_clicked = self.make_step(
            self.scenario,
            "wait",
            self.welcome,
            name="No click",
            trigger_type="mail_not_click",
            **window,
        )
        self.replied = self.make_step(
            self.scenario,
            "score",
            self.welcome,
            name="Replied",
            trigger_type="mail_reply",
            score_points=50,
            **window,
        )
        self.bounced = self.make_step(
            self.scenario,
            "score",
            self.welcome,
            name="Bounced",
            trigger_type="mail_bounce",
            score_points=-10,
            **window,
        )
        self.scenario.action_start()

    def _send_welcome(self, partners):
        """Enrol ``partners``, run the welcome step and let the mail queue send."""
        self.scenario.enroll(partners)
        with self.mock_mail_gateway():
            self.run_cron()
            self.send_queue()

    def test_mail_sent_through_mass_mailing(self):
        with self.at(NOW):
            alice, bob = self.make_partners(2)
            self._send_welcome(alice | bob)
            trace = self.trace_of(self.welcome, alice)
            self.assertEqual(trace.state, "done")
            mail_trace = self.mailing_trace(self.welcome, alice)
            self.assertEqual(mail_trace.marketing_trace_id, trace)
            self.assertEqual(trace.mail_status, "sent")
            sent = self._find_sent_email_wemail(alice.email_formatted)
            self.assertIn("Hi Contact 0", sent["body"])
            self.assertIn("List-Unsubscribe", sent["headers"])
            self.assertIn("/mail/track/", sent["body"], "tracking pixel")
            # positive branches wait, negative ones are scheduled at the end of the window
            self.assertEqual(self.trace_of(self.opened, alice).state, "waiting")
            not_opened = self.trace_of(self.not_opened, alice)
            self.assertEqual(not_opened.state, "scheduled")
            self.assertEqual(not_opened.scheduled_at, NOW + timedelta(days=2))

    def test_open_wakes_positive_and_closes_negative(self):
        with self.at(NOW):
            alice, bob = self.make_partners(2)
            self._send_welcome(alice | bob)
        with self.at(NOW + timedelta(hours=5)):
            self.gateway_mail_trace_open(self.welcome.mailing_id, alice)
            self.assertEqual(self.trace_of(self.opened, alice).state, "scheduled")
            self.assertEqual(self.trace_of(self.not_opened, alice).state, "skipped")
            self.assertEqual(self.trace_of(self.not_opened, alice).reason_code, "event_happened")
            self.run_cron()
            self.assertEqual(self.trace_of(self.opened, alice).state, "done")
            self.assertEqual(alice.marketing_score, 5)
            self.assertEqual(self.trace_of(self.opened, bob).state, "waiting")
        with self.at(NOW + timedelta(days=2, minutes=1)):
            with self.mock_mail_gateway():
                self.run_cron()
            # bob never opened: the reminder goes, his "opened" branch expires
            self.assertEqual(self.trace_of(self.not_opened, bob).state, "done")
            self.assertEqual(self.trace_of(self.opened, bob).state, "skipped")
            self.assertEqual(self.trace_of(self.opened, bob).reason_code, "event_missed")
            self.assertEqual(bob.marketing_score, 0)

    def test_click_on_one_link(self):
        with self.at(NOW):
            alice, bob = self.make_partners(2)
            self._send_welcome(alice | bob)
            self.click(self.welcome, alice, "shop")
            self.click(self.welcome, bob, "blog")
            self.assertEqual(self.trace_of(self.clicked_shop, alice).state, "scheduled")
            self.assertEqual(
                self.trace_of(self.clicked_shop, bob).state,
                "waiting",
                "a click on another link does not count",
            )
            for partner in alice | bob:
                self.assertEqual(self.trace_of(self.not_clicked, partner).state, "skipped")
                # a click implies an open
                self.assertEqual(self.trace_of(self.opened, partner).state, "scheduled")
            self.run_cron()
            self.assertEqual(alice.marketing_score, 25)
            self.assertEqual(bob.marketing_score, 5)

    def test_reply_and_bounce(self):
        with self.at(NOW):
            alice, bob = self.make_partners(2)
            self._send_welcome(alice | bob)
            self.gateway_mail_trace_reply(self.welcome.mailing_id, alice)
            self.gateway_mail_trace_bounce(self.welcome.mailing_id, bob)
            self.run_cron()
            self.assertEqual(self.trace_of(self.replied, alice).state, "done")
            self.assertEqual(self.trace_of(self.bounced, bob).state, "done")
            self.assertEqual(bob.marketing_score, -10)
            # a bounced mail was not delivered: no "not opened" reminder
            reminder = self.trace_of(self.not_opened, bob)
            self.assertEqual((reminder.state, reminder.reason_code), ("skipped", "mail_not_sent"))

    def test_not_opened_never_fires_after_a_canceled_send(self):
        """Blacklisted: the send is cancelled, so "not opened" must not fire."""
        with self.at(NOW):
            alice, bob = self.make_partners(2)
            self.env["mail.blacklist"].create({"email": bob.email})
            self._send_welcome(alice | bob)
            welcome_bob = self.trace_of(self.welcome, bob)
            self.assertEqual(
                (welcome_bob.state, welcome_bob.reason_code), ("skipped", "blacklisted")
            )
            self.assertFalse(self.trace_of(self.not_opened, bob))
        with self.at(NOW + timedelta(days=3)):
            with self.mock_mail_gateway():
                self.run_cron()
            self.assertFalse(self.trace_of(self.not_opened, bob))
            self.assertEqual(self.trace_of(self.not_opened, alice).state, "done")

    def test_not_opened_waits_for_the_queue_and_skips_failed_sends(self):
        with self.at(NOW):
            alice, bob = self.make_partners(2)
            self.scenario.enroll(alice | bob)
            with self.mock_mail_gateway():
                self.run_cron()
            # alice's mail failed at the SMTP level, bob's never left the queue
            self.mailing_trace(self.welcome, alice).set_failed(failure_type="mail_smtp")
        with self.at(NOW + timedelta(days=2, minutes=1)):
            self.run_cron()
            alice_trace = self.trace_of(self.not_opened, alice)
            self.assertEqual(
                (alice_trace.state, alice_trace.reason_code), ("skipped", "mail_not_sent")
            )
            bob_trace = self.trace_of(self.not_opened, bob)
            self.assertEqual(bob_trace.state, "scheduled", "decides once the mail has left")
            self.assertGreater(bob_trace.scheduled_at, NOW + timedelta(days=2))

    def test_one_address_is_mailed_once_per_step(self):
        """Two contacts with one address in a batch, then a third in a later batch while
        the first walk runs: one mail, the others skipped 'duplicate'. A test walk and a
        walk that ended do not count."""
        with self.at(NOW):
            scenario = self.make_scenario(name="Duplicates", test_email="qa@example.com")
            mail = self.make_step(scenario, "mail", name="Hello")
            self.make_step(scenario, "wait", mail, delay=3, delay_unit="days")
            scenario.action_start()
            first, twin = self.make_partners(2, email="same@example.com")
            other = self.make_partners(1, email="other@example.com")
            scenario.enroll(first | twin | other)
            with self.mock_mail_gateway():
                self.run_cron()
            states = {p: self.trace_of(mail, p) for p in first | twin | other}
            self.assertEqual(states[first].state, "done")
            self.assertEqual(
                (states[twin].state, states[twin].reason_code), ("skipped", "duplicate")
            )
            self.assertEqual(states[other].state, "done")
            late, tester = self.make_partners(2, email="same@example.com")
            scenario.enroll(late)
            scenario.enroll(tester, test=True)
            with self.mock_mail_gateway():
                self.run_cron()
            self.assertEqual(self.trace_of(mail, late).reason_code, "duplicate")
            self.assertEqual(self.trace_of(mail, tester).state, "done", "test walks never block")
            # once the first walk is over, the address may be mailed again by a new walk
            scenario.participant_ids.filtered(lambda p: not p.is_test)._end("completed", "manual")
            again = self.make_partners(1, email="same@example.com")
            scenario.enroll(again)
            with self.mock_mail_gateway():
                self.run_cron()
            self.assertEqual(self.trace_of(mail, again).state, "done")
