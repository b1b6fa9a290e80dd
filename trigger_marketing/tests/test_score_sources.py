from odoo.tests import HttpCase, tagged

from .common import NOW, TriggerMarketingCase


@tagged("post_install", "-at_install")
class TestScoreSources(TriggerMarketingCase):
    """Signups and named events reach the score through the entry-trigger hooks."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.config_parameter"].sudo().set_param("auth_signup.invitation_scope", "b2c")
        cls.newsletter = cls.env["mailing.list"].create({"name": "Newsletter"})
        cls.public_user = cls.env.ref("base.public_user")

    def test_account_signup_scores(self):
        self.make_rule("signup", 15)
        with self.at(NOW):
            self.env["res.users"].sudo().signup(
                {"login": "new.visitor@example.com", "name": "New Visitor", "password": "x" * 12}
            )
        user = self.env["res.users"].search([("login", "=", "new.visitor@example.com")])
        self.assertEqual(user.partner_id.marketing_score, 15)
        line = user.partner_id.marketing_score_history_ids
        self.assertEqual((line.event, line.source_ref), ("signup", user))

    def test_list_signup_by_the_contact_only(self):
        """A visitor subscribing (public user) signs up; an import or a scenario step
        subscribing people as an internal user does not score."""
        self.make_rule("signup", 10)
        alice, bob = self.make_partners(2)
        Contact = self.env["mailing.contact"]
        Subscription = self.env["mailing.subscription"]
        # the website's newsletter form (website_mass_mailing): public user, sudo
        c_alice = (
            Contact.with_user(self.public_user)
            .sudo()
            .create({"name": "Alice", "email": alice.email})
        )
        Subscription.with_user(self.public_user).sudo().create(
            {"contact_id": c_alice.id, "list_id": self.newsletter.id}
        )
        # an import by a marketer, a subscription added by hand
        c_bob = Contact.create({"name": "Bob", "email": bob.email})
        Subscription.with_user(self.user_marketing).create(
            {"contact_id": c_bob.id, "list_id": self.newsletter.id}
        )
        self.assertEqual((alice.marketing_score, bob.marketing_score), (10, 0))
        self.assertEqual(alice.marketing_score_history_ids.source_ref, self.newsletter)
        # coming back after an opt-out, from the preferences page: signs up again
        subscription = self.env["mailing.subscription"].search(
            [("contact_id.email", "=", alice.email)]
        )
        subscription.opt_out = True
        subscription.with_user(self.public_user).sudo().opt_out = False
        self.assertEqual(alice.marketing_score, 20)

    def test_fire_event_scores_once(self):
        self.make_rule("event", 10, event_name="webinar_attended")
        for name in ("Webinar A", "Webinar B"):
            scenario = self.make_scenario(name=name, trigger="event", event_name="webinar_attended")
            self.make_step(scenario, "wait", name="Wait", delay=1)
            scenario.action_start()
        alice = self.make_partners(1)
        Scenario = self.env["marketing.scenario"]
        participants = Scenario.fire_event("webinar_attended", alice)
        self.assertEqual(len(participants), 2)
        self.assertEqual(alice.marketing_score, 10, "one event, whatever the scenarios")
        self.assertEqual(alice.marketing_score_history_ids.event_name, "webinar_attended")
        # records of another model: the contact with the same address
        contact = self.env["mailing.contact"].create({"name": "Alice", "email": alice.email})
        Scenario.fire_event("webinar_attended", contact)
        self.assertEqual(alice.marketing_score, 20)
        self.assertEqual(
            self.env["marketing.score.history"]
            .search([("partner_id", "=", alice.id)], limit=1)
            .source_ref,
            contact,
        )
        Scenario.fire_event("other_event", alice)
        self.assertEqual(alice.marketing_score, 20)

    def test_http_event_scores_with_its_scenario(self):
        scenario = self.make_scenario(name="Pricing", trigger="event", event_name="pricing")
        self.make_step(scenario, "wait", name="Wait", delay=1)
        scenario.action_start()
        self.make_rule("event", 7, event_name="pricing", scenario_ids=[scenario.id])
        with self.at(NOW):
            answer = scenario.sudo()._receive_event("evt-1", "zoe@example.com", {}, "Zoe")
            self.assertTrue(answer["enrolled"])
            zoe = self.env["res.partner"].search([("email_normalized", "=", "zoe@example.com")])
            self.assertEqual(zoe.marketing_score, 7)
            line = zoe.marketing_score_history_ids
            self.assertEqual(line.scenario_id, scenario)
            self.assertEqual(line.source_ref._name, "marketing.scenario.event")
            # a replayed event scores nothing
            scenario.sudo()._receive_event("evt-1", "zoe@example.com", {}, "Zoe")
            self.assertEqual(zoe.marketing_score, 7)


@tagged("post_install", "-at_install")
class TestUnsubscribeHttp(HttpCase):
    """The one-click unsubscribe of a scenario mail, through a real HTTP request: the
    controller tells the score which mailing (and scenario) it comes from."""

    def test_oneclick_unsubscribe_scores_with_the_scenario(self):
        env = self.env
        env["marketing.score.rule"].search([]).active = False
        partner_model = env["ir.model"]._get("res.partner")
        scenario = env["marketing.scenario"].create(
            {"name": "Newsletter series", "model_id": partner_model.id}
        )
        mailing = env["mailing.mailing"].create(
            {
                "name": "Hello",
                "subject": "Hello",
                "body_html": "<p>Hello</p>",
                "mailing_model_id": partner_model.id,
                "use_in_trigger_marketing": True,
            }
        )
        env["marketing.scenario.step"].create(
            {
                "name": "Hello",
                "scenario_id": scenario.id,
                "action_type": "mail",
                "mailing_id": mailing.id,
            }
        )
        env["marketing.score.rule"].create(
            {
                "name": "Unsubscribed from the series",
                "event": "unsubscribe",
                "points": -40,
                "scenario_ids": [(6, 0, scenario.ids)],
            }
        )
        alice = env["res.partner"].create({"name": "Alice", "email": "alice@example.com"})
        token = mailing._generate_mailing_recipient_token(alice.id, alice.email)
        response = self.url_open(
            f"/mailing/{mailing.id}/unsubscribe_oneclick",
            data={"document_id": alice.id, "email": alice.email, "hash_token": token},
        )
        self.assertEqual(response.status_code, 200)
        self.assertTrue(env["mail.blacklist"].search([("email", "=", "alice@example.com")]))
        alice.invalidate_recordset()
        self.assertEqual(alice.marketing_score, -40)
        line = alice.marketing_score_history_ids
        self.assertEqual((line.scenario_id, line.source_ref), (scenario, mailing))
