"""Several real Odoo processes, a worker killed with ``kill -9``, an SMTP outage.

Slow (``make test-slow``): real ``python -m odoo server`` processes run Odoo's own cron
scheduler on throw-away databases (see processes.py); the SMTP server is a real one
(aiosmtpd) on loopback. Time is moved forward by making the next steps due
(``scheduled_at``), as a clock would.
"""

import email
import logging
import re
import signal
import time
from email import policy

from odoo.tests import BaseCase, tagged

from . import processes as P

_logger = logging.getLogger(__name__)

PROCESS = "model._cron_process()"
DELIVERY = "model._cron_trigger_marketing_deliver()"
BODY = (
    '<p>Hello <t t-out="object.name"/>,</p>'
    '<p>See our <a href="https://www.example.com/offer">offer</a>.</p>'
)


def seed_partners(env, count, prefix):
    """``count`` contacts with distinct valid e-mails, in one query."""
    env.cr.execute(
        """
        WITH s AS (SELECT nextval('res_partner_id_seq') AS id, g
                     FROM generate_series(1, %(n)s) AS g)
        INSERT INTO res_partner
            (id, commercial_partner_id, name, complete_name, email, email_normalized,
             lang, type, active, is_company, partner_share, marketing_score,
             create_uid, write_uid, create_date, write_date)
        SELECT s.id, s.id, 'Contact ' || s.g, 'Contact ' || s.g,
               %(prefix)s || s.g || '@example.com', %(prefix)s || s.g || '@example.com',
               'en_US', 'contact', TRUE, FALSE, TRUE, 0,
               1, 1, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
          FROM s
        RETURNING id
        """,
        {"n": count, "prefix": prefix},
    )
    return env["res.partner"].browse(sorted(row[0] for row in env.cr.fetchall()))


def make_scenario(env, name, mail_step_vals=None):
    """Welcome e-mail, then +1 point, then a tag (all due at once)."""
    Step = env["marketing.scenario.step"]
    scenario = env["marketing.scenario"].create(
        {
            "name": name,
            "model_id": env["ir.model"]._get_id("res.partner"),
            "domain": "[('email', '!=', False)]",
        }
    )
    mailing = env["mailing.mailing"].create(
        {
            "name": "Welcome",
            "subject": "Welcome",
            "body_html": BODY,
            "mailing_model_id": env["ir.model"]._get_id("res.partner"),
            "use_in_trigger_marketing": True,
        }
    )
    mail = Step.create(
        {
            "name": "Welcome",
            "scenario_id": scenario.id,
            "action_type": "mail",
            "mailing_id": mailing.id,
            **(mail_step_vals or {}),
        }
    )
    score = Step.create(
        {
            "name": "Point",
            "scenario_id": scenario.id,
            "parent_id": mail.id,
            "action_type": "score",
            "score_points": 1,
        }
    )
    tag = env["res.partner.category"].create({"name": "Welcomed"})
    Step.create(
        {
            "name": "Tag",
            "scenario_id": scenario.id,
            "parent_id": score.id,
            "action_type": "tag_add",
            "tag_ids": [(6, 0, tag.ids)],
        }
    )
    return scenario


def pending(dbname):
    return P.scalar(
        dbname,
        "SELECT count(*) FROM marketing_scenario_trace WHERE state IN ('scheduled', 'waiting')",
    )


def ledger(dbname):
    """What was done, counted from every side: traces, mails, score lines."""
    rows = P.run_sql(
        dbname,
        """
        SELECT s.action_type, t.state, count(*)
          FROM marketing_scenario_trace t JOIN marketing_scenario_step s ON s.id = t.step_id
         GROUP BY 1, 2
        """,
    )
    traces = {(action, state): count for action, state, count in rows}
    mail_traces, mail_distinct = P.run_sql(
        dbname,
        "SELECT count(*), count(DISTINCT marketing_trace_id) FROM mailing_trace"
        " WHERE marketing_trace_id IS NOT NULL",
    )[0]
    mails = P.scalar(
        dbname,
        "SELECT count(*) FROM mail_mail m JOIN mailing_mailing g ON g.id = m.mailing_id"
        " WHERE g.use_in_trigger_marketing",
    )
    scores, score_distinct = P.run_sql(
        dbname, "SELECT count(*), count(DISTINCT trace_id) FROM marketing_score_history"
    )[0]
    tags = P.scalar(dbname, "SELECT count(*) FROM res_partner_res_partner_category_rel")
    return {
        "traces": traces,
        "mailing_traces": mail_traces,
        "mailing_traces_distinct": mail_distinct,
        "mails": mails,
        "score_lines": scores,
        "score_lines_distinct": score_distinct,
        "tags": tags,
    }


