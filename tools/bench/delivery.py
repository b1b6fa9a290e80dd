"""Delivery: from Odoo's outgoing mails to a real SMTP server on loopback (issue 13).

The same e-mail to the same ``count`` contacts, delivered twice to the SMTP sink
(``smtp_sink.py``, its own process): as a scenario's e-mail step through the delivery
lane of scenario mails (its cron method, one worker: this process), and as a plain mass
mailing through Odoo's own mail queue (``mail.mail.process_email_queue``, which commits
after each mail). Delivered mails/s is counted at the sink: mails received over the time
from the start of the delivery to the arrival of the last one.
"""

import os
import tempfile
import time

from .common import BODY, Measure, say
from .seed import make_mailing


def bench_delivery(env, count):
    """Return the figures of both deliveries of ``count`` mails, and their ratio."""
    from .smtp_sink import SmtpSink

    cr = env.cr
    partners = env["res.partner"].search(
        [("email", "=like", "bench.contact%@example.com")], order="id", limit=count
    )
    # only this phase's mails leave: what the other phases queued is set aside
    env["mail.mail"].search([("state", "=", "outgoing")]).write({"state": "cancel"})
    cr.commit()
    out = os.path.join(tempfile.mkdtemp(prefix="tm_bench_sink_"), "mails.jsonl")
    with SmtpSink(out) as sink:
        env["ir.mail_server"].search([]).write({"active": False})
        env["ir.mail_server"].create(
            {
                "name": "Bench sink (loopback)",
                "smtp_host": "127.0.0.1",
                "smtp_port": sink.port,
                "smtp_encryption": "none",
            }
        )
        cr.commit()
        lane = _deliver_lane(env, partners, sink)
        odoo = _deliver_odoo_queue(env, partners, sink)
    ratio = round(lane["per_s"] / odoo["per_s"], 2) if odoo["per_s"] else None
    say(
        f"delivery of {count} mails to the SMTP sink: lane {lane['per_s']}/s,"
        f" Odoo's queue {odoo['per_s']}/s: x{ratio}"
    )
    return {"mails": len(partners), "lane": lane, "odoo_queue": odoo, "lane_vs_odoo": ratio}


def _deliver_lane(env, partners, sink):
    """A scenario whose only step is the e-mail: queued by the engine, then delivered
    by the lane's cron method."""
    Step = env["marketing.scenario.step"]
    scenario = env["marketing.scenario"].create(
        {
            "name": "Bench delivery",
            "model_id": env["ir.model"]._get_id("res.partner"),
            "trigger": "manual",
            "domain": "[('email', '!=', False)]",
        }
    )
    mailing = make_mailing(env, "Welcome (delivery)", scenario=scenario)
    mailing.body_html = BODY
    Step.create(
        {
            "name": "Welcome (delivery)",
            "scenario_id": scenario.id,
            "action_type": "mail",
            "mailing_id": mailing.id,
        }
    )
    scenario.action_start()
    scenario.enroll(partners)
    env.cr.commit()
    Trace = env["marketing.scenario.trace"]
    while Trace._count_due():
        Trace._cron_process()
    env.cr.commit()
    env.invalidate_all()
    deliver = env["mail.mail"]._cron_trigger_marketing_deliver
    return _timed(env, sink, len(partners), "the lane", deliver, mailing)


def _deliver_odoo_queue(env, partners, sink):
    mailing = make_mailing(env, "Welcome (mass mailing, delivery)")
    mailing.mailing_domain = repr([("id", "in", partners.ids)])
    env.cr.commit()
    mailing.action_send_mail()
    env.cr.commit()
    env.invalidate_all()
    Mail = env["mail.mail"]
    domain = [("mailing_id", "=", mailing.id), ("state", "=", "outgoing")]

    def run_queue():
        while Mail.search_count(domain):
            Mail.process_email_queue()

    return _timed(env, sink, len(partners), "Odoo's queue", run_queue, mailing)


def _timed(env, sink, count, label, deliver, mailing):
    received = len(sink.mails())
    with Measure() as m:
        start = time.time()
        deliver()
        env.cr.commit()
    deadline = time.monotonic() + 120
    while len(sink.mails()) < received + count and time.monotonic() < deadline:
        time.sleep(0.2)
    mails = sink.mails()[received:]
    last = max((mail["t"] for mail in mails), default=start)
    seconds = max(last - start, 1e-6)
    env.cr.execute(
        "SELECT state, count(*) FROM mail_mail WHERE mailing_id = %s GROUP BY 1", [mailing.id]
    )
    left = dict(env.cr.fetchall())
    per_s = round(len(mails) / seconds, 1)
    say(
        f"delivery through {label}: {len(mails)} of {count} mails received in {seconds:.1f}s"
        f" ({per_s}/s, {m.queries} queries, {m.queries / max(len(mails), 1):.2f} per mail);"
        f" left in mail_mail: {left or 'none'}"
    )
    if len(mails) != count or len({tuple(mail["to"]) for mail in mails}) != count:
        raise RuntimeError(f"{label}: {len(mails)} mails received for {count}")
    return {
        "received": len(mails),
        "seconds": round(seconds, 2),
        "per_s": per_s,
        "queries": m.queries,
        "queries_per_mail": round(m.queries / len(mails), 2),
    }
