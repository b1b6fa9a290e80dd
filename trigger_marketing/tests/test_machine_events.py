"""Machine opens and clicks: mail privacy proxies and security scanners never wake a
branch nor score; statistics count them apart.

Through the real tracking routes (the open pixel, the click redirect) with the request's
method and user agent, then the engine's run; the rules themselves in plain Python.
"""

import importlib.util
import unittest
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from unittest.mock import patch

from freezegun import freeze_time

from odoo import fields
from odoo.tests import HttpCase, tagged
from odoo.tools import SQL

from ..tools import machine_events
from ..tools.machine_events import Event, classify
from .common import NOW, TriggerMarketingCase

T0 = datetime(2026, 3, 2, 9, 0, 0)
THUNDERBIRD = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.0"
CUBOT_PHONE = "Mozilla/5.0 (Linux; Android 10; CUBOT X30) AppleWebKit/537.36 Mobile Safari"


class TestMachineRules(unittest.TestCase):
    """The rules of ``tools/machine_events.py``, event by event."""

    def reason(self, kind="open", seconds=3600, method="GET", agent=THUNDERBIRD, ip="8.8.4.4"):
        event = Event(1, 7, kind, T0 + timedelta(seconds=seconds), method, agent, ip)
        return classify([event], {7: T0})[1]

    def test_people(self):
        self.assertIsNone(self.reason())
        self.assertIsNone(self.reason(kind="click"))
        self.assertIsNone(self.reason(agent=CUBOT_PHONE), "a phone named Cubot is no robot")
        self.assertIsNone(
            self.reason(agent="Mozilla/5.0 (Windows NT 5.1) (via ggpht.com GoogleImageProxy)"),
            "Gmail fetches images when its user opens the mail",
        )
        self.assertIsNone(self.reason(method=None, seconds=0), "no request: a reply, a test run")

    def test_machines(self):
        self.assertEqual(self.reason(method="HEAD"), "head")
        self.assertEqual(self.reason(method="head", kind="click"), "head")
        self.assertEqual(self.reason(agent=""), "no_agent")
        self.assertEqual(self.reason(agent="Mozilla/5.0"), "apple_proxy")
        self.assertEqual(self.reason(ip="17.58.101.4"), "apple_proxy")
        self.assertIsNone(self.reason(kind="click", ip="17.58.101.4"), "Apple proxies fetch images")
        self.assertEqual(self.reason(seconds=machine_events.DELIVERY_SECONDS), "delivery")
        self.assertIsNone(self.reason(seconds=machine_events.DELIVERY_SECONDS + 1))
        for agent in (
            "Mozilla/5.0 (compatible; Proofpoint URL Defense)",
            "Barracuda Sentinel (EE)",
            "Mimecast-URL-Protect",
            "Microsoft SafeLinks",
            "python-requests/2.31",
            "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
            "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/120.0",
        ):
            with self.subTest(agent=agent):
                self.assertEqual(self.reason(kind="click", agent=agent), "agent")

    def test_all_links_at_once(self):
        def click(key, seconds, url, mail=7):
            at = T0 + timedelta(hours=1, seconds=seconds)
            return Event(key, mail, "click", at, "GET", THUNDERBIRD, "8.8.4.4", url)

        burst = [click(1, 0, "https://a"), click(2, 1, "https://b"), click(3, 2, "https://c")]
        self.assertEqual(set(classify(burst, {}).values()), {"burst"})
        again = [click(1, 0, "https://a"), click(2, 1, "https://a")]
        self.assertEqual(set(classify(again, {}).values()), {None}, "one link clicked twice")
        apart = [click(1, 0, "https://a"), click(2, 30, "https://b")]
        self.assertEqual(set(classify(apart, {}).values()), {None}, "two links, 30 s apart")
        two_mails = [click(1, 0, "https://a"), click(2, 1, "https://b", mail=8)]
        self.assertEqual(set(classify(two_mails, {}).values()), {None}, "two contacts")


