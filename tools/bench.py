#!/usr/bin/env python3
"""Benchmark of trigger_marketing at scale (``make bench``, ``N=`` chooses the size).

Not a test: it prints its figures and writes them to a JSON file. In one run, on one
fresh database (created, ``trigger_marketing`` installed, dropped at the end unless
``--keep-db``):

1. seeds N contacts in SQL (valid, distinct e-mails);
2. builds the scenario of DESIGN §8::

       Welcome e-mail ─┬─ opened within 1 day ──── +10 points ── tag "Engaged"
                       └─ not opened after 1 day ─ Reminder e-mail
                                                   └─ 1 hour later: condition (city = Brussels)
                                                      └─ yes: add to the mailing list "Engaged"

3. enrols the N contacts (``scenario.enroll``), then runs the processing cron method
   in this process until nothing is due, round after round: time is moved forward by
   making the next steps due (``scheduled_at``); between rounds the mail queue is taken
   as sent (``mailing.trace.set_sent``, the bench never talks to an SMTP server: mails
   stay in Odoo's queue) and 30 % of the contacts open the welcome e-mail
   (``mailing.trace.set_opened``, set-based);
4. the anchor (before the scenario; --anchor last: after it): the same e-mail to the
   same N contacts as a plain ``mailing.mailing``
   (``action_send_mail()``, mails to the queue);
5. the real-time overhead: extra queries of a ``res.partner`` create when a running
   scenario enters records on creation;
6. ``--carts`` (installs website_sale and the shop bridge
   ``trigger_marketing_website_sale``): the same carts through the bridge's ready-made
   cart scenario (intake cron + reminder e-mail) and through website_sale's own
   abandoned-cart cron.

Rounds are homogeneous (only e-mail steps, or only other steps), so that the rate of each
kind is the number of traces it handled over its wall-clock time, commits included.
Queries are counted with the thread's query counter (every cursor of this thread).
"""

import argparse
import json
import logging
import os
import platform
import resource
import subprocess
import sys
import threading
import time
import warnings

DEFAULT_N = 20_000
OPEN_RATE = 0.30
TARGETS = {
    "enroll_per_s": 5000,
    "non_mail_per_s": 2000,
    "mail_vs_anchor": 1.25,
    "queries_per_non_mail_trace": 0.05,
    "peak_rss_mb_at_100k": 1024,
    # 3, and the savepoint of the real-time reaction (SAVEPOINT, RELEASE: issue 8)
    "realtime_create_extra_queries": 5,
}
MODULE = "trigger_marketing"
BRIDGE = "trigger_marketing_website_sale"
BODY = (
    '<p>Hello <t t-out="object.name"/>,</p>'
    '<p>Our <a href="https://www.example.com/offer">offer</a> is waiting for you.</p>'
    '<p><a href="/unsubscribe_from_list">Unsubscribe</a></p>'
)

_logger = logging.getLogger("bench")


def say(msg):
    sys.stderr.write(f"bench: {msg}\n")
    sys.stderr.flush()


# --------------------------------------------------------------------------- #
# measuring
# --------------------------------------------------------------------------- #
def queries():
    return getattr(threading.current_thread(), "query_count", 0)


class Measure:
    """Wall time and queries of a block (every cursor of this thread)."""

    def __enter__(self):
        self.q0 = queries()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        self.queries = queries() - self.q0
        return False


class SqlProfile:
    """``--profile``: time spent per query text (first 160 characters), per round."""

    def __init__(self):
        self.stats = {}
        self.enabled = False

    def install(self):
        from odoo import sql_db

        original = sql_db.Cursor.execute
        profile = self

        def execute(cursor, query, params=None, log_exceptions=True):
            if not profile.enabled:
                return original(cursor, query, params, log_exceptions)
            t0 = time.perf_counter()
            try:
                return original(cursor, query, params, log_exceptions)
            finally:
                text = query.code if hasattr(query, "code") else str(query)
                key = " ".join(text.split())[:160]
                count, spent = profile.stats.get(key, (0, 0.0))
                profile.stats[key] = (count + 1, spent + time.perf_counter() - t0)

        sql_db.Cursor.execute = execute
        self.enabled = True

    def report(self, label, top=12):
        if not self.enabled:
            return
        total = sum(spent for _count, spent in self.stats.values())
        say(f"  SQL profile of {label}: {total:.2f}s in queries")
        ranked = sorted(self.stats.items(), key=lambda kv: -kv[1][1])[:top]
        for key, (count, spent) in ranked:
            say(f"    {spent:7.2f}s {count:6d}x  {key}")
        self.stats.clear()


