"""Event → inbox latency on two real Odoo servers (``make bench-latency``; issue 13 §2-3).

Not a test: it prints its figures and writes them to a JSON file. One run:

1. a database with ``trigger_marketing`` and the shop bridge (created, or copied from
   ``--from-db``), set up through the ORM: two running scenarios whose first step is an
   immediate e-mail, with branches "opened: +10 points" and "clicked: tag" (a named
   event received by the signed HTTP endpoint, on contacts; a guest's shop cart
   abandoned after ``--cart-seconds``, on orders), a published service product, the
   outgoing mail server pointed at the SMTP sink, ``--lanes`` processing crons, and the
   bench-only counters of ``latency_db`` (which server did what);
2. the SMTP sink (``smtp_sink.py``, its own process) and two Odoo servers in prefork
   mode on that database (``--workers 2 --max-cron-threads 2`` each, other ports);
3. events: locust headless (``locustfile.py``) sends ``--rate`` events per second for
   ``--duration`` seconds, alternately to both servers: signups on the signed endpoint,
   and a share ``--cart-share`` of guest carts (add to cart, address page, address form);
   then the bench waits until every event has its mail in the sink (``--wait`` at most):
   time from the request to the sink, p50 / p95 / p99 / max, missing and doubles;
4. tracking: the open pixel of every delivered mail and the link of every other one, read
   from the mails the sink received, requested at ``--track-rate`` per second for
   ``--track-duration`` seconds (again from the start when all were requested): request
   time p50 / p95 / p99, then, once the servers' crons are idle, the database: every mail
   opened / clicked once, the queue handled, each branch woken once;
5. each server's share: traces processed, mail events handled, mails sent, per server,
   from the bench-only counters; doubles.

The load average (1 min) is read before and after each phase: the machine is shared.
"""

import argparse
import email
import email.policy
import html
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings

from . import latency_db
from .common import say
from .database import create_database, database_exists, drop_database
from .smtp_sink import SmtpSink, free_port

MODULES = "trigger_marketing,trigger_marketing_website_sale"
TARGETS = {"event_to_inbox_p95_s": 30, "tracking_p95_ms": 100}
HERE = os.path.dirname(os.path.abspath(__file__))
URL_RE = re.compile(r"""https?://[^\s"'<>]+?(/mail/track/[^\s"'<>]+|/r/[^\s"'<>]+)""")


def main(argv=None):
    args = parse_args(argv)
    db = args.db or f"tmlat_{time.strftime('%Y%m%d%H%M%S')}"
    if database_exists(db):
        raise SystemExit(f"latency: database {db} exists already; choose another --db")
    workdir = tempfile.mkdtemp(prefix=f"{db}_")
    if args.from_db:
        copy_database(args.from_db, db)
    else:
        create_database(db, args.addons_path, MODULES)
    try:
        return run(args, db, workdir)
    finally:
        if args.keep_db:
            say(f"--keep-db: kept database {db} and {workdir}")
        else:
            drop_database(db)
            say(f"dropped database {db}")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--addons-path", required=True)
    add("--db", help="database to create (default tmlat_<time>)")
    add("--from-db", help="copy this database (trigger_marketing + shop bridge installed)")
    add("--keep-db", action="store_true")
    add("--json", default="bench-latency.json")
    add("--rate", type=float, default=20, help="events per second")
    add("--duration", type=int, default=120, help="seconds of events")
    add("--cart-share", type=float, default=0.25, help="share of the events that are carts")
    add("--cart-seconds", type=float, default=30, help="a cart is abandoned after this")
    add("--track-rate", type=float, default=200, help="tracking requests per second")
    add("--track-duration", type=int, default=60)
    add("--users", type=int, help="locust users of the events (default: one per event a second)")
    add("--wait", type=int, default=300, help="at most this long for the mails, the crons")
    add("--workers", type=int, default=2)
    add("--cron-threads", type=int, default=2)
    add("--lanes", type=int, default=2, help="processing crons (workers that share)")
    args = parser.parse_args(argv)
    if not (0 < args.rate <= 100 and 0 < args.duration <= 1800):
        parser.error("--rate is at most 100 per second, --duration at most 1800 s")
    if not (0 < args.track_rate <= 1000 and 0 < args.track_duration <= 600):
        parser.error("--track-rate is at most 1000 per second, --track-duration 600 s")
    return args


