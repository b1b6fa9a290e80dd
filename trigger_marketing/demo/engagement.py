"""The living demo's readers: each contact reads its e-mail at its own hour, some through
Apple Mail (whose privacy proxy opens every e-mail on arrival) or behind a company's
link scanner; half a year of a monthly newsletter taught their hours; a last-call offer
started now waits for each contact's hour, the tips of the week for a free slot under
the weekly cap.
"""

from datetime import datetime, timedelta

from odoo.tools import SQL

from ..models.marketing_send_window_mixin import get_zone
from ..tools import send_time

# the hours at which people read their e-mail (local time), and how many of them do
HABIT_HOURS = (7, 8, 8, 12, 13, 18, 19, 19, 21)
P_AT_HABIT = 0.8  # of a contact's opens, at its own hour (the others at any time)
P_APPLE = 0.3  # contacts who read with Apple Mail and its Privacy Protection
P_SCANNED = 0.3  # of the contacts in a company: a security gateway follows the links
NEWSLETTER_EDITIONS = 6
P_NEWSLETTER_OPEN = 0.6
P_NEWSLETTER_CLICK = 0.25  # of the opened
APPLE_AGENT = "Mozilla/5.0"
SCANNER_AGENT = "Mozilla/5.0 (compatible; Barracuda link protection; demo)"
READER_AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Thunderbird/128.0"
NEWSLETTER_URL = "https://www.example.com/news"
CAP_PER_WEEK = 2  # the demo's frequency cap (Settings)


class Readers:
    """When and how each demo contact reads: {e-mail: (hour, zone)}, Apple Mail users,
    scanned company addresses."""

    def __init__(self, rng, partners, default_tz):
        self.rng = rng
        self.habit = {
            p.email: (rng.choice(HABIT_HOURS), get_zone(p.tz or default_tz)) for p in partners
        }
        self.apple = {p.email for p in partners if rng.random() < P_APPLE}
        self.scanned = {p.email for p in partners if p.company_name and rng.random() < P_SCANNED}

    def reading_moment(self, email, sent_at):
        """When ``email`` opens an e-mail sent at ``sent_at``: mostly at its own hour, the
        same day or the next."""
        if email not in self.habit or self.rng.random() >= P_AT_HABIT:
            return sent_at + timedelta(minutes=self.rng.randint(5, 60 * 48))
        hour, zone = self.habit[email]
        start = sent_at + timedelta(minutes=5, days=self.rng.randint(0, 1))
        at = send_time.next_at_hour(start, hour, zone) or start
        return at + timedelta(minutes=self.rng.randint(0, 45))

    def machine_events(self, email, sent_at, url):
        """The machines' opens and clicks of an e-mail to ``email``: [(kind, moment, url,
        user agent)]."""
        events = []
        if email in self.apple:
            moment = sent_at + timedelta(minutes=self.rng.randint(1, 15))
            events.append(("open", moment, None, APPLE_AGENT))
        if email in self.scanned and url:
            events.append(("click", sent_at + timedelta(seconds=5), url, SCANNER_AGENT))
        return events


def queue_events(env, rows):
    """Queue opens and clicks [(mailing.trace id, kind, moment, url, user agent)] as the
    tracking requests record them: the engine tells people from machines."""
    if not rows:
        return
    ids, kinds, dates, urls, agents = (list(col) for col in zip(*rows, strict=True))
    env.cr.execute(
        SQL(
            """
            INSERT INTO marketing_mail_event
                (mailing_trace_id, event, scored, url, ip, user_agent, method, date)
            SELECT r.tid, r.kind, TRUE, r.url,
                   CASE WHEN r.agent = %s THEN '17.58.0.1' ELSE '198.51.100.20' END,
                   r.agent, 'GET', r.at
              FROM unnest(%s::int[], %s::varchar[], %s::timestamp[], %s::varchar[],
                          %s::varchar[]) AS r(tid, kind, at, url, agent)
            """,
            APPLE_AGENT,
            ids,
            kinds,
            dates,
            urls,
            agents,
        )
    )


