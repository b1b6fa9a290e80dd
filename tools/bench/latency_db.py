"""The database side of the latency bench: its set-up (through the ORM, before the
servers start), the bench-only counters (PostgreSQL triggers) and the checks after the
run (plain SQL, while the servers may still run).

Which server did what: each server connects with its own PostgreSQL application name
(``--db_app_name=lat-A-{pid}``), and bench-only triggers copy ``application_name`` into
``bench_done`` for every trace that leaves a pending state, every mail event the engine
handles and every mailing trace marked sent. Nothing of the product changes: the
triggers exist in the bench's database only (one INSERT more per row).
"""

from datetime import UTC, timedelta

EVENT_NAME = "bench_signup"
BODY = (
    '<p>Hello <t t-out="object.name"/>,</p>'
    '<p>Our <a href="https://www.example.com/offer">offer</a> is waiting for you.</p>'
)
CART_BODY = (
    '<p>Hello <t t-out="object.partner_id.name"/>,</p>'
    '<p>Your cart is <a href="https://www.example.com/cart">waiting for you</a>.</p>'
)

COUNTERS_SQL = """
CREATE TABLE bench_done (
    what varchar NOT NULL,           -- trace / mail_event / mail_sent / event_in
    row_id integer NOT NULL,
    detail varchar,                  -- the trace's step and new state, the event...
    app varchar NOT NULL DEFAULT current_setting('application_name'),
    at timestamp NOT NULL DEFAULT (clock_timestamp() AT TIME ZONE 'UTC')
);
CREATE FUNCTION bench_trace_done() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bench_done (what, row_id, detail)
    VALUES ('trace', NEW.id, NEW.step_id || ':' || NEW.state);
    RETURN NULL;
END $$;
CREATE TRIGGER bench_trace_done AFTER UPDATE OF state ON marketing_scenario_trace
    FOR EACH ROW WHEN (OLD.state IN ('scheduled', 'waiting')
                       AND NEW.state NOT IN ('scheduled', 'waiting'))
    EXECUTE FUNCTION bench_trace_done();
CREATE FUNCTION bench_event_handled() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bench_done (what, row_id, detail)
    VALUES ('mail_event', OLD.mailing_trace_id, OLD.event || ':' || OLD.scored);
    RETURN NULL;
END $$;
CREATE TRIGGER bench_event_handled AFTER DELETE ON marketing_mail_event
    FOR EACH ROW EXECUTE FUNCTION bench_event_handled();
CREATE FUNCTION bench_event_in() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bench_done (what, row_id, detail)
    VALUES ('event_in', NEW.mailing_trace_id, NEW.event || ':' || NEW.scored);
    RETURN NULL;
END $$;
CREATE TRIGGER bench_event_in AFTER INSERT ON marketing_mail_event
    FOR EACH ROW EXECUTE FUNCTION bench_event_in();
CREATE FUNCTION bench_mail_sent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bench_done (what, row_id, detail) VALUES ('mail_sent', NEW.id, NULL);
    RETURN NULL;
END $$;
CREATE TRIGGER bench_mail_sent AFTER UPDATE OF trace_status ON mailing_trace
    FOR EACH ROW WHEN (NEW.trace_status = 'sent' AND OLD.trace_status <> 'sent')
    EXECUTE FUNCTION bench_mail_sent();
"""


