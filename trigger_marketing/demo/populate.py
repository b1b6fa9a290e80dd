import logging
import random
import unicodedata
from collections import defaultdict
from datetime import timedelta

from markupsafe import Markup

from odoo.tools import SQL

from ..models.marketing_scenario_step import MAIL_NEGATIVE, MAIL_POSITIVE
from . import engagement, experiments
from .names import COMPANIES, FIRST_NAMES, LAST_NAMES, PLACES

_logger = logging.getLogger(__name__)

DEMO_EMAIL_DOMAIN = "demo.example.com"  # example.com never receives mail (RFC 2606)
DEMO_SEED = 19
DEMO_CONTACTS = 200
DEMO_DAYS = 45  # contacts entered the scenarios during the last 45 days
MAX_ROUNDS = 15  # depth of the deepest scenario tree walked by the simulation
# Scenarios that records enter when they are created or added: their demo walks start at
# simulated moments. The others (score threshold, dates, events, carts) enter by their own
# trigger, for real, when the simulated behaviour makes them fire.
SIMULATED_TRIGGERS = ("manual", "create", "match", "signup")


# Engagement of the simulated recipients (of the mails sent)
P_BOUNCE = 0.03
P_OPEN = 0.48
P_CLICK = 0.4  # of the opened
P_REPLY = 0.08  # of the opened
P_UNSUBSCRIBE = 0.03  # of the opened
P_CONVERT = 0.5  # of the clicks, when the demo scenario's goal is simulated
P_ORGANIC = 0.06  # of the participants, who become customers whatever they receive