@tagged("post_install", "-at_install")
class TestMachineEvents(HttpCase):
    def setUp(self):
        super().setUp()
        env = self.env
        env["marketing.score.rule"].search([]).active = False
        env["marketing.score.band.action"].search([]).active = False
        env["marketing.scenario"].search([("state", "=", "running")]).state = "stopped"
        self.cron = env.ref("trigger_marketing.ir_cron_scenario_process")
        partner_model = env["ir.model"]._get("res.partner")
        self.scenario = env["marketing.scenario"].create(
            {"name": "Tracked", "model_id": partner_model.id, "domain": "[]"}
        )
        self.mailing = env["mailing.mailing"].create(
            {
                "name": "Hello",
                "subject": "Hello",
                "body_html": "<p>Hello</p>",
                "mailing_model_id": partner_model.id,
                "use_in_trigger_marketing": True,
            }
        )
        Step = env["marketing.scenario.step"]
        self.mail_step = Step.create(
            {
                "name": "Hello",
                "scenario_id": self.scenario.id,
                "action_type": "mail",
                "mailing_id": self.mailing.id,
            }
        )

        def child(name, trigger, **vals):
            return Step.create(
                dict(
                    {
                        "name": name,
                        "scenario_id": self.scenario.id,
                        "parent_id": self.mail_step.id,
                        "trigger_type": trigger,
                        "delay": 1,
                        "delay_unit": "days",
                        "action_type": "wait",
                    },
                    **vals,
                )
            )

        self.opened = child("Opened", "mail_open")
        self.not_opened = child("Not opened", "mail_not_open")
        self.clicked = child("Clicked", "mail_click")
        env["marketing.score.rule"].create(
            [
                {"name": "Open", "event": "mail_open", "points": 7},
                {"name": "Click", "event": "mail_click", "points": 5},
            ]
        )
        self.alice = env["res.partner"].create({"name": "Alice", "email": "alice@example.com"})
        self.scenario.action_start()
        self.participant = self.scenario.enroll(self.alice)
        self.cron.method_direct_trigger()
        self.mail = env["mailing.trace"].search([("mass_mailing_id", "=", self.mailing.id)])
        self.assertEqual(len(self.mail), 1)
        # delivered an hour ago
        self.sent_at = fields.Datetime.now() - timedelta(hours=1)
        self.mail.write({"trace_status": "sent", "sent_datetime": self.sent_at})
        self.env.flush_all()

    # ------------------------------------------------------------
    # Requests, as mail clients and scanners make them
    # ------------------------------------------------------------

    def open_pixel(self, agent=THUNDERBIRD, method="GET"):
        mail_id = self.mail.mail_mail_id_int
        token = self.env["mail.mail"]._generate_mail_recipient_token(mail_id)
        response = self.url_open(
            f"/mail/track/{mail_id}/{token}/blank.gif",
            headers={"User-Agent": agent},
            method=method,
        )
        self.assertEqual(response.status_code, 200)

    def click(self, url="https://example.com/offer", agent=THUNDERBIRD):
        tracker = self.env["link.tracker"].search_or_create(
            [{"url": url, "mass_mailing_id": self.mailing.id}]
        )
        response = self.url_open(
            f"/r/{tracker.code}/m/{self.mail.id}",
            headers={"User-Agent": agent},
            allow_redirects=False,
        )
        self.assertIn(response.status_code, (301, 302, 303))

    @contextmanager
    def at(self, when):
        """Freeze Python and database time at ``when``."""
        with freeze_time(when), patch.object(self.env.cr, "now", lambda: when):
            yield

    def handle(self):
        """The engine's next run over the queued events (what the cron does first)."""
        self.env["marketing.mail.event"].sudo()._process_queue()
        self.env.invalidate_all()

    def trace(self, step):
        return self.participant.trace_ids.filtered(lambda t: t.step_id == step)

    # ------------------------------------------------------------
    # Tests
    # ------------------------------------------------------------

    def test_machine_open_wakes_nothing_and_not_opened_runs_at_its_deadline(self):
        self.open_pixel(agent="Mozilla/5.0")  # Apple Mail Privacy Protection's proxy
        self.handle()
        self.assertEqual(self.trace(self.opened).state, "waiting", "no branch woken")
        self.assertEqual(self.trace(self.not_opened).state, "scheduled", "not closed either")
        self.assertEqual(self.alice.marketing_score, 0, "not scored")
        self.assertEqual(self.mail.trace_status, "open", "mass_mailing still records it")
        self.assertEqual(
            (self.mail.marketing_machine_opens, self.mail.marketing_machine_reason),
            (1, "apple_proxy"),
        )
        self.assertFalse(self.mail.marketing_opened_at)
        # statistics show both
        step = self.mail_step
        step.invalidate_recordset()
        self.assertEqual((step.stat_sent, step.stat_opened, step.stat_machine_opens), (1, 0, 1))
        self.assertEqual((self.scenario.opened_count, self.scenario.machine_open_count), (0, 1))
        version = self.scenario.current_version_id
        self.assertEqual((version.sent_count, version.open_rate), (1, 0.0), "per version too")
        # a day later: "not opened" runs, "opened" times out
        with self.at(fields.Datetime.now() + timedelta(days=2)):
            self.cron.method_direct_trigger()
        self.env.invalidate_all()
        self.assertEqual(self.trace(self.not_opened).state, "done")
        self.assertEqual(self.trace(self.opened).state, "skipped")

    def test_person_opens_after_a_machine(self):
        self.open_pixel(method="HEAD")  # a scanner checks the pixel
        self.handle()
        self.assertEqual(self.mail.marketing_machine_reason, "head", "HEAD request flagged")
        self.assertEqual(self.trace(self.opened).state, "waiting")
        # mass_mailing already took the mail as opened: the person's open is recorded still
        self.open_pixel()
        event = self.env["marketing.mail.event"].search([("mailing_trace_id", "=", self.mail.id)])
        self.assertEqual((event.event, event.method), ("open", "GET"))
        self.handle()
        self.assertIn(self.trace(self.opened).state, ("scheduled", "done"), "branch woken")
        self.assertEqual(self.trace(self.not_opened).state, "skipped")
        self.assertEqual(self.alice.marketing_score, 7, "a person's first open scores")
        self.assertTrue(self.mail.marketing_opened_at)
        self.assertEqual(self.mail.marketing_machine_opens, 1)
        step = self.mail_step
        self.assertEqual((step.stat_opened, step.stat_machine_opens), (1, 1))
        # once a person opened it, further opens are not even queued
        self.open_pixel()
        self.assertFalse(self.env["marketing.mail.event"].search([]))

    def test_open_within_seconds_of_delivery(self):
        self.mail.write({"sent_datetime": fields.Datetime.now() - timedelta(seconds=2)})
        self.env.flush_all()
        self.open_pixel()
        self.handle()
        self.assertEqual(self.mail.marketing_machine_reason, "delivery")
        self.assertEqual(self.trace(self.opened).state, "waiting")

    def test_scanner_click_is_not_scored(self):
        self.click(agent="Mozilla/5.0 (compatible; Proofpoint URL Defense)")
        self.handle()
        self.assertEqual(self.alice.marketing_score, 0, "neither click nor open scored")
        self.assertEqual(self.trace(self.clicked).state, "waiting")
        self.assertEqual(self.trace(self.opened).state, "waiting")
        self.assertEqual(
            (self.mail.marketing_machine_clicks, self.mail.marketing_machine_reason), (1, "agent")
        )
        self.assertEqual((self.scenario.clicked_count, self.scenario.machine_click_count), (0, 1))
        # the person clicks later: clicked and opened, both scored once
        self.click()
        self.handle()
        self.assertEqual(self.alice.marketing_score, 12)
        self.assertIn(self.trace(self.clicked).state, ("scheduled", "done"))
        self.assertIn(self.trace(self.opened).state, ("scheduled", "done"))
        self.assertEqual((self.mail_step.stat_clicked, self.mail_step.stat_machine_clicks), (1, 1))

    def test_all_links_clicked_at_once_wait_for_each_other(self):
        """The cron holds a request's click a moment, so that a scanner's burst is
        judged whole; then every click of the burst is a machine's."""
        now = fields.Datetime.now()
        with self.at(now):
            self.click("https://example.com/a")
            self.click("https://example.com/b")
            self.cron.method_direct_trigger()
        self.env.invalidate_all()
        self.assertEqual(len(self.env["marketing.mail.event"].search([])), 2, "held")
        call_at = self.env["ir.cron.trigger"].search([("cron_id", "=", self.cron.id)])
        self.assertIn(
            now + timedelta(seconds=machine_events.BURST_SECONDS), call_at.mapped("call_at")
        )
        with self.at(now + timedelta(seconds=machine_events.BURST_SECONDS)):
            self.cron.method_direct_trigger()
        self.env.invalidate_all()
        self.assertFalse(self.env["marketing.mail.event"].search([]))
        self.assertEqual(
            (self.mail.marketing_machine_clicks, self.mail.marketing_machine_reason), (2, "burst")
        )
        self.assertEqual(self.trace(self.clicked).state, "waiting")
        self.assertEqual(self.alice.marketing_score, 0)


