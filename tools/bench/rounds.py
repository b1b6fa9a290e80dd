"""The scenario's rounds: time moved forward step by step, the processing cron run until
nothing is due, the mail queue taken as sent, opens simulated, and the final check."""

from .common import PROFILE, Measure, say

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
