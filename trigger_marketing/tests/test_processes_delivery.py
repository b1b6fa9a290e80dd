"""The delivery lane with real Odoo processes and a real SMTP server (aiosmtpd on
loopback): a worker killed with ``kill -9`` in the middle of a batch, several workers
at once. Counted from both sides: what the SMTP server received, what the database says.

Slow (``make test-slow``); see processes.py.
"""

import asyncio
import email
import logging
import threading
import time
from email import policy

from odoo.tests import BaseCase, tagged

from . import processes as P
from .test_processes import DELIVERY, PROCESS, make_scenario, pending, seed_partners

_logger = logging.getLogger(__name__)


class Sink:
    """An SMTP server on loopback that records each message it accepts (recipient,
    Message-Id). ``hold_after(n)``: from the n+1-th message on, it answers nothing
    until ``release()`` and then refuses (451): those messages are never accepted."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.port = P.free_port()
        self.received = []
        self.hold_from = None
        self.held = threading.Event()
        self.released = threading.Event()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.released.set()
        self.controller.stop()

    async def handle_DATA(self, server, session, envelope):
        if self.hold_from is not None and len(self.received) >= self.hold_from:
            self.held.set()
            while not self.released.is_set():
                await asyncio.sleep(0.05)
            return "451 Try again later"
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        self.received.append((tuple(envelope.rcpt_tos), message["Message-Id"]))
        return "250 OK"

    def recipients(self):
        return [rcpt for rcpts, _mid in self.received for rcpt in rcpts]


def prepare(dbname, contacts, prefix, port, lanes=1):
    """Loopback SMTP server, the scenario, ``contacts`` contacts enrolled, their e-mail
    step processed in this process: the scenario mails are queued for the lane."""
    with P.environment(dbname) as env:
        env["ir.mail_server"].create(
            {
                "name": "Loopback",
                "smtp_host": "127.0.0.1",
                "smtp_port": port,
                "smtp_encryption": "none",
            }
        )
        env["ir.config_parameter"].set_param("trigger_marketing.delivery_batch_size", 100)
        env["marketing.scenario.trace"]._set_processing_lanes(lanes)
        scenario = make_scenario(env, "Delivery")
        scenario.action_start()
        scenario.enroll(seed_partners(env, contacts, prefix))
    with P.environment(dbname) as env:
        env["marketing.scenario.trace"]._cron_process()
    assert pending(dbname) == 0


def mail_book(dbname):
    """Mailing traces by status, and the failure reasons of the scenario mails left."""
    statuses = dict(
        P.run_sql(
            dbname,
            "SELECT trace_status, count(*) FROM mailing_trace"
            " WHERE marketing_trace_id IS NOT NULL GROUP BY 1",
        )
    )
    left = dict(
        P.run_sql(
            dbname,
            "SELECT state || ': ' || coalesce(failure_reason, ''), count(*) FROM mail_mail"
            " WHERE trigger_marketing_lane GROUP BY 1",
        )
    )
    return statuses, left


def emails_with_status(dbname, status):
    return {
        row[0]
        for row in P.run_sql(
            dbname,
            "SELECT email FROM mailing_trace WHERE trace_status = %s"
            " AND marketing_trace_id IS NOT NULL",
            [status],
        )
    }


@tagged("slow", "-standard", "-at_install", "post_install")
class TestProcessesDelivery(BaseCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.template = P.template_db()

    def new_db(self, label):
        dbname = P.copy_db(self.template, label)
        self.addCleanup(P.drop_db, dbname)
        return dbname

    def start(self, dbname, count):
        procs = P.start_processes(dbname, count)
        for proc in procs:
            self.addCleanup(proc.stop)
        return procs

    def test_kill_9_in_the_middle_of_a_delivery_batch(self):
        """Killed while the SMTP server has accepted part of a claimed batch: after the
        restart no mail reached the server twice, and each mail is delivered or failed
        with "Delivery interrupted" (its batch only): none lost, none pending."""
        contacts, hold_after = 600, 250  # batches of 100: killed inside the third
        dbname = self.new_db("dkill")
        with Sink() as sink:
            prepare(dbname, contacts, "dkill", sink.port)
            crons = P.cron_ids(dbname, DELIVERY)
            P.only_crons(dbname, crons)
            sink.hold_from = hold_after
            [worker] = self.start(dbname, 1)
            P.trigger_crons(dbname, crons)
            P.wait_for(sink.held.is_set, 120, "the worker inside a batch")
            held = P.run_sql(
                dbname,
                "SELECT trigger_marketing_batch, count(*) FROM mail_mail"
                " WHERE trigger_marketing_batch IS NOT NULL AND state = 'outgoing' GROUP BY 1",
            )
            self.assertEqual(len(held), 1, "one batch in flight, its claim committed")
            [(batch, in_flight)] = held
            self.assertEqual(in_flight, 100)
            self.assertEqual(
                P.scalar(
                    dbname,
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                    " AND classid = %s AND objid = %s",
                    [0x544D, batch],
                ),
                1,
                "its worker holds the batch's lock",
            )
            worker.kill()
            sink.released.set()
            accepted_at_kill = len(sink.received)
            self.assertEqual(accepted_at_kill, hold_after)
            sink.hold_from = None
            self.start(dbname, 1)
            P.trigger_crons(dbname, crons)
            P.wait_for(
                lambda: (
                    not P.scalar(
                        dbname,
                        "SELECT count(*) FROM mail_mail WHERE trigger_marketing_lane"
                        " AND state = 'outgoing'",
                    )
                ),
                120,
                "the restarted worker to deliver the rest",
                tick=lambda: P.notify(dbname),
            )
            time.sleep(1)  # nothing more may come
            received = sink.recipients()
        statuses, left = mail_book(dbname)
        _logger.info("delivery after kill -9: received %s, %s, %s", len(received), statuses, left)
        self.assertEqual(len(received), len(set(received)), "no mail reached the server twice")
        self.assertEqual(sum(statuses.values()), contacts)
        self.assertEqual(set(statuses), {"sent", "error"}, "nothing pending")
        self.assertEqual(statuses["error"], in_flight, "the interrupted batch, and only it")
        [(reason, count)] = left.items()
        self.assertEqual(count, in_flight)
        self.assertIn("Delivery interrupted", reason)
        sent = emails_with_status(dbname, "sent")
        failed = emails_with_status(dbname, "error")
        self.assertLessEqual(sent, set(received), "every mail marked sent was received")
        self.assertLessEqual(set(received) - sent, failed, "the others: the interrupted ones")
        self.assertEqual(len(set(received) - sent), hold_after % 100, "accepted in that batch")

    def test_two_workers_deliver_in_parallel(self):
        """Two processes, two delivery lanes on the same queue: each mail reaches the
        SMTP server once, both lanes take their share."""
        contacts = 1200
        dbname = self.new_db("dpar")
        with Sink() as sink:
            prepare(dbname, contacts, "dpar", sink.port, lanes=2)
            crons = P.cron_ids(dbname, DELIVERY)
            self.assertEqual(len(crons), 2)
            self.assertEqual(len(P.cron_ids(dbname, PROCESS)), 2)
            P.only_crons(dbname, crons)
            self.start(dbname, 2)
            t0 = time.monotonic()
            P.trigger_crons(dbname, crons)
            P.wait_for(
                lambda: len(sink.received) >= contacts,
                300,
                "the two workers to deliver",
                tick=lambda: P.notify(dbname),
            )
            elapsed = time.monotonic() - t0
            time.sleep(1)
            received = sink.recipients()
        _logger.info("2 workers delivered %s mails in %.1fs", len(received), elapsed)
        self.assertEqual(len(received), contacts)
        self.assertEqual(len(set(received)), contacts, "once each")
        P.wait_for(lambda: mail_book(dbname)[0] == {"sent": contacts}, 60, "the traces to be sent")
        busy = P.scalar(
            dbname,
            "SELECT count(DISTINCT cron_id) FROM ir_cron_progress WHERE done > 0"
            " AND cron_id = ANY(%s)",
            [crons],
        )
        self.assertEqual(busy, 2, "both lanes delivered a share")