def configure(env, sink_port, base_url, cart_seconds, lanes):
    """Outgoing mail to the sink, links to server A, the two scenarios, the shop's product,
    ``lanes`` processing crons. :return: what the load needs and the checks read."""
    from odoo import Command

    icp = env["ir.config_parameter"]
    icp.set_param("web.base.url", base_url)
    icp.set_param("web.base.url.freeze", "True")
    env["ir.mail_server"].search([]).active = False
    env["ir.mail_server"].create(
        {
            "name": "Bench SMTP sink (loopback)",
            "smtp_host": "127.0.0.1",
            "smtp_port": sink_port,
            "smtp_encryption": "none",
            "sequence": 1,
        }
    )
    env["marketing.scenario.trace"]._set_processing_lanes(lanes)
    Step = env["marketing.scenario.step"]
    tag = env["res.partner.category"].create({"name": "Clicked (latency bench)"})

    def mailing(name, model, body):
        return env["mailing.mailing"].create(
            {
                "name": name,
                "subject": name,
                "body_html": body,
                "mailing_model_id": env["ir.model"]._get_id(model),
                "use_in_trigger_marketing": True,
            }
        )

    def scenario_with_steps(vals, model, body):
        scenario = env["marketing.scenario"].create(
            dict(vals, model_id=env["ir.model"]._get_id(model))
        )
        first = Step.create(
            {
                "name": "Immediate e-mail",
                "scenario_id": scenario.id,
                "action_type": "mail",
                "delay": 0,
                "mailing_id": mailing(vals["name"], model, body).id,
            }
        )
        opened = Step.create(
            {
                "name": "Opened: +10",
                "scenario_id": scenario.id,
                "parent_id": first.id,
                "trigger_type": "mail_open",
                "delay": 1,
                "delay_unit": "days",
                "action_type": "score",
                "score_points": 10,
            }
        )
        clicked = Step.create(
            {
                "name": "Clicked: tag",
                "scenario_id": scenario.id,
                "parent_id": first.id,
                "trigger_type": "mail_click",
                "delay": 1,
                "delay_unit": "days",
                "action_type": "tag_add",
                "tag_ids": [Command.set(tag.ids)],
            }
        )
        scenario.action_start()
        return scenario, {"mail": first.id, "opened": opened.id, "clicked": clicked.id}

    signup, signup_steps = scenario_with_steps(
        {"name": "Latency: signup", "trigger": "event", "event_name": EVENT_NAME},
        "res.partner",
        BODY,
    )
    cart, cart_steps = scenario_with_steps(
        {
            "name": "Latency: guest cart",
            "trigger": "cart_abandoned",
            "cart_abandoned_hours": cart_seconds / 3600,
        },
        "sale.order",
        CART_BODY,
    )
    product = env["product.product"].create(
        {
            "name": "Bench gift card",
            "type": "service",
            "list_price": 25.0,
            "sale_ok": True,
            "is_published": True,
            "taxes_id": [Command.clear()],
        }
    )
    env.cr.execute(COUNTERS_SQL)
    # as on a database that has run for a while: the periodic crons are not due during the
    # run (a new database has them all due at once); crons woken by events still run
    env.cr.execute(
        "UPDATE ir_cron SET nextcall = (now() AT TIME ZONE 'UTC') + interval '1 day'"
        " WHERE nextcall < (now() AT TIME ZONE 'UTC') + interval '1 day'"
    )
    return {
        "signup_scenario": signup.id,
        "secret": signup.sudo().webhook_secret,
        "signup_steps": signup_steps,
        "cart_scenario": cart.id,
        "cart_steps": cart_steps,
        "product": product.id,
        "product_template": product.product_tmpl_id.id,
    }


# --------------------------------------------------------------------------- #
# reading the database during and after the run (psycopg2, autocommit)
# --------------------------------------------------------------------------- #


def backlog(cr):
    """What the servers still have to do: queued mail events, due pending traces,
    mails in Odoo's queue."""
    cr.execute("SELECT count(*) FROM marketing_mail_event")
    events = cr.fetchone()[0]
    cr.execute(
        "SELECT count(*) FROM marketing_scenario_trace"
        " WHERE state IN ('scheduled', 'waiting') AND scheduled_at <= now() AT TIME ZONE 'UTC'"
    )
    due = cr.fetchone()[0]
    cr.execute("SELECT count(*) FROM mail_mail WHERE state = 'outgoing'")
    return {"mail_events": events, "due_traces": due, "mails_outgoing": cr.fetchone()[0]}


def server_shares(cr):
    """Per server (A / B, from the application name): traces that left a pending state,
    mail events handled, mails marked sent; and the doubles (a trace done twice)."""
    cr.execute(
        """
        SELECT what, split_part(app, '-', 2) AS server, count(*), count(DISTINCT row_id)
          FROM bench_done WHERE what IN ('trace', 'mail_event', 'mail_sent')
         GROUP BY 1, 2 ORDER BY 1, 2
        """
    )
    shares = {}
    for what, server, count, distinct in cr.fetchall():
        shares.setdefault(what, {})[server or "?"] = {"rows": count, "distinct": distinct}
    cr.execute(
        """
        SELECT count(*) FROM (
            SELECT row_id FROM bench_done WHERE what = 'trace'
             GROUP BY row_id HAVING count(*) > 1) AS d
        """
    )
    shares["traces_done_twice"] = cr.fetchone()[0]
    cr.execute(
        """
        SELECT split_part(app, '-', 2), count(DISTINCT app)
          FROM bench_done WHERE what = 'trace' GROUP BY 1 ORDER BY 1
        """
    )
    shares["processes_per_server"] = dict(cr.fetchall())
    return shares