def copy_database(source, db):
    import psycopg2
    from psycopg2 import sql

    say(f"copying database {source} to {db}")
    conn = psycopg2.connect(dbname="postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cr:
            cr.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(db), sql.Identifier(source)
                )
            )
    finally:
        conn.close()


def load():
    return round(os.getloadavg()[0], 2)


# --------------------------------------------------------------------------- #
# set-up (through the ORM, in this process, before the servers start)
# --------------------------------------------------------------------------- #
def set_up(args, db, sink_port, base_url):
    import odoo.sql_db
    from odoo import SUPERUSER_ID, api
    from odoo.modules.registry import Registry
    from odoo.tools import config

    config.parse_config([f"--addons-path={args.addons_path}", "-d", db, "--log-level=warn"])
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    with Registry(db).cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        setup = latency_db.configure(env, sink_port, base_url, args.cart_seconds, args.lanes)
    odoo.sql_db.close_db(db)
    return setup


# --------------------------------------------------------------------------- #
# processes: Odoo servers, locust
# --------------------------------------------------------------------------- #
def odoo_command():
    """How to start Odoo so that prefork can start its gevent process again: it runs
    ``sys.argv[0]``, which ``python -m odoo`` makes a bare ``__main__.py``."""
    import odoo

    odoo_bin = os.path.join(os.path.dirname(list(odoo.__path__)[0]), "odoo-bin")
    if os.path.exists(odoo_bin):
        return [sys.executable, odoo_bin]
    script = shutil.which("odoo")
    if not script:
        raise SystemExit("latency: neither odoo-bin beside the odoo package nor `odoo` found")
    return [script]


class OdooServer:
    """``python -m odoo server`` in prefork mode on ``db``, its own ports and log; its
    connections named ``lat-<name>-<pid>`` in PostgreSQL."""

    def __init__(self, name, args, db, workdir):
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = os.path.join(workdir, f"server-{name}.log")
        self.cmd = [
            *odoo_command(),
            "server",
            f"--addons-path={args.addons_path}",
            f"--database={db}",
            f"--db-filter=^{db}$",
            "--no-database-list",
            f"--workers={args.workers}",
            f"--max-cron-threads={args.cron_threads}",
            "--http-interface=127.0.0.1",
            f"--http-port={self.port}",
            f"--gevent-port={free_port()}",
            f"--db_app_name=lat-{name}-{{pid}}",
            f"--data-dir={os.path.join(workdir, 'data')}",
            f"--logfile={self.log}",
            "--log-level=info",
        ]
        self.process = None

    def start(self):
        self.process = subprocess.Popen(self.cmd, start_new_session=True)
        return self

    def wait_ready(self, timeout=180):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server {self.name} exited; see {self.log}")
            try:
                with urllib.request.urlopen(self.url + "/web/health", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError(f"server {self.name} did not answer in {timeout}s")
        # every HTTP worker loads the registry on its first request: not in the figures
        for _i in range(4):
            with urllib.request.urlopen(self.url + "/web/login", timeout=120) as r:
                r.read()
        return self

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def run_locust(mode, hosts, rate, seconds, out, extra_env, workdir, users=None):
    """locust headless: ``rate`` tasks per second in all, for ``seconds`` (bounded), by
    ``users`` (default: one per task a second; 200 at most), each waiting for its answer
    before its next task: when the servers answer slower, fewer tasks are sent."""
    users = max(1, min(200, int(users or rate)))
    env = dict(
        os.environ,
        LAT_MODE=mode,
        LAT_HOSTS=",".join(hosts),
        LAT_RATE=str(rate),
        LAT_USERS=str(users),
        LAT_OUT=out,
        **extra_env,
    )
    cmd = [
        sys.executable,
        os.path.join(HERE, "locust_run.py"),
        "-f",
        os.path.join(HERE, "locustfile.py"),
        "--headless",
        "--users",
        str(users),
        "--spawn-rate",
        str(users),
        "--run-time",
        f"{seconds}s",
        "--stop-timeout",
        "30",
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--csv",
        os.path.join(workdir, f"locust-{mode}"),
    ]
    say(f"locust {mode}: {rate}/s for {seconds}s, {users} users, {', '.join(hosts)}")
    subprocess.run(cmd, env=env, check=False, stdout=subprocess.DEVNULL)
    with open(out, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.endswith("\n")]


# --------------------------------------------------------------------------- #
# figures
# --------------------------------------------------------------------------- #
def percentiles(values, unit_digits=2):
    """p50 / p95 / p99 / max (nearest rank) of ``values``."""
    if not values:
        return None
    ordered = sorted(values)

    def rank(p):
        return ordered[min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered))) - 1))]

    return {
        "count": len(ordered),
        "p50": round(rank(50), unit_digits),
        "p95": round(rank(95), unit_digits),
        "p99": round(rank(99), unit_digits),
        "max": round(ordered[-1], unit_digits),
    }