PROFILE = SqlProfile()


def rss_mb():
    """Peak resident memory of this process (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------------- #
# database
# --------------------------------------------------------------------------- #
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
    import psycopg2
    from psycopg2 import sql

    conn = psycopg2.connect(dbname="postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cr:
            cr.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db))
            )
    finally:
        conn.close()


def database_exists(db):
    import psycopg2

    conn = psycopg2.connect(dbname="postgres")
    try:
        with conn.cursor() as cr:
            cr.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db])
            return bool(cr.fetchone())
    finally:
        conn.close()


# --------------------------------------------------------------------------- #
# data
# --------------------------------------------------------------------------- #
def seed_partners(env, n, prefix="bench"):
    """N contacts copied in SQL from one that the ORM created (so that every column the
    installed modules require is filled): valid, distinct e-mails, the stored fields the
    ORM computes (complete_name, commercial_partner_id, email_normalized), half of them
    in Brussels."""
    template = env["res.partner"].create(
        {"name": "Bench template", "email": "template@bench.invalid", "lang": "en_US"}
    )
    env.flush_all()
    cr = env.cr
    clone_rows(
        cr,
        "res_partner",
        template.id,
        {
            "id": "s.id",
            "commercial_partner_id": "s.id",
            "name": "'Contact ' || s.g",
            "complete_name": "'Contact ' || s.g",
            "email": "%(prefix)s || '.contact' || s.g || '@example.com'",
            "email_normalized": "%(prefix)s || '.contact' || s.g || '@example.com'",
            "city": "CASE WHEN s.g %% 2 = 0 THEN 'Brussels' ELSE 'Paris' END",
        },
        "CROSS JOIN (SELECT nextval('res_partner_id_seq') AS id, g"
        " FROM generate_series(1, %(n)s) AS g) AS s",
        {"n": n, "prefix": prefix},
    )
    template.unlink()
    cr.execute("SELECT id FROM res_partner WHERE email LIKE %s ORDER BY id", [f"{prefix}.contact%"])
    ids = [row[0] for row in cr.fetchall()]
    cr.execute("ANALYZE res_partner")
    env.invalidate_all()
    return env["res.partner"].browse(ids)


def make_mailing(env, subject, scenario=None):
    vals = {
        "name": subject,
        "subject": subject,
        "body_html": BODY,
        "mailing_model_id": env["ir.model"]._get_id("res.partner"),
    }
    if scenario:
        vals["use_in_trigger_marketing"] = True
    return env["mailing.mailing"].create(vals)


def build_scenario(env):
    Step = env["marketing.scenario.step"]
    scenario = env["marketing.scenario"].create(
        {
            "name": "Bench welcome",
            "model_id": env["ir.model"]._get_id("res.partner"),
            "trigger": "manual",
            "domain": "[('email', '!=', False)]",
        }
    )
    tag = env["res.partner.category"].create({"name": "Engaged (bench)"})
    mailing_list = env["mailing.list"].create({"name": "Engaged (bench)"})

    def step(name, action, parent=None, **vals):
        return Step.create(
            dict(
                name=name,
                scenario_id=scenario.id,
                action_type=action,
                parent_id=parent.id if parent else False,
                **vals,
            )
        )

    welcome = step("Welcome", "mail", mailing_id=make_mailing(env, "Welcome", scenario).id)
    opened = step(
        "Opened: +10",
        "score",
        welcome,
        trigger_type="mail_open",
        delay=1,
        delay_unit="days",
        score_points=10,
    )
    tagged = step("Tag engaged", "tag_add", opened, tag_ids=[(6, 0, tag.ids)])
    reminder = step(
        "Reminder",
        "mail",
        welcome,
        trigger_type="mail_not_open",
        delay=1,
        delay_unit="days",
        mailing_id=make_mailing(env, "Reminder", scenario).id,
    )
    condition = step(
        "In Brussels?",
        "condition",
        reminder,
        delay=1,
        delay_unit="hours",
        condition_domain="[('city', '=', 'Brussels')]",
    )
    listed = step(
        "Add to list", "list_add", condition, trigger_type="yes", mailing_list_id=mailing_list.id
    )
    scenario.action_start()
    steps = {
        "welcome": welcome,
        "opened": opened,
        "tagged": tagged,
        "reminder": reminder,
        "condition": condition,
        "listed": listed,
    }
    return scenario, steps


# --------------------------------------------------------------------------- #
# phases
# --------------------------------------------------------------------------- #
FINAL = ("done", "skipped", "failed", "canceled")


def handled_count(env, scenario):
    env.cr.execute(
        "SELECT count(*) FROM marketing_scenario_trace WHERE scenario_id = %s AND state IN %s",
        [scenario.id, FINAL],
    )
    return env.cr.fetchone()[0]


def make_due(env, step):
    """Move time forward for ``step``: its pending traces become due now."""
    env.cr.execute(
        """
        UPDATE marketing_scenario_trace
           SET scheduled_at = (now() AT TIME ZONE 'UTC') - interval '1 second'
         WHERE step_id = %s AND state IN ('scheduled', 'waiting')
        """,
        [step.id],
    )
    count = env.cr.rowcount
    env.cr.commit()
    return count


def run_round(env, scenario, label, kind, rounds):
    """Run the processing until nothing is due; record traces handled, time, queries."""
    Trace = env["marketing.scenario.trace"]
    before = handled_count(env, scenario)
    env.cr.commit()
    env.invalidate_all()
    PROFILE.stats.clear()
    with Measure() as m:
        Trace._cron_process()
    env.cr.commit()
    traces = handled_count(env, scenario) - before
    env.cr.commit()
    rounds.append(
        {
            "round": label,
            "kind": kind,
            "traces": traces,
            "seconds": round(m.seconds, 3),
            "queries": m.queries,
            "traces_per_s": round(traces / m.seconds, 1) if m.seconds else None,
        }
    )
    PROFILE.report(label)
    say(
        f"round {label} ({kind}): {traces} traces in {m.seconds:.2f}s "
        f"({traces / m.seconds if m.seconds else 0:.0f}/s, {m.queries} queries)"
    )
    return m


def mailing_traces_of(env, step):
    return env["mailing.trace"].search(
        [("mass_mailing_id", "=", step.mailing_id.id)], order="res_id"
    )


def queue_sent(env, step, chunk=5000):
    """The mail queue sent the step's mails (no SMTP here): mailing traces -> sent."""
    mail_traces = mailing_traces_of(env, step)
    for start in range(0, len(mail_traces), chunk):
        mail_traces[start : start + chunk].set_sent()
        env.cr.commit()
        env.invalidate_all()
    return len(mail_traces)