def tracking_checks(cr, setup, hit_opens, hit_clicks):
    """Every open and click recorded once: mailing traces opened / clicked, one scored
    event of each kind per mail, queue empty, each walk's branch woken once, one score
    line per opened mail.

    :param hit_opens: mailing trace ids whose open pixel answered
    :param hit_clicks: mailing trace ids whose link answered (a click is an open too)

    A request that timed out on the client may still have been recorded by the server:
    "beyond" counts those (recorded without an answer), "missing" what was answered and
    not recorded.
    """
    opened_expected = set(hit_opens) | set(hit_clicks)
    scenarios = [setup["signup_scenario"], setup["cart_scenario"]]
    cr.execute(
        """
        SELECT mt.id, mt.open_datetime IS NOT NULL, mt.links_click_datetime IS NOT NULL
          FROM mailing_trace mt
          JOIN marketing_scenario_trace t ON t.id = mt.marketing_trace_id
         WHERE t.scenario_id = ANY(%s)
        """,
        [scenarios],
    )
    rows = cr.fetchall()
    opened = {row[0] for row in rows if row[1]}
    clicked = {row[0] for row in rows if row[2]}
    cr.execute(
        """
        SELECT split_part(detail, ':', 1), count(*), count(DISTINCT row_id)
          FROM bench_done WHERE what = 'event_in' AND detail LIKE '%%:true'
         GROUP BY 1
        """
    )
    scored_in = {event: (count, distinct) for event, count, distinct in cr.fetchall()}
    cr.execute("SELECT count(*) FROM marketing_mail_event")
    queued = cr.fetchone()[0]
    step_ids = {
        "opened": [setup["signup_steps"]["opened"], setup["cart_steps"]["opened"]],
        "clicked": [setup["signup_steps"]["clicked"], setup["cart_steps"]["clicked"]],
    }
    woken = {}
    mails_by_branch = {"opened": opened, "clicked": clicked}
    for branch, ids in step_ids.items():
        cr.execute(
            """
            SELECT count(*), count(DISTINCT participant_id)
              FROM marketing_scenario_trace WHERE step_id = ANY(%s) AND state = 'done'
            """,
            [ids],
        )
        woken[branch] = dict(zip(("done", "participants"), cr.fetchone(), strict=True))
        # a mail opened (clicked) whose "opened" ("clicked") branch still waits: lost
        woken[branch]["not_woken"] = len(mails_by_branch[branch]) - woken[branch]["done"]
    cr.execute(
        """
        SELECT count(*), count(DISTINCT t.participant_id)
          FROM marketing_scenario_trace t
          JOIN bench_done b ON b.what = 'trace' AND b.row_id = t.id
         WHERE t.step_id = ANY(%s)
        """,
        [step_ids["opened"] + step_ids["clicked"]],
    )
    completions, _participants = cr.fetchone()
    return {
        "mails_opened_answered": len(opened_expected),
        "mails_opened": len(opened),
        "opened_missing": len(opened_expected - opened),
        "opened_beyond": len(opened - opened_expected),
        "mails_clicked_answered": len(set(hit_clicks)),
        "mails_clicked": len(clicked),
        "clicked_missing": len(set(hit_clicks) - clicked),
        "clicked_beyond": len(clicked - set(hit_clicks)),
        "scored_events_in": {k: {"rows": v[0], "mails": v[1]} for k, v in scored_in.items()},
        "events_still_queued": queued,
        "branches_done": woken,
        "branch_completions": completions,
    }


def mail_trace_ids(cr, emails):
    """{recipient e-mail: mailing trace id} of the scenario mails to ``emails``."""
    cr.execute(
        "SELECT email, id FROM mailing_trace WHERE marketing_trace_id IS NOT NULL"
        " AND email = ANY(%s)",
        [list(emails)],
    )
    return dict(cr.fetchall())


def step_done_at(cr, step_ids):
    """{contact's e-mail: when the engine ran the e-mail step for them (epoch seconds)}:
    the moment between the request and the mail queue."""
    cr.execute(
        """
        SELECT p.email_normalized, min(b.at)
          FROM marketing_scenario_trace t
          JOIN marketing_scenario_participant mp ON mp.id = t.participant_id
          JOIN res_partner p ON p.id = mp.partner_id
          JOIN bench_done b ON b.what = 'trace' AND b.row_id = t.id
         WHERE t.step_id = ANY(%s)
         GROUP BY 1
        """,
        [list(step_ids)],
    )
    return {email: at.replace(tzinfo=UTC).timestamp() for email, at in cr.fetchall()}


def cart_due_at(cr, cart_seconds):
    """{customer e-mail: when the cart became abandoned (epoch seconds)} of the carts."""
    cr.execute(
        """
        SELECT p.email_normalized, so.cart_changed_at
          FROM sale_order so JOIN res_partner p ON p.id = so.partner_id
         WHERE so.website_id IS NOT NULL AND p.email_normalized LIKE '%%@bench.example.com'
        """
    )
    delay = timedelta(seconds=cart_seconds)
    return {
        email: (changed + delay).replace(tzinfo=UTC).timestamp() for email, changed in cr.fetchall()
    }
