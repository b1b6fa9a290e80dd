import hashlib
import hmac
import json

from odoo.exceptions import AccessError
from odoo.tests import HttpCase, tagged

from .common import NOW
from .common_triggers import TriggerEntryCase


@tagged("post_install", "-at_install")
class TestTriggerEvent(TriggerEntryCase):
    """Named events fired by code, with a payload the e-mails can read."""

    def test_fire_event_with_payload(self):
        with self.at(NOW):
            scenario = self.make_scenario(trigger="event", event_name=" whitepaper_downloaded ")
            self.assertEqual(scenario.event_name, "whitepaper_downloaded")
            mailing = self.make_mailing(
                scenario,
                "Your guide",
                "<p>Here is <t t-out=\"marketing_payload.get(object.id, {}).get('file')\"/></p>",
            )
            self.make_step(scenario, "mail", name="Guide", mailing_id=mailing.id)
            scenario.action_start()
            other = self.make_scenario(trigger="event", event_name="demo_requested")
            self.make_step(other, "wait")
            other.action_start()
            alice, bob = self.make_partners(2)
            Scenario = self.env["marketing.scenario"]
            participants = Scenario.fire_event(
                "whitepaper_downloaded", alice | bob, {"file": "guide.pdf"}
            )
            self.assertEqual(participants.scenario_id, scenario)
            self.assertEqual(participants.mapped("payload"), [{"file": "guide.pdf"}] * 2)
            self.assertIn('"file": "guide.pdf"', participants[0].payload_text)
            self.assertFalse(self.participants(other))
            self.assertFalse(Scenario.fire_event("unknown", alice))
            with self.mock_mail_gateway():
                self.run_cron()
                self.send_queue()
            sent = self._find_sent_email_wemail(alice.email_formatted)
            self.assertIn("Here is guide.pdf", sent["body"])

    def test_fire_event_rights(self):
        portal = self.env["res.users"].create(
            {
                "name": "Portal",
                "login": "tm_portal",
                "group_ids": [(6, 0, [self.env.ref("base.group_portal").id])],
            }
        )
        with self.assertRaises(AccessError):
            self.env["marketing.scenario"].with_user(portal).fire_event(
                "x", self.env["res.partner"].browse(portal.partner_id.id)
            )

    def test_webhook_secret_managers_only(self):
        scenario = (
            self.env["marketing.scenario"]
            .with_user(self.user_marketing)
            .create(
                {
                    "name": "Events",
                    "model_id": self.partner_model.id,
                    "trigger": "event",
                    "event_name": "visit",
                }
            )
        )
        secret = scenario.with_user(self.user_manager).webhook_secret
        self.assertEqual(len(secret), 64)
        with self.assertRaises(AccessError):
            scenario.with_user(self.user_marketing).read(["webhook_secret"])
        with self.assertRaises(AccessError):
            scenario.with_user(self.user_marketing).action_regenerate_webhook_secret()
        scenario.with_user(self.user_manager).action_regenerate_webhook_secret()
        self.assertNotEqual(scenario.sudo().webhook_secret, secret)
        copy = scenario.copy()
        self.assertNotEqual(copy.sudo().webhook_secret, scenario.sudo().webhook_secret)


