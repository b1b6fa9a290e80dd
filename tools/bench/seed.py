"""Seeding: the contacts (copied in SQL from one the ORM created) and the scenario of
DESIGN §8 with its two e-mails."""

from .common import BODY


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