def simulate_opens(env, step, rate, chunk=1000):
    """``rate`` of the contacts open the mail (set-based calls, as the tracking route
    would one by one)."""
    mail_traces = mailing_traces_of(env, step)
    opening = mail_traces[: int(len(mail_traces) * rate)]
    with Measure() as m:
        for start in range(0, len(opening), chunk):
            opening[start : start + chunk].set_opened()
            env.cr.commit()
            env.invalidate_all()
    return len(opening), m


def run_anchor(env, partners):
    """The plain mass mailing of the same e-mail to the same contacts (to the queue)."""
    mailing = make_mailing(env, "Welcome (mass mailing)")
    mailing.mailing_domain = repr([("email", "=like", "bench.contact%@example.com")])
    env.cr.commit()
    with Measure() as m:
        mailing.action_send_mail()
        env.cr.commit()
    env.cr.execute(
        "SELECT count(*) FROM mail_mail WHERE mailing_id = %s AND state = 'outgoing'",
        [mailing.id],
    )
    queued = env.cr.fetchone()[0]
    if queued != len(partners):
        raise RuntimeError(f"anchor queued {queued} mails for {len(partners)} contacts")
    return m, queued


def run_anchor_phase(env, results):
    env.invalidate_all()
    partners = env["res.partner"].search([("email", "=like", "bench.contact%@example.com")])
    m_anchor, anchor_mails = run_anchor(env, partners)
    results["anchor"] = {
        "mails": anchor_mails,
        "seconds": round(m_anchor.seconds, 3),
        "queries": m_anchor.queries,
        "per_s": round(anchor_mails / m_anchor.seconds),
    }
    say(f"anchor: {anchor_mails} mails in {m_anchor.seconds:.2f}s")
    env.invalidate_all()


