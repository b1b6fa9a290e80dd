from datetime import date, datetime

from odoo.tests import tagged

from .common_triggers import TriggerEntryCase


@tagged("post_install", "-at_install")
class TestTriggerAnniversary(TriggerEntryCase):
    """Yearly on the birth date, at 09:00 in the contact's time zone, once a year."""

    def _birthday_scenario(self, start, **vals):
        with self.at(start):
            scenario, mail = self.make_welcome(trigger="anniversary", **vals)
            scenario.action_start()
        return scenario, mail

    def test_defaults(self):
        scenario = self.make_scenario(trigger="anniversary")
        self.assertEqual(scenario.date_field_id, self.field("res.partner", "birthdate"))
        self.assertEqual(scenario.trigger_hour, 9.0)

    def test_time_zones_at_both_ends_of_the_day(self):
        """UTC+14 (Kiritimati) and UTC-11 (Pago Pago) both get it on their local date,
        25 hours apart; the cron is woken at the exact moments."""
        scenario, mail = self._birthday_scenario(datetime(2026, 6, 13, 12, 0))
        with self.at(datetime(2026, 6, 13, 12, 0)):
            kiritimati = self.make_partners(
                1, name="Kiri", tz="Pacific/Kiritimati", birthdate=date(1990, 6, 15)
            )
            pago = self.env["res.partner"].create(
                {
                    "name": "Pago",
                    "email": "pago@example.com",
                    "tz": "Pacific/Pago_Pago",
                    "birthdate": date(1985, 6, 15),
                }
            )
            next_day = self.make_partners(
                1,
                name="Next day",
                email="next@example.com",
                tz="Pacific/Kiritimati",
                birthdate=date(1990, 6, 16),
            )
        # 15 June 09:00 in Kiritimati = 14 June 19:00 UTC
        with self.at(datetime(2026, 6, 14, 18, 0)):
            with self.capture_triggers("trigger_marketing.ir_cron_scenario_entry") as captured:
                self.run_entry_cron()
            self.assertEqual(self.entry_wakeups(captured), [datetime(2026, 6, 14, 19, 0)])
        with self.at(datetime(2026, 6, 14, 18, 59)):
            self.run_entry_cron()
            self.assertFalse(self.participants(scenario))
        with self.at(datetime(2026, 6, 14, 19, 0)):
            self.run_entry_cron()
            self.assertEqual(self.entered(scenario), kiritimati)
            self.assertEqual(self.participants(scenario).anniversary_date, date(2026, 6, 15))
            with self.mock_mail_gateway():
                self.run_cron()
            self.assertEqual(self.trace_of(mail, kiritimati).state, "done")
        # 15 June 09:00 in Pago Pago = 15 June 20:00 UTC
        # Pago Pago's 15 June 09:00 comes after Kiritimati's 16 June 09:00
        with self.at(datetime(2026, 6, 15, 19, 59)):
            self.run_entry_cron()
            self.assertEqual(self.entered(scenario), kiritimati | next_day)
        with self.at(datetime(2026, 6, 15, 20, 0)):
            self.run_entry_cron()
            self.assertEqual(self.entered(scenario), kiritimati | next_day | pago)
            with self.mock_mail_gateway():
                self.run_cron()
            self.assertEqual(self.trace_of(mail, pago).state, "done")
            self.assertEqual(self.participants(scenario, pago).anniversary_date, date(2026, 6, 15))

    def test_29_february(self):
        """Born on 29 February: 28 February in 2027, 29 February in 2028."""
        scenario, _mail = self._birthday_scenario(datetime(2027, 2, 27, 0, 0), reentry="always")
        with self.at(datetime(2027, 2, 27, 0, 0)):
            leap = self.make_partners(1, tz="UTC", birthdate=date(2000, 2, 29))
        with self.at(datetime(2027, 2, 28, 8, 59)):
            self.run_entry_cron()
            self.assertFalse(self.participants(scenario))
        with self.at(datetime(2027, 2, 28, 9, 0)):
            self.run_entry_cron()
            self.assertEqual(self.participants(scenario).anniversary_date, date(2027, 2, 28))
            self.run_cron()  # the walk completes (the mail is its only step)
        with self.at(datetime(2027, 3, 1, 9, 0)):
            self.run_entry_cron()
            self.assertEqual(len(self.participants(scenario)), 1)
        # a year later: nothing on 28 February of a leap year, the birthday on the 29th
        with self.at(datetime(2028, 2, 27, 12, 0)):
            scenario.action_pause()
            scenario.action_resume()
        with self.at(datetime(2028, 2, 28, 9, 0)):
            self.run_entry_cron()
            self.assertEqual(len(self.participants(scenario)), 1)
        with self.at(datetime(2028, 2, 29, 9, 0)):
            self.run_entry_cron()
            self.assertEqual(
                self.participants(scenario, leap).mapped("anniversary_date"),
                [date(2028, 2, 29), date(2027, 2, 28)],
            )

    def test_daylight_saving_shift(self):
        """Brussels moves from UTC+1 to UTC+2 on Sunday 29 March 2026: 09:00 local is
        08:00 UTC on the 28th and 07:00 UTC on the 30th."""
        scenario, _mail = self._birthday_scenario(datetime(2026, 3, 27, 0, 0))
        with self.at(datetime(2026, 3, 27, 0, 0)):
            before = self.make_partners(
                1, name="Before", tz="Europe/Brussels", birthdate=date(1980, 3, 28)
            )
            after = self.env["res.partner"].create(
                {
                    "name": "After",
                    "email": "after@example.com",
                    "tz": "Europe/Brussels",
                    "birthdate": date(1980, 3, 30),
                }
            )
        with self.at(datetime(2026, 3, 28, 7, 59)):
            self.run_entry_cron()
            self.assertFalse(self.participants(scenario))
        with self.at(datetime(2026, 3, 28, 8, 0)):
            self.run_entry_cron()
            self.assertEqual(self.entered(scenario), before)
        with self.at(datetime(2026, 3, 30, 6, 59)):
            self.run_entry_cron()
            self.assertEqual(self.entered(scenario), before)
        with self.at(datetime(2026, 3, 30, 7, 0)):
            self.run_entry_cron()
            self.assertEqual(self.entered(scenario), before | after)

    def test_at_most_once_a_year(self):
        """Re-entry "always" and a walk already over: still one birthday a year, even when
        the birth date is corrected to a later day of the same year."""
        scenario, _mail = self._birthday_scenario(datetime(2026, 5, 1), reentry="always")
        with self.at(datetime(2026, 5, 1)):
            alice = self.make_partners(1, tz="UTC", birthdate=date(1990, 5, 10))
        with self.at(datetime(2026, 5, 10, 9, 0)):
            self.run_entry_cron()
            self.assertEqual(len(self.participants(scenario)), 1)
            self.run_cron()
            self.assertEqual(self.participants(scenario).state, "completed")
            # second run the same day: nobody
            self.run_entry_cron()
            self.assertEqual(len(self.participants(scenario)), 1)
            alice.birthdate = date(1990, 5, 12)
        with self.at(datetime(2026, 5, 12, 9, 0)):
            self.run_entry_cron()
            self.assertEqual(len(self.participants(scenario)), 1, "once a year")
        with self.at(datetime(2027, 5, 11, 9, 0)):
            scenario.action_pause()
            scenario.action_resume()
        with self.at(datetime(2027, 5, 12, 9, 0)):
            self.run_entry_cron()
            self.assertEqual(len(self.participants(scenario)), 2, "next year again")

    def test_offset_and_late_cron(self):
        """3 days before the birthday; a cron that could not run for two days does not
        send birthday wishes that late."""
        scenario, _mail = self._birthday_scenario(
            datetime(2026, 5, 1), trigger_offset=-3, trigger_offset_unit="days"
        )
        with self.at(datetime(2026, 5, 1)):
            alice = self.make_partners(1, tz="UTC", birthdate=date(1990, 5, 10))
            _bob = self.env["res.partner"].create(
                {
                    "name": "Bob",
                    "email": "bob@example.com",
                    "tz": "UTC",
                    "birthdate": date(1990, 5, 4),
                }
            )
            self.run_entry_cron()
        with self.at(datetime(2026, 5, 7, 9, 0)):
            self.run_entry_cron()
        self.assertEqual(self.entered(scenario), alice, "bob's day (1 May) was missed")

    def test_hourly_wakeup(self):
        """With anniversary scenarios running, the intake cron wakes every hour (edited
        birth dates) or earlier for an exact anniversary moment."""
        self._birthday_scenario(datetime(2026, 5, 1), trigger_hour=9.25)
        with self.at(datetime(2026, 5, 9, 23, 0)):
            self.make_partners(1, tz="Asia/Kathmandu", birthdate=date(1990, 5, 10))
        # 10 May 09:15 in Kathmandu (UTC+5:45) = 03:30 UTC
        with self.at(datetime(2026, 5, 10, 2, 10)):
            with self.capture_triggers("trigger_marketing.ir_cron_scenario_entry") as captured:
                self.run_entry_cron()
            self.assertEqual(self.entry_wakeups(captured), [datetime(2026, 5, 10, 3, 0)])
        with self.at(datetime(2026, 5, 10, 3, 0)):
            with self.capture_triggers("trigger_marketing.ir_cron_scenario_entry") as captured:
                self.run_entry_cron()
            self.assertEqual(self.entry_wakeups(captured), [datetime(2026, 5, 10, 3, 30)])

    def test_entry_is_set_based(self):
        scenario, _mail = self._birthday_scenario(datetime(2026, 5, 1))
        with self.at(datetime(2026, 5, 1)):
            self.make_partners(3, tz="UTC", birthdate=date(1990, 5, 10))
            self.make_partners(12, name="Other", tz="UTC", birthdate=date(1991, 5, 11))
            self.make_partners(1, name="Warm-up", tz="UTC", birthdate=date(1991, 5, 9))
        with self.at(datetime(2026, 5, 9, 9, 0)):
            self.run_entry_cron()  # warm-up: caches of the enrolment path
        with self.at(datetime(2026, 5, 10, 9, 0)), self.assertQueryCount(53):
            self.run_entry_cron()
        self.assertEqual(len(self.participants(scenario)), 4)
        with self.at(datetime(2026, 5, 11, 9, 0)), self.assertQueryCount(53):
            self.run_entry_cron()
        self.assertEqual(len(self.participants(scenario)), 16)
