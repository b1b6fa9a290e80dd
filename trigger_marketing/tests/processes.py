"""Real Odoo server processes and throw-away databases for the slow tests.

Odoo's cron workers only see committed data: these tests never use the test
transaction. They work on databases of their own (prefix ``tmbench_slow``), copied
from a template database where trigger_marketing is installed once per test session,
and they drop them at the end, also when a test fails (``atexit`` for the template).
Processes are started with ``python -m odoo server`` (one cron thread each, no HTTP)
and always stopped by the test that started them.
"""

import atexit
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import psycopg2
from psycopg2 import sql

from odoo import SUPERUSER_ID, api, sql_db
from odoo.modules.registry import Registry
from odoo.tools import config

_logger = logging.getLogger(__name__)

PREFIX = "tmbench_slow"
MODULE = "trigger_marketing"
READY_LINE = "Registry loaded in"
_state = {"template": None, "tmpdir": None}


# --------------------------------------------------------------------------- #
# databases
# --------------------------------------------------------------------------- #
def _connect(dbname="postgres"):
    conn = psycopg2.connect(**sql_db.connection_info_for(dbname)[1])
    conn.autocommit = True
    return conn


def run_sql(dbname, query, params=None, fetch=True):
    """Run one statement in its own committed transaction; return the rows."""
    conn = _connect(dbname)
    try:
        with conn.cursor() as cr:
            cr.execute(query, params)
            return cr.fetchall() if fetch and cr.description else None
    finally:
        conn.close()


def scalar(dbname, query, params=None):
    return run_sql(dbname, query, params)[0][0]


def tmpdir():
    if not _state["tmpdir"]:
        _state["tmpdir"] = tempfile.mkdtemp(prefix="tm_slow_")
    return _state["tmpdir"]


def _server_args():
    """Connection options of this test session, for the servers we start."""
    args = []
    for key in ("db_host", "db_port", "db_user", "db_password"):
        if config.get(key):
            args.append(f"--{key}={config[key]}")
    return args


def addons_path():
    path = config["addons_path"]
    return ",".join(path) if isinstance(path, list | tuple) else path


def template_db():
    """The session's template database, with trigger_marketing installed (once)."""
    if _state["template"]:
        return _state["template"]
    name = f"{PREFIX}_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    t0 = time.monotonic()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "odoo",
            "server",
            f"--addons-path={addons_path()}",
            *_server_args(),
            "-d",
            name,
            "-i",
            MODULE,
            "--stop-after-init",
            "--no-http",
            "--http-interface=127.0.0.1",
            f"--data-dir={tmpdir()}",
            "--log-level=warn",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _state["template"] = name
    atexit.register(_drop_template)
    _logger.info("template database %s installed in %.0fs", name, time.monotonic() - t0)
    return name


def _drop_template():
    if _state["template"]:
        drop_db(_state["template"])
        _state["template"] = None
    if _state["tmpdir"]:
        shutil.rmtree(_state["tmpdir"], ignore_errors=True)
        _state["tmpdir"] = None


def copy_db(template, label):
    """A new database copied from ``template`` (no connection may be open on it)."""
    name = f"{PREFIX}_{label}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    release(template)
    conn = _connect()
    try:
        with conn.cursor() as cr:
            cr.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(template)
                )
            )
    finally:
        conn.close()
    return name


def release(dbname):
    """Close this process' connections to ``dbname`` and forget its registry."""
    Registry.delete(dbname)
    sql_db.close_db(dbname)


def drop_db(dbname):
    """Drop ``dbname`` (Odoo's exp_drop would refuse a name outside its db filter)."""
    release(dbname)
    conn = _connect()
    try:
        with conn.cursor() as cr:
            cr.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
            )
    finally:
        conn.close()


@contextlib.contextmanager
def environment(dbname):
    """An environment (superuser) on ``dbname``, committed at the end."""
    test_enable = config["test_enable"]
    config["test_enable"] = False  # else loading the registry runs at_install tests
    try:
        registry = Registry(dbname)
    finally:
        config["test_enable"] = test_enable
    with registry.cursor() as cr:
        yield api.Environment(cr, SUPERUSER_ID, {})


# --------------------------------------------------------------------------- #
# Odoo server processes
# --------------------------------------------------------------------------- #
def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OdooProcess:
    """``python -m odoo server`` on one database: Odoo's own cron scheduler, one cron
    thread, no HTTP. Its log goes to a file (read to know when it is ready)."""

    def __init__(self, dbname, label):
        self.dbname = dbname
        self.logfile = os.path.join(tmpdir(), f"{dbname}_{label}.log")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "odoo",
                "server",
                f"--addons-path={addons_path()}",
                *_server_args(),
                "-d",
                self.dbname,
                f"--db-filter=^{self.dbname}$",
                "--max-cron-threads=1",
                "--no-http",
                "--http-interface=127.0.0.1",
                f"--data-dir={tmpdir()}",
                "--log-level=info",
                f"--logfile={self.logfile}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        return self

    def log(self):
        try:
            with open(self.logfile, encoding="utf-8", errors="replace") as fh:
                return fh.read()
        except FileNotFoundError:
            return ""

    def ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(
                f"Odoo process for {self.dbname} exited with {self.proc.returncode}:\n"
                + self.log()[-3000:]
            )
        return READY_LINE in self.log()

    def kill(self):
        """``kill -9``: no clean-up of any kind."""
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def start_processes(dbname, count, timeout=120):
    """Start ``count`` servers on ``dbname`` and wait until their registry is loaded
    (their cron thread listens right after)."""
    procs = [OdooProcess(dbname, f"p{i}").start() for i in range(count)]
    try:
        wait_for(lambda: all(p.ready() for p in procs), timeout, f"{count} Odoo processes ready")
    except BaseException:
        for proc in procs:
            proc.stop()
        raise
    time.sleep(1)  # the cron thread LISTENs right after the registry is loaded
    return procs


def wait_for(condition, timeout, what, every=0.2, tick=None):
    """Poll ``condition`` until it is true; ``tick()`` is called every second (e.g. to
    notify the cron workers again: a NOTIFY sent before they listen is lost)."""
    deadline = time.monotonic() + timeout
    last_tick = 0.0
    while True:
        if condition():
            return
        now = time.monotonic()
        if now > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        if tick and now - last_tick >= 1:
            tick()
            last_tick = now
        time.sleep(every)


def trigger_crons(dbname, cron_ids):
    """Make the crons due now and wake the cron workers (ir.cron._trigger + NOTIFY)."""
    run_sql(
        dbname,
        """
        INSERT INTO ir_cron_trigger (cron_id, call_at)
        SELECT unnest(%s::int[]), now() AT TIME ZONE 'UTC'
        """,
        [list(cron_ids)],
        fetch=False,
    )
    notify(dbname)


def notify(dbname):
    run_sql("postgres", "SELECT pg_notify('cron_trigger', %s)", [dbname], fetch=False)


def cron_ids(dbname, code):
    return [
        row[0]
        for row in run_sql(
            dbname,
            """
            SELECT c.id FROM ir_cron c JOIN ir_act_server a ON a.id = c.ir_actions_server_id
             WHERE a.code = %s ORDER BY c.id
            """,
            [code],
        )
    ]


def only_crons(dbname, keep_ids):
    """Deactivate every other cron: the workers run only what the test measures."""
    run_sql(
        dbname,
        "UPDATE ir_cron SET active = (id = ANY(%s))",
        [list(keep_ids)],
        fetch=False,
    )