def realtime_overhead(registry, env_factory):
    """Extra queries of a res.partner create (fresh transaction, warm caches) when a
    running scenario enters records on creation."""
    counter = [0]

    def create_one(label):
        counter[0] += 1
        with registry.cursor() as cr:
            env = env_factory(cr)
            Partner = env["res.partner"]
            with Measure() as m:
                Partner.create(
                    {"name": f"Realtime {label}", "email": f"realtime{counter[0]}@example.com"}
                )
                env.flush_all()
        return m.queries

    with registry.cursor() as cr:
        env = env_factory(cr)
        scenario = env["marketing.scenario"].create(
            {
                "name": "Bench real-time",
                "model_id": env["ir.model"]._get_id("res.partner"),
                "trigger": "create",
                "domain": "[('email', '!=', False)]",
            }
        )
        env["marketing.scenario.step"].create(
            {
                "name": "Welcome later",
                "scenario_id": scenario.id,
                "action_type": "wait",
                "delay": 1,
                "delay_unit": "days",
            }
        )
        scenario_id = scenario.id
    # without a running 'create' scenario (draft), warm, then measured
    create_one("warm-up")
    without = create_one("without")
    with registry.cursor() as cr:
        env_factory(cr)["marketing.scenario"].browse(scenario_id).action_start()
    create_one("warm-up")
    with_scenario = create_one("with")
    with registry.cursor() as cr:
        env = env_factory(cr)
        env.cr.execute(
            "SELECT count(*) FROM marketing_scenario_participant WHERE scenario_id = %s",
            [scenario_id],
        )
        entered = env.cr.fetchone()[0]
        env["marketing.scenario"].browse(scenario_id).action_stop()
    if entered != 2:
        raise RuntimeError(f"the real-time scenario got {entered} participants, expected 2")
    return without, with_scenario


def clone_rows(cr, table, source_id, overrides, join, params):
    """Copy row ``source_id`` of ``table`` once per row of ``join`` (SQL), with the
    columns of ``overrides`` computed from it: a fast way to seed thousands of records
    that the ORM created once."""
    from psycopg2 import sql

    cr.execute(
        """
        SELECT column_name FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = %s
         ORDER BY ordinal_position
        """,
        [table],
    )
    columns = [row[0] for row in cr.fetchall() if row[0] != "id" or "id" in overrides]
    values = [
        sql.SQL(overrides[col]) if col in overrides else sql.Identifier("t", col) for col in columns
    ]
    cr.execute(
        sql.SQL(
            "INSERT INTO {table} ({columns}) SELECT {values} FROM {table} t {join}"
            " WHERE t.id = %(source)s"
        ).format(
            table=sql.Identifier(table),
            columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
            values=sql.SQL(", ").join(values),
            join=sql.SQL(join),
        ),
        dict(params, source=source_id),
    )
    return cr.rowcount