@tagged("post_install", "-at_install")
class TestTriggerEventHttp(HttpCase):
    """The signed public endpoint, through real HTTP requests."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.scenario = cls.env["marketing.scenario"].create(
            {
                "name": "White paper",
                "model_id": cls.env["ir.model"]._get_id("res.partner"),
                "trigger": "event",
                "event_name": "whitepaper",
                "domain": "[('email', '!=', False)]",
            }
        )
        cls.env["marketing.scenario.step"].create(
            {
                "name": "Wait",
                "scenario_id": cls.scenario.id,
                "action_type": "wait",
            }
        )
        cls.scenario.action_start()
        cls.secret = cls.scenario.sudo().webhook_secret
        cls.url = f"/trigger_marketing/event/{cls.scenario.id}"

    def post(self, body, secret=None, url=None, signature=None):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        if signature is None:
            digest = hmac.new((secret or self.secret).encode(), raw, hashlib.sha256).hexdigest()
            signature = f"sha256={digest}"
        response = self.url_open(
            url or self.url,
            data=raw,
            headers={"Content-Type": "application/json", "X-Signature": signature},
        )
        return response.status_code, response.json()

    def body(self, **vals):
        return dict(
            {
                "event_id": "evt-1",
                "event": "whitepaper",
                "email": "Zoe <ZOE@example.com>",
                "name": "Zoe",
                "payload": {"file": "guide.pdf"},
            },
            **vals,
        )

    def recorded(self):
        self.env.invalidate_all()
        return (
            self.env["marketing.scenario.event"].search([("scenario_id", "=", self.scenario.id)]),
            self.env["marketing.scenario.participant"].search(
                [("scenario_id", "=", self.scenario.id)]
            ),
            self.env["res.partner"].search([("email_normalized", "=", "zoe@example.com")]),
        )

    def assertNothingRecorded(self):
        events, participants, partners = self.recorded()
        self.assertFalse(events)
        self.assertFalse(participants)
        self.assertFalse(partners)

    def test_signed_event_enrols_and_replay_is_ignored(self):
        status, answer = self.post(self.body())
        self.assertEqual(
            (status, answer), (200, {"ok": True, "duplicate": False, "enrolled": True})
        )
        events, participants, partner = self.recorded()
        self.assertEqual(partner.name, "Zoe")
        self.assertEqual(participants.res_id, partner.id)
        self.assertEqual(participants.payload, {"file": "guide.pdf"})
        self.assertEqual(events.participant_id, participants)
        self.assertEqual(events.email, "zoe@example.com")
        # the same event again: ignored, nothing new
        status, answer = self.post(self.body(payload={"file": "other.pdf"}))
        self.assertEqual((status, answer["duplicate"]), (200, True))
        self.assertEqual(self.recorded()[0], events)
        self.assertEqual(self.recorded()[1], participants)
        # another event of a known contact: found by e-mail, not created again
        participants._end("completed", "manual")
        status, answer = self.post(self.body(event_id="evt-2", email="zoe@example.com"))
        self.assertEqual(status, 200)
        self.assertFalse(answer["enrolled"], "re-entry policy: never")
        self.assertEqual(len(self.recorded()[0]), 2)
        self.assertEqual(len(self.recorded()[2]), 1)

    def test_bad_signature(self):
        status, answer = self.post(self.body(), secret="not-the-secret")
        self.assertEqual(status, 403)
        self.assertIn("signature", answer["error"])
        status, _answer = self.post(self.body(), signature="")
        self.assertEqual(status, 403)
        self.assertNothingRecorded()

    def test_malformed(self):
        for body, error in [
            (b"{not json", "not valid JSON"),
            ([1, 2], "JSON object"),
            (self.body(event_id=""), "Missing fields: event_id"),
            ({"event_id": "e", "event": "whitepaper"}, "Missing fields: email"),
            (self.body(email="not an email"), "email"),
            (self.body(payload=[1]), "payload"),
        ]:
            status, answer = self.post(body)
            self.assertEqual(status, 400, body)
            self.assertIn(error, answer["error"])
        self.assertNothingRecorded()

    def test_unknown_scenario_event_or_not_running(self):
        status, answer = self.post(self.body(), url="/trigger_marketing/event/999999")
        self.assertEqual((status, answer["error"]), (404, "Unknown scenario."))
        status, answer = self.post(self.body(event="other"))
        self.assertEqual(status, 404)
        self.assertIn("Unknown event", answer["error"])
        self.scenario.action_pause()
        status, answer = self.post(self.body())
        self.assertEqual((status, answer["error"]), (404, "The scenario is not running."))
        self.assertNothingRecorded()
