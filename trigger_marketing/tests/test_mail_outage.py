from datetime import timedelta
from unittest.mock import patch

from odoo.tests import tagged

from .common import NOW, TriggerMarketingCase


@tagged("post_install", "-at_install")
class TestMailOutage(TriggerMarketingCase):
    """The outgoing mail server is down: scenario mails stay queued and go out when it is
    back, and "not opened" branches wait for them instead of misfiring.

    Scenario mails leave through the delivery lane (mail_mail_delivery.py), which
    handles a failed connection as Odoo's queue does, then keeps them queued.
    What Odoo does by itself (mail.mail.send): a failed connection marks the whole batch
    'exception' (failure type 'mail_smtp') and mass_mailing marks the mailing traces
    'error'; nothing retries them. The same flow against a real SMTP server on loopback
    runs in test_processes.py (slow).
    """

    def setUp(self):
        super().setUp()
        self.scenario = self.make_scenario()
        self.welcome = self.make_step(self.scenario, "mail", name="Welcome")
        self.reminder = self.make_step(
            self.scenario,
            "mail",
            self.welcome,
            name="Reminder",
            trigger_type="mail_not_open",
            delay=1,
            delay_unit="days",
        )
        self.scenario.action_start()
        self.queue_cron = self.env.ref("trigger_marketing.ir_cron_mail_delivery")

    def smtp_down(self):
        """The SMTP server refuses connections (inside mock_mail_gateway, whose SMTP mock
        it overrides: Odoo's own connection code runs and fails)."""
        return patch("smtplib.SMTP", side_effect=ConnectionRefusedError(111, "refused"))

    def process_queue(self):
        """Odoo's mail queue, then the delivery lane of scenario mails."""
        self.env["mail.mail"].sudo().process_email_queue()
        with self.enter_registry_test_mode():
            self.queue_cron.method_direct_trigger()
        self.env.invalidate_all()

    def mail_traces(self, step):
        return self.env["mailing.trace"].search([("mass_mailing_id", "=", step.mailing_id.id)])

    def mails(self, step):
        return self.env["mail.mail"].sudo().search([("mailing_id", "=", step.mailing_id.id)])

    def test_scenario_mails_stay_queued_and_branches_wait(self):
        with self.at(NOW):
            partners = self.make_partners(3)
            self.scenario.enroll(partners)
            with self.mock_mail_gateway(mail_unlink_sent=True):
                self.run_cron()
                with (
                    self.smtp_down(),
                    self.capture_triggers("trigger_marketing.ir_cron_mail_delivery") as capture,
                ):
                    self.process_queue()
            mails = self.mails(self.welcome)
            self.assertEqual(len(mails), 3)
            self.assertEqual(set(mails.mapped("state")), {"outgoing"}, "still queued")
            self.assertEqual(set(mails.mapped("scheduled_date")), {NOW + timedelta(minutes=10)})
            self.assertIn("could not be reached", mails[0].failure_reason)
            self.assertIn("refused", mails[0].failure_reason)
            self.assertEqual(capture.records.call_at, NOW + timedelta(minutes=10))
            self.assertEqual(
                set(self.mail_traces(self.welcome).mapped("trace_status")),
                {"outgoing"},
            )
            self.assertFalse(self._mails, "nothing left")
        # a day later the server is still down: the reminders wait, none is skipped
        with self.at(NOW + timedelta(days=1, minutes=1)):
            with self.mock_mail_gateway(), self.smtp_down():
                self.process_queue()
                self.run_cron()
            reminders = self.traces(self.reminder)
            self.assertEqual(set(reminders.mapped("state")), {"scheduled"})
            self.assertEqual(set(reminders.mapped("reason_code")), {False})
            self.assertFalse(self.mails(self.reminder))
        # the server is back: the queue sends them, then the reminders go
        with self.at(NOW + timedelta(days=1, hours=1, minutes=2)):
            with self.mock_mail_gateway(mail_unlink_sent=True):
                self.process_queue()
                self.assertEqual(len(self._mails), 3)
                self.assertEqual(
                    set(self.mail_traces(self.welcome).mapped("trace_status")),
                    {"sent"},
                )
                self.run_cron()
                self.assertEqual(set(self.traces(self.reminder).mapped("state")), {"done"})
                self.process_queue()
                self.assertEqual(len(self._mails), 6, "3 welcome + 3 reminders, once each")

    def test_give_up_after_the_grace_like_odoo(self):
        with self.at(NOW):
            partner = self.make_partners(1)
            self.scenario.enroll(partner)
            with self.mock_mail_gateway():
                self.run_cron()
        with self.at(NOW + timedelta(days=2, minutes=1)):
            with self.mock_mail_gateway(), self.smtp_down():
                self.process_queue()
            mail = self.mails(self.welcome)
            self.assertEqual(mail.state, "exception")
            mail_trace = self.mailing_trace(self.welcome, partner)
            self.assertEqual(
                (mail_trace.trace_status, mail_trace.failure_type), ("error", "mail_smtp")
            )
            self.run_cron()
            reminder = self.trace_of(self.reminder, partner)
            self.assertEqual((reminder.state, reminder.reason_code), ("skipped", "mail_not_sent"))

    def test_other_mails_keep_odoo_behaviour(self):
        with self.at(NOW):
            partner = self.make_partners(1)
            mailing = self.env["mailing.mailing"].create(
                {
                    "subject": "Newsletter",
                    "body_html": "<p>News</p>",
                    "mailing_model_id": self.partner_model.id,
                    "mailing_domain": repr([("id", "=", partner.id)]),
                }
            )
            with self.mock_mail_gateway(), self.smtp_down():
                mailing.action_send_mail()
                self.process_queue()
            mail = self.env["mail.mail"].sudo().search([("mailing_id", "=", mailing.id)])
            self.assertEqual(mail.state, "exception")
            self.assertEqual(mailing.mailing_trace_ids.trace_status, "error")

    def test_mail_queue_woken_when_scenario_mails_are_queued(self):
        """Scenario mails leave at once, not at the next hourly run of the delivery
        lane: it is woken once per transaction that queued some."""
        with self.at(NOW):
            self.scenario.enroll(self.make_partners(3))
            with (
                self.mock_mail_gateway(),
                self.capture_triggers("trigger_marketing.ir_cron_mail_delivery") as capture,
            ):
                self.run_cron()
            self.assertEqual(capture.records.mapped("call_at"), [NOW])
