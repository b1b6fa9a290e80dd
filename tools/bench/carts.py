"""``--carts``: the shop bridge's ready-made cart scenario against website_sale's own
abandoned-cart cron, on the same carts."""

from .common import BRIDGE, Measure, say
from .rounds import make_due
from .seed import clone_rows


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
