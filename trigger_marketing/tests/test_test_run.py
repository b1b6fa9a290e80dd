from odoo.exceptions import UserError, ValidationError
from odoo.tests import Form, tagged

from .common import NOW, TriggerMarketingCase


@tagged("post_install", "-at_install")
class TestTestRun(TriggerMarketingCase):
    """The test-run wizard and "Run next step now"."""

    def setUp(self):
        super().setUp()
        self.scenario = self.make_scenario(test_email="qa@example.com")
        self.welcome = self.make_step(self.scenario, "mail", name="Welcome")
        self.opened = self.make_step(
            self.scenario,
            "score",
            self.welcome,
            name="Opened",
            trigger_type="mail_open",
            delay=3,
            score_points=10,
        )
        self.not_opened = self.make_step(
            self.scenario,
            "score",
            self.welcome,
            name="Not opened",
            trigger_type="mail_not_open",
            delay=3,
            score_points=5,
        )

    def wizard(self, **vals):
        return self.env["marketing.scenario.test"].create(
            dict({"scenario_id": self.scenario.id}, **vals)
        )

    def test_wizard_records_and_colleagues(self):
        contact = self.make_partners(1)
        bob = self.env["res.partner"].create({"name": "Bob", "email": "bob@colleagues.example.com"})
        wizard = self.wizard(
            partner_ids=[(6, 0, contact.ids)],
            emails="anna@colleagues.example.com, Bob <BOB@colleagues.example.com>\nnot-an-address",
        )
        action = wizard.with_user(self.user_marketing).action_start_test()
        participants = self.scenario.test_participant_ids
        self.assertEqual(len(participants), 3)
        self.assertTrue(all(participants.mapped("is_test")))
        anna = self.env["res.partner"].search([("email", "=", "anna@colleagues.example.com")])
        self.assertEqual(anna.name, "anna", "unknown addresses get a contact")
        self.assertEqual(
            set(participants.mapped("res_id")),
            {contact.id, bob.id, anna.id},
            "known addresses reuse their contact",
        )
        self.assertEqual(action["res_model"], "marketing.scenario.participant")
        self.assertEqual(self.scenario.participant_count, 0)
        # a test walk never blocks the real one
        self.scenario.action_start()
        self.assertEqual(len(self.scenario.enroll(contact)), 1)

    def test_wizard_checks(self):
        with self.assertRaises(UserError):
            self.wizard().action_start_test()  # nothing picked
        with self.assertRaises(ValidationError):
            self.wizard(emails="nobody here")._records()
        with self.assertRaises(UserError):
            self.wizard(partner_ids=[(6, 0, self.make_partners(51).ids)]).action_start_test()

    def test_wizard_on_another_model(self):
        model = self.env["ir.model"]._get("mailing.contact")
        scenario = self.make_scenario(model_id=model.id, domain="[]")
        self.make_step(scenario, "wait", delay=1)
        contact = self.env["mailing.contact"].create({"name": "Zoe", "email": "zoe@example.com"})
        form = Form(
            self.env["marketing.scenario.test"].with_context(default_scenario_id=scenario.id)
        )
        self.assertFalse(form.is_partner_scenario)
        wizard = form.save()
        wizard.record_ref = contact
        wizard.action_start_test()
        self.assertEqual(scenario.test_participant_ids.res_id, contact.id)
        with self.assertRaises(UserError):
            self.env["marketing.scenario.test"].create(
                {"scenario_id": scenario.id, "emails": "a@example.com"}
            ).action_start_test()

    def test_run_next_step_now(self):
        partner = self.make_partners(1)
        with self.at(NOW):
            self.wizard(partner_ids=[(6, 0, partner.ids)]).action_start_test()
            participant = self.scenario.test_participant_ids
            self.assertEqual(participant.next_step_id, self.welcome)
            with self.mock_mail_gateway():
                participant.action_run_next_step()  # no cron: right here
                self.assertEqual(self.trace_of(self.welcome, partner).state, "done")
                self.send_queue()
            sent = self._find_sent_email_wemail("qa@example.com")
            self.assertIn("[TEST]", sent["subject"])
            # both branches wait 3 days: "run next step now" reaches their deadline
            participant.action_run_next_step()
            self.assertEqual(self.trace_of(self.opened, partner).reason_code, "event_missed")
            self.assertEqual(self.trace_of(self.not_opened, partner).state, "done")
            self.assertEqual(partner.marketing_score, 5)
            self.assertEqual(participant.state, "completed")
            action = participant.action_run_next_step()
            self.assertEqual(action["params"]["type"], "warning", "nothing left to run")

    def test_simulated_open_wakes_the_branch(self):
        partner = self.make_partners(1)
        with self.at(NOW):
            self.wizard(partner_ids=[(6, 0, partner.ids)]).action_start_test()
            participant = self.scenario.test_participant_ids
            with self.mock_mail_gateway():
                participant.action_run_next_step()
            self.trace_of(self.welcome, partner).action_simulate_open()
            self.assertEqual(self.trace_of(self.not_opened, partner).reason_code, "event_happened")
            self.assertEqual(participant.next_step_id, self.opened)
            participant.action_run_next_step()
            self.assertEqual(partner.marketing_score, 10)

    def test_real_walks_are_not_fast_forwarded(self):
        self.scenario.action_start()
        participant = self.scenario.enroll(self.make_partners(1))
        with self.assertRaises(UserError):
            participant.action_run_next_step()
        with self.assertRaises(UserError):
            participant.trace_ids.action_simulate_open()
