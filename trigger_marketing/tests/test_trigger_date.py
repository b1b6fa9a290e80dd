from datetime import date, datetime, timedelta

from odoo.tests import tagged

from .common_triggers import TriggerEntryCase

T0 = datetime(2026, 3, 2, 9, 0)


@tagged("post_install", "-at_install")
class TestTriggerDate(TriggerEntryCase):
    """Entry on a date or date-and-time field of the record, with a signed offset."""

    def _set_create_date(self, records, when):
        records.flush_recordset()
        self.env.cr.execute(
            "UPDATE res_partner SET create_date = %s WHERE id = ANY(%s)", (when, records.ids)
        )
        records.invalidate_recordset(["create_date"])

    def _created_scenario(self, offset, unit, **vals):
        scenario, mail = self.make_welcome(
            trigger="date",
            date_field_id=self.field("res.partner", "create_date").id,
            trigger_offset=offset,
            trigger_offset_unit=unit,
            **vals,
        )
        scenario.action_start()
        return scenario, mail

    def test_datetime_positive_offset(self):
        """3 days after the contact was created: enters then, once, and the first step
        runs; the cron is woken at the exact due moment."""
        with self.at(T0):
            scenario, mail = self._created_scenario(3, "days")
            alice, bob = self.make_partners(2)
            self._set_create_date(alice, T0 + timedelta(minutes=30))
            self._set_create_date(bob, T0 + timedelta(days=1))
            with self.capture_triggers("trigger_marketing.ir_cron_scenario_entry") as captured:
                self.run_entry_cron()
            self.assertEqual(
                self.entry_wakeups(captured),
                [T0 + timedelta(days=3, minutes=30)],
                "woken exactly when alice falls due",
            )
        with self.at(T0 + timedelta(days=3, minutes=29)):
            self.run_entry_cron()
            self.assertFalse(self.participants(scenario))
        with self.at(T0 + timedelta(days=3, minutes=30)):
            with self.capture_triggers("trigger_marketing.ir_cron_scenario_entry") as captured:
                self.run_entry_cron()
            self.assertEqual(self.entered(scenario), alice)
            self.assertEqual(self.entry_wakeups(captured), [T0 + timedelta(days=4)])
            with self.mock_mail_gateway():
                self.run_cron()
            self.assertEqual(self.trace_of(mail, alice).state, "done")
            self.assertEqual(self.mailing_trace(mail, alice).email, alice.email_normalized)
            # the same window again: nobody enters twice
            self.run_entry_cron()
            self.assertEqual(len(self.participants(scenario)), 1)
        with self.at(T0 + timedelta(days=4, minutes=1)):
            self.run_entry_cron()
            self.assertEqual(self.entered(scenario), alice | bob)

    def test_datetime_negative_offset(self):
        """2 hours before a date and time: enters 2 hours before it."""
        with self.at(T0):
            scenario, _mail = self._created_scenario(-2, "hours")
            alice, bob = self.make_partners(2)
            self._set_create_date(alice, T0 + timedelta(hours=5))
            self._set_create_date(bob, T0 + timedelta(hours=8))
        with self.at(T0 + timedelta(hours=2, minutes=59)):
            self.run_entry_cron()
            self.assertFalse(self.participants(scenario))
        with self.at(T0 + timedelta(hours=3)):
            self.run_entry_cron()
            self.assertEqual(self.entered(scenario), alice)
        with self.at(T0 + timedelta(hours=6)):
            self.run_entry_cron()
            self.assertEqual(self.entered(scenario), alice | bob)

    def test_date_field_before_at_local_time(self):
        """7 days before a date, at 09:00 in the contact's time zone (own, else the
        company's): Brussels (UTC+1 in March) enters one hour before UTC."""
        with self.at(T0):
            scenario, mail = self.make_welcome(
                trigger="date",
                date_field_id=self.field("res.partner", "birthdate").id,
                trigger_offset=-7,
                trigger_offset_unit="days",
                trigger_hour=9.0,
            )
            scenario.action_start()
            brussels = self.make_partners(1, tz="Europe/Brussels", birthdate=date(2026, 3, 17))
            no_tz = self.env["res.partner"].create(
                {"name": "No tz", "email": "notz@example.com", "birthdate": date(2026, 3, 17)}
            )
            later = self.env["res.partner"].create(
                {
                    "name": "Later",
                    "email": "later@example.com",
                    "birthdate": date(2026, 3, 18),
                    "tz": "UTC",
                }
            )
            with self.capture_triggers("trigger_marketing.ir_cron_scenario_entry") as captured:
                self.run_entry_cron()
            self.assertEqual(self.entry_wakeups(captured)[0], datetime(2026, 3, 10, 8, 0))
        with self.at(datetime(2026, 3, 10, 7, 59)):
            self.run_entry_cron()
            self.assertFalse(self.participants(scenario))
        with self.at(datetime(2026, 3, 10, 8, 0)):
            self.run_entry_cron()
            self.assertEqual(self.entered(scenario), brussels)
        with self.at(datetime(2026, 3, 10, 9, 0)):
            self.run_entry_cron()
            self.assertEqual(self.entered(scenario), brussels | no_tz)
            with self.mock_mail_gateway():
                self.run_cron()
            self.assertEqual(
                sorted(self.traces(mail, "done").participant_id.mapped("res_id")),
                (brussels | no_tz).ids,
            )
        with self.at(datetime(2026, 3, 11, 9, 0)):
            self.run_entry_cron()
            self.assertEqual(self.entered(scenario), brussels | no_tz | later)

    def test_date_moved_to_the_future_enters_again_per_policy(self):
        with self.at(T0):
            scenario, _mail = self.make_welcome(
                trigger="date",
                date_field_id=self.field("res.partner", "birthdate").id,
                trigger_offset=0,
                trigger_hour=10.0,
                reentry="always",
            )
            scenario.action_start()
            never = scenario.copy({"reentry": "never"})
            never.action_start()
            alice = self.make_partners(1, tz="UTC", birthdate=date(2026, 3, 3))
        with self.at(datetime(2026, 3, 3, 10, 0)):
            self.run_entry_cron()
            self.assertEqual(len(self.participants(scenario)), 1)
            self.assertEqual(len(self.participants(never)), 1)
            self.participants(scenario | never)._end("completed", "manual")
            self.run_entry_cron()
            self.assertEqual(len(self.participants(scenario)), 1, "same date: never twice")
            alice.birthdate = date(2026, 3, 5)
        with self.at(datetime(2026, 3, 5, 10, 0)):
            self.run_entry_cron()
            self.assertEqual(len(self.participants(scenario)), 2, "a new date enters again")
            self.assertEqual(len(self.participants(never)), 1, "re-entry: never")

    def test_write_wakes_the_cron_at_the_due_moment(self):
        with self.at(T0):
            self._created_scenario(1, "days")
            scenario2, _mail = self.make_welcome(
                trigger="date",
                date_field_id=self.field("res.partner", "birthdate").id,
                trigger_offset=-1,
                trigger_hour=9.0,
            )
            scenario2.action_start()
            alice = self.make_partners(1)
            # a new transaction, with no wake-up pending (else the earlier one suffices:
            # test_creates_wake_the_cron_once)
            self.env["ir.cron.trigger"].search([("cron_id", "=", self.entry_cron.id)]).unlink()
            self.cr.postcommit.data.clear()
            with self.capture_triggers("trigger_marketing.ir_cron_scenario_entry") as captured:
                alice.birthdate = date(2026, 3, 20)
            # woken when the first time zone (UTC+14) reaches 19 March 09:00
            self.assertEqual(self.entry_wakeups(captured), [datetime(2026, 3, 18, 19, 0)])
            with self.capture_triggers("trigger_marketing.ir_cron_scenario_entry") as captured:
                alice.name = "Alice"
            self.assertFalse(captured.records, "other fields do not wake the cron")

    def test_entry_is_set_based(self):
        """The intake cron runs the same number of queries for 3 or 15 due records."""
        with self.at(T0):
            scenario, _mail = self._created_scenario(1, "hours")
            few = self.make_partners(3)
            many = self.make_partners(15, name="Other")
            self._set_create_date(few, T0 + timedelta(hours=1))
            self._set_create_date(many, T0 + timedelta(hours=2))
            self.run_entry_cron()  # warm-up (caches)
        with self.at(T0 + timedelta(hours=2, minutes=1)), self.assertQueryCount(50):
            self.run_entry_cron()
        self.assertEqual(len(self.participants(scenario)), 3)
        with self.at(T0 + timedelta(hours=3, minutes=1)), self.assertQueryCount(50):
            self.run_entry_cron()
        self.assertEqual(len(self.participants(scenario)), 18)

    def test_creates_wake_the_cron_once(self):
        """A running date scenario costs each created contact at most one query, and
        wakes the intake cron once per transaction, for the earliest moment; none when a
        wake-up before that moment is already pending (it used to be 2 queries and one
        trigger per contact)."""
        with self.at(T0):
            birthday = self.field("res.partner", "birthdate")
            scenario, _mail = self.make_welcome(
                trigger="date", date_field_id=birthday.id, trigger_offset=0, trigger_hour=9.0
            )
            Partner = self.env["res.partner"]
            Partner.create({"name": "Warm-up", "birthdate": date(2026, 6, 1)})

            def create_one_by_one(count, name, first_day):
                self.env.flush_all()
                start = self.cr.sql_log_count
                for index in range(count):
                    day = first_day + timedelta(days=index)
                    Partner.create({"name": f"{name} {index}", "birthdate": day})
                self.env.flush_all()
                return self.cr.sql_log_count - start

            without = create_one_by_one(10, "Before", date(2026, 4, 1))
            scenario.action_start()
            with self.capture_triggers("trigger_marketing.ir_cron_scenario_entry") as captured:
                self.cr.postcommit.data.pop("trigger_marketing.entry_woken_at", None)
                running = create_one_by_one(10, "Running", date(2026, 5, 1))
            self.assertLessEqual(running - without, 10, "at most one query per contact")
            # 1 May 09:00 in the first time zone (UTC+14)
            self.assertEqual(self.entry_wakeups(captured), [datetime(2026, 4, 30, 19, 0)])
            self.cr.postcommit.data.clear()  # a new transaction
            with self.capture_triggers("trigger_marketing.ir_cron_scenario_entry") as captured:
                for index in range(5):
                    Partner.create({"name": f"Later {index}", "birthdate": date(2026, 7, 1)})
            self.assertFalse(captured.records, "woken earlier already: no new trigger")
            with self.capture_triggers("trigger_marketing.ir_cron_scenario_entry") as captured:
                for index in range(5):
                    Partner.create({"name": f"Same {index}", "birthdate": date(2026, 4, 20)})
            self.assertEqual(len(captured.records), 1, "once per transaction")
