"""Four real Odoo processes on 20,000 due traces in batches of 50: not one error logged;
a goal reached while a batch holds the contact's step: no wait, no deadlock.

Slow (``make test-slow``). The claim of due traces used to fail now and then with
``SerializationFailure`` under Odoo's REPEATABLE READ (a row another worker had just
committed); each failure is a cron error in the server's log. The engine's transactions
now run in READ COMMITTED, where ``FOR UPDATE SKIP LOCKED`` re-checks such a row instead.
"""

import logging
import re
import time

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.tests import BaseCase, tagged

from . import processes as P
from .test_processes import PROCESS, ledger, make_scenario, pending, seed_partners

_logger = logging.getLogger(__name__)

# Odoo's log line: "<date> <time> <pid> <LEVEL> <db> <logger>: <message>"
ERROR_LINE = re.compile(r"^\S+ \S+ \d+ (ERROR|CRITICAL) ", re.MULTILINE)


@tagged("slow", "-standard", "-at_install", "post_install")
class TestProcessesClaim(BaseCase):
    def test_four_processes_small_batches_no_error_logged(self):
        """4 processes, batches of 50, 20,001 traces (6,667 contacts x 3 steps): zero
        errors in the four logs, one mail and one score line per contact."""
        contacts, workers = 6667, 4
        dbname = P.copy_db(P.template_db(), "claim")
        self.addCleanup(P.drop_db, dbname)
        with P.environment(dbname) as env:
            env["ir.config_parameter"].set_param("trigger_marketing.batch_size", 50)
            env["marketing.scenario.trace"]._set_processing_lanes(workers)
            scenario = make_scenario(env, "Claim")
            scenario.action_start()
            self.assertEqual(len(scenario.enroll(seed_partners(env, contacts, "claim"))), contacts)
        lanes = P.cron_ids(dbname, PROCESS)
        P.only_crons(dbname, lanes)
        procs = P.start_processes(dbname, workers)
        for proc in procs:
            self.addCleanup(proc.stop)
        t0 = time.monotonic()
        P.trigger_crons(dbname, lanes)
        P.wait_for(
            lambda: pending(dbname) == 0,
            600,
            "the 4 processes to finish",
            tick=lambda: P.notify(dbname),
        )
        elapsed = time.monotonic() - t0
        time.sleep(1)  # the last log lines
        for proc in procs:
            proc.stop()
        errors = [
            line
            for proc in procs
            for line in proc.log().splitlines()
            if ERROR_LINE.match(line) or "could not serialize" in line
        ]
        book = ledger(dbname)
        doubles = {
            "mails": book["mails"] - contacts,
            "score_lines": book["score_lines"] - contacts,
        }
        busy = P.scalar(
            dbname, "SELECT count(DISTINCT cron_id) FROM ir_cron_progress WHERE done > 0"
        )
        _logger.info(
            "%s traces, %s processes, batches of 50: %.1fs, %s error line(s) logged, "
            "doubles %s, %s processes took a share",
            3 * contacts,
            workers,
            elapsed,
            len(errors),
            doubles,
            busy,
        )
        self.assertEqual(errors, [], "not one error in the servers' logs")
        self.assertEqual(book["traces"].get(("mail", "done")), contacts)
        self.assertEqual(book["traces"].get(("score", "done")), contacts)
        self.assertEqual(book["mails"], contacts, "one mail per contact")
        self.assertEqual(book["mailing_traces_distinct"], contacts)
        self.assertEqual(book["score_lines"], contacts, "one score line per contact")
        self.assertEqual(book["score_lines_distinct"], contacts)
        self.assertEqual(
            P.run_sql(
                dbname,
                "SELECT DISTINCT marketing_score FROM res_partner WHERE email LIKE 'claim%%'",
            ),
            [(1,)],
        )
        self.assertEqual(busy, workers, "each process took its share")


@tagged("slow", "-standard", "-at_install", "post_install")
class TestLockOrder(BaseCase):
    def test_goal_reached_while_a_batch_holds_the_step(self):
        """Two real connections: the engine has claimed a contact's due step and not
        committed yet; the contact reaches the goal in a user's transaction meanwhile.
        The user's write neither waits for the batch (a lock timeout of 2 s would
        fail it) nor deadlocks with it; the batch then commits without error."""
        dbname = P.copy_db(P.template_db(), "lock")
        self.addCleanup(P.drop_db, dbname)
        with P.environment(dbname) as env:
            scenario = make_scenario(env, "Goal")
            scenario.write({"goal_domain": "[('ref', '=', 'ORDER-CONFIRMED')]"})
            scenario.action_start()
            partner = seed_partners(env, 1, "goal")
            participant = scenario.enroll(partner)
            ids = (partner.id, participant.id)
        registry = Registry(dbname)
        with registry.cursor() as engine_cr, registry.cursor() as user_cr:
            engine = api.Environment(engine_cr, SUPERUSER_ID, {})
            Trace = engine["marketing.scenario.trace"]
            Trace._read_committed()
            batch = Trace._claim_due(50)
            self.assertEqual(len(batch), 1, "the engine holds the contact's due step")

            user_cr.execute("SET LOCAL lock_timeout = '2s'")
            user = api.Environment(user_cr, SUPERUSER_ID, {})
            t0 = time.monotonic()
            user["res.partner"].browse(ids[0]).write({"ref": "ORDER-CONFIRMED"})
            user.flush_all()
            user_cr.commit()
            waited = time.monotonic() - t0
            _logger.info("goal reached while a batch holds the step: %.3fs", waited)
            self.assertLess(waited, 1.5, "the user's write did not wait for the batch")

            batch._process()
            engine_cr.commit()
        state = P.run_sql(
            dbname,
            "SELECT state, end_reason_code FROM marketing_scenario_participant WHERE id = %s",
            [ids[1]],
        )
        self.assertEqual(state, [("converted", "goal")])
        self.assertEqual(pending(dbname), 0, "nothing left pending after the converted walk")