class DemoPopulation:
    """A living demo: about 200 contacts that walked the running demo scenarios over the
    last weeks, so that statistics, scores and timelines show real numbers on first login.

    ``populate()`` is called by the demo data (``marketing.scenario._demo_populate``),
    after the demo scenarios are created. It runs the real engine (enrolment, processing,
    branches on opens and clicks) and moves time in a controlled way: each participant
    enters at a simulated moment of the last weeks; a step is processed only when its
    simulated due time has passed, and afterwards every date is written back at its
    simulated value. Nothing is sent: the mails queued by the processing are marked sent
    and removed from the outgoing queue (as Odoo does after sending), and opens, clicks,
    replies and bounces are recorded with mass_mailing's own methods.
    """

    def __init__(self, env):
        self.env = env

    def _populate(self):
        if self.env["res.partner"].search_count(
            [("email", "=ilike", f"%@{DEMO_EMAIL_DOMAIN}")], limit=1
        ):
            _logger.info("Trigger marketing demo already populated")
            return False
        rng = random.Random(DEMO_SEED)
        partners = self._populate_contacts(rng)
        now = self.env.cr.now()
        company_tz = self.env.company.partner_id.tz or "UTC"
        self.readers = engagement.Readers(rng, partners, company_tz)
        engagement.seed_newsletter(self.env, self.readers, partners, now)
        records_by_model = self._populate_records(rng, partners)
        scenarios = self.env["marketing.scenario"].search(
            [
                ("state", "=", "running"),
                ("model_name", "in", list(records_by_model)),
                ("trigger", "in", SIMULATED_TRIGGERS),
            ]
        )
        own, converting = self._populate_scenarios()
        ab_test = experiments.create_ab_test(self.env, converting)
        scenarios |= own | ab_test
        for scenario in scenarios:
            # only the demo's own goal is simulated: the goals of the others are unknown
            goal_tag = converting if scenario in own | ab_test else None
            self._simulate(rng, scenario, records_by_model[scenario.model_name], now, goal_tag)
        # as the cron of A/B winners does every quarter of an hour
        self.env["marketing.scenario.step"]._cron_split_winners()
        engagement.launch_now(self.env, partners, now)
        if "marketing_last_engagement" in self.env["res.partner"]._fields:
            # engagement happened at the simulated moments of the score history
            self.env.flush_all()
            self.env.cr.execute(
                SQL(
                    """
                    UPDATE res_partner p
                       SET marketing_last_engagement = h.last
                      FROM (SELECT partner_id, max(date) AS last FROM marketing_score_history
                             WHERE partner_id = ANY(%s) AND event IS NOT NULL
                             GROUP BY partner_id) h
                     WHERE p.id = h.partner_id AND p.marketing_last_engagement IS NOT NULL
                    """,
                    partners.ids,
                )
            )
        self.env.invalidate_all()
        return True

    # ------------------------------------------------------------
    # Data
    # ------------------------------------------------------------

    def _populate_contacts(self, rng):
        """200 contacts with realistic names, some in companies, with countries and time
        zones, some with a phone and tags."""
        countries = {
            country.code: country
            for country in self.env["res.country"].search(
                [("code", "in", list({place[0] for place in PLACES}))]
            )
        }
        Tag = self.env["res.partner.category"]
        tags = {
            name: Tag.search([("name", "=", name)], limit=1) or Tag.create({"name": name})
            for name in ("Newsletter", "Prospect", "VIP")
        }
        tag_odds = {"Newsletter": 0.3, "Prospect": 0.5, "VIP": 0.12}
        vals_list = []
        seen = set()
        for index in range(DEMO_CONTACTS):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            code, tz, cities = rng.choice(PLACES)
            login = unicodedata.normalize("NFKD", f"{first}.{last}".lower().replace(" ", ""))
            login = login.encode("ascii", "ignore").decode()
            if login in seen:
                login = f"{login}{index}"
            seen.add(login)
            vals = {
                "name": f"{first} {last}",
                "email": f"{login}@{DEMO_EMAIL_DOMAIN}",
                "city": rng.choice(cities),
                "country_id": countries.get(code, self.env["res.country"]).id,
                "tz": tz if rng.random() < 0.8 else False,
                "lang": "en_US",
                "category_id": [
                    (6, 0, [tag.id for name, tag in tags.items() if rng.random() < tag_odds[name]])
                ],
            }
            if rng.random() < 0.55:
                vals["phone"] = f"+{rng.randint(30, 49)} {rng.randint(100, 999)} " + str(
                    rng.randint(100000, 999999)
                )
            if rng.random() < 0.35:
                vals["function"] = rng.choice(
                    ["CEO", "Marketing manager", "Buyer", "Sales", "Designer", "CFO"]
                )
                vals["company_name"] = rng.choice(COMPANIES)
            vals_list.append(vals)
        # no real-time entry: the simulation decides when each contact enters
        return (
            self.env["res.partner"]
            .with_context(trigger_marketing_skip=True, tracking_disable=True)
            .create(vals_list)
        )

    def _populate_records(self, rng, partners):
        """Hook: the demo records of each target model, by model name. Bridges add
        theirs (e.g. the shop bridge adds abandoned carts of these contacts)."""
        return {"res.partner": partners}

    def _populate_scenarios(self):
        """A scenario of the demo's own, next to the ready-made ones: prospects get an
        offer, are reminded, called when they have a phone. Its goal: becoming a customer
        (the "Customer" tag), which some contacts reach after a click.

        :return: (scenario, tag that converts)
        """
        Scenario = self.env["marketing.scenario"]
        Step = self.env["marketing.scenario.step"]
        Tag = self.env["res.partner.category"]
        customer = Tag.search([("name", "=", "Customer")], limit=1) or Tag.create(
            {"name": "Customer"}
        )
        prospect = Tag.search([("name", "=", "Prospect")], limit=1)
        scenario = Scenario.create(
            {
                "name": self.env._("Prospects to customers"),
                "model_id": self.env["ir.model"]._get_id("res.partner"),
                "trigger": "manual",
                "domain": f"[('category_id', 'in', [{prospect.id}]), ('email', '!=', False)]",
                "goal_domain": f"[('category_id', 'in', [{customer.id}])]",
                "reentry": "never",
                "holdout_percent": 15,
            }
        )

        def body(*paragraphs):
            text = Markup("").join(Markup("<p>%s</p>") % p for p in paragraphs)
            return (
                Markup('<p>Hello <t t-out="object.name"/>,</p>')
                + text
                + Markup('<p><a href="https://www.example.com/start">Get started</a></p>')
            )

        offer = Step.create(
            {
                "scenario_id": scenario.id,
                "name": "Offer",
                "action_type": "mail",
                "mail_subject": "A welcome offer, for you",
                "mail_body_html": body("Your first order ships free this month."),
            }
        )
        Step.create(
            {
                "scenario_id": scenario.id,
                "parent_id": offer.id,
                "name": "Interested: +10 points",
                "action_type": "score",
                "trigger_type": "mail_open",
                "delay": 3,
                "score_points": 10,
            }
        )
        reminder = Step.create(
            {
                "scenario_id": scenario.id,
                "parent_id": offer.id,
                "name": "Reminder",
                "action_type": "mail",
                "trigger_type": "mail_not_open",
                "delay": 3,
                "mail_subject": "Your offer ends soon",
                "mail_body_html": body("A short reminder: free shipping ends this month."),
            }
        )
        Step.create(
            {
                "scenario_id": scenario.id,
                "parent_id": offer.id,
                "name": "Customer stories",
                "action_type": "mail",
                "trigger_type": "mail_click",
                "delay": 5,
                "mail_subject": "How others use it",
                "mail_body_html": body("Three customers tell how they started."),
            }
        )
        check = Step.create(
            {
                "scenario_id": scenario.id,
                "parent_id": reminder.id,
                "name": "Has a phone",
                "action_type": "condition",
                "trigger_type": "mail_not_open",
                "delay": 4,
                "condition_domain": "[('phone', '!=', False)]",
            }
        )
        Step.create(
            {
                "scenario_id": scenario.id,
                "parent_id": check.id,
                "name": "Call them",
                "action_type": "activity",
                "trigger_type": "yes",
                "activity_type_id": self.env.ref("mail.mail_activity_data_call").id,
                "activity_summary": "Call this new contact",
                "activity_days": 2,
            }
        )
        Step.create(
            {
                "scenario_id": scenario.id,
                "parent_id": check.id,
                "name": "Cool down",
                "action_type": "score",
                "trigger_type": "no",
                "score_points": -5,
            }
        )
        scenario.action_start()
        return scenario, customer

    # ------------------------------------------------------------
    # Simulation
    # ------------------------------------------------------------

    def _enroll_seeded(self, scenario, records, rng):
        """``scenario.enroll`` with PostgreSQL's ``random()`` (the holdout draw) seeded
        from the demo's own generator, so that every demo database tells the same story;
        the connection gets an unpredictable seed back afterwards."""
        cr = self.env.cr
        cr.execute(SQL("SELECT setseed(%s)", rng.uniform(-1, 1)))
        try:
            return scenario.enroll(records)
        finally:
            cr.execute(SQL("SELECT setseed(%s)", random.SystemRandom().uniform(-1, 1)))

    def _simulate(self, rng, scenario, records, now, converting=None):
        """Walk ``scenario`` with about 80% of ``records``, entered over the last weeks."""
        records = scenario._filter_audience(records)
        records = records.browse([r.id for r in records if rng.random() < 0.8])
        if not records:
            return
        entry = {
            rec.id: now - timedelta(minutes=rng.randint(30, DEMO_DAYS * 24 * 60)) for rec in records
        }
        participants = self._enroll_seeded(scenario, records, rng)
        scenario.date_start = min(entry.values())  # it has been running since then
        if converting:
            # some become customers whatever they receive: the baseline of the holdout
            organic = [p.res_id for p in participants if rng.random() < P_ORGANIC]
            self.env["res.partner"].browse(organic).write({"category_id": [(4, converting.id)]})
        Trace = self.env["marketing.scenario.trace"]
        start_at = {p.id: entry[p.res_id] for p in participants}
        sim_done = {}  # trace id -> simulated moment it was done
        mail_events = {}  # mailing.trace id -> {event: simulated moment}
        for _round in range(MAX_ROUNDS):
            pending = Trace.search(
                [
                    ("participant_id", "in", participants.ids),
                    ("state", "in", ("scheduled", "waiting")),
                ]
            )
            due = Trace
            for trace in pending:
                start = sim_done.get(trace.parent_id.id) or start_at[trace.participant_id.id]
                event_at = (
                    self._event_moment(trace, mail_events)
                    if trace.trigger_type in MAIL_POSITIVE and trace.state == "scheduled"
                    else None
                )
                # woken by a simulated event: it happened at the event's moment; otherwise
                # due (or, waiting for an event, at its deadline) after its delay
                at = event_at or trace.step_id._planned_date(start)
                if at <= now:
                    due |= trace
                    sim_done[trace.id] = at
                else:
                    trace.scheduled_at = at  # still to come
            if not due:
                break
            due._claim_now()._process()
            self._deliver(rng, due, sim_done, mail_events, now, converting)
        self._write_simulated_dates(participants, start_at, sim_done, mail_events, now)

    def _event_moment(self, trace, mail_events):
        mail = trace.parent_id.mailing_trace_ids[:1]
        event = MAIL_POSITIVE[trace.trigger_type]
        return mail_events.get(mail.id, {}).get(event)

    def _deliver(self, rng, traces, sim_done, mail_events, now, converting=None):
        """The mails these traces queued: "sent" without SMTP, then opened, clicked,
        replied, bounced or unsubscribed by some recipients, as mass_mailing records it."""
        mails = traces.filtered(lambda t: t.state == "done").mailing_trace_ids.filtered(
            lambda m: m.trace_status == "outgoing"
        )
        if not mails:
            return
        queued = mails.mail_mail_id
        mails.set_sent()
        queued.sudo().unlink()  # never sent anywhere: removed from the outgoing queue
        by_event = defaultdict(lambda: self.env["mailing.trace"])
        machines = []  # privacy proxies' opens and scanners' clicks, on delivery
        for mail in mails:
            sent_at = sim_done[mail.marketing_trace_id.id]
            events = mail_events.setdefault(mail.id, {"sent": sent_at})
            if rng.random() < P_BOUNCE:
                events["bounce"] = sent_at + timedelta(minutes=rng.randint(1, 30))
                by_event["bounce"] |= mail
                continue
            url = "https://www.example.com/start"
            for kind, at, link, agent in self.readers.machine_events(mail.email, sent_at, url):
                machines.append((mail.id, kind, at, link, agent))
                events["machine"] = min(events.get("machine", at), at)
            p_open = experiments.OPEN_BY_SUBJECT.get(mail.mass_mailing_id.subject, P_OPEN)
            if rng.random() >= p_open:
                continue
            opened = self.readers.reading_moment(mail.email, sent_at)
            if opened > now:
                continue
            events["open"] = opened
            by_event["open"] |= mail
            if rng.random() < P_CLICK:
                events["click"] = opened + timedelta(minutes=rng.randint(1, 20))
                by_event["click"] |= mail
            if rng.random() < P_REPLY:
                events["reply"] = opened + timedelta(minutes=rng.randint(10, 600))
                by_event["reply"] |= mail
            if rng.random() < P_UNSUBSCRIBE:
                events["unsubscribe"] = opened + timedelta(minutes=rng.randint(1, 10))
                by_event["unsubscribe"] |= mail
        by_event["bounce"].set_bounced(bounce_message="Mailbox unavailable (demo)")
        by_event["open"].set_opened()
        by_event["click"].set_clicked()
        by_event["reply"].set_replied()
        engagement.queue_events(self.env, machines)
        # the engine handles the recorded events (branches, scores), as its cron would
        while self.env["marketing.mail.event"].sudo()._process_queue(5000):
            pass
        if converting:
            # some of those who clicked become customers: the goal converts their walk
            buyers = [m.res_id for m in by_event["click"] if rng.random() < P_CONVERT]
            if buyers:
                self.env["res.partner"].browse(buyers).write({"category_id": [(4, converting.id)]})
        if by_event["unsubscribe"]:
            Blacklist = self.env["mail.blacklist"].sudo()
            for mail in by_event["unsubscribe"]:
                Blacklist._add(mail.email, message="Unsubscribed (demo)")

    def _write_simulated_dates(self, participants, start_at, sim_done, mail_events, now):
        """Write every date of these walks at its simulated value, in a few queries."""
        self.env.flush_all()
        cr = self.env.cr
        Trace = self.env["marketing.scenario.trace"]
        # steps closed by an event (a "not opened" branch once opened) or by the goal:
        # at the moment of that event, else of their previous step
        for trace in Trace.search(
            [
                ("participant_id", "in", participants.ids),
                ("state", "not in", ("scheduled", "waiting")),
                ("id", "not in", list(sim_done)),
            ]
        ):
            mail = trace.parent_id.mailing_trace_ids[:1]
            moments = [at for event, at in mail_events.get(mail.id, {}).items() if event != "sent"]
            sim_done[trace.id] = (
                min(moments)
                if moments
                else sim_done.get(trace.parent_id.id) or start_at[trace.participant_id.id]
            )
        trace_ids = list(sim_done)
        if trace_ids:
            cr.execute(
                SQL(
                    """
                    UPDATE marketing_scenario_trace t
                       SET done_at = CASE WHEN t.state IN ('scheduled', 'waiting')
                                          THEN t.done_at ELSE v.at END,
                           scheduled_at = CASE WHEN t.state IN ('scheduled', 'waiting')
                                               THEN t.scheduled_at ELSE v.at END,
                           create_date = v.at, write_date = v.at
                      FROM unnest(%s::int[], %s::timestamp[]) AS v(id, at)
                     WHERE t.id = v.id
                    """,
                    trace_ids,
                    [sim_done[tid] for tid in trace_ids],
                )
            )
        # traces still pending: planned from their previous step
        for trace in Trace.search(
            [("participant_id", "in", participants.ids), ("state", "in", ("scheduled", "waiting"))]
        ):
            start = sim_done.get(trace.parent_id.id) or start_at[trace.participant_id.id]
            planned = trace.step_id._planned_date(start)
            if trace.trigger_type in MAIL_NEGATIVE or trace.state == "waiting" or planned > now:
                trace.scheduled_at = max(planned, now)
        pids = participants.ids
        cr.execute(
            SQL(
                """
                UPDATE marketing_scenario_participant p
                   SET date_start = v.at, create_date = v.at
                  FROM unnest(%s::int[], %s::timestamp[]) AS v(id, at)
                 WHERE p.id = v.id
                """,
                pids,
                [start_at[pid] for pid in pids],
            )
        )
        cr.execute(
            SQL(
                """
                UPDATE marketing_scenario_participant p
                   SET date_end = GREATEST(p.date_start, sub.last)
                  FROM (SELECT participant_id, max(done_at) AS last
                          FROM marketing_scenario_trace
                         WHERE participant_id = ANY(%s) GROUP BY participant_id) sub
                 WHERE p.id = sub.participant_id AND p.state != 'running'
                """,
                pids,
            )
        )
        # mass_mailing's traces (a machine's open is its first open) and their mirror on
        # the scenario traces, people's opens and clicks at their simulated moments
        rows = [
            (mid, *(ev.get(k) for k in ("sent", "open", "click", "reply", "machine")))
            for mid, ev in mail_events.items()
        ]
        if rows:
            ids, sent, opened, clicked, replied, machine = (
                list(col) for col in zip(*rows, strict=True)
            )
            cr.execute(
                SQL(
                    """
                    UPDATE mailing_trace m
                       SET sent_datetime = v.sent, create_date = v.sent,
                           trace_status = CASE WHEN m.trace_status = 'sent'
                                               AND v.machine IS NOT NULL THEN 'open'
                                               ELSE m.trace_status END,
                           open_datetime = CASE WHEN m.open_datetime IS NULL
                                                 AND v.machine IS NULL THEN NULL
                                           ELSE LEAST(COALESCE(v.opened, v.replied), v.machine)
                                           END,
                           links_click_datetime = CASE WHEN m.links_click_datetime IS NULL
                                                       THEN NULL ELSE v.clicked END,
                           reply_datetime = CASE WHEN m.reply_datetime IS NULL THEN NULL
                                                 ELSE v.replied END,
                           marketing_opened_at = CASE WHEN m.marketing_opened_at IS NULL
                                                 THEN NULL ELSE COALESCE(v.opened, v.replied) END,
                           marketing_clicked_at = CASE WHEN m.marketing_clicked_at IS NULL
                                                  THEN NULL ELSE v.clicked END
                      FROM unnest(%s::int[], %s::timestamp[], %s::timestamp[],
                                  %s::timestamp[], %s::timestamp[], %s::timestamp[])
                           AS v(id, sent, opened, clicked, replied, machine)
                     WHERE m.id = v.id
                    """,
                    ids,
                    sent,
                    opened,
                    clicked,
                    replied,
                    machine,
                )
            )
            cr.execute(
                SQL(
                    """
                    UPDATE marketing_scenario_trace t
                       SET mail_sent_at = m.sent_datetime, mail_status = m.trace_status,
                           mail_opened_at = m.marketing_opened_at,
                           mail_clicked_at = m.marketing_clicked_at,
                           mail_replied_at = m.reply_datetime
                      FROM mailing_trace m
                     WHERE m.marketing_trace_id = t.id AND m.id = ANY(%s)
                    """,
                    ids,
                )
            )
            unsubscribed = {
                mid: ev["unsubscribe"] for mid, ev in mail_events.items() if "unsubscribe" in ev
            }
            if unsubscribed:
                cr.execute(
                    SQL(
                        """
                        UPDATE mail_blacklist b
                           SET create_date = v.at, write_date = v.at
                          FROM unnest(%s::int[], %s::timestamp[]) AS v(id, at)
                          JOIN mailing_trace m ON m.id = v.id
                         WHERE b.email = m.email
                        """,
                        list(unsubscribed),
                        list(unsubscribed.values()),
                    )
                )
        # score history at the moment of its step, or of the e-mail event it rewards
        event_date = SQL("NULL::timestamp")
        if "event" in self.env["marketing.score.history"]._fields:
            event_date = SQL(
                """CASE h.event WHEN 'mail_open' THEN t.mail_opened_at
                                WHEN 'mail_click' THEN t.mail_clicked_at
                                WHEN 'mail_reply' THEN t.mail_replied_at END"""
            )
        cr.execute(
            SQL(
                """
                UPDATE marketing_score_history h
                   SET date = COALESCE(%s, t.done_at), create_date = COALESCE(%s, t.done_at)
                  FROM marketing_scenario_trace t
                 WHERE h.trace_id = t.id AND t.participant_id = ANY(%s)
                """,
                event_date,
                event_date,
                pids,
            )
        )
        self.env.invalidate_all()


def populate(env):
    """Fill a demo database with walks of the running demo scenarios (once)."""
    return DemoPopulation(env)._populate()