def mails_by_recipient(mails):
    by_rcpt = {}
    for mail in mails:
        for rcpt in mail["to"]:
            by_rcpt.setdefault(rcpt.lower(), []).append(mail)
    return by_rcpt


def wait_for_mails(sink, events, timeout):
    """Until every accepted event has a mail in the sink (or ``timeout``), then 10 s
    more for late doubles."""
    expected = {e["email"] for e in events if e["ok"]}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        received = set(mails_by_recipient(sink.mails()))
        if expected <= received:
            time.sleep(10)
            break
        time.sleep(1)
    return sink.mails()


def event_latency(events, mails, cart_due, step_done):
    """Per kind of event: its mails (missing, doubles), the time from the request to the
    sink, split at the moment the engine ran the e-mail step (``step_done``): before it,
    the request and the wait for the processing cron (for carts, from the abandonment);
    after it, Odoo's mail queue and SMTP."""
    by_rcpt = mails_by_recipient(mails)
    result = {}
    for kind in ("signup", "cart"):
        mine = [e for e in events if e["kind"] == kind]
        accepted = [e for e in mine if e["ok"]]
        latencies, after_due, missing, doubles = [], [], 0, 0
        to_engine, to_inbox = [], []
        for event in accepted:
            got = by_rcpt.get(event["email"], [])
            if not got:
                missing += 1
                continue
            doubles += len(got) > 1
            first = min(m["t"] for m in got)
            latencies.append(first - event["t"])
            start = event["t"]
            if kind == "cart" and event["email"] in cart_due:
                start = cart_due[event["email"]]
                after_due.append(first - start)
            if event["email"] in step_done:
                to_engine.append(step_done[event["email"]] - start)
                to_inbox.append(first - step_done[event["email"]])
        refused = [e for e in mine if not e["ok"]]
        result[kind] = {
            "events": len(mine),
            "refused": len(refused),
            # refused or timed out on the client, done all the same by the server
            "refused_but_mailed": sum(e["email"] in by_rcpt for e in refused),
            "mails": sum(len(by_rcpt.get(e["email"], [])) for e in accepted),
            "missing": missing,
            "doubles": doubles,
            "latency_s": percentiles(latencies),
            "until_step_done_s": percentiles(to_engine),
            "step_done_to_inbox_s": percentiles(to_inbox),
        }
        if kind == "cart":
            result[kind]["after_abandonment_s"] = percentiles(after_due)
    expected = {e["email"] for e in events}
    result["unexpected_mails"] = sum(len(v) for k, v in by_rcpt.items() if k not in expected)
    return result


