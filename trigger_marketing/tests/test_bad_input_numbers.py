"""Bad input matrix, numbers and texts (DESIGN §8): refused at save time with a message
that names the record, the field and the allowed range; nothing reaches the database.

Bounds (``tools/bounds.py``): delays, time-outs and offsets up to 10 years in their unit,
days up to 3,660, points of a step or a rule up to ±100,000, caps up to 1,000,000, score
thresholds up to 1,000,000,000 (a contact's total is clamped to ±1,000,000,000), cart
delays up to 8,784 hours, names up to 200 characters, subjects 500, filters 20,000.

Each input has an id (N01...): the README's command counts the matrix.
"""

from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import NOW, TriggerMarketingCase

HUGE = 99_999_999
INT_OVERFLOW = 10**12  # does not fit the database's integers
LONG = "x" * 10_000


@tagged("post_install", "-at_install")
class TestBadInputNumbers(TriggerMarketingCase):
    def setUp(self):
        super().setUp()
        self.scenario = self.make_scenario(name="Matrix")

    def assertRefused(self, case, record, vals, message):
        """Writing ``vals`` on ``record`` is refused with ``message``; nothing changed."""
        with self.subTest(case=case, vals=str(vals)[:60]):
            before = record.read(list(vals))[0]
            with self.assertRaisesRegex(ValidationError, message), self.env.cr.savepoint():
                record.write(vals)
            record.invalidate_recordset()
            self.assertEqual(record.read(list(vals))[0], before)

    def test_step_numbers(self):
        wait = self.make_step(self.scenario, "wait", name="Pause")
        until = self.make_step(self.scenario, "wait_until", condition_domain="[]", name="Until")
        score = self.make_step(self.scenario, "score", score_points=1, name="Points")
        activity = self.make_step(
            self.scenario,
            "activity",
            activity_type_id=self.env.ref("mail.mail_activity_data_todo").id,
            name="Call",
        )
        for case, record, vals, message in [
            ("N01", wait, {"delay": HUGE, "delay_unit": "hours"}, r"Step Pause: Delay \(hours\) "
             r"must be between 0 and 87,840 \(you entered 99,999,999\)"),
            ("N02", wait, {"delay": 3661}, r"Delay \(days\) must be between 0 and 3,660"),
            ("N03", wait, {"delay": 121, "delay_unit": "months"}, r"\(months\) must be between 0 "
             "and 120"),
            ("N04", wait, {"delay": INT_OVERFLOW}, "you entered 1,000,000,000,000"),
            ("N05", wait, {"delay": 6_000_000, "delay_unit": "minutes"}, r"\(minutes\) must be"),
            ("N06", until, {"wait_timeout": HUGE}, r"Step Until: Time-out \(days\) must be"),
            ("N07", activity, {"activity_days": 10_000}, r"Step Call: Due in \(days\) must be "
             "between 0 and 3,660"),
            ("N08", score, {"score_points": INT_OVERFLOW}, "Step Points: Points must be between "
             "-100,000 and 100,000"),
            ("N09", score, {"score_points": -INT_OVERFLOW}, "Points must be between -100,000"),
        ]:  # fmt: skip
            self.assertRefused(case, record, vals, message)
        # a unit changed alone is checked with the delay it applies to
        wait.delay = 200
        self.assertRefused("N10", wait, {"delay_unit": "months"}, r"\(months\) must be between")
        with self.assertRaisesRegex(ValidationError, r"Step New: Delay \(weeks\) must be"):
            self.make_step(self.scenario, "wait", name="New", delay=600, delay_unit="weeks")

    def test_step_texts(self):
        wait = self.make_step(self.scenario, "wait", name="Pause")
        mail = self.make_step(self.scenario, "mail", name="Welcome")
        for case, record, vals, message in [
            ("T01", wait, {"name": LONG}, r"Step xxxx.*…: Name is too long \(10,000 characters, "
             r"at most 200\)"),
            ("T02", wait, {"filter_domain": "[" + "('id', '=', 1), " * 2000 + "]"},
             r"Step Pause: Only if is too long \(32,002 characters, at most 20,000\)"),
            ("T03", wait, {"link_url": "https://example.com/" + LONG}, "Link is too long"),
            ("T04", mail, {"mail_subject": LONG}, "Step Welcome: Subject is too long"),
            ("T05", wait, {"activity_summary": LONG}, "Summary is too long"),
        ]:  # fmt: skip
            self.assertRefused(case, record, vals, message)

    def test_scenario_numbers_and_texts(self):
        scenario = self.scenario
        dated = self.make_scenario(
            name="Renewal",
            trigger="date",
            date_field_id=self.env["ir.model.fields"]._get("res.partner", "birthdate").id,
        )
        for case, record, vals, message in [
            ("N11", scenario, {"reentry": "delay", "reentry_days": HUGE},
             "Scenario Matrix: Re-entry after .days. must be between 0 and 3,660"),
            ("N12", scenario, {"reentry_days": INT_OVERFLOW}, "Re-entry after"),
            ("N13", scenario, {"score_threshold": INT_OVERFLOW},
             "Score Threshold must be between 0 and 1,000,000,000"),
            ("N14", dated, {"trigger_offset": -HUGE, "trigger_offset_unit": "hours"},
             r"Scenario Renewal: Offset \(hours\) must be between -87,840 and 87,840"),
            ("N15", dated, {"trigger_offset": 4000}, r"Offset \(days\) must be between -3,660"),
            ("T06", scenario, {"name": LONG}, "Name is too long"),
            ("T07", scenario, {"domain": "[('name', '=', '" + "y" * 30_000 + "')]"},
             "Scenario Matrix: Audience is too long"),
            ("T08", scenario, {"goal_domain": "[('name', '=', '" + "y" * 30_000 + "')]"},
             "Goal is too long"),
            ("T09", scenario, {"test_email": "a" * 300 + "@example.com"},
             "Test recipient is too long"),
        ]:  # fmt: skip
            self.assertRefused(case, record, vals, message)
        # the UTM campaign is never reached with an overlong name
        with self.assertRaisesRegex(ValidationError, "Scenario xxx.*: Name is too long"):
            self.make_scenario(name=LONG)

    def test_score_rules_and_settings(self):
        rule = self.make_rule(points=5, name="Clicks")
        for case, vals, message in [
            ("N16", {"points": INT_OVERFLOW}, "Score rule Clicks: Points must be between "
             "-100,000 and 100,000"),
            ("N17", {"cap_points": INT_OVERFLOW}, "At most must be between"),
            ("T10", {"name": LONG}, "Score rule x.*Name is too long"),
        ]:  # fmt: skip
            self.assertRefused(case, rule, vals, message)
        Settings = self.env["res.config.settings"]
        for case, vals, message in [
            ("N18", {"marketing_score_hot": INT_OVERFLOW}, "Settings: Hot from must be between"),
            ("N19", {"marketing_score_warm": 2_000_000_000}, "Warm from must be between 0 and "
             "1,000,000,000"),
            ("N20", {"trigger_marketing_batch_size": INT_OVERFLOW}, "batch size must be between"),
        ]:  # fmt: skip
            with self.subTest(case=case), self.assertRaisesRegex(ValidationError, message):
                Settings.create(vals)

    def test_score_total_never_overflows(self):
        """N21: a contact near the integer limit still gets its opens and points: the total
        is clamped to ±1,000,000,000, the history keeps what happened."""
        with self.at(NOW):
            partner = self.make_partners(1)
            self.env.cr.execute(
                "UPDATE res_partner SET marketing_score = 2000000000 WHERE id = %s", [partner.id]
            )
            partner.invalidate_recordset()
            Partner = self.env["res.partner"]

            def add(points, times=1):
                entry = {"partner_id": partner.id, "points": points, "description": "Test"}
                return Partner._add_marketing_score([dict(entry) for _i in range(times)])

            self.assertEqual(add(5)[partner.id], (2_000_000_000, 1_000_000_000))
            self.assertEqual(partner.marketing_score, 1_000_000_000)
            add(100_000, times=30_000)  # 3 * 10^9 in one batch
            self.assertEqual(partner.marketing_score, 1_000_000_000)
            add(-5)
            self.assertEqual(partner.marketing_score, 999_999_995)