@tagged("slow", "-standard", "-at_install", "post_install")
class TestProcesses(BaseCase):
    """Exactly once and nothing lost with real workers, crashes and outages."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.template = P.template_db()

    def new_db(self, label, template=None):
        dbname = P.copy_db(template or self.template, label)
        self.addCleanup(P.drop_db, dbname)
        return dbname

    def start(self, dbname, count):
        procs = P.start_processes(dbname, count)
        for proc in procs:
            self.addCleanup(proc.stop)
        return procs

    def assertExactlyOnce(self, dbname, contacts, prefix):
        book = ledger(dbname)
        _logger.info("ledger of %s: %s", dbname, book)
        self.assertEqual(pending(dbname), 0, "nothing lost: nothing is left pending")
        for action in ("mail", "score", "tag_add"):
            self.assertEqual(
                book["traces"].get((action, "done")), contacts, f"every {action} step done"
            )
        self.assertEqual(
            sum(c for (_a, state), c in book["traces"].items() if state != "done"),
            0,
            "no trace skipped, failed or canceled",
        )
        self.assertEqual(book["mailing_traces"], contacts, "one mailing trace per e-mail trace")
        self.assertEqual(book["mailing_traces_distinct"], contacts)
        self.assertEqual(book["mails"], contacts, "one mail.mail per e-mail trace")
        self.assertEqual(book["score_lines"], contacts, "one score line per score trace")
        self.assertEqual(book["score_lines_distinct"], contacts)
        self.assertEqual(book["tags"], contacts)
        self.assertEqual(
            P.run_sql(
                dbname,
                "SELECT DISTINCT marketing_score FROM res_partner WHERE email LIKE %s",
                [f"{prefix}%"],
            ),
            [(1,)],
            "every contact scored exactly once",
        )
        self.assertEqual(
            P.scalar(
                dbname,
                "SELECT count(*) FROM marketing_scenario_participant WHERE state = 'completed'",
            ),
            contacts,
        )

    # ------------------------------------------------------------------ #
    def test_workers_share_the_due_traces(self):
        """1, 2 and 4 processes on the same due traces: none done twice, none lost."""
        contacts = 3000
        populated = self.new_db("pop")
        with P.environment(populated) as env:
            env["ir.config_parameter"].set_param("trigger_marketing.batch_size", 200)
            env["marketing.scenario.trace"]._set_processing_lanes(4)
            scenario = make_scenario(env, "Workers")
            scenario.action_start()
            partners = seed_partners(env, contacts, "worker")
            self.assertEqual(len(scenario.enroll(partners)), contacts)
        lanes = P.cron_ids(populated, PROCESS)
        self.assertEqual(len(lanes), 4)
        timings = {}
        for count in (1, 2, 4):
            dbname = self.new_db(f"w{count}", template=populated)
            P.only_crons(dbname, lanes[:count])
            procs = self.start(dbname, count)
            t0 = time.monotonic()
            P.trigger_crons(dbname, lanes[:count])
            P.wait_for(
                lambda db=dbname: pending(db) == 0,
                300,
                f"{count} processes to finish",
                tick=lambda db=dbname: P.notify(db),
            )
            timings[count] = time.monotonic() - t0
            for proc in procs:
                proc.stop()
            self.assertExactlyOnce(dbname, contacts, "worker")
            busy = P.scalar(
                dbname,
                "SELECT count(DISTINCT cron_id) FROM ir_cron_progress WHERE done > 0",
            )
            self.assertEqual(busy, count, f"each of the {count} processes took its share")
            P.drop_db(dbname)
        _logger.info(
            "processing %s traces: %s",
            3 * contacts,
            ", ".join(
                f"{n} process(es) {t:.1f}s (x{timings[1] / t:.2f})" for n, t in timings.items()
            ),
        )
        self.speedups = timings
        # honest bound on a small machine: more workers must not make it much slower
        self.assertLess(timings[4], timings[1] * 1.5)

    # ------------------------------------------------------------------ #
    def test_kill_9_in_the_middle_of_a_batch(self):
        """A worker killed mid-batch, restarted: nothing sent twice, nothing lost."""
        contacts = 1500
        dbname = self.new_db("kill")
        with P.environment(dbname) as env:
            env["ir.config_parameter"].set_param("trigger_marketing.batch_size", 100)
            scenario = make_scenario(env, "Crash")
            scenario.action_start()
            self.assertEqual(len(scenario.enroll(seed_partners(env, contacts, "kill"))), contacts)
        lanes = P.cron_ids(dbname, PROCESS)
        P.only_crons(dbname, lanes)
        [worker] = self.start(dbname, 1)
        P.trigger_crons(dbname, lanes)

        def done():
            return P.scalar(
                dbname, "SELECT count(*) FROM marketing_scenario_trace WHERE state = 'done'"
            )

        def held_batch():
            """Due traces that another transaction holds: a claimed, uncommitted batch."""
            conn = P._connect(dbname)
            try:
                conn.autocommit = False
                with conn.cursor() as cr:
                    cr.execute(
                        "SELECT id FROM marketing_scenario_trace"
                        " WHERE state IN ('scheduled', 'waiting')"
                    )
                    due = {row[0] for row in cr.fetchall()}
                    cr.execute(
                        "SELECT id FROM marketing_scenario_trace"
                        " WHERE state IN ('scheduled', 'waiting') FOR UPDATE SKIP LOCKED"
                    )
                    free = {row[0] for row in cr.fetchall()}
                conn.rollback()
                return due - free
            finally:
                conn.close()

        held = set()

        def frozen_in_a_batch():
            """Freeze the worker (SIGSTOP); keep it frozen if it holds a batch after some
            committed ones, else let it run on."""
            worker.proc.send_signal(signal.SIGSTOP)
            if done() >= 300:
                held.update(held_batch())
                if held:
                    return True
            worker.proc.send_signal(signal.SIGCONT)
            return False

        P.wait_for(
            frozen_in_a_batch,
            120,
            "the worker in the middle of a batch after committed ones",
            every=0.05,
            tick=lambda: P.notify(dbname),
        )
        worker.kill()
        done_at_kill = done()
        _logger.info(
            "killed with %s traces done of %s, holding %s", done_at_kill, 3 * contacts, len(held)
        )
        self.assertLess(done_at_kill, 3 * contacts, "killed before the end")
        self.assertEqual(
            P.scalar(
                dbname,
                "SELECT count(*) FROM marketing_scenario_trace WHERE id = ANY(%s)"
                " AND state IN ('scheduled', 'waiting')",
                [list(held)],
            ),
            len(held),
            "the batch it held is rolled back, entirely",
        )
        # the killed transaction is rolled back: what is committed is consistent
        book = ledger(dbname)
        self.assertEqual(book["mailing_traces"], book["traces"].get(("mail", "done"), 0))
        self.assertEqual(book["mails"], book["mailing_traces"])
        self.assertEqual(book["score_lines"], book["traces"].get(("score", "done"), 0))

        self.start(dbname, 1)
        P.wait_for(
            lambda: pending(dbname) == 0,
            300,
            "the restarted worker to finish",
            tick=lambda: P.notify(dbname),
        )
        self.assertExactlyOnce(dbname, contacts, "kill")

    # ------------------------------------------------------------------ #
    def test_smtp_down_then_back(self):
        """Mails stay queued while the SMTP server is down, "not opened" waits; when it is
        back the real messages leave with their tracking, and nothing goes twice."""
        from aiosmtpd.controller import Controller

        contacts = 20
        port = P.free_port()
        dbname = self.new_db("smtp")
        with P.environment(dbname) as env:
            env["ir.mail_server"].create(
                {
                    "name": "Loopback",
                    "smtp_host": "127.0.0.1",
                    "smtp_port": port,
                    "smtp_encryption": "none",
                }
            )
            env["ir.config_parameter"].set_param("web.base.url", "http://shop.example.com")
            scenario = make_scenario(env, "Outage")
            welcome = scenario.step_ids.filtered(lambda s: s.action_type == "mail")
            reminder_mailing = env["mailing.mailing"].create(
                {
                    "name": "Reminder",
                    "subject": "Reminder",
                    "body_html": BODY,
                    "mailing_model_id": env["ir.model"]._get_id("res.partner"),
                    "use_in_trigger_marketing": True,
                }
            )
            reminder = env["marketing.scenario.step"].create(
                {
                    "name": "Reminder",
                    "scenario_id": scenario.id,
                    "parent_id": welcome.id,
                    "trigger_type": "mail_not_open",
                    "delay": 1,
                    "delay_unit": "hours",
                    "action_type": "mail",
                    "mailing_id": reminder_mailing.id,
                }
            )
            reminder_id = reminder.id
            scenario.action_start()
            scenario.enroll(seed_partners(env, contacts, "smtp"))
        lanes = P.cron_ids(dbname, PROCESS)
        [queue] = P.cron_ids(dbname, DELIVERY)
        P.only_crons(dbname, [*lanes, queue])
        self.start(dbname, 1)

        def reminders(state):
            return P.scalar(
                dbname,
                "SELECT count(*) FROM marketing_scenario_trace WHERE step_id = %s AND state = %s",
                [reminder_id, state],
            )

        def mail_states():
            return dict(P.run_sql(dbname, "SELECT state, count(*) FROM mail_mail GROUP BY 1"))

        # 1. the welcome mails are queued; the server is down: they stay queued
        P.trigger_crons(dbname, lanes)
        P.wait_for(
            lambda: mail_states().get("outgoing") == contacts,
            120,
            "welcome mails",
            tick=lambda: P.notify(dbname),
        )
        P.trigger_crons(dbname, [queue])
        P.wait_for(
            lambda: (
                P.scalar(
                    dbname,
                    "SELECT count(*) FROM mail_mail WHERE state = 'outgoing'"
                    " AND scheduled_date > now() AT TIME ZONE 'UTC'"
                    " AND failure_reason LIKE '%%could not be reached%%'",
                )
                == contacts
            ),
            120,
            "the delivery lane to fail on the closed port and keep the mails queued",
            tick=lambda: P.notify(dbname),
        )
        self.assertEqual(mail_states(), {"outgoing": contacts}, "nothing failed for good")
        self.assertEqual(
            P.run_sql(dbname, "SELECT DISTINCT trace_status FROM mailing_trace"), [("outgoing",)]
        )
        # 2. an hour later, still down: the "not opened" reminders wait for the mails
        P.run_sql(
            dbname,
            "UPDATE marketing_scenario_trace SET scheduled_at = now() AT TIME ZONE 'UTC'"
            " WHERE step_id = %s",
            [reminder_id],
            fetch=False,
        )
        P.trigger_crons(dbname, lanes)
        P.wait_for(
            lambda: (
                P.scalar(
                    dbname,
                    "SELECT count(*) FROM marketing_scenario_trace WHERE step_id = %s"
                    " AND state = 'scheduled' AND scheduled_at > now() AT TIME ZONE 'UTC'",
                    [reminder_id],
                )
                == contacts
            ),
            120,
            "the reminders to be postponed",
            tick=lambda: P.notify(dbname),
        )
        self.assertEqual(reminders("skipped"), 0, "no misfire while the server is down")
        self.assertEqual(reminders("done"), 0)

        # 3. the server is back (the retry time has come): the mails leave, once
        received = []

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                received.append((envelope.rcpt_tos, envelope.content))
                return "250 OK"

        controller = Controller(Handler(), hostname="127.0.0.1", port=port)
        controller.start()
        self.addCleanup(controller.stop)
        P.run_sql(
            dbname,
            "UPDATE mail_mail SET scheduled_date = now() AT TIME ZONE 'UTC'",
            fetch=False,
        )
        P.trigger_crons(dbname, [queue])
        P.wait_for(
            lambda: len(received) >= contacts,
            120,
            "the welcome mails to reach the SMTP server",
            tick=lambda: P.notify(dbname),
        )
        P.wait_for(
            lambda: (
                P.scalar(dbname, "SELECT count(*) FROM mailing_trace WHERE trace_status = 'sent'")
                == contacts
            ),
            60,
            "the mailing traces to be sent",
            tick=lambda: P.notify(dbname),
        )
        self.assertRealMessage(received[0][1])
        # 4. the reminders go now, once each
        P.run_sql(
            dbname,
            "UPDATE marketing_scenario_trace SET scheduled_at = now() AT TIME ZONE 'UTC'"
            " WHERE step_id = %s AND state = 'scheduled'",
            [reminder_id],
            fetch=False,
        )
        P.trigger_crons(dbname, lanes)
        P.wait_for(
            lambda: reminders("done") == contacts,
            120,
            "the reminders",
            tick=lambda: P.notify(dbname),
        )
        P.trigger_crons(dbname, [queue])
        P.wait_for(
            lambda: len(received) >= 2 * contacts,
            120,
            "the reminders to reach the SMTP server",
            tick=lambda: P.notify(dbname),
        )
        time.sleep(2)  # nothing more may come
        recipients = sorted(rcpt for rcpts, _content in received for rcpt in rcpts)
        self.assertEqual(len(recipients), 2 * contacts)
        self.assertEqual(
            sorted(set(recipients)), sorted(f"smtp{i}@example.com" for i in range(1, contacts + 1))
        )
        self.assertTrue(
            all(recipients.count(r) == 2 for r in set(recipients)), "welcome + reminder, once"
        )

    def assertRealMessage(self, raw):
        message = email.message_from_bytes(raw, policy=policy.default)
        self.assertIn("List-Unsubscribe", message)
        self.assertIn("/unsubscribe_oneclick", message["List-Unsubscribe"])
        self.assertEqual(message["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click")
        html = message.get_body(preferencelist=("html",)).get_content()
        self.assertRegex(html, r"http://shop\.example\.com/mail/track/\d+/[^\"']+/blank\.gif")
        self.assertRegex(html, r"http://shop\.example\.com/r/[\w-]+/m/\d+")
        self.assertNotIn("https://www.example.com/offer", html, "the link is tracked")
        self.assertTrue(re.search(r"Hello Contact \d+", html))
