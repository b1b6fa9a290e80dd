import re
from contextlib import contextmanager
from unittest.mock import patch

import psycopg2

from odoo import sql_db
from odoo.tests import tagged

from ..models.mail_mail_delivery import LOCK_SPACE
from .common import NOW, TriggerMarketingCase

# a query on the addon's tables, or reading the scenario link of mailing traces
OURS = re.compile(r'(FROM|JOIN|INTO|UPDATE)\s+"?marketing_|"mailing_trace"\."marketing_trace_id"')
BODY = (
    '<p>Hello <t t-out="object.name"/>, see our <a href="https://www.example.com/offer">'
    'offer</a>. <a href="/unsubscribe_from_list">Unsubscribe</a></p>'
)


@tagged("post_install", "-at_install")
class TestMailDelivery(TriggerMarketingCase):
    """The delivery lane of scenario mails (mail_mail_delivery.py): Odoo's message
    building, set-based post-processing, mails of dead batches failed, never re-sent.
    The same against real processes, a real SMTP server and ``kill -9``:
    test_processes_delivery.py (slow)."""

    def setUp(self):
        super().setUp()
        self.env["ir.config_parameter"].sudo().set_param("web.base.url", "https://shop.example.com")
        self.scenario = self.make_scenario()
        self.welcome = self.make_step(self.scenario, "mail", name="Welcome")
        self.welcome.mailing_id.body_html = BODY
        self.scenario.action_start()
        self.lane = self.env.ref("trigger_marketing.ir_cron_mail_delivery")

    def queue(self, count):
        partners = self.make_partners(count)
        self.scenario.enroll(partners)
        self.run_cron()
        return self.mails()

    def mails(self):
        return (
            self.env["mail.mail"]
            .sudo()
            .search([("mailing_id", "=", self.welcome.mailing_id.id)], order="id")
        )

    def deliver(self):
        with self.enter_registry_test_mode():
            self.lane.method_direct_trigger()
        self.env.invalidate_all()

    def test_lane_delivers_scenario_mails_as_odoo_builds_them(self):
        with self.at(NOW), self.mock_mail_gateway(mail_unlink_sent=True):
            mails = self.queue(3)
            self.assertEqual(len(mails), 3)
            self.assertTrue(all(mails.mapped("trigger_marketing_lane")))
            messages = mails.mail_message_id
            self.env["mail.mail"].sudo().process_email_queue()
            self.assertFalse(self._mails, "Odoo's own queue leaves scenario mails alone")
            self.assertEqual(set(mails.mapped("state")), {"outgoing"})
            self.deliver()
            self.assertEqual(len(self._mails), 3, "each mail once")
            for sent in self._mails:
                self.assertIn("/mail/track/", sent["body"], "open tracking pixel")
                self.assertIn("unsubscribe?document_id=", sent["body"], "personal link")
                self.assertIn("List-Unsubscribe", sent["headers"])
                self.assertEqual(sent["headers"]["Precedence"], "list")
            self.assertFalse(mails.exists(), "auto-deleted")
            self.assertFalse(messages.exists(), "with their messages")
            traces = self.env["mailing.trace"].search(
                [("mass_mailing_id", "=", self.welcome.mailing_id.id)]
            )
            self.assertEqual(set(traces.mapped("trace_status")), {"sent"})
            self.assertEqual(set(self.traces(self.welcome).mapped("mail_status")), {"sent"})

    def test_queries_do_not_grow_with_the_batch(self):
        """Claim, sending and post-processing: the same number of queries for 4 and for
        16 mails (nothing per mail)."""
        counts = []
        with self.at(NOW), self.mock_mail_gateway(mail_unlink_sent=True):
            for count in (1, 4, 16):  # the first one warms the caches up
                self.queue(count)
                self.env.invalidate_all()
                start = self.cr.sql_log_count
                self.deliver()
                counts.append(self.cr.sql_log_count - start)
                self.assertFalse(self.mails())
        self.assertEqual(len(self._mails), 21)
        self.assertEqual(counts[1], counts[2], counts)

    def test_mails_of_a_dead_batch_fail_and_never_go(self):
        """A batch whose worker died (its advisory lock is free) after the claim was
        committed: its mails may have reached the recipient; they fail with the reason,
        are not sent again, their mailing traces in error. A batch whose worker lives
        (lock held by another session) is left alone."""
        with self.at(NOW), self.mock_mail_gateway(mail_unlink_sent=True):
            mails = self.queue(4)
            dead, alive = mails[:2], mails[2:]
            dead.write({"trigger_marketing_batch": dead[0].id})
            alive.write({"trigger_marketing_batch": alive[0].id})
            self.env.flush_all()
            other = psycopg2.connect(**sql_db.connection_info_for(self.env.cr.dbname)[1])
            try:
                with other.cursor() as cr:
                    cr.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_SPACE, alive[0].id))
                self.deliver()
            finally:
                other.close()
            self.assertFalse(self._mails, "nothing sent: the live batch's mails are its own")
            self.assertEqual(set(dead.mapped("state")), {"exception"})
            self.assertIn("Delivery interrupted", dead[0].failure_reason)
            self.assertEqual(
                set(dead.mailing_trace_ids.mapped("trace_status")), {"error"}, "accounted for"
            )
            self.assertEqual(set(alive.mapped("state")), {"outgoing"})
            # the live one's worker died in turn: failed at the next run, never sent
            self.deliver()
            self.assertFalse(self._mails)
            self.assertEqual(set(alive.mapped("state")), {"exception"})
            self.assertEqual(set(self.traces(self.welcome).mapped("mail_status")), {"error"})
            # checked by a person: Retry sends them, once
            mails.action_retry()
            self.deliver()
            self.assertEqual(len(self._mails), 4)
            self.assertEqual(set(self.traces(self.welcome).mapped("mail_status")), {"sent"})

    def test_odoo_queue_reads_nothing_of_the_addon(self):
        """A plain mass mailing sent by Odoo's queue: not one query of the addon per mail
        (the scenario mirror of the mailing traces used to read each one's scenario link
        when mass_mailing marked it sent: +1 query per mail, with no scenario at all)."""
        partners = self.make_partners(4)
        mailing = self.env["mailing.mailing"].create(
            {
                "subject": "News",
                "body_html": "<p>News</p>",
                "mailing_model_id": self.partner_model.id,
                "mailing_domain": repr([("id", "in", partners.ids)]),
            }
        )
        with self.mock_mail_gateway(mail_unlink_sent=True):
            self.env.invalidate_all()
            queries = []
            with contextmanager(self._patchExecute)(queries):
                mailing.action_send_mail()  # queued, then sent by Odoo (tests send at once)
        self.assertEqual(len(self._mails), 4)
        self.assertEqual(set(mailing.mailing_trace_ids.mapped("trace_status")), {"sent"})
        ours = [str(q) for q in queries if OURS.search(str(q))]
        self.assertFalse(ours, "no query of the addon")

    def test_each_mail_keeps_its_own_connection_failure(self):
        """Two sending configurations whose SMTP connections both fail: each mail keeps
        the reason of its own connection (the second's overwrote the first's)."""

        def refuse(server, *args, smtp_from=None, **kwargs):
            raise ConnectionRefusedError(f"no SMTP server for {smtp_from}")

        with self.at(NOW), self.mock_mail_gateway(mail_unlink_sent=True):
            first, second = self.queue(2)
            first.email_from = "first@example.com"
            second.email_from = "second@example.com"
            IrMailServer = type(self.env["ir.mail_server"])
            with patch.object(IrMailServer, "_connect__", refuse):
                self.deliver()
            self.assertFalse(self._mails)
            self.assertIn("first@example.com", first.failure_reason)
            self.assertIn("second@example.com", second.failure_reason)