def seed_carts(env, count):
    """``count`` abandoned shop carts (one line each) of the bench contacts, last changed
    a day ago: one created by the ORM, the others copied in SQL."""
    from odoo import Command

    website = env["website"].search([], limit=1)
    website.write({"cart_abandoned_delay": 1.0})
    product = env["product.product"].create(
        {"name": "Bench mug", "list_price": 12.5, "sale_ok": True, "taxes_id": [Command.clear()]}
    )
    partners = env["res.partner"].search(
        [("email", "=like", "bench.contact%@example.com")], order="id", limit=count
    )
    first = env["sale.order"].create(
        {
            "partner_id": partners[0].id,
            "website_id": website.id,
            "order_line": [Command.create({"product_id": product.id, "product_uom_qty": 2})],
        }
    )
    env.flush_all()
    cr = env.cr
    changed = "(now() AT TIME ZONE 'UTC') - interval '1 day'"
    dates = dict.fromkeys(("date_order", "cart_changed_at", "create_date", "write_date"), changed)
    clone_rows(
        cr,
        "sale_order",
        first.id,
        dict(
            dates,
            name="'BENCH/' || lpad(p.g::text, 7, '0')",
            partner_id="p.pid",
            partner_invoice_id="p.pid",
            partner_shipping_id="p.pid",
            access_token="NULL",
        ),
        "CROSS JOIN (SELECT id AS pid, row_number() OVER (ORDER BY id) AS g FROM res_partner"
        " WHERE id = ANY(%(partners)s)) AS p",
        {"partners": partners[1:].ids},
    )
    cr.execute(
        "UPDATE sale_order SET date_order = "
        + changed
        + ", cart_changed_at = "
        + changed
        + " WHERE id = %s",
        [first.id],
    )
    clone_rows(
        cr,
        "sale_order_line",
        first.order_line.id,
        dict(dates, order_id="o.oid", order_partner_id="o.opid"),
        "CROSS JOIN (SELECT id AS oid, partner_id AS opid FROM sale_order"
        " WHERE name LIKE 'BENCH/%%') AS o",
        {},
    )
    cr.execute("ANALYZE sale_order")
    cr.execute("ANALYZE sale_order_line")
    env.invalidate_all()
    return website, partners


def bench_carts(env, n):
    """Abandoned carts: the ready-made cart scenario of the shop bridge
    (``trigger_marketing_website_sale``: intake cron + its reminder e-mail) against
    website_sale's own abandoned-cart cron (one e-mail per cart), on the same carts.

    :return: the figures, or None when the bridge is not installed
    """
    module = env["ir.module.module"].search([("name", "=", BRIDGE)])
    if not module or module.state != "installed":
        return None
    cr = env.cr
    say(f"seeding {n} abandoned carts")
    website, partners = seed_carts(env, n)
    cr.commit()
    carts = env["sale.order"].search([("website_id", "=", website.id), ("state", "=", "draft")])
    if len(carts) != n:
        raise RuntimeError(f"{len(carts)} carts seeded for {n}")

    # website_sale's own abandoned-cart e-mail, on all the carts
    website.send_abandoned_cart_email = True
    env.flush_all()
    cr.execute(
        "UPDATE website SET send_abandoned_cart_email_activation_time ="
        " (now() AT TIME ZONE 'UTC') - interval '3 days' WHERE id = %s",
        [website.id],
    )
    cr.commit()
    env.invalidate_all()
    with Measure() as m_odoo:
        env["website"]._send_abandoned_cart_email()
        cr.commit()
    cr.execute(
        "SELECT count(*) FROM mail_mail m JOIN mail_message mm ON mm.id = m.mail_message_id"
        " WHERE mm.model = 'sale.order' AND m.state = 'outgoing'"
    )
    odoo_mails = cr.fetchone()[0]
    say(f"carts: website_sale sent {odoo_mails} reminders in {m_odoo.seconds:.2f}s")
    website.send_abandoned_cart_email = False
    cr.execute(
        "UPDATE sale_order SET cart_recovery_email_sent = FALSE WHERE id = ANY(%s)", [carts.ids]
    )
    cr.commit()
    env.invalidate_all()

    # the bridge's ready-made scenario: intake, then its reminder (1 hour later)
    Scenario = env["marketing.scenario"]
    scenario = Scenario._template_cart_abandonment()
    scenario.write({"cart_abandoned_hours": 1.0})
    scenario.action_start()
    env.flush_all()
    cr.execute(
        "UPDATE marketing_scenario SET last_entry_check ="
        " (now() AT TIME ZONE 'UTC') - interval '2 days' WHERE id = %s",
        [scenario.id],
    )
    cr.commit()
    env.invalidate_all()
    with Measure() as m_in:
        Scenario._cron_enroll_abandoned_carts()
        cr.commit()
    entered = len(scenario.participant_ids)
    reminder = scenario.step_ids.filtered(lambda s: not s.parent_id)
    make_due(env, reminder)
    env.invalidate_all()
    with Measure() as m_mail:
        env["marketing.scenario.trace"]._cron_process()
        cr.commit()
    cr.execute(
        "SELECT count(*) FROM mail_mail WHERE mailing_id = %s AND state = 'outgoing'",
        [reminder.mailing_id.id],
    )
    our_mails = cr.fetchone()[0]
    say(
        f"carts: {entered} entered in {m_in.seconds:.2f}s, {our_mails} reminders queued in "
        f"{m_mail.seconds:.2f}s"
    )
    if entered != n or our_mails != n or odoo_mails != n:
        raise RuntimeError(
            f"carts: {entered} entered, {our_mails} reminders, website_sale {odoo_mails}, for {n}"
        )
    ours = m_in.seconds + m_mail.seconds
    return {
        "carts": n,
        "intake_seconds": round(m_in.seconds, 3),
        "intake_per_s": round(n / m_in.seconds),
        "intake_queries": m_in.queries,
        "reminder_seconds": round(m_mail.seconds, 3),
        "reminder_per_s": round(n / m_mail.seconds),
        "website_sale_seconds": round(m_odoo.seconds, 3),
        "website_sale_per_s": round(n / m_odoo.seconds),
        "website_sale_queries": m_odoo.queries,
        "ours_vs_website_sale": round(ours / m_odoo.seconds, 3),
    }