def seed_newsletter(env, readers, partners, now):
    """Six monthly editions of a newsletter (a plain mass mailing, 09:00 UTC), opened by
    people at their own hour and by Apple's proxy on arrival: the history from which
    send-time optimisation learns each contact's hour."""
    rng = readers.rng
    mailing = env["mailing.mailing"].create(
        {
            "name": env._("Monthly newsletter"),
            "subject": env._("This month at our place"),
            "body_html": f'<p>News</p><p><a href="{NEWSLETTER_URL}">Read</a></p>',
            "mailing_model_id": env["ir.model"]._get_id("res.partner"),
            "state": "done",
        }
    )
    traces, opens = [], []
    for edition in range(NEWSLETTER_EDITIONS, 0, -1):
        day = (now - timedelta(days=30 * edition)).date()
        sent_at = datetime(day.year, day.month, day.day, 9)
        for partner in partners:
            human = None
            if rng.random() < P_NEWSLETTER_OPEN:
                human = readers.reading_moment(partner.email, sent_at)
            machine = readers.machine_events(partner.email, sent_at, NEWSLETTER_URL)
            moments = [at for _kind, at, _url, _agent in machine] + ([human] if human else [])
            first = min(moments, default=None)
            traces.append(
                {
                    "mass_mailing_id": mailing.id,
                    "model": "res.partner",
                    "res_id": partner.id,
                    "email": partner.email,
                    "trace_status": "open" if first else "sent",
                    "sent_datetime": sent_at,
                    "open_datetime": first,
                }
            )
            opens.append((human, machine, rng.random() < P_NEWSLETTER_CLICK))
    mails = env["mailing.trace"].create(traces)
    rows, human_opened = [], {}
    for mail, (human, machine, clicks) in zip(mails, opens, strict=True):
        rows += [(mail.id, *event) for event in machine]
        if human:
            kind = "click" if clicks else "open"
            url = NEWSLETTER_URL if clicks else None
            rows.append((mail.id, kind, human, url, READER_AGENT))
            human_opened[mail.id] = human
    queue_events(env, rows)  # people's too, with their moment and agent
    while env["marketing.mail.event"].sudo()._process_queue(5000):
        pass
    # scores of the newsletter at the moment of the open or click they reward
    env.flush_all()
    env.cr.execute(
        SQL(
            """
            UPDATE marketing_score_history h
               SET date = COALESCE(mt.marketing_clicked_at, mt.marketing_opened_at),
                   create_date = COALESCE(mt.marketing_clicked_at, mt.marketing_opened_at)
              FROM mailing_trace mt
             WHERE h.res_model = 'mailing.trace' AND h.res_id = mt.id
               AND mt.mass_mailing_id = %s AND mt.marketing_opened_at IS NOT NULL
            """,
            mailing.id,
        )
    )
    return mailing


def _launch(env, name, step_vals, partners, now):
    """A scenario of one e-mail step started now for ``partners``: one engine pass; what
    it sent is marked sent (nothing leaves: the demo's addresses are example.com)."""
    scenario = env["marketing.scenario"].create(
        {
            "name": name,
            "model_id": env["ir.model"]._get_id("res.partner"),
            "trigger": "manual",
            "domain": "[('email', '!=', False)]",
            "reentry": "never",
        }
    )
    body = '<p>Hello <t t-out="object.name"/>,</p><p>%s</p>' % step_vals.pop("text")
    env["marketing.scenario.step"].create(
        dict(step_vals, scenario_id=scenario.id, action_type="mail", mail_body_html=body)
    )
    scenario.action_start()
    participants = scenario.enroll(partners)
    participants.trace_ids._claim_now()._process()
    mails = participants.trace_ids.mailing_trace_ids.filtered(
        lambda m: m.trace_status == "outgoing"
    )
    queued = mails.mail_mail_id
    mails.set_sent()
    queued.sudo().unlink()
    scenario.date_start = now
    return scenario


def launch_now(env, partners, now):
    """Two scenarios started now: a last-call offer that waits for each contact's hour
    (learned from the newsletter), and the weekly tips under the demo's weekly cap (the
    contacts mailed twice this week wait for a free slot)."""
    ICP = env["ir.config_parameter"].sudo()
    if not int(ICP.get_param("trigger_marketing.cap_per_week") or 0):
        ICP.set_param("trigger_marketing.cap_per_week", CAP_PER_WEEK)
    last_call = _launch(
        env,
        env._("Spring sale: last call"),
        {
            "name": "Last call",
            "send_time": "optimal",
            "mail_subject": "Last call: the spring sale ends soon",
            "text": "The spring sale ends soon.",
        },
        partners,
        now,
    )
    tips = _launch(
        env,
        env._("Tip of the week"),
        {"name": "Tip", "mail_subject": "Our tip of the week", "text": "Our tip of the week."},
        partners,
        now,
    )
    return last_call | tips
