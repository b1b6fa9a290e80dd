"""Bad input matrix (DESIGN §8): every invalid input gets a clear error or a recorded
reason, and nothing else is lost. One test per line.

=====================================================  =========================================
bad input                                              test
=====================================================  =========================================
Configuration (refused at save time, ValidationError naming the field and the record;
the previous value is kept)
invalid domain (audience, goal, only-if, condition)    test_c1_invalid_domain
cycle in the tree                                      test_c2_cycle
negative delay (delay, wait time-out, activity)        test_c3_negative_delay
e-mail step without content (no e-mail, subject or     test_c4_mail_step_without_content
body; also emptied later from the step or mailing)
trigger field of the wrong type (date trigger)         test_c5_trigger_field_of_the_wrong_type
branch on opens under a non-e-mail step (also when     test_c6_mail_branch_under_a_non_mail_step
the parent stops being an e-mail step)
Event calls (HTTP endpoint, refused before any write)
unsigned call (no signature header)                    test_e1_unsigned_event_call
wrongly signed call (another scenario's secret)        test_e2_wrongly_signed_event_call
malformed call (not JSON, missing or wrong fields,      test_e3_malformed_event_call
too large)
At run time (recorded reason, the others go on)
template that fails to render for one contact          test_r1_template_fails_for_one_contact
contact deleted while waiting (ORM and behind it)      test_r2_contact_deleted_while_waiting
step deleted while contacts wait on it                 test_r3_step_deleted_while_contacts_wait
scenario stopped mid-run (between two batches)         test_r4_scenario_stopped_mid_run
a filter that no longer evaluates (field removed)      test_r5_step_filter_broken_after_save
=====================================================  =========================================

The other classes of the matrix have files of their own, each input an id: overflowing
numbers and overlong texts (test_bad_input_numbers.py, N.. and T..), screens (search
fields, target changes: _screens.py, S..), a failing scenario under a user's operation
(_realtime.py, B..), a failing step in the cron (_engine.py, K..), event bodies
(_http.py, H..), concurrent edits (_concurrent.py, W..). README "Tests" counts them.

Some of these also appear in test_constraints.py, test_trigger_settings.py,
test_trigger_event.py and test_lifecycle.py, where the feature itself is tested; here
each line checks what the matrix promises: the error is clear, the bad input changes
nothing else.
"""

import hashlib
import hmac
import json
from datetime import timedelta
from unittest.mock import patch

from odoo.exceptions import ValidationError
from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from .common import NOW, TriggerMarketingCase