# --------------------------------------------------------------------------- #
# main
# --------------------------------------------------------------------------- #
def checks(env, scenario, steps, n, opened):
    """Sanity: the bench measured what it claims (every trace handled once)."""
    cr = env.cr
    cr.execute(
        """
        SELECT s.name, t.state, count(*)
          FROM marketing_scenario_trace t JOIN marketing_scenario_step s ON s.id = t.step_id
         WHERE t.scenario_id = %s GROUP BY 1, 2 ORDER BY 1, 2
        """,
        [scenario.id],
    )
    by_step = {}
    for name, state, count in cr.fetchall():
        by_step.setdefault(name if isinstance(name, str) else name.get("en_US"), {})[state] = count
    cr.execute(
        "SELECT count(*) FROM marketing_scenario_trace WHERE scenario_id = %s AND state IN %s",
        [scenario.id, ("scheduled", "waiting")],
    )
    pending = cr.fetchone()[0]
    cr.execute(
        """
        SELECT count(*) FROM mail_mail m
         WHERE m.mailing_id IN %s AND m.state = 'outgoing'
        """,
        [(steps["welcome"].mailing_id.id, steps["reminder"].mailing_id.id)],
    )
    queued = cr.fetchone()[0]
    expected_mails = n + (n - opened)
    problems = []
    if pending:
        problems.append(f"{pending} traces still pending")
    if queued != expected_mails:
        problems.append(f"{queued} mails queued, expected {expected_mails}")
    return by_step, queued, problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--n", type=int, default=int(os.environ.get("N") or DEFAULT_N))
    parser.add_argument("--db", default=os.environ.get("BENCH_DB") or None)
    parser.add_argument("--addons-path", required=True)
    parser.add_argument("--keep-db", action="store_true", default=os.environ.get("KEEP_DB") == "1")
    parser.add_argument("--json", default="bench-results.json")
    parser.add_argument("--batch-size", type=int, default=None, help="trigger_marketing.batch_size")
    parser.add_argument("--no-anchor", action="store_true", help="skip the mass mailing anchor")
    parser.add_argument(
        "--anchor",
        choices=("first", "last"),
        default="first",
        help="run the mass mailing before the scenario (default) or after it",
    )
    parser.add_argument("--profile", action="store_true", help="time spent per SQL query")
    parser.add_argument(
        "--carts",
        action="store_true",
        help=f"also bench abandoned carts (installs website_sale and {BRIDGE})",
    )
    parser.add_argument(
        "--carts-n",
        type=int,
        default=5000,
        help="number of carts (at most N; website_sale mails them one by one)",
    )
    args = parser.parse_args(argv)
    n = args.n
    db = args.db or f"tmbench_{n}_{time.strftime('%Y%m%d%H%M%S')}"
    if database_exists(db):
        raise SystemExit(f"bench: database {db} exists already; choose another --db/BENCH_DB")

    modules = MODULE
    if args.carts:
        modules += f",website_sale,{BRIDGE}"
    try:
        create_database(db, args.addons_path, modules)
    except subprocess.CalledProcessError:
        if args.carts:
            say(f"{BRIDGE} could not be installed; carts part skipped")
            drop_database(db)
            create_database(db, args.addons_path, MODULE)
        else:
            raise
    try:
        return run(args, db, n)
    finally:
        if args.keep_db:
            say(f"KEEP_DB=1: kept database {db}")
        else:
            import odoo.sql_db

            odoo.sql_db.close_db(db)
            drop_database(db)
            say(f"dropped database {db}")


