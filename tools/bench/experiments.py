"""Issue 11's steps at scale, on the same N contacts, after the main scenario and the
anchor: a split step (2 branches), an e-mail step at the contact's best hour (the
decision: each contact's own hour or the audience's, the trace postponed to it), and an
e-mail step sent with frequency caps set and a queue of opens and clicks to tell apart
(machines and people) that the engine handles in the same run.

That last one is compared, per e-mail, with the same e-mail step without caps nor
queued events run just before it on the other half of the contacts (same tables, same
moment: what caps and machine detection cost), and with the plain mass mailing of the
same e-mail (the anchor, run on clean tables).

Each phase is its own scenario started for its contacts (``scenario.enroll``, not
timed), then the processing cron is run in this process until nothing is due.
"""

from .common import OPEN_RATE, PROFILE, Measure, say
from .seed import make_mailing

# the queue of engagement events handled during the capped e-mail step, per contact:
# Apple's proxy opens, scanners' clicks, people's opens (of the welcome e-mail)
MACHINE_OPEN_RATE = 0.30
SCANNER_CLICK_RATE = 0.05
# caps set but not reached: what they cost, not what they defer
CAPS = {"trigger_marketing.cap_per_day": 5, "trigger_marketing.cap_per_week": 10}


def _scenario(env, name, steps):
    """A running scenario on the bench contacts with ``steps`` [(name, values, parent)]."""
    scenario = env["marketing.scenario"].create(
        {
            "name": name,
            "model_id": env["ir.model"]._get_id("res.partner"),
            "trigger": "manual",
            "domain": "[('email', '!=', False)]",
        }
    )
    created = {}
    for step_name, vals, parent in steps:
        created[step_name] = env["marketing.scenario.step"].create(
            dict(
                vals,
                name=step_name,
                scenario_id=scenario.id,
                parent_id=created[parent].id if parent else False,
            )
        )
    scenario.action_start()
    return scenario, created


def _enroll(env, scenario, half=None):
    """Enrol the bench contacts, or one ``half`` of them (0: even ids, 1: odd ids)."""
    partners = env["res.partner"].search([("email", "=like", "bench.contact%@example.com")])
    if half is not None:
        partners = partners.filtered(lambda p: p.id % 2 == half)
    scenario.enroll(partners)
    env.cr.commit()
    env.invalidate_all()
    return len(partners)


def _count(env, query, params):
    env.cr.execute(query, params)
    return env.cr.fetchone()[0]


def _run(env, label, count_query, params):
    """Run the processing cron until nothing is due; the traces ``count_query`` counts
    before and after are the ones this phase handled."""
    before = _count(env, count_query, params)
    env.cr.commit()
    env.invalidate_all()
    PROFILE.stats.clear()
    with Measure() as m:
        env["marketing.scenario.trace"]._cron_process()
    env.cr.commit()
    PROFILE.report(label)
    traces = _count(env, count_query, params) - before
    env.cr.commit()
    figures = {
        "traces": traces,
        "seconds": round(m.seconds, 3),
        "queries": m.queries,
        "per_s": round(traces / m.seconds) if m.seconds else None,
        "queries_per_trace": round(m.queries / traces, 4) if traces else None,
    }
    say(
        f"{label}: {traces} traces in {m.seconds:.2f}s ({figures['per_s']}/s, "
        f"{figures['queries_per_trace']} queries per trace)"
    )
    return figures


DONE_OF_STEP = (
    "SELECT count(*) FROM marketing_scenario_trace WHERE step_id = %s "
    "AND state IN ('done', 'skipped', 'failed', 'canceled')"
)
TIMED_OF_STEP = (
    "SELECT count(*) FROM marketing_scenario_trace WHERE step_id = %s AND send_time_at IS NOT NULL"
)


def bench_split(env):
    """A split step, 2 branches (50/50): each contact drawn, its branch created."""
    scenario, steps = _scenario(
        env,
        "Split (bench)",
        [
            ("Which one?", {"action_type": "split", "split_metric": "open"}, None),
            ("A", {"action_type": "wait", "trigger_type": "split", "split_weight": 50,
                   "delay": 1, "delay_unit": "days"}, "Which one?"),
            ("B", {"action_type": "wait", "trigger_type": "split", "split_weight": 50,
                   "delay": 1, "delay_unit": "days"}, "Which one?"),
        ],
    )  # fmt: skip
    _enroll(env, scenario)
    return _run(env, "split step", DONE_OF_STEP, [steps["Which one?"].id])


def bench_send_time(env):
    """An e-mail step at the contact's best hour: the decision (own hour from the opens
    and clicks of the bench's earlier e-mails, else the audience's), the trace
    postponed to it."""
    scenario, steps = _scenario(
        env,
        "Best hour (bench)",
        [
            (
                "Offer",
                {
                    "action_type": "mail",
                    "send_time": "optimal",
                    "mailing_id": make_mailing(env, "Offer at the best hour", True).id,
                },
                None,
            )
        ],
    )
    _enroll(env, scenario)
    return _run(env, "send-time step (decision)", TIMED_OF_STEP, [steps["Offer"].id])