def tracking_urls(mails, trace_by_email):
    """[kind, path, mailing trace id]: every mail's open pixel, the link of one mail in
    two; shuffled (as recipients open in any order)."""
    urls = []
    for index, mail in enumerate(mails):
        rcpt = mail["to"][0].lower()
        if rcpt not in trace_by_email or "data" not in mail:
            continue
        found = {"open": None, "click": None}
        for path in URL_RE.findall(body_text(mail["data"])):
            path = html.unescape(path)
            if path.startswith("/mail/track/") and not found["open"]:
                found["open"] = path
            elif path.startswith("/r/") and not found["click"]:
                found["click"] = path
        if found["open"]:
            urls.append(["open", found["open"], trace_by_email[rcpt]])
        if found["click"] and index % 2 == 0:
            urls.append(["click", found["click"], trace_by_email[rcpt]])
    random.Random(13).shuffle(urls)
    return urls


def body_text(data):
    message = email.message_from_string(data, policy=email.policy.default)
    parts = []
    for part in message.walk():
        if part.get_content_type() in ("text/html", "text/plain"):
            parts.append(part.get_content())
    return "\n".join(parts)


def wait_idle(cr, timeout):
    """Until the servers' crons have nothing left to do (queue empty, nothing due)."""
    deadline = time.monotonic() + timeout
    left = latency_db.backlog(cr)
    while time.monotonic() < deadline and any(left.values()):
        time.sleep(2)
        left = latency_db.backlog(cr)
    return left


# --------------------------------------------------------------------------- #
# the run
# --------------------------------------------------------------------------- #
def run(args, db, workdir):
    import psycopg2

    results = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "database": db,
        "cpus": os.cpu_count(),
        "settings": {k: v for k, v in vars(args).items() if k != "addons_path"},
        "load": {"start": load()},
    }
    sink = SmtpSink(os.path.join(workdir, "mails.jsonl"), keep_data=True)
    servers = [OdooServer("A", args, db, workdir), OdooServer("B", args, db, workdir)]
    setup = set_up(args, db, sink.port, servers[0].url)
    results["setup"] = {k: v for k, v in setup.items() if k != "secret"}
    conn = psycopg2.connect(dbname=db)
    conn.autocommit = True
    cr = conn.cursor()
    try:
        sink.start()
        for server in servers:
            server.start()
        for server in servers:
            server.wait_ready()
        say(f"servers A {servers[0].url} and B {servers[1].url} ready, sink :{sink.port}")
        hosts = [server.url for server in servers]
        run_id = f"lat{int(time.time())}"
        results["load"]["before_events"] = load()
        events = run_locust(
            "events",
            hosts,
            args.rate,
            args.duration,
            os.path.join(workdir, "events.jsonl"),
            {
                "LAT_RUN": run_id,
                "LAT_SCENARIO": str(setup["signup_scenario"]),
                "LAT_SECRET": setup["secret"],
                "LAT_EVENT": latency_db.EVENT_NAME,
                "LAT_CART_SHARE": str(args.cart_share),
                "LAT_PRODUCT": str(setup["product"]),
                "LAT_PRODUCT_TEMPLATE": str(setup["product_template"]),
            },
            workdir,
            users=args.users,
        )
        results["load"]["after_events"] = load()
        times = [e["t"] for e in events if e["t"]]
        span = max(times) - min(times) if times else 0
        results["events_sent"] = {"count": len(events), "span_s": round(span, 1)}
        say(f"{len(events)} events sent in {span:.0f}s; waiting for their mails")
        mails = wait_for_mails(sink, events, args.wait)
        cart_due = latency_db.cart_due_at(cr, args.cart_seconds)
        step_done = latency_db.step_done_at(
            cr, [setup["signup_steps"]["mail"], setup["cart_steps"]["mail"]]
        )
        results["latency"] = event_latency(events, mails, cart_due, step_done)
        results["load"]["after_mails"] = load()
        say(f"latency: {json.dumps(results['latency'])}")

        trace_by_email = latency_db.mail_trace_ids(cr, mails_by_recipient(mails))
        urls = tracking_urls(mails, trace_by_email)
        urls_path = os.path.join(workdir, "urls.json")
        with open(urls_path, "w", encoding="utf-8") as fh:
            json.dump(urls, fh)
        results["load"]["before_tracking"] = load()
        hits = run_locust(
            "tracking",
            hosts,
            args.track_rate,
            args.track_duration,
            os.path.join(workdir, "tracking.jsonl"),
            {"LAT_URLS": urls_path},
            workdir,
        )
        results["load"]["after_tracking"] = load()
        results["tracking"] = tracking_figures(hits, urls, args.track_duration)
        left = wait_idle(cr, args.wait)
        results["backlog_after"] = left
        hit_keys = {(h["kind"], h.get("key")) for h in hits if h["ok"]}
        results["tracking"]["database"] = latency_db.tracking_checks(
            cr,
            setup,
            [key for kind, key in hit_keys if kind == "open"],
            [key for kind, key in hit_keys if kind == "click"],
        )
        results["servers"] = latency_db.server_shares(cr)
        results["load"]["end"] = load()
    finally:
        for server in servers:
            server.stop()
        sink.stop()
        cr.close()
        conn.close()
    summarize(results)
    with open(args.json, "w", encoding="utf-8") as fh:
        json.dump(results, fh, indent=2, default=str)
    say(f"results written to {args.json}; logs in {workdir}")
    print(results["line"])
    return 0


