"""The bench's own database: created with Odoo's CLI, dropped with tm_helper's one
DROP DATABASE helper (shared with tools/tm.sh)."""

import subprocess
import sys
import time

from tools.tm_helper import db_drop, db_exists

from .common import say


def create_database(db, addons_path, modules):
    say(f"creating database {db} with {modules}")
    t0 = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "odoo",
            "server",
            f"--addons-path={addons_path}",
            "-d",
            db,
            "-i",
            modules,
            "--stop-after-init",
            "--log-level=warn",
            "--http-interface=127.0.0.1",
            "--no-http",
        ],
        check=True,
    )
    say(f"database ready in {time.perf_counter() - t0:.0f}s")


def drop_database(db):
    db_drop(db)


def database_exists(db):
    return db_exists(db) == 0
