from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common_triggers import TriggerEntryCase


@tagged("post_install", "-at_install")
class TestTriggerSettings(TriggerEntryCase):
    """Bad trigger settings are refused at save time, with a clear message."""

    def test_date_trigger_needs_a_date_field_of_the_target(self):
        with self.assertRaisesRegex(ValidationError, "choose the date field"):
            self.make_scenario(trigger="date")
        with self.assertRaisesRegex(ValidationError, "not a stored date"):
            self.make_scenario(trigger="date", date_field_id=self.field("res.partner", "name").id)
        with self.assertRaisesRegex(ValidationError, "belongs to"):
            self.make_scenario(
                trigger="date", date_field_id=self.field("mailing.contact", "create_date").id
            )
        scenario = self.make_scenario(
            trigger="date", date_field_id=self.field("res.partner", "birthdate").id
        )
        with self.assertRaisesRegex(ValidationError, "not a stored date"):
            scenario.date_field_id = self.field("res.partner", "email")

    def test_anniversary_settings(self):
        with self.assertRaisesRegex(ValidationError, "choose the date field"):
            self.make_scenario(
                trigger="anniversary", model_id=self.env["ir.model"]._get_id("mailing.contact")
            )
        with self.assertRaisesRegex(ValidationError, "days, weeks or months"):
            self.make_scenario(trigger="anniversary", trigger_offset=2, trigger_offset_unit="hours")
        with self.assertRaisesRegex(ValidationError, "time of day"):
            self.make_scenario(trigger="anniversary", trigger_hour=24.5)

    def test_event_trigger_needs_a_name(self):
        with self.assertRaisesRegex(ValidationError, "give the event name"):
            self.make_scenario(trigger="event")
        with self.assertRaisesRegex(ValidationError, "give the event name"):
            self.make_scenario(trigger="event", event_name="   ")

    def test_signup_settings(self):
        contact_model = self.env["ir.model"]._get_id("mailing.contact")
        with self.assertRaisesRegex(ValidationError, "choose the lists"):
            self.make_scenario(trigger="signup", signup_source="list")
        with self.assertRaisesRegex(ValidationError, "account is created for a contact"):
            self.make_scenario(
                trigger="signup", signup_source="account", model_id=contact_model, domain="[]"
            )
        with self.assertRaisesRegex(ValidationError, "contacts or mailing contacts"):
            self.make_scenario(
                trigger="signup",
                domain="[]",
                model_id=self.env["ir.model"]._get_id("mailing.mailing"),
            )