@tagged("post_install", "-at_install")
class TestBadInputMatrix(TriggerMarketingCase):
    def setUp(self):
        super().setUp()
        self.scenario = self.make_scenario(name="Matrix")

    def assertRefused(self, record, vals, message):
        """Writing ``vals`` on ``record`` is refused with ``message``; nothing changed."""
        before = record.read(list(vals))[0]
        with self.assertRaisesRegex(ValidationError, message), self.env.cr.savepoint():
            record.write(vals)
        record.invalidate_recordset()
        self.assertEqual(record.read(list(vals))[0], before)

    # ------------------------------------------------------------------ #
    # Configuration
    # ------------------------------------------------------------------ #
    def test_c1_invalid_domain(self):
        step = self.make_step(self.scenario, "condition", condition_domain="[]", name="Check")
        wait = self.make_step(self.scenario, "wait", name="Pause")
        for record, fname, label in [
            (self.scenario, "domain", "Audience of scenario Matrix"),
            (self.scenario, "goal_domain", "Goal of scenario Matrix"),
            (wait, "filter_domain", "Only if of step Pause"),
            (step, "condition_domain", "Condition of step Check"),
        ]:
            for bad in ("[('no_such_field', '=', 1)]", "[('email', '=',", "[(1, 2)]"):
                with self.subTest(field=fname, value=bad):
                    self.assertRefused(record, {fname: bad}, f"{label} is not a valid filter")
        with self.assertRaisesRegex(ValidationError, "Audience of scenario New"):
            self.make_scenario(name="New", domain="[('nope', '=', 1)]")

    def test_c2_cycle(self):
        a = self.make_step(self.scenario, "wait", name="A")
        b = self.make_step(self.scenario, "wait", a, name="B")
        c = self.make_step(self.scenario, "wait", b, name="C")
        self.assertRefused(a, {"parent_id": c.id}, "cycle in the tree")
        self.assertRefused(a, {"parent_id": a.id}, "cycle in the tree")

    def test_c3_negative_delay(self):
        wait = self.make_step(self.scenario, "wait", name="Pause")
        until = self.make_step(self.scenario, "wait_until", condition_domain="[]", name="Until")
        activity = self.make_step(
            self.scenario,
            "activity",
            activity_type_id=self.env.ref("mail.mail_activity_data_todo").id,
            name="Call",
        )
        between = r"must be between 0 and 3,660 \(you entered"
        self.assertRefused(wait, {"delay": -1}, rf"Step Pause: Delay \(days\) {between} -1\)")
        self.assertRefused(
            until, {"wait_timeout": -2}, rf"Step Until: Time-out \(days\) {between} -2\)"
        )
        self.assertRefused(
            activity, {"activity_days": -3}, rf"Step Call: Due in \(days\) {between}"
        )
        with self.assertRaisesRegex(ValidationError, r"Delay \(hours\) must be between 0 and"):
            self.make_step(self.scenario, "wait", delay=-5, delay_unit="hours")

    def test_c4_mail_step_without_content(self):
        with self.assertRaisesRegex(ValidationError, "Step Welcome needs an e-mail"):
            self.make_step(self.scenario, "mail", name="Welcome", mailing_id=False)
        mail = self.make_step(self.scenario, "mail", name="Welcome")
        mailing = mail.mailing_id
        self.assertRefused(mail, {"mail_subject": "  "}, "Step Welcome needs a subject")
        self.assertRefused(mail, {"mail_body_html": "<p><br></p>"}, "Step Welcome needs a body")
        # from the mailing itself (the mailing editor)
        self.assertRefused(mailing, {"body_html": "<p> </p>"}, "Step Welcome needs a body")
        self.assertRefused(mailing, {"subject": False}, "Step Welcome needs a subject")
        # a plain mass mailing is not concerned
        plain = self.env["mailing.mailing"].create(
            {"subject": "News", "body_html": "<p>x</p>", "mailing_model_id": self.partner_model.id}
        )
        plain.body_html = "<p><br></p>"

    def test_c5_trigger_field_of_the_wrong_type(self):
        def field(model, name):
            return self.env["ir.model.fields"]._get(model, name).id

        birthdate = field("res.partner", "birthdate")
        scenario = self.make_scenario(name="Birthday", trigger="date", date_field_id=birthdate)
        for bad, message in [
            (field("res.partner", "name"), "Birthday: the field .* is not a stored date"),
            (field("res.partner", "category_id"), "is not a stored date"),
            (field("mailing.contact", "create_date"), "belongs to .*, not to the target"),
        ]:
            with self.subTest(field=bad):
                self.assertRefused(scenario, {"date_field_id": bad}, message)
        with self.assertRaisesRegex(ValidationError, "enters on a date: choose the date field"):
            self.make_scenario(name="No field", trigger="date", date_field_id=False)

    def test_c6_mail_branch_under_a_non_mail_step(self):
        wait = self.make_step(self.scenario, "wait", name="Pause")
        with self.assertRaisesRegex(
            ValidationError, "Step Opened waits for a mail event .* not an e-mail step"
        ):
            self.make_step(
                self.scenario,
                "score",
                wait,
                name="Opened",
                trigger_type="mail_open",
                delay=1,
                score_points=1,
            )
        mail = self.make_step(self.scenario, "mail", name="Welcome")
        opened = self.make_step(
            self.scenario,
            "score",
            mail,
            name="Opened",
            trigger_type="mail_open",
            delay=1,
            score_points=3,
        )
        # the parent stops being an e-mail step while a branch waits for its opens
        self.assertRefused(mail, {"action_type": "wait"}, "Step Opened waits for a mail event")
        # a yes/no branch under a step that stops being a condition
        check = self.make_step(self.scenario, "condition", condition_domain="[]", name="Check")
        self.make_step(self.scenario, "wait", check, trigger_type="yes", name="Yes")
        self.assertRefused(check, {"action_type": "wait"}, "Step Yes is a yes/no branch")
        self.assertEqual(opened.parent_id, mail)

    # ------------------------------------------------------------------ #
    # At run time
    # ------------------------------------------------------------------ #
    def test_r1_template_fails_for_one_contact(self):
        """Division by zero for the contact without a city: its trace fails with the
        error, the others get their mail and walk on."""
        with self.at(NOW):
            mailing = self.make_mailing(
                self.scenario,
                "Cities",
                '<p>Hi <t t-out="object.name"/>: <t t-out="100 // len(object.city or \'\')"/></p>',
            )
            mail = self.make_step(self.scenario, "mail", name="Cities", mailing_id=mailing.id)
            after = self.make_step(self.scenario, "score", mail, score_points=1, name="After")
            self.scenario.action_start()
            partners = self.make_partners(4, city="Namur")
            partners[2].city = False
            self.scenario.enroll(partners)
            with self.mock_mail_gateway(), mute_logger("odoo.addons.mail.models.mail_render_mixin"):
                self.run_cron()
            bad = self.trace_of(mail, partners[2])
            self.assertEqual((bad.state, bad.reason_code), ("failed", "error"))
            self.assertEqual(
                bad.reason,
                'Failed to render QWeb template: <p>Hi <t t-out="object.name"/>: '
                "<t t-out=\"100 // len(object.city or '')\"/></p> "
                "(ZeroDivisionError: integer division or modulo by zero)",
            )
            good = partners - partners[2]
            for partner in good:
                self.assertEqual(self.trace_of(mail, partner).state, "done")
                self.assertEqual(self.trace_of(after, partner).state, "done")
            self.assertFalse(self.trace_of(after, partners[2]))
            queued = self.env["mail.mail"].sudo().search([("mailing_id", "=", mailing.id)])
            self.assertEqual(queued.recipient_ids, good)
            self.assertIn("Hi Contact 0: 20", queued.sorted("id")[0].body_html)

    def test_r2_contact_deleted_while_waiting(self):
        with self.at(NOW):
            first = self.make_step(self.scenario, "score", score_points=1, name="First")
            later = self.make_step(
                self.scenario, "score", first, score_points=1, delay=1, name="Later"
            )
            self.scenario.action_start()
            partners = self.make_partners(3)
            participants = self.scenario.enroll(partners)
            self.run_cron()
            by_orm, behind, kept = partners
            by_orm_participant = participants.filtered(lambda p: p.res_id == by_orm.id)
            behind_participant = participants.filtered(lambda p: p.res_id == behind.id)
            pending_orm = self.trace_of(later, by_orm)
            pending_behind = self.trace_of(later, behind)
            by_orm.unlink()  # through the ORM: the hook cancels at once
            self.assertEqual(
                (pending_orm.state, pending_orm.reason_code), ("canceled", "record_deleted")
            )
            self.assertEqual(by_orm_participant.end_reason_code, "record_deleted")
            # behind the ORM's back (SQL, another system): found when the step falls due
            self.env.cr.execute("DELETE FROM res_partner WHERE id = %s", [behind.id])
            self.env.invalidate_all()
            self.assertEqual(pending_behind.state, "scheduled")
        with self.at(NOW + timedelta(days=1, minutes=1)):
            self.run_cron()
            self.assertEqual(
                (pending_behind.state, pending_behind.reason_code), ("canceled", "record_deleted")
            )
            self.assertEqual(
                (behind_participant.state, behind_participant.end_reason_code),
                ("canceled", "record_deleted"),
            )
            self.assertEqual(self.trace_of(later, kept).state, "done", "the others go on")
            self.assertEqual(kept.marketing_score, 2)

    def test_r3_step_deleted_while_contacts_wait(self):
        with self.at(NOW):
            mail = self.make_step(self.scenario, "mail", name="Welcome")
            opened = self.make_step(
                self.scenario,
                "score",
                mail,
                name="Opened",
                trigger_type="mail_open",
                delay=2,
                score_points=5,
            )
            not_opened = self.make_step(
                self.scenario,
                "score",
                mail,
                name="Not opened",
                trigger_type="mail_not_open",
                delay=2,
                score_points=-1,
            )
            self.scenario.action_start()
            partners = self.make_partners(2)
            self.scenario.enroll(partners)
            with self.mock_mail_gateway():
                self.run_cron()
                self.send_queue()
            waiting = self.traces(opened)
            self.assertEqual(set(waiting.mapped("state")), {"waiting"})
            opened.unlink()
            self.assertEqual(set(waiting.mapped("state")), {"canceled"})
            self.assertEqual(set(waiting.mapped("reason_code")), {"step_deleted"})
            self.assertFalse(opened.active, "archived: its history stays for statistics")
            # an open after the deletion moves nothing that was deleted
            self.gateway_mail_trace_open(mail.mailing_id, partners[0])
            self.assertEqual(set(waiting.mapped("state")), {"canceled"})
        with self.at(NOW + timedelta(days=2, minutes=1)):
            self.run_cron()
            self.assertEqual(self.trace_of(not_opened, partners[1]).state, "done")
            self.assertEqual(partners[1].marketing_score, -1, "the sibling branch goes on")
            self.assertEqual(set(self.scenario.participant_ids.mapped("state")), {"completed"})

    def test_r4_scenario_stopped_mid_run(self):
        """Stopped between two batches of one cron run: what was done stays done, the
        rest is cancelled with the reason, no mail leaves after the stop."""
        with self.at(NOW):
            self.env["ir.config_parameter"].set_param("trigger_marketing.batch_size", 4)
            mail = self.make_step(self.scenario, "mail", name="Welcome")
            self.scenario.action_start()
            partners = self.make_partners(10)
            self.scenario.enroll(partners)
            Trace = self.registry["marketing.scenario.trace"]
            process = Trace._process
            batches = []

            def stop_after_first_batch(traces):
                process(traces)
                batches.append(len(traces))
                if len(batches) == 1:
                    traces.env["marketing.scenario"].browse(self.scenario.id).action_stop()

            with self.mock_mail_gateway(), patch.object(Trace, "_process", stop_after_first_batch):
                self.run_cron()
            self.assertEqual(batches, [4], "no batch after the stop")
            traces = self.traces(mail)
            done = traces.filtered(lambda t: t.state == "done")
            self.assertEqual(len(done), 4)
            canceled = traces - done
            self.assertEqual(set(canceled.mapped("reason_code")), {"scenario_stopped"})
            self.assertEqual(len(canceled), 6)
            mails = self.env["mail.mail"].sudo().search([("mailing_id", "=", mail.mailing_id.id)])
            self.assertEqual(len(mails), 4, "the 4 mails of the first batch stay queued")
            self.assertEqual(
                sorted(set(self.scenario.participant_ids.mapped("state"))),
                ["canceled", "completed"],
            )
            self.assertEqual(self.scenario.state, "stopped")

    def test_r5_step_filter_broken_after_save(self):
        """A filter that stops evaluating after it was saved (its field was removed with a
        module): that step's traces fail with the message, the rest of the batch goes."""
        with self.at(NOW):
            broken = self.make_step(
                self.scenario, "score", score_points=1, name="Broken", filter_domain="[]"
            )
            fine = self.make_step(self.scenario, "score", score_points=2, name="Fine")
            self.scenario.action_start()
            partners = self.make_partners(3)
            self.scenario.enroll(partners)
            self.env.cr.execute(
                "UPDATE marketing_scenario_step SET filter_domain = %s WHERE id = %s",
                ["[('x_removed_field', '=', 1)]", broken.id],
            )
            self.env.invalidate_all()
            with mute_logger(
                "odoo.addons.trigger_marketing.models.marketing_scenario_trace_engine"
            ):
                self.run_cron()
            failed = self.traces(broken)
            self.assertEqual(set(failed.mapped("state")), {"failed"})
            self.assertIn("Only if of step Broken is not a valid filter", failed[0].reason)
            self.assertEqual(set(self.traces(fine).mapped("state")), {"done"})
            self.assertEqual(partners.mapped("marketing_score"), [2, 2, 2])


