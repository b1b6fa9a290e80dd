from datetime import timedelta

from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import NOW, TriggerMarketingCase


@tagged("post_install", "-at_install")
class TestFrequencyCaps(TriggerMarketingCase):
    def setUp(self):
        super().setUp()
        ICP = self.env["ir.config_parameter"].sudo()
        ICP.set_param("trigger_marketing.cap_per_day", 1)
        ICP.set_param("trigger_marketing.cap_per_week", 0)
        self.partners = self.make_partners(3)

    def _mail_scenario(self, name, sequence, transactional=False):
        scenario = self.make_scenario(name=name, sequence=sequence)
        step = self.make_step(scenario, "mail", name=f"{name} mail")
        step.transactional = transactional
        return scenario, step

    def _enter_both(self, *scenarios):
        with self.at(NOW), self.mock_mail_gateway():
            for scenario in scenarios:
                scenario.action_start()
                scenario.enroll(self.partners)
            self.run_cron()

    def test_cap_defers_by_priority_and_never_drops(self):
        first, first_mail = self._mail_scenario("First", sequence=1)
        second, second_mail = self._mail_scenario("Second", sequence=2)
        self._enter_both(second, first)
        self.assertEqual(len(self.traces(first_mail, "done")), 3, "the first scenario's slot")
        deferred = self.traces(second_mail, "scheduled")
        self.assertEqual(len(deferred), 3, "the second one waits: deferred, not dropped")
        self.assertEqual(set(deferred.mapped("scheduled_at")), {NOW + timedelta(days=1)})
        self.assertIn("Frequency cap", deferred[0].reason)
        self.assertFalse(
            self.env["mailing.trace"].search([("mass_mailing_id", "=", second_mail.mailing_id.id)])
        )
        with self.at(NOW + timedelta(hours=23)), self.mock_mail_gateway():
            self.run_cron()
        self.assertEqual(len(self.traces(second_mail, "scheduled")), 3, "not before the slot")
        with self.at(NOW + timedelta(days=1, minutes=1)), self.mock_mail_gateway():
            self.run_cron()
        self.assertEqual(len(self.traces(second_mail, "done")), 3)
        self.assertEqual(
            len(
                self.env["mailing.trace"].search(
                    [("mass_mailing_id", "=", second_mail.mailing_id.id)]
                )
            ),
            3,
            "each contact gets the deferred e-mail once",
        )

    def test_order_of_the_scenarios_decides(self):
        first, first_mail = self._mail_scenario("First", sequence=5)
        second, second_mail = self._mail_scenario("Second", sequence=1)
        self._enter_both(first, second)
        self.assertEqual(len(self.traces(second_mail, "done")), 3)
        self.assertEqual(len(self.traces(first_mail, "scheduled")), 3)

    def test_transactional_is_exempt(self):
        first, first_mail = self._mail_scenario("First", sequence=1)
        receipt, receipt_mail = self._mail_scenario("Receipt", sequence=2, transactional=True)
        self._enter_both(first, receipt)
        self.assertEqual(len(self.traces(first_mail, "done")), 3)
        self.assertEqual(len(self.traces(receipt_mail, "done")), 3, "transactional: not capped")

    def test_no_cap_no_deferral(self):
        self.env["ir.config_parameter"].sudo().set_param("trigger_marketing.cap_per_day", 0)
        first, first_mail = self._mail_scenario("First", sequence=1)
        second, second_mail = self._mail_scenario("Second", sequence=2)
        self._enter_both(first, second)
        self.assertEqual(len(self.traces(second_mail, "done")), 3)

    def test_cap_settings_are_bounded(self):
        with self.assertRaisesRegex(ValidationError, "0 \\(none\\) to 1,000"):
            self.env["res.config.settings"].create({"trigger_marketing_cap_per_day": -1})
