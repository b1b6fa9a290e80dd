"""The anchor: the plain mass mailing of the same e-mail to the same contacts."""

from .common import Measure, say
from .seed import make_mailing


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