def queue_engagement(env, mailing_ids, half):
    """Queue, for the bench's earlier e-mails to one ``half`` of the contacts, Apple
    proxy opens, scanner clicks and people's opens, as the tracking requests record
    them. :return: how many."""
    env.cr.execute(
        """
        INSERT INTO marketing_mail_event
            (mailing_trace_id, event, scored, url, ip, user_agent, method, date)
        SELECT mt.id, e.kind, TRUE, e.url, '198.51.100.7', e.agent, 'GET',
               (now() AT TIME ZONE 'UTC') - interval '1 hour'
          FROM mailing_trace mt
          CROSS JOIN LATERAL (VALUES
              ('open', NULL, 'Mozilla/5.0', mt.id %% 100 < %(apple)s),
              ('click', 'https://www.example.com/offer', 'Mimecast URL scanner',
               mt.id %% 100 >= 100 - %(scanner)s),
              ('open', NULL, 'Mozilla/5.0 (X11; Linux x86_64) Thunderbird/128.0',
               mt.id %% 100 BETWEEN 40 AND 39 + %(people)s)
          ) AS e(kind, url, agent, chosen)
         WHERE mt.mass_mailing_id = ANY(%(mailings)s) AND e.chosen AND mt.res_id %% 2 = %(half)s
        """,
        {
            "apple": round(MACHINE_OPEN_RATE * 100),
            "scanner": round(SCANNER_CLICK_RATE * 100),
            "people": round(OPEN_RATE * 100),
            "mailings": list(mailing_ids),
            "half": half,
        },
    )
    count = env.cr.rowcount
    env.cr.commit()
    return count


def _mail_scenario(env, name, subject):
    scenario, steps = _scenario(
        env,
        name,
        [
            (
                "News",
                {"action_type": "mail", "mailing_id": make_mailing(env, subject, True).id},
                None,
            )
        ],
    )
    return scenario, steps["News"]


def bench_capped_mail(env, mailing_ids):
    """The same e-mail step twice, on each half of the contacts: plain, then with caps
    set (not reached) while the engine handles a queue of opens and clicks of machines
    and people."""
    scenario, step = _mail_scenario(env, "Plain (bench)", "News (plain)")
    _enroll(env, scenario, half=0)
    plain = _run(env, "e-mail step, half the contacts, plain", DONE_OF_STEP, [step.id])
    ICP = env["ir.config_parameter"].sudo()
    before = {key: ICP.get_param(key) for key in CAPS}
    for key, value in CAPS.items():
        ICP.set_param(key, value)
    scenario, step = _mail_scenario(env, "Capped (bench)", "News (capped)")
    _enroll(env, scenario, half=1)
    events = queue_engagement(env, mailing_ids, half=1)
    say(f"queued {events} opens and clicks (machines' and people's) for the engine")
    try:
        figures = _run(
            env, "e-mail step, other half, caps and machine events", DONE_OF_STEP, [step.id]
        )
    finally:
        for key, value in before.items():
            ICP.set_param(key, value or False)
        env.cr.commit()
    env.cr.execute(
        """
        SELECT count(*) FILTER (WHERE marketing_machine_opens > 0),
               count(*) FILTER (WHERE marketing_machine_clicks > 0),
               count(*) FILTER (WHERE marketing_opened_at IS NOT NULL)
          FROM mailing_trace WHERE mass_mailing_id = ANY(%s) AND res_id %% 2 = 1
        """,
        [list(mailing_ids)],
    )
    machine_opened, machine_clicked, people = env.cr.fetchone()
    left = _count(env, "SELECT count(*) FROM marketing_mail_event", [])
    if left:
        raise RuntimeError(f"{left} mail events left in the queue")
    figures.update(
        events=events,
        mails_machine_opened=machine_opened,
        mails_machine_clicked=machine_clicked,
        mails_opened_by_people=people,
    )
    return plain, figures


def _per_mail(figures):
    return figures["seconds"] / figures["traces"] if figures["traces"] else None


def run_experiments(env, results, mailing_ids):
    """The phases; their figures, and the capped step's time per e-mail over the plain
    step's and the anchor's."""
    env.invalidate_all()
    plain, capped = bench_capped_mail(env, mailing_ids)
    figures = {
        "split": bench_split(env),
        "send_time": bench_send_time(env),
        "plain_mail": plain,
        "capped_mail": capped,
    }
    anchor = results.get("anchor")
    capped_s = _per_mail(capped)
    figures["capped_vs_plain_step"] = (
        round(capped_s / _per_mail(plain), 3) if capped_s and plain["traces"] else None
    )
    figures["capped_mail_vs_anchor"] = (
        round(capped_s / (anchor["seconds"] / anchor["mails"]), 3) if anchor and capped_s else None
    )
    figures["plain_mail_vs_anchor"] = (
        round(_per_mail(plain) / (anchor["seconds"] / anchor["mails"]), 3)
        if anchor and plain["traces"]
        else None
    )
    return figures


def summary(figures):
    """The experiments' part of the ``bench:`` line."""
    if not figures:
        return "experiments: n/a"
    split, timed, capped = figures["split"], figures["send_time"], figures["capped_mail"]
    return (
        f"split={split['per_s']} traces/s (q/trace {split['queries_per_trace']})"
        f" send-time={timed['per_s']} traces/s (q/trace {timed['queries_per_trace']})"
        f" capped+machine-events mail={capped['per_s']} traces/s"
        f" ({capped['events']} events, q/trace {capped['queries_per_trace']})"
        f" /plain step={figures['capped_vs_plain_step']}x"
        f" /anchor={figures['capped_mail_vs_anchor']}x"
        f" (plain step /anchor={figures['plain_mail_vs_anchor']}x)"
    )