@tagged("post_install", "-at_install")
class TestBadInputMatrixEvents(HttpCase):
    """Event calls to the public endpoint: refused before any write."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Scenario = cls.env["marketing.scenario"]
        vals = {
            "model_id": cls.env["ir.model"]._get_id("res.partner"),
            "trigger": "event",
            "event_name": "download",
        }
        cls.scenario = Scenario.create(dict(vals, name="Downloads"))
        cls.other = Scenario.create(dict(vals, name="Other"))
        for scenario in cls.scenario | cls.other:
            cls.env["marketing.scenario.step"].create(
                {"name": "Wait", "scenario_id": scenario.id, "action_type": "wait"}
            )
            scenario.action_start()
        cls.url = f"/trigger_marketing/event/{cls.scenario.id}"

    def post(self, raw, headers):
        response = self.url_open(
            self.url, data=raw, headers=dict({"Content-Type": "application/json"}, **headers)
        )
        return response.status_code, response.json()["error"]

    def signed(self, raw, scenario=None):
        secret = (scenario or self.scenario).sudo().webhook_secret
        digest = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
        return {"X-Signature": f"sha256={digest}"}

    def body(self, **vals):
        data = {"event_id": "e-1", "event": "download", "email": "ann@example.com"}
        data.update(vals)
        return json.dumps(data).encode()

    def assertNothingRecorded(self):
        self.env.invalidate_all()
        self.assertFalse(
            self.env["marketing.scenario.event"].search([("scenario_id", "=", self.scenario.id)])
        )
        self.assertFalse(self.scenario.participant_ids)
        self.assertFalse(
            self.env["res.partner"].search([("email_normalized", "=", "ann@example.com")])
        )

    def test_e1_unsigned_event_call(self):
        status, error = self.post(self.body(), {})
        self.assertEqual(status, 403)
        self.assertIn("Bad signature: expected X-Signature: sha256=", error)
        status, _error = self.post(self.body(), {"X-Signature": "md5=abc"})
        self.assertEqual(status, 403)
        self.assertNothingRecorded()

    def test_e2_wrongly_signed_event_call(self):
        raw = self.body()
        status, error = self.post(raw, self.signed(raw, scenario=self.other))
        self.assertEqual((status, error[:14]), (403, "Bad signature:"))
        # signed, then altered in transit
        status, _error = self.post(self.body(email="eve@example.com"), self.signed(raw))
        self.assertEqual(status, 403)
        self.assertNothingRecorded()

    def test_e3_malformed_event_call(self):
        for raw, status, error in [
            (b"{not json", 400, "not valid JSON"),
            (b"[1, 2]", 400, "must be a JSON object"),
            (self.body(event_id=None), 400, "Missing fields: event_id"),
            (self.body(event_id="x" * 256), 400, "event_id must have 1 to 255 characters"),
            (self.body(event_id=True), 400, "event_id must be a string"),
            (self.body(email="nobody"), 400, "email is not a valid e-mail address"),
            (self.body(payload="text"), 400, "payload must be a JSON object"),
            (self.body(name=["Ann"]), 400, "name must be a string"),
            (self.body(payload={"blob": "x" * 70000}), 413, "too large"),
        ]:
            with self.subTest(raw=raw[:40]):
                got_status, got_error = self.post(raw, self.signed(raw))
                self.assertEqual(got_status, status)
                self.assertIn(error, got_error)
        self.assertNothingRecorded()
