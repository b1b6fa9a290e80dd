from datetime import datetime, timedelta

from odoo.exceptions import ValidationError
from odoo.tests import tagged

from ..models.marketing_send_window_mixin import get_zone, next_window_opening
from ..tools.trace_results import TraceResults
from .common import NOW, TriggerMarketingCase

WEEKDAYS = {0, 1, 2, 3, 4}


@tagged("post_install", "-at_install")
class TestSendWindow(TriggerMarketingCase):
    """Send windows: days and hours in the recipient's time zone, across DST changes."""

    def setUp(self):
        super().setUp()
        self.env.company.partner_id.tz = "Europe/Brussels"
        self.scenario = self.make_scenario(window_enabled=True)  # Mon-Fri 09:00-18:00
        self.mail = self.make_step(self.scenario, "mail", name="Offer")
        self.scenario.action_start()

    def _partners(self, *tzs):
        return self.env["res.partner"].create(
            [
                {"name": f"In {tz}", "email": f"p{i}@example.com", "tz": tz}
                for i, tz in enumerate(tzs)
            ]
        )

    def _enrol_and_run(self, when, partners):
        with self.at(when):
            self.scenario.enroll(partners)
            with self.mock_mail_gateway(), self.capture_triggers(self.cron.id) as capture:
                self.run_cron()
        return capture

    def assertPostponed(self, partner, at):
        trace = self.trace_of(self.mail, partner)
        self.assertEqual(
            (trace.state, trace.scheduled_at),
            ("scheduled", at),
            f"{partner.name} postponed to {at}",
        )
        self.assertIn("Outside the send window", trace.reason)

    def assertSent(self, partner):
        self.assertEqual(self.trace_of(self.mail, partner).state, "done", partner.name)
        self.assertTrue(self.mailing_trace(self.mail, partner), partner.name)

    # ------------------------------------------------------------
    # Through the processing cron
    # ------------------------------------------------------------

    def test_friday_evening_moves_to_monday_across_spring_forward(self):
        """Friday 27 March 2026, 18:00 UTC. Brussels: 19:00 CET, closed; it reopens on
        Monday 30 March at 09:00 CEST (after the change of Sunday 29) = 07:00 UTC. New
        York is already on summer time (8 March): 14:00 EDT, open."""
        brussels, new_york = self._partners("Europe/Brussels", "America/New_York")
        friday = datetime(2026, 3, 27, 18, 0)
        capture = self._enrol_and_run(friday, brussels | new_york)
        monday_0900_cest = datetime(2026, 3, 30, 7, 0)
        self.assertPostponed(brussels, monday_0900_cest)
        self.assertSent(new_york)
        self.assertIn(
            monday_0900_cest, capture.records.mapped("call_at"), "the cron is woken at the opening"
        )
        with self.at(monday_0900_cest - timedelta(minutes=1)):
            self.run_cron()
            self.assertEqual(self.trace_of(self.mail, brussels).state, "scheduled")
        with self.at(monday_0900_cest), self.mock_mail_gateway():
            self.run_cron()
            self.assertSent(brussels)
            self.assertFalse(self.trace_of(self.mail, brussels).reason)

    def test_friday_evening_moves_to_monday_across_fall_back(self):
        """Friday 23 October 2026, 17:00 UTC = 19:00 CEST; Monday 26 October 09:00 is CET
        (the change is on Sunday 25) = 08:00 UTC."""
        (brussels,) = self._partners("Europe/Brussels")
        self._enrol_and_run(datetime(2026, 10, 23, 17, 0), brussels)
        self.assertPostponed(brussels, datetime(2026, 10, 26, 8, 0))

    def test_new_york_daylight_saving(self):
        """New York springs forward on 8 March 2026 and falls back on 1 November 2026."""
        spring, fall = self._partners("America/New_York", "America/New_York")
        # Friday 6 March, 18:30 EST -> Monday 9 March 09:00 EDT = 13:00 UTC
        self._enrol_and_run(datetime(2026, 3, 6, 23, 30), spring)
        self.assertPostponed(spring, datetime(2026, 3, 9, 13, 0))
        # Friday 30 October, 19:00 EDT -> Monday 2 November 09:00 EST = 14:00 UTC
        self._enrol_and_run(datetime(2026, 10, 30, 23, 0), fall)
        self.assertPostponed(fall, datetime(2026, 11, 2, 14, 0))

    def test_extreme_offsets(self):
        """Sunday 1 March 2026, 20:00 UTC: it is already Monday 10:00 in Kiritimati (UTC+14),
        open; Sunday 09:00 in Pago Pago (UTC-11), closed until Monday 09:00 local = Monday
        20:00 UTC; Sunday 21:00 in Brussels, closed until Monday 08:00 UTC."""
        kiritimati, pago, brussels = self._partners(
            "Pacific/Kiritimati", "Pacific/Pago_Pago", "Europe/Brussels"
        )
        self._enrol_and_run(datetime(2026, 3, 1, 20, 0), kiritimati | pago | brussels)
        self.assertSent(kiritimati)
        self.assertPostponed(pago, datetime(2026, 3, 2, 20, 0))
        self.assertPostponed(brussels, datetime(2026, 3, 2, 8, 0))

    def test_friday_evening_in_kiritimati(self):
        """Friday 05:00 UTC is Friday 19:00 in Kiritimati: Monday 09:00 there is Sunday
        19:00 UTC."""
        (kiritimati,) = self._partners("Pacific/Kiritimati")
        self._enrol_and_run(datetime(2026, 3, 6, 5, 0), kiritimati)
        self.assertPostponed(kiritimati, datetime(2026, 3, 8, 19, 0))

    def test_time_zone_fallbacks(self):
        """No time zone on the contact: the company's; none there either: UTC."""
        (no_tz,) = self._partners(False)
        # Monday 2 March 07:30 UTC = 08:30 in Brussels (company): opens at 08:00 UTC
        self._enrol_and_run(datetime(2026, 3, 2, 7, 30), no_tz)
        self.assertPostponed(no_tz, datetime(2026, 3, 2, 8, 0))
        self.env.company.partner_id.tz = False
        (no_tz_utc,) = self.env["res.partner"].create(
            [{"name": "Nowhere", "email": "nowhere@example.com", "tz": False}]
        )
        self._enrol_and_run(datetime(2026, 3, 2, 7, 30), no_tz_utc)
        self.assertPostponed(no_tz_utc, datetime(2026, 3, 2, 9, 0))

    def test_step_overrides(self):
        """A step may ignore the scenario's window, or have its own window (which then
        applies whatever its action); the scenario's window concerns e-mail steps only."""
        anytime = self.make_step(self.scenario, "mail", name="Any time", window_mode="none")
        score = self.make_step(self.scenario, "score", name="Score", score_points=1)
        saturday = self.make_step(
            self.scenario,
            "score",
            name="Saturday morning",
            score_points=2,
            window_mode="own",
            window_monday=False,
            window_tuesday=False,
            window_wednesday=False,
            window_thursday=False,
            window_friday=False,
            window_saturday=True,
            window_hour_from=10.0,
            window_hour_to=12.5,
        )
        self.assertEqual(saturday.window_description, "Sat 10:00–12:30")
        (brussels,) = self._partners("Europe/Brussels")
        friday = datetime(2026, 3, 6, 20, 0)  # 21:00 in Brussels
        self._enrol_and_run(friday, brussels)
        self.assertPostponed(brussels, datetime(2026, 3, 9, 8, 0))
        self.assertEqual(self.trace_of(anytime, brussels).state, "done")
        self.assertEqual(self.trace_of(score, brussels).state, "done")
        own = self.trace_of(saturday, brussels)
        self.assertEqual((own.state, own.scheduled_at), ("scheduled", datetime(2026, 3, 7, 9, 0)))
        with self.at(datetime(2026, 3, 7, 9, 0)):
            self.run_cron()
        self.assertEqual(self.trace_of(saturday, brussels).state, "done")
        self.assertEqual(brussels.marketing_score, 3)

    def test_test_participants_ignore_the_window(self):
        (brussels,) = self._partners("Europe/Brussels")
        with self.at(datetime(2026, 3, 7, 22, 0)):  # Saturday night
            self.scenario.enroll(brussels, test=True)
            with self.mock_mail_gateway():
                self.run_cron()
        self.assertEqual(self.trace_of(self.mail, brussels).state, "done")

    def test_disabling_the_window_releases_postponed_mails(self):
        """Disabling the window lets the postponed e-mails go at the next run."""
        (brussels,) = self._partners("Europe/Brussels")
        saturday = datetime(2026, 3, 7, 12, 0)
        self._enrol_and_run(saturday, brussels)
        self.assertPostponed(brussels, datetime(2026, 3, 9, 8, 0))
        self.scenario.window_enabled = False
        with self.at(datetime(2026, 3, 9, 8, 0)), self.mock_mail_gateway():
            self.run_cron()
        self.assertSent(brussels)

    def test_query_count_does_not_grow_with_traces(self):
        """The window costs the same queries for 3 traces as for 30 (time zones are read
        in one go, the opening is computed once per time zone)."""
        tzs = ["Europe/Brussels", "America/New_York", "Pacific/Kiritimati", False]
        saturday = datetime(2026, 3, 7, 12, 0)
        counts = []
        for size in (3, 30):
            partners = self.env["res.partner"].create(
                [
                    {"name": f"P{i}", "email": f"q{size}.{i}@example.com", "tz": tzs[i % 4]}
                    for i in range(size)
                ]
            )
            with self.at(saturday):
                self.scenario.enroll(partners)
            traces = self.env["marketing.scenario.trace"].search(
                [("participant_id.res_id", "in", partners.ids), ("step_id", "=", self.mail.id)]
            )
            self.env.invalidate_all()
            traces.fetch(["is_test", "participant_id"])
            traces.participant_id.fetch(["partner_id"])
            results = TraceResults(saturday)
            self.mail._send_window().fetch(["window_hour_from"])  # loaded in the cron
            before = self.env.cr.sql_log_count
            to_run = traces._apply_send_window(self.mail, traces, results)
            counts.append(self.env.cr.sql_log_count - before)
            self.assertFalse(to_run)
            self.assertEqual(len(results.updates), size)
            self.assertEqual(
                {vals["scheduled_at"] for vals in results.updates.values()},
                {
                    datetime(2026, 3, 9, 8, 0),
                    datetime(2026, 3, 9, 13, 0),
                    datetime(2026, 3, 8, 19, 0),
                },
            )
        # partners' time zones, the company and its partner's time zone (when not cached)
        self.assertLessEqual(max(counts), 3)
        self.assertEqual(counts[0], counts[1], f"queries for 3 and 30 traces: {counts}")

    # ------------------------------------------------------------
    # Validation
    # ------------------------------------------------------------

    def test_invalid_windows_are_refused(self):
        with self.assertRaisesRegex(ValidationError, "open before it closes"):
            self.make_scenario(window_enabled=True, window_hour_from=18.0, window_hour_to=9.0)
        with self.assertRaisesRegex(ValidationError, "open before it closes"):
            self.make_scenario(window_enabled=True, window_hour_from=9.0, window_hour_to=9.0)
        with self.assertRaisesRegex(ValidationError, "open before it closes"):
            self.make_scenario(window_enabled=True, window_hour_to=25.0)
        no_day = {
            f"window_{d}": False for d in ("monday", "tuesday", "wednesday", "thursday", "friday")
        }
        with self.assertRaisesRegex(ValidationError, "at least one day"):
            self.make_scenario(window_enabled=True, **no_day)
        # a disabled window is not checked, enabling it is
        scenario = self.make_scenario(window_hour_from=20.0, window_hour_to=8.0)
        with self.assertRaisesRegex(ValidationError, "open before it closes"):
            scenario.window_enabled = True
        with self.assertRaisesRegex(ValidationError, "at least one day"):
            self.make_step(self.scenario, "wait", window_mode="own", **no_day)
        step = self.make_step(self.scenario, "wait", window_hour_from=23.0, window_hour_to=1.0)
        with self.assertRaisesRegex(ValidationError, "open before it closes"):
            step.window_mode = "own"
        # up to midnight is fine
        self.make_scenario(window_enabled=True, window_hour_from=20.0, window_hour_to=24.0)

    # ------------------------------------------------------------
    # The computation itself, at the edges of DST changes
    # ------------------------------------------------------------

    def test_next_opening_edges(self):
        brussels = get_zone("Europe/Brussels")
        every_day = set(range(7))
        # inside the window: None
        self.assertIsNone(next_window_opening(NOW, brussels, WEEKDAYS, 9.0, 18.0))
        # closing hour excluded: Monday 18:00 CET -> Tuesday 09:00 CET
        self.assertEqual(
            next_window_opening(datetime(2026, 3, 2, 17, 0), brussels, WEEKDAYS, 9.0, 18.0),
            datetime(2026, 3, 3, 8, 0),
        )
        # up to midnight: 23:59 is inside
        self.assertIsNone(
            next_window_opening(datetime(2026, 3, 2, 22, 59), brussels, WEEKDAYS, 20.0, 24.0)
        )
        # a window opening at 02:30 on the spring-forward night (02:00 -> 03:00 does not
        # exist): opens at 03:30 CEST = 01:30 UTC, as calendars do
        self.assertEqual(
            next_window_opening(datetime(2026, 3, 29, 0, 0), brussels, every_day, 2.5, 6.0),
            datetime(2026, 3, 29, 1, 30),
        )
        # fall back: 02:30 happens twice on 25 October. Before the first one: the first
        # (CEST, 00:30 UTC); between both (02:10 CET, 01:10 UTC): the second (01:30 UTC),
        # never an opening in the past
        self.assertEqual(
            next_window_opening(datetime(2026, 10, 25, 0, 0), brussels, every_day, 2.5, 6.0),
            datetime(2026, 10, 25, 0, 30),
        )
        self.assertEqual(
            next_window_opening(datetime(2026, 10, 25, 1, 10), brussels, every_day, 2.5, 6.0),
            datetime(2026, 10, 25, 1, 30),
        )
        # only Wednesdays, asked on Wednesday after closing: next week
        self.assertEqual(
            next_window_opening(datetime(2026, 3, 4, 19, 0), brussels, {2}, 9.0, 18.0),
            datetime(2026, 3, 11, 8, 0),
        )
        # unknown time zone: UTC
        self.assertEqual(get_zone("Mars/Olympus_Mons"), get_zone("UTC"))
