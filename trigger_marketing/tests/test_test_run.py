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
        anna = (
            self.env["res.partner"]
            .with_context(active_test=False)
            .search([("email", "=", "anna@colleagues.example.com")])
        )
        self.assertEqual(anna.name, "anna", "unknown addresses get a test recipient")
        self.assertTrue(anna.marketing_test_recipient)
        self.assertFalse(anna.active, "never a real contact")
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
            not_opened = self.trace_of(self.not_opened, partner)
            self.assertEqual(not_opened.state, "done")
            self.assertIn("would add 5 points", not_opened.reason)
            self.assertEqual(partner.marketing_score, 0, "a test walk scores nothing")
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
            self.assertIn("would add 10 points", self.trace_of(self.opened, partner).reason)
            self.assertEqual(partner.marketing_score, 0)

    def test_real_walks_are_not_fast_forwarded(self):
        self.scenario.action_start()
        participant = self.scenario.enroll(self.make_partners(1))
        with self.assertRaises(UserError):
            participant.action_run_next_step()
        with self.assertRaises(UserError):
            participant.trace_ids.action_simulate_open()

    # ------------------------------------------------------------
    # Test runs touch nothing real (issue 8, section 2)
    # ------------------------------------------------------------

    def test_colleague_addresses_never_enter_live_scenarios(self):
        """A colleague's address typed for a test run never becomes a real contact: it
        does not enter a running "record created" scenario, cannot be enrolled for real,
        and no real mail is queued for it."""
        live = self.make_scenario(name="Live welcome", trigger="create")
        live_mail = self.make_step(live, "mail", name="Live welcome mail")
        live.action_start()
        self.wizard(emails="anna@colleagues.example.com").with_user(
            self.user_marketing
        ).action_start_test()
        anna = self.scenario.test_participant_ids.partner_id.with_context(active_test=False)
        self.assertEqual(anna.email, "anna@colleagues.example.com")
        self.assertFalse(live.participant_ids, "the test recipient entered no live scenario")
        self.assertFalse(live.enroll(anna), "nor can it be enrolled for real")
        self.run_cron()
        self.assertFalse(
            self.env["mail.mail"].search([("mailing_id", "=", live_mail.mailing_id.id)]),
            "no real marketing mail for a test recipient",
        )
        self.assertFalse(self.env["res.partner"].search([("email", "=", anna.email)]))
        # the next test run reuses it
        self.wizard(emails="Anna <anna@colleagues.example.com>").action_start_test()
        self.assertEqual(self.scenario.test_participant_ids.partner_id, anna)

    def test_test_walk_leaves_the_real_contact_as_it_was(self):
        """Score, tags, lists, activities, chatter and server actions of a test walk are
        simulated: the walk's log says what the live run would do, the contact is as
        before."""
        partner = self.make_partners(1)
        tag = self.env["res.partner.category"].create({"name": "VIP"})
        mailing_list = self.env["mailing.list"].create({"name": "Newsletter"})
        server_action = self.env["ir.actions.server"].create(
            {
                "name": "Mark the contact",
                "model_id": self.partner_model.id,
                "state": "code",
                "code": "records.write({'comment': 'server action ran'})",
            }
        )
        scenario = self.make_scenario(test_email="qa@example.com")
        step = self.make_step(scenario, "score", name="Points", score_points=10)
        step = self.make_step(scenario, "tag_add", step, name="Tag", tag_ids=[(6, 0, tag.ids)])
        step = self.make_step(
            scenario, "list_add", step, name="List", mailing_list_id=mailing_list.id
        )
        step = self.make_step(
            scenario,
            "activity",
            step,
            name="Call",
            activity_type_id=self.env.ref("mail.mail_activity_data_call").id,
        )
        self.make_step(
            scenario, "server_action", step, name="Action", server_action_id=server_action.id
        )
        messages = partner.message_ids
        self.env["marketing.scenario.test"].create(
            {"scenario_id": scenario.id, "partner_ids": [(6, 0, partner.ids)]}
        ).with_user(self.user_marketing).action_start_test()
        participant = scenario.test_participant_ids.with_user(self.user_marketing)
        for _step in range(5):
            participant.action_run_next_step()
        self.env.invalidate_all()
        self.assertEqual(participant.state, "completed")
        self.assertEqual(set(participant.trace_ids.mapped("state")), {"done"})
        reasons = " | ".join(participant.sudo().trace_ids.mapped("reason"))
        for expected in (
            "would add 10 points",
            "would add the tags VIP",
            "would subscribe to the list Newsletter",
            "would schedule the activity “Call”",
            "would run the server action “Mark the contact”",
        ):
            self.assertIn(expected, reasons)
        self.assertEqual(partner.marketing_score, 0)
        self.assertFalse(
            self.env["marketing.score.history"].search([("partner_id", "=", partner.id)])
        )
        self.assertFalse(partner.category_id)
        self.assertFalse(mailing_list.contact_ids)
        self.assertFalse(partner.activity_ids)
        self.assertFalse(partner.comment)
        self.assertEqual(partner.message_ids, messages, "nothing written in its chatter")

    def test_run_next_step_with_the_engine_rights(self):
        """A User fast-forwards a tag step as the live cron runs it: with the engine's
        rights (the trace is written by the cron's user), no access error."""
        partner = self.make_partners(1)
        tag = self.env["res.partner.category"].create({"name": "Tested"})
        scenario = self.make_scenario(test_email="qa@example.com")
        self.make_step(scenario, "tag_add", name="Tag", tag_ids=[(6, 0, tag.ids)])
        self.env["marketing.scenario.test"].create(
            {"scenario_id": scenario.id, "partner_ids": [(6, 0, partner.ids)]}
        ).action_start_test()
        participant = scenario.test_participant_ids.with_user(self.user_marketing)
        participant.action_run_next_step()
        trace = participant.sudo().trace_ids
        self.assertEqual(trace.state, "done")
        self.assertEqual(trace.write_uid, self.cron.user_id, "run as the engine runs it")

    def test_run_now_asks_before_ending_a_wait(self):
        """ "Run now" on a real contact's step waiting for a click does not skip it
        silently: it asks, and ends the wait only once confirmed."""
        partner = self.make_partners(1)
        scenario = self.make_scenario()
        mail = self.make_step(scenario, "mail", name="Offer")
        clicked = self.make_step(
            scenario, "wait", mail, name="Clicked", trigger_type="mail_click", delay=3
        )
        scenario.action_start()
        with self.at(NOW), self.mock_mail_gateway():
            scenario.enroll(partner)
            self.run_cron()
        waiting = self.trace_of(clicked, partner).with_user(self.user_marketing)
        self.assertEqual(waiting.state, "waiting")
        deadline = waiting.scheduled_at
        with self.assertRaisesRegex(UserError, "ends the wait"):
            waiting.action_run_now()
        self.assertEqual(waiting.scheduled_at, deadline, "nothing changed without asking")
        waiting.with_context(trigger_marketing_end_wait=True).action_run_now()
        self.run_cron()
        self.assertEqual(self.trace_of(clicked, partner).reason_code, "event_missed")
