"""An upgrade from the previous release keeps every participant, and they go on.

Slow (``make test-slow``). The previous release's code is taken from git (``git archive``
of ``PREVIOUS_RELEASE``, the last commit of main whose manifests say 19.0.1.0.0: a tag
may not travel with the repository) into a temporary folder; a database is created with
that code (``odoo -i``) and filled through that code's own API (``odoo shell``): running
scenarios, traces done (an e-mail, score points), contacts waiting for a delayed step and
for an open, score history. The database is then upgraded to the code of this checkout
(``odoo -u`` of our addons) and checked: nothing lost (scenarios, participants, traces by
state, score history and scores, mailing traces), the waiting contacts go on (their due
step runs exactly once, in a real Odoo process with its cron worker), and the indexes that
updated databases kept from before are gone.
"""

import ast
import io
import logging
import os
import subprocess
import sys
import tarfile
import time

from odoo.tests import BaseCase, tagged

from . import processes as P

_logger = logging.getLogger(__name__)

# The last commit of main whose manifests say 19.0.1.0.0 (its child bumps them to 19.0.1.1.0).
PREVIOUS_RELEASE = "40010ed356dc895b3fa34771e4bebacafac2b31f"
PREVIOUS_VERSION = "19.0.1.0.0"
PROCESS = "model._cron_process()"
CONTACTS = 120

# Indexes of trace columns that lost ``index=True`` while the version stayed 19.0.1.0.0
# (commit 61339e5): Odoo keeps an index it no longer expects, so databases installed
# before that commit still have them. The 19.0.1.1.0 migration drops them.
LEGACY_INDEXES = {
    "marketing_scenario_trace__participant_id_index": "participant_id",
    "marketing_scenario_trace__step_id_index": "step_id",
    "marketing_scenario_trace__company_id_index": "company_id",
    "marketing_scenario_trace__state_index": "state",
    "marketing_scenario_trace__reason_code_index": "reason_code",
}

# Run by the previous release's `odoo shell` (its own API only); commits itself.
FILL_SCRIPT = """
Step = env["marketing.scenario.step"]
partner_model = env["ir.model"]._get_id("res.partner")
partners = env["res.partner"].create(
    [{"name": f"Upgrade {i}", "email": f"upgrade{i}@example.com"} for i in range(%(contacts)d)]
)
mailing = env["mailing.mailing"].create({
    "name": "Upgrade welcome", "subject": "Welcome", "body_html": "<p>Hello</p>",
    "mailing_model_id": partner_model, "use_in_trigger_marketing": True,
})
welcome = env["marketing.scenario"].create({
    "name": "Upgrade welcome", "model_id": partner_model,
    "domain": "[('email', 'like', 'upgrade')]",
})
mail = Step.create({"name": "Welcome", "scenario_id": welcome.id, "action_type": "mail",
                    "mailing_id": mailing.id})
points = Step.create({"name": "Points", "scenario_id": welcome.id, "parent_id": mail.id,
                      "action_type": "score", "score_points": 10})
tag = env["res.partner.category"].create({"name": "Upgrade welcomed"})
Step.create({"name": "Tag in 2 days", "scenario_id": welcome.id, "parent_id": points.id,
             "action_type": "tag_add", "tag_ids": [(6, 0, tag.ids)],
             "delay": 2, "delay_unit": "days"})
Step.create({"name": "Opened", "scenario_id": welcome.id, "parent_id": mail.id,
             "trigger_type": "mail_open", "delay": 3, "delay_unit": "days",
             "action_type": "score", "score_points": 5})
quick = env["marketing.scenario"].create({
    "name": "Upgrade quick", "model_id": partner_model,
    "domain": "[('email', 'like', 'upgrade')]",
})
Step.create({"name": "Three points", "scenario_id": quick.id, "action_type": "score",
             "score_points": 3})
(welcome | quick).action_start()
welcome.enroll(partners)
quick.enroll(partners[: len(partners) // 2])
env.cr.commit()
env["marketing.scenario.trace"]._cron_process()
env.cr.commit()
"""