def run(args, db, n):
    import odoo
    from odoo import SUPERUSER_ID, api
    from odoo.modules.registry import Registry
    from odoo.tools import config

    config.parse_config(
        [
            f"--addons-path={args.addons_path}",
            "-d",
            db,
            "--log-level=warn",
            "--no-http",
            "--http-interface=127.0.0.1",
        ]
    )
    # mail's composer still calls the deprecated ir.cron._notify_progress (Odoo's code)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    threading.current_thread().query_count = 0
    if args.profile:
        PROFILE.install()
    registry = Registry(db)
    rss_after_load = rss_mb()
    results = {
        "n": n,
        "database": db,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "odoo": odoo.release.version,
        },
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "rss_after_registry_load_mb": round(rss_after_load),
    }

    def env_factory(cr):
        return api.Environment(cr, SUPERUSER_ID, {})

    with registry.cursor() as cr:
        env = env_factory(cr)
        if args.batch_size:
            env["ir.config_parameter"].set_param("trigger_marketing.batch_size", args.batch_size)
        results["batch_size"] = env["marketing.scenario.trace"]._batch_size()
        # the bench never talks to an SMTP server: mails stay in the queue; the mail
        # queue cron is not run (no cron thread in this process) and is disabled anyway
        env.ref("mail.ir_cron_mail_scheduler_action").active = False
        cr.commit()

        say(f"seeding {n} contacts")
        with Measure() as m:
            partners = seed_partners(env, n)
            cr.commit()
        results["seed_s"] = round(m.seconds, 2)
        scenario, steps = build_scenario(env)
        cr.commit()

        # anchor: the plain mass mailing of the same e-mail to the same contacts; first by
        # default, on tables without the scenario's mails (the conservative order)
        results["anchor"] = None
        results["anchor_order"] = "none" if args.no_anchor else args.anchor
        if args.no_anchor:
            say("anchor skipped (--no-anchor)")
        elif args.anchor == "first":
            run_anchor_phase(env, results)

        # enrolment
        env.invalidate_all()
        partners = env["res.partner"].browse(partners.ids)
        with Measure() as m:
            participants = scenario.enroll(partners)
            cr.commit()
        if len(participants) != n:
            raise RuntimeError(f"{len(participants)} participants for {n} contacts")
        results["enroll"] = {
            "records": n,
            "seconds": round(m.seconds, 3),
            "queries": m.queries,
            "per_s": round(n / m.seconds),
        }
        say(f"enrolled {n} in {m.seconds:.2f}s ({n / m.seconds:.0f}/s, {m.queries} queries)")
        del participants, partners
        env.invalidate_all()

        rounds = []
        # 1. welcome e-mails
        run_round(env, scenario, "welcome", "mail", rounds)
        sent = queue_sent(env, steps["welcome"])
        opened, m_open = simulate_opens(env, steps["welcome"], OPEN_RATE)
        results["opens"] = {
            "count": opened,
            "seconds": round(m_open.seconds, 3),
            "queries": m_open.queries,
            "per_s": round(opened / m_open.seconds) if m_open.seconds else None,
        }
        say(f"{sent} mails taken as sent; {opened} opened in {m_open.seconds:.2f}s")
        # 2. opened: score, then tag (no delay)
        run_round(env, scenario, "opened", "other", rounds)
        # 3. one day later: the "opened" branches that waited in vain expire
        make_due(env, steps["opened"])
        run_round(env, scenario, "not-opened-expiry", "other", rounds)
        # 4. ... and the reminders go
        make_due(env, steps["reminder"])
        run_round(env, scenario, "reminder", "mail", rounds)
        queue_sent(env, steps["reminder"])
        # 5. one hour later: condition, then the list
        make_due(env, steps["condition"])
        run_round(env, scenario, "condition-list", "other", rounds)

        by_step, queued, problems = checks(env, scenario, steps, n, opened)
        results["rounds"] = rounds
        results["traces_by_step"] = by_step
        results["mails_queued"] = queued
        if problems:
            raise RuntimeError("bench scenario incomplete: " + "; ".join(problems))

        if not args.no_anchor and args.anchor == "last":
            env.invalidate_all()
            run_anchor_phase(env, results)

        carts = None
        if args.carts:
            carts = bench_carts(env, min(n, args.carts_n))
        results["carts"] = carts

    without, with_scenario = realtime_overhead(registry, env_factory)
    results["realtime_create"] = {
        "queries_without": without,
        "queries_with": with_scenario,
        "extra_queries": with_scenario - without,
    }
    results["peak_rss_mb"] = round(rss_mb())
    summarize(results)
    with open(args.json, "w", encoding="utf-8") as fh:
        json.dump(results, fh, indent=2, default=str)
    say(f"results written to {args.json}")
    print(results["line"])
    return 0