@tagged("post_install", "-at_install")
class TestMachineEventsEngine(TriggerMarketingCase):
    """The engine's side: queries of a batch, send-time learning from people only."""

    def queue(self, mails, agent, kind="open", url=None, after=timedelta(hours=1)):
        """Queue one event of a tracking request per mail (as ``_record`` writes them)."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO marketing_mail_event
                    (mailing_trace_id, event, scored, url, ip, user_agent, method, date)
                SELECT mt.id, %s, TRUE, %s, '198.51.100.7', %s, 'GET', mt.sent_datetime + %s
                  FROM mailing_trace mt WHERE mt.id = ANY(%s)
                """,
                kind,
                url,
                agent,
                after,
                mails.ids,
            )
        )

    def test_queries_of_a_batch_do_not_grow_with_its_events(self):
        self.make_rule("mail_open", 3)
        self.make_rule("mail_click", 5)
        scenario = self.make_scenario(domain="[]")
        welcome = self.make_step(scenario, "mail", name="Welcome")
        self.make_step(scenario, "wait", welcome, name="Opened", trigger_type="mail_open", delay=1)
        self.make_step(
            scenario, "wait", welcome, name="Clicked", trigger_type="mail_click", delay=1
        )
        self.make_step(
            scenario, "wait", welcome, name="Not opened", trigger_type="mail_not_open", delay=1
        )
        with self.at(NOW):
            scenario.action_start()
            partners = self.make_partners(24)
            scenario.enroll(partners)
            with self.mock_mail_gateway():
                self.run_cron()
                self.send_queue()
        mails = self.env["mailing.trace"].search([("mass_mailing_id", "=", welcome.mailing_id.id)])
        self.assertEqual(len(mails), 24)
        # the first batch fills the caches (rules, steps); then 3 mails cost as 19 do
        # (telling machines from people: lock and read the mails' counts, UPDATE the
        # mails, read and UPDATE their scenario steps' mirror, whatever the batch's size)
        for batch, budget in ((mails[:2], 100), (mails[2:5], 24), (mails[5:], 24)):
            # half of the mails opened by Apple's proxy only, half by their reader only
            self.queue(batch[::2], "Mozilla/5.0")
            self.queue(batch[1::2], THUNDERBIRD, after=timedelta(hours=2))
            self.queue(batch, "Mimecast-URL-Protect", "click", "https://example.com/a")
            self.queue(batch, THUNDERBIRD, "click", "https://example.com/a", timedelta(hours=3))
            self.env.invalidate_all()
            with self.at(NOW + timedelta(hours=4)), self.assertQueryCount(budget):
                self.assertEqual(
                    self.env["marketing.mail.event"].sudo()._process_queue(), 3 * len(batch)
                )
        self.env.invalidate_all()
        self.assertEqual(sum(mails.mapped("marketing_machine_opens")), 13)
        self.assertEqual(set(mails.mapped("marketing_machine_clicks")), {1})
        self.assertTrue(all(mails.mapped("marketing_clicked_at")))
        self.assertEqual(set(partners.mapped("marketing_score")), {8}, "scored once each")
        self.assertEqual(welcome.stat_machine_opens, 13)
        self.assertEqual(welcome.stat_opened, 24)

    def test_send_time_learns_from_people_only(self):
        """Dave's mails are fetched by Apple's proxy at 08:20 UTC on delivery, five times;
        he reads them himself at 18:20 UTC, three times: his hour is 19:00 in Brussels."""
        dave = self.env["res.partner"].create(
            {"name": "Dave", "email": "dave@example.com", "tz": "Europe/Brussels"}
        )
        news = self.env["mailing.mailing"].create(
            {"name": "News", "subject": "News", "body_html": "<p>News</p>"}
        )
        mails = self.env["mailing.trace"].create(
            [
                {
                    "mass_mailing_id": news.id,
                    "model": "res.partner",
                    "res_id": dave.id,
                    "email": dave.email,
                    "trace_status": "sent",
                    "sent_datetime": (NOW - timedelta(days=day)).replace(hour=8, minute=0),
                }
                for day in range(1, 6)
            ]
        )
        self.queue(mails, "Mozilla/5.0", after=timedelta(minutes=20))
        mails.write({"trace_status": "open", "open_datetime": NOW - timedelta(hours=20)})
        self.queue(mails[:3], THUNDERBIRD, after=timedelta(hours=10, minutes=20))
        self.env["marketing.mail.event"].sudo()._process_queue()
        self.env.invalidate_all()
        self.assertEqual(sum(mails.mapped("marketing_machine_opens")), 5)
        scenario = self.make_scenario(name="Best hour")
        step = self.make_step(scenario, "mail", name="Offer", send_time="optimal")
        with self.at(NOW), self.mock_mail_gateway():
            scenario.action_start()
            scenario.enroll(dave)
            self.run_cron()
        trace = self.trace_of(step, dave)
        self.assertEqual(trace.scheduled_at, NOW.replace(hour=18))
        self.assertIn("own 3 opens", trace.reason)

    def test_upgrade_keeps_earlier_opens_as_peoples(self):
        """19.0.1.2.0's post-migration: opens and clicks recorded before machines were
        told apart stay in the step's figures, also after a later reply."""
        path = Path(__file__).parents[1] / "migrations/19.0.1.2.0/post-machine-opens.py"
        spec = importlib.util.spec_from_file_location("tm_post_machine_opens", path)
        migration = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(migration)
        scenario = self.make_scenario(domain="[]")
        welcome = self.make_step(scenario, "mail", name="Welcome")
        with self.at(NOW):
            scenario.action_start()
            partners = self.make_partners(2)
            scenario.enroll(partners)
            with self.mock_mail_gateway():
                self.run_cron()
                self.send_queue()
        opened, other = (self.mailing_trace(welcome, p) for p in partners)
        self.env.flush_all()
        # as an older version left it: mass_mailing's open, nothing of ours
        self.env.cr.execute(
            SQL(
                "UPDATE mailing_trace SET trace_status = 'open', open_datetime = %s WHERE id = %s",
                NOW,
                opened.id,
            )
        )
        migration.migrate(self.env.cr, "19.0.1.1.0")
        self.env.invalidate_all()
        self.assertEqual(opened.marketing_opened_at, NOW)
        self.assertFalse(other.marketing_opened_at)
        opened.set_replied()
        self.handle_mail_events()
        self.assertEqual(self.trace_of(welcome, partners[0]).mail_opened_at, NOW)
        self.assertEqual(welcome.stat_opened, 1)