def _repo():
    here = os.path.dirname(os.path.abspath(__file__))
    return subprocess.run(
        ["git", "-C", here, "rev-parse", "--show-toplevel"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def _odoo(command, args, addons_path, what, script=None):
    """``python -m odoo <command>`` with this session's connection options (``script``
    on the standard input of ``shell``); its log is shown when it fails."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "odoo",
            command,
            f"--addons-path={addons_path}",
            *P._server_args(),
            f"--data-dir={P.tmpdir()}",
            "--http-interface=127.0.0.1",
            "--no-http",
            "--log-level=warn",
            *args,
        ],
        input=script,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode or "Traceback" in proc.stderr:
        raise AssertionError(f"{what} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc


def snapshot(dbname):
    """What an upgrade must not lose, counted in SQL (no ORM of either version)."""

    def by_state(table):
        return dict(P.run_sql(dbname, f"SELECT state, count(*) FROM {table} GROUP BY state"))

    history, points = P.run_sql(
        dbname, "SELECT count(*), coalesce(sum(points), 0) FROM marketing_score_history"
    )[0]
    return {
        "scenarios": by_state("marketing_scenario"),
        "participants": by_state("marketing_scenario_participant"),
        "traces": by_state("marketing_scenario_trace"),
        "score_history": history,
        "score_history_points": points,
        "partner_scores": P.scalar(
            dbname, "SELECT coalesce(sum(marketing_score), 0) FROM res_partner"
        ),
        "mailing_traces": P.scalar(
            dbname, "SELECT count(*) FROM mailing_trace WHERE marketing_trace_id IS NOT NULL"
        ),
    }


def done_per_participant(dbname):
    return dict(
        P.run_sql(
            dbname,
            "SELECT participant_id, count(*) FROM marketing_scenario_trace"
            " WHERE state = 'done' GROUP BY participant_id",
        )
    )


@tagged("slow", "-standard", "-at_install", "post_install")
class TestUpgrade(BaseCase):
    """The previous release's database, upgraded in place: nothing lost, nothing doubled."""

    def setUp(self):
        super().setUp()
        self.repo = _repo()
        self.odoo_path = P.addons_path()
        # the addons path of the previous release: Odoo's folders and the archive, not the
        # repository (whose folders would shadow the old code)
        repo_real = os.path.realpath(self.repo)
        self.odoo_dirs = [
            p for p in self.odoo_path.split(",") if os.path.realpath(p) != repo_real and p
        ]

    def extract_previous_release(self):
        probe = subprocess.run(
            ["git", "-C", self.repo, "cat-file", "-e", f"{PREVIOUS_RELEASE}^{{commit}}"],
            check=False,
            capture_output=True,
        )
        self.assertEqual(
            probe.returncode,
            0,
            f"commit {PREVIOUS_RELEASE} (previous release) is not in this clone: "
            "a shallow clone? git fetch --unshallow",
        )
        archive = subprocess.run(
            ["git", "-C", self.repo, "archive", "--format=tar", PREVIOUS_RELEASE],
            check=True,
            capture_output=True,
        ).stdout
        dest = os.path.join(P.tmpdir(), f"release_{PREVIOUS_RELEASE[:10]}")
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            # the "data" filter exists from Python 3.11.4 (Debian 12 ships 3.11.2)
            if hasattr(tarfile, "data_filter"):
                tar.extractall(dest, filter="data")
            else:
                tar.extractall(dest)  # our own repository's archive
        return dest

    def our_modules(self, old_root, addons_path):
        """Our addons of the previous release whose dependencies are available."""
        out = subprocess.run(
            [
                sys.executable,
                os.path.join(self.repo, "tools", "tm_helper.py"),
                "modules",
                old_root,
                addons_path,
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        return [m for m in out.split(",") if m]

    def manifest_version(self, root, module):
        with open(os.path.join(root, module, "__manifest__.py"), encoding="utf-8") as fh:
            return ast.literal_eval(fh.read())["version"]

    def versions(self, dbname, modules):
        return dict(
            P.run_sql(
                dbname,
                "SELECT name, latest_version FROM ir_module_module"
                " WHERE name = ANY(%s) AND state = 'installed'",
                [modules],
            )
        )

    def test_upgrade_keeps_the_data_and_the_walks_go_on(self):
        t0 = time.monotonic()
        old_root = self.extract_previous_release()
        old_path = ",".join([*self.odoo_dirs, old_root])
        modules = self.our_modules(old_root, old_path)
        self.assertIn("trigger_marketing", modules)
        for module in modules:
            self.assertEqual(self.manifest_version(old_root, module), PREVIOUS_VERSION)

        dbname = f"{P.PREFIX}_upgrade_{os.getpid()}"
        P.drop_db(dbname)
        self.addCleanup(P.drop_db, dbname)
        _odoo(
            "server",
            ["-d", dbname, "-i", ",".join(modules), "--stop-after-init"],
            old_path,
            "installing the previous release",
        )
        self.assertEqual(self.versions(dbname, modules), dict.fromkeys(modules, PREVIOUS_VERSION))
        t_install = time.monotonic()
        _odoo(
            "shell",
            ["-d", dbname],
            old_path,
            "filling the database with the previous release's code",
            script=FILL_SCRIPT % {"contacts": CONTACTS},
        )
        # as on a database installed before 61339e5 (same version): the indexes Odoo kept
        for name, column in LEGACY_INDEXES.items():
            P.run_sql(
                dbname,
                f'CREATE INDEX IF NOT EXISTS "{name}" ON marketing_scenario_trace ("{column}")',
                fetch=False,
            )
        before = snapshot(dbname)
        done_before = done_per_participant(dbname)
        waiting = {
            row[0]
            for row in P.run_sql(
                dbname,
                "SELECT participant_id FROM marketing_scenario_trace WHERE state = 'scheduled'",
            )
        }
        _logger.info("previous release %s, filled: %s", PREVIOUS_RELEASE[:10], before)
        # the fill did what it says, else the test proves nothing
        self.assertEqual(before["scenarios"], {"running": 2})
        self.assertEqual(len(waiting), CONTACTS, "every welcome contact waits for its tag")
        self.assertEqual(before["traces"].get("waiting"), CONTACTS, "every one waits for an open")
        self.assertGreater(before["traces"].get("done", 0), 2 * CONTACTS)
        self.assertEqual(before["participants"].get("completed"), CONTACTS // 2)
        self.assertEqual(before["score_history"], CONTACTS + CONTACTS // 2)
        self.assertEqual(before["mailing_traces"], CONTACTS)

        t_upgrade = time.monotonic()
        _odoo(
            "server",
            ["-d", dbname, "-u", ",".join(modules), "--stop-after-init"],
            self.odoo_path,
            "upgrading to the current code",
        )
        t_upgraded = time.monotonic()
        repo_versions = {m: self.manifest_version(self.repo, m) for m in modules}
        self.assertEqual(self.versions(dbname, modules), repo_versions)
        after = snapshot(dbname)
        _logger.info("upgraded to %s: %s", repo_versions, after)
        self.assertEqual(after, before, "the upgrade lost or changed nothing")
        self.assertEqual(done_per_participant(dbname), done_before)
        left = P.run_sql(
            dbname,
            "SELECT indexname FROM pg_indexes WHERE indexname = ANY(%s)",
            [list(LEGACY_INDEXES)],
        )
        self.assertEqual(left, [], "the indexes dropped from the model are dropped from the table")

        # The waiting contacts go on: their delayed step comes due and a real Odoo process
        # (the current code, its cron worker) runs it, once.
        P.run_sql(
            dbname,
            "UPDATE marketing_scenario_trace SET scheduled_at = now() AT TIME ZONE 'UTC'"
            " - interval '1 minute' WHERE state = 'scheduled'",
            fetch=False,
        )
        lanes = P.cron_ids(dbname, PROCESS)
        self.assertTrue(lanes, "the processing cron survived the upgrade")
        P.only_crons(dbname, lanes)
        [worker] = P.start_processes(dbname, 1)
        self.addCleanup(worker.stop)
        P.trigger_crons(dbname, lanes)
        P.wait_for(
            lambda: (
                not P.scalar(
                    dbname,
                    "SELECT count(*) FROM marketing_scenario_trace WHERE state = 'scheduled'",
                )
            ),
            120,
            "the waiting contacts' step to run",
            tick=lambda: P.notify(dbname),
        )
        worker.stop()
        done_after = done_per_participant(dbname)
        expected = {p: n + (p in waiting) for p, n in done_before.items()}
        self.assertEqual(done_after, expected, "one more step done per waiting contact, no double")
        self.assertEqual(
            P.scalar(
                dbname,
                "SELECT count(*) FROM res_partner_res_partner_category_rel r"
                " JOIN res_partner_category c ON c.id = r.category_id"
                " WHERE c.name->>'en_US' = 'Upgrade welcomed'",
            ),
            len(waiting),
        )
        final = snapshot(dbname)
        self.assertEqual(final["traces"].get("waiting"), CONTACTS, "the open branches still wait")
        self.assertEqual(final["traces"].get("scheduled", 0), 0)
        _logger.info(
            "upgrade test: %s contacts; install %.0fs, fill %.0fs, upgrade %.0fs, total %.0fs;"
            " scenarios %s -> %s, participants %s -> %s, traces %s -> %s, history %s -> %s;"
            " after the cron: traces %s",
            CONTACTS,
            t_install - t0,
            t_upgrade - t_install,
            t_upgraded - t_upgrade,
            time.monotonic() - t0,
            before["scenarios"],
            after["scenarios"],
            before["participants"],
            after["participants"],
            before["traces"],
            after["traces"],
            before["score_history"],
            after["score_history"],
            final["traces"],
        )