def summarize(results):
    rounds = results["rounds"]

    def total(kind, key):
        return sum(r[key] for r in rounds if r["kind"] == kind)

    mail_traces, mail_s = total("mail", "traces"), total("mail", "seconds")
    other_traces, other_s = total("other", "traces"), total("other", "seconds")
    welcome = next(r for r in rounds if r["round"] == "welcome")
    anchor = results["anchor"] or {"per_s": None, "seconds": None, "mails": None}
    figures = {
        "enroll_per_s": results["enroll"]["per_s"],
        "non_mail_per_s": round(other_traces / other_s) if other_s else None,
        "mail_per_s": round(mail_traces / mail_s) if mail_s else None,
        "queries_per_non_mail_trace": round(total("other", "queries") / other_traces, 4),
        "queries_per_mail_trace": round(total("mail", "queries") / mail_traces, 3),
        "anchor_per_s": anchor["per_s"],
        # same mails, same contacts: our welcome round vs the plain mass mailing
        "mail_vs_anchor": round(welcome["seconds"] / anchor["seconds"], 3)
        if anchor["seconds"]
        else None,
        # all e-mail steps, per mail
        "mail_per_mail_vs_anchor": round(
            (mail_s / mail_traces) / (anchor["seconds"] / anchor["mails"]), 3
        )
        if anchor["seconds"]
        else None,
        "peak_rss_mb": results["peak_rss_mb"],
        "realtime_create_extra_queries": results["realtime_create"]["extra_queries"],
    }
    results["figures"] = figures
    results["targets"] = TARGETS
    carts = results.get("carts")
    if carts is None:
        carts_text = "carts: n/a (bridge not installed)"
    else:
        carts_text = (
            f"carts: {carts['carts']} intake={carts['intake_per_s']}/s"
            f" reminder={carts['reminder_per_s']}/s"
            f" website_sale={carts['website_sale_per_s']}/s"
            f" ours/website_sale={carts['ours_vs_website_sale']}x"
        )
    results["line"] = (
        f"bench: N={results['n']} cpus={results['machine']['cpus']}"
        f" enroll={figures['enroll_per_s']}/s"
        f" non-mail={figures['non_mail_per_s']} traces/s ({other_traces} in {other_s:.1f}s)"
        f" mail={figures['mail_per_s']} traces/s ({mail_traces} in {mail_s:.1f}s)"
        f" anchor={figures['anchor_per_s']} mails/s"
        f" mail/anchor={figures['mail_vs_anchor']}x (anchor {results['anchor_order']})"
        f" (per mail, all mail steps: {figures['mail_per_mail_vs_anchor']}x)"
        f" q/trace non-mail={figures['queries_per_non_mail_trace']}"
        f" mail={figures['queries_per_mail_trace']}"
        f" peak_rss={figures['peak_rss_mb']}MB"
        f" realtime_create=+{figures['realtime_create_extra_queries']} queries"
        f" opens={results['opens']['per_s']}/s"
        f" {carts_text}"
    )


if __name__ == "__main__":
    sys.exit(main())
