from odoo.tests import tagged

from .common import NOW
from .common_triggers import TriggerEntryCase


@tagged("post_install", "-at_install")
class TestTriggerSignup(TriggerEntryCase):
    """Entry when a visitor creates an account or subscribes to a mailing list."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.config_parameter"].sudo().set_param("auth_signup.invitation_scope", "b2c")
        cls.whitepaper = cls.env["mailing.list"].create({"name": "White paper"})
        cls.newsletter = cls.env["mailing.list"].create({"name": "Newsletter"})

    def test_account_signup(self):
        with self.at(NOW):
            scenario, mail = self.make_welcome(trigger="signup", signup_source="account")
            scenario.action_start()
            self.env["res.users"].sudo().signup(
                {"login": "new.visitor@example.com", "name": "New Visitor", "password": "x" * 12}
            )
            user = self.env["res.users"].search([("login", "=", "new.visitor@example.com")])
            self.assertEqual(self.entered(scenario), user.partner_id)
            with self.mock_mail_gateway():
                self.run_cron()
            self.assertEqual(self.trace_of(mail, user.partner_id).state, "done")
            self.assertEqual(
                self.mailing_trace(mail, user.partner_id).email, "new.visitor@example.com"
            )

    def test_list_subscription_on_contacts(self):
        """A subscription to a watched list: the contact with the same e-mail enters (the
        oldest one), or a new contact is created; other lists do nothing."""
        with self.at(NOW):
            scenario, mail = self.make_welcome(
                trigger="signup", signup_source="list", signup_list_ids=self.whitepaper.ids
            )
            scenario.action_start()
            alice = self.env["res.partner"].create({"name": "Alice", "email": "alice@example.com"})
            self.env["res.partner"].create({"name": "Alice again", "email": "alice@example.com"})
            Contact = self.env["mailing.contact"]
            Subscription = self.env["mailing.subscription"]
            c_alice = Contact.create({"name": "Alice", "email": "ALICE@example.com"})
            c_bob = Contact.create({"name": "Bob", "email": "bob@example.com"})
            Subscription.create(
                [
                    {"contact_id": c_alice.id, "list_id": self.whitepaper.id},
                    {"contact_id": c_bob.id, "list_id": self.newsletter.id},
                ]
            )
            self.assertEqual(self.entered(scenario), alice)
            # a new subscriber who is no contact yet: created, then enters
            Subscription.create({"contact_id": c_bob.id, "list_id": self.whitepaper.id})
            bob = self.env["res.partner"].search([("email_normalized", "=", "bob@example.com")])
            self.assertEqual(len(bob), 1)
            self.assertEqual(bob.name, "Bob")
            self.assertEqual(self.entered(scenario), alice | bob)
            with self.mock_mail_gateway():
                self.run_cron()
            self.assertEqual(len(self.traces(mail, "done")), 2)

    def test_list_ids_and_renewed_subscription(self):
        """Subscriptions written through the contact's lists, and a subscription renewed
        after an opt-out, count too (re-entry policy applies)."""
        with self.at(NOW):
            scenario, _mail = self.make_welcome(
                model_id=self.env["ir.model"]._get_id("mailing.contact"),
                domain="[]",
                trigger="signup",
                signup_source="list",
                signup_list_ids=self.whitepaper.ids,
                reentry="always",
            )
            scenario.action_start()
            Contact = self.env["mailing.contact"]
            created = Contact.create(
                {"name": "Carol", "email": "carol@example.com", "list_ids": self.whitepaper.ids}
            )
            other = Contact.create({"name": "Dan", "email": "dan@example.com"})
            self.assertEqual(self.entered(scenario), created)
            other.write({"list_ids": [(4, self.newsletter.id)]})
            self.assertEqual(self.entered(scenario), created)
            other.write({"list_ids": [(4, self.whitepaper.id)]})
            self.assertEqual(self.entered(scenario), created | other)
            # opt out, walk over, subscribe again: enters again
            subscription = self.env["mailing.subscription"].search(
                [("contact_id", "=", other.id), ("list_id", "=", self.whitepaper.id)]
            )
            subscription.opt_out = True
            self.participants(scenario, other)._end("completed", "manual")
            subscription.opt_out = False
            self.assertEqual(len(self.participants(scenario, other)), 2)

    def test_no_query_when_no_list_is_watched(self):
        contact = self.env["mailing.contact"].create({"name": "Eve", "email": "eve@example.com"})
        self.env["mailing.subscription"].create(
            {"contact_id": contact.id, "list_id": self.newsletter.id}
        )  # warm-up
        contact2 = self.env["mailing.contact"].create({"name": "Eva", "email": "eva@example.com"})
        with self.assertQueryCount(3):
            self.env["mailing.subscription"].create(
                {"contact_id": contact2.id, "list_id": self.newsletter.id}
            )
