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
6. issue 11 (``experiments``): a split step, an e-mail step at the contact's best hour
   (the decision), an e-mail step with frequency caps set while the engine handles queued
   opens and clicks of machines and people, against the anchor;
7. ``--carts`` (installs website_sale and the shop bridge
   ``trigger_marketing_website_sale``): the same carts through the bridge's ready-made
   cart scenario (intake cron + reminder e-mail) and through website_sale's own
   abandoned-cart cron.
8. delivery (``--delivery-n``, default 600 mails; 0 skips it): the same e-mail to the
   same contacts delivered to a real SMTP server on loopback (``smtp_sink.py``, its own
   process), by the delivery lane of scenario mails and by Odoo's own mail queue, in
   this run: delivered mails/s of each and their ratio (``delivery.py``).

Rounds are homogeneous (only e-mail steps, or only other steps), so that the rate of each
kind is the number of traces it handled over its wall-clock time, commits included.
Queries are counted with the thread's query counter (every cursor of this thread).
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
import warnings

from .anchor import run_anchor_phase
from .carts import bench_carts
from .common import BRIDGE, DEFAULT_N, MODULE, OPEN_RATE, PROFILE, TARGETS, Measure, rss_mb, say
from .database import create_database, database_exists, drop_database
from .delivery import bench_delivery
from .experiments import run_experiments
from .experiments import summary as experiments_summary
from .realtime import realtime_overhead
from .rounds import checks, make_due, queue_sent, run_round, simulate_opens
from .seed import build_scenario, seed_partners


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
    parser.add_argument(
        "--delivery-n",
        type=int,
        default=int(os.environ.get("DELIVERY_N") or 600),
        help="mails delivered to the SMTP sink by the lane and by Odoo's queue (0: skip)",
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

        # issue 11: split and send-time steps, an e-mail step under caps with machine events
        mailings = [steps["welcome"].mailing_id.id, steps["reminder"].mailing_id.id]
        results["experiments"] = run_experiments(env, results, mailings)

        carts = None
        if args.carts:
            carts = bench_carts(env, min(n, args.carts_n))
        results["carts"] = carts

        results["delivery"] = None
        if args.delivery_n:
            env.invalidate_all()
            results["delivery"] = bench_delivery(env, min(n, args.delivery_n))

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
    delivery = results.get("delivery")
    if delivery is None:
        delivery_text = "delivery: skipped"
    else:
        delivery_text = (
            f"delivery: {delivery['mails']} mails lane={delivery['lane']['per_s']}/s"
            f" odoo_queue={delivery['odoo_queue']['per_s']}/s"
            f" lane/odoo={delivery['lane_vs_odoo']}x"
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
        f" {experiments_summary(results.get('experiments'))}"
        f" {carts_text}"
        f" {delivery_text}"
    )


if __name__ == "__main__":
    sys.exit(main())
