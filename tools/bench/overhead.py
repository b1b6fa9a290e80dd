"""``make bench-overhead``: what the addon costs the rest of Odoo (issue 13, part 5).

The same operations of Odoo's own models, one by one as users do them, on two fresh
databases of the same run: one with Odoo's modules only (``crm``, ``sale_management``,
``mass_mailing``), one with trigger_marketing and its CRM and sales bridges as well. On the
second, each operation runs twice: with no running scenario, then while running
scenarios watch it (a 'create' scenario and a date scenario on contacts, a goal on the
contact's confirmed orders, the demo score rules). Printed: queries and time per
operation, and the ratio to the database without the addon.

Each kind of operation runs once for warm-up (caches), then n times in one transaction,
flushed after each operation (the mass mailing: one mailing to the n contacts). Queries
are exact; times vary with the machine's load (run it on a quiet machine).
"""

import argparse
import json
import sys
import threading
import time

from .common import Measure, say
from .database import create_database, drop_database

BASE_MODULES = "crm,sale_management,mass_mailing"
ADDON_MODULES = BASE_MODULES + ",trigger_marketing,trigger_marketing_crm,trigger_marketing_sale"


def _contacts_create(env, n, tag):
    for i in range(n):
        env["res.partner"].create({"name": f"Contact {tag} {i}", "email": f"c{tag}{i}@example.com"})
        env.flush_all()


def _contacts_write(env, n, tag):
    partners = env["res.partner"].search([("email", "=like", f"c{tag}%@example.com")], limit=n)
    for i, partner in enumerate(partners):
        partner.write({"city": f"City {i}", "phone": f"+32 2 000 {i:04d}"})
        env.flush_all()


def _leads_create(env, n, tag):
    for i in range(n):
        env["crm.lead"].create({"name": f"Lead {tag} {i}", "email_from": f"l{tag}{i}@example.com"})
        env.flush_all()


def _orders_confirm(env, n, tag):
    product = env["product.product"].search([("name", "=", "Overhead mug")], limit=1)
    partners = env["res.partner"].search([("email", "=like", f"c{tag}%@example.com")], limit=n)
    for partner in partners:
        order = env["sale.order"].create(
            {
                "partner_id": partner.id,
                "order_line": [(0, 0, {"product_id": product.id, "product_uom_qty": 1})],
            }
        )
        order.action_confirm()
        env.flush_all()


def _mass_mailing(env, n, tag):
    mailing = env["mailing.mailing"].create(
        {
            "name": f"Overhead {tag}",
            "subject": "Hello",
            "body_html": "<p>Hello <a href='https://www.example.com'>there</a></p>",
            "mailing_model_id": env["ir.model"]._get_id("res.partner"),
            "mailing_domain": repr([("email", "=like", f"c{tag}%@example.com")]),
        }
    )
    mailing.action_send_mail()
    env.flush_all()


OPERATIONS = (
    ("contacts created", _contacts_create),
    ("contacts written", _contacts_write),
    ("leads created", _leads_create),
    ("orders created and confirmed", _orders_confirm),
    ("plain mass mailing (mails queued)", _mass_mailing),
)


def _prepare(env):
    env["product.product"].create({"name": "Overhead mug", "list_price": 10.0})
    env.ref("mail.ir_cron_mail_scheduler_action").active = False


def _watch(env):
    """Running scenarios that watch the measured operations (with the addon only)."""
    partner_model = env["ir.model"]._get_id("res.partner")
    Scenario = env["marketing.scenario"]
    scenarios = Scenario.create(
        [
            {
                "name": "Overhead: new contacts",
                "model_id": partner_model,
                "trigger": "create",
                "domain": "[('email', '!=', False)]",
                "goal_domain": "[('sale_order_ids.state', '=', 'sale')]",
            },
            {
                "name": "Overhead: 30 days after creation",
                "model_id": partner_model,
                "trigger": "date",
                "date_field_id": env["ir.model.fields"]._get("res.partner", "create_date").id,
                "trigger_offset": 30,
                "trigger_offset_unit": "days",
                "domain": "[('email', '!=', False)]",
            },
        ]
    )
    for scenario in scenarios:
        env["marketing.scenario.step"].create(
            {
                "name": "Wait",
                "scenario_id": scenario.id,
                "action_type": "wait",
                "delay": 1,
                "delay_unit": "days",
            }
        )
    scenarios.action_start()
    env["marketing.score.rule"].search([("active", "=", False)]).active = True


def measure(registry, env_factory, n, tag, label):
    """Each operation n times (the mass mailing: to the n contacts), in its own
    transaction; {operation: (queries, seconds)}."""
    figures = {}
    for name, operation in OPERATIONS:
        with registry.cursor() as cr:
            env = env_factory(cr)
            with Measure() as m:
                operation(env, n, tag)
            cr.commit()
        figures[name] = (m.queries, m.seconds)
        say(f"{label}: {name}: {m.queries} queries, {m.seconds:.2f}s")
    return figures


def run_db(db, addons_path, modules, n, watched):
    from odoo import SUPERUSER_ID, api
    from odoo.modules.registry import Registry

    create_database(db, addons_path, modules)
    try:
        registry = Registry(db)

        def env_factory(cr):
            return api.Environment(cr, SUPERUSER_ID, {})

        with registry.cursor() as cr:
            _prepare(env_factory(cr))
        measure(registry, env_factory, min(n, 5), "w", db + " (warm-up)")
        results = {"idle": measure(registry, env_factory, n, "a", db)}
        if watched:
            with registry.cursor() as cr:
                _watch(env_factory(cr))
            measure(registry, env_factory, min(n, 5), "x", db + " (warm-up, watched)")
            results["watched"] = measure(registry, env_factory, n, "b", db + " (watched)")
        return results
    finally:
        import odoo.sql_db

        odoo.sql_db.close_db(db)
        drop_database(db)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--addons-path", required=True)
    parser.add_argument("-n", "--n", type=int, default=200, help="operations of each kind")
    parser.add_argument("--json", default="bench-results-overhead.json")
    args = parser.parse_args(argv)
    from odoo.tools import config

    config.parse_config([f"--addons-path={args.addons_path}", "--log-level=warn", "--no-http"])
    threading.current_thread().query_count = 0
    stamp = time.strftime("%Y%m%d%H%M%S")
    without = run_db(f"tmoverhead_base_{stamp}", args.addons_path, BASE_MODULES, args.n, False)
    with_addon = run_db(f"tmoverhead_tm_{stamp}", args.addons_path, ADDON_MODULES, args.n, True)
    lines = []
    for name, _op in OPERATIONS:
        q0, s0 = without["idle"][name]
        parts = [f"{name} (x{args.n}): without the addon {q0} queries {s0:.2f}s"]
        for state in ("idle", "watched"):
            q, s = with_addon[state][name]
            parts.append(
                f"{'no scenario' if state == 'idle' else 'watched'} {q} queries"
                f" ({(q - q0) / args.n:+.2f}/op) {s:.2f}s ({s / s0:.3f}x)"
            )
        lines.append(" | ".join(parts))
    for line in lines:
        print(f"bench-overhead: {line}")
    with open(args.json, "w", encoding="utf-8") as fh:
        json.dump({"n": args.n, "without": without, "with": with_addon}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