def tracking_figures(hits, urls, seconds):
    figures = {"urls": len(urls), "requests": len(hits), "per_s": round(len(hits) / seconds, 1)}
    for kind in ("open", "click"):
        mine = [h for h in hits if h["kind"] == kind]
        figures[kind] = {
            "requests": len(mine),
            "failed": sum(not h["ok"] for h in mine),
            "ms": percentiles([h["ms"] for h in mine], 1),
        }
    figures["all_ms"] = percentiles([h["ms"] for h in hits], 1)
    return figures


def summarize(results):
    lat = results["latency"]
    track = results["tracking"]
    shares = results["servers"]
    signup = lat["signup"]["latency_s"] or {}
    cart = lat["cart"]["latency_s"] or {}
    cart_due = lat["cart"].get("after_abandonment_s") or {}
    traces = shares.get("trace", {})
    results["line"] = (
        f"latency: events={results['events_sent']['count']}"
        f" signup p50/p95/p99/max={signup.get('p50')}/{signup.get('p95')}/"
        f"{signup.get('p99')}/{signup.get('max')}s"
        f" missing={lat['signup']['missing']} doubles={lat['signup']['doubles']}"
        f" refused={lat['signup']['refused']};"
        f" cart p50/p95/max={cart.get('p50')}/{cart.get('p95')}/{cart.get('max')}s"
        f" (after abandonment {cart_due.get('p50')}/{cart_due.get('p95')}/"
        f"{cart_due.get('max')}s) missing={lat['cart']['missing']}"
        f" doubles={lat['cart']['doubles']} refused={lat['cart']['refused']};"
        f" tracking {track['per_s']}/s p95={(track['all_ms'] or {}).get('p95')}ms"
        f" open p95={(track['open']['ms'] or {}).get('p95')}ms"
        f" click p95={(track['click']['ms'] or {}).get('p95')}ms"
        f" failed={track['open']['failed'] + track['click']['failed']};"
        f" traces A/B={traces.get('A', {}).get('rows')}/{traces.get('B', {}).get('rows')}"
        f" done twice={shares['traces_done_twice']};"
        f" load {results['load']}"
    )


if __name__ == "__main__":
    sys.exit(main())
