"""Bad input matrix, the business goes on (DESIGN §8): a scenario that fails while
reacting to a create, a write, a delete, a signup or a score never fails the operation
that fed it. The failure is kept on the scenario (its form shows the error and when),
and after 5 failures within a day the scenario is paused with a message.

The bad data is written behind the ORM (the bounds refuse it at save time now): a
first step 99,999,999 hours away, as saved before the bounds existed, overflows Python's
dates when a record enters.

Each input has an id (B01...): the README's command counts the matrix.
"""

from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import NOW, TriggerMarketingCase

OVERFLOW = "OverflowError|date value out of range"
FAILURE_LOG = "odoo.addons.trigger_marketing.models.marketing_scenario_failure"


@tagged("post_install", "-at_install")
class TestBadInputRealtime(TriggerMarketingCase):
    def make_broken(self, name, **vals):
        """A running scenario whose first step is 99,999,999 hours away (saved before
        the bounds: written here behind the ORM)."""
        scenario = self.make_scenario(name=name, **vals)
        step = self.make_step(scenario, "score", score_points=1, name="Far away")
        scenario.action_start()
        self.env.cr.execute(
            "UPDATE marketing_scenario_step SET delay = 99999999, delay_unit = 'hours' "
            "WHERE id = %s",
            [step.id],
        )
        self.env.invalidate_all()
        self.env.registry.clear_cache()
        return scenario

    def assertFailed(self, scenario, count=1):
        scenario.invalidate_recordset()
        self.assertEqual(scenario.failure_count, count)
        self.assertRegex(scenario.last_failure, OVERFLOW)
        self.assertEqual(scenario.last_failure_date, NOW)
        self.assertFalse(scenario.participant_ids)

    @mute_logger(FAILURE_LOG)
    def test_create_goes_on(self):
        """B01: a "record created" scenario that fails: the contact is created (the
        issue: nobody could create a contact any more); a healthy scenario on the same
        creation still enrols it."""
        with self.at(NOW):
            broken = self.make_broken("Broken", trigger="create")
            healthy = self.make_scenario(name="Healthy", trigger="create")
            self.make_step(healthy, "wait", name="Pause", delay=1)
            healthy.action_start()
            partner = self.env["res.partner"].create({"name": "Ann", "email": "ann@example.com"})
            self.assertTrue(partner.exists())
            self.assertFailed(broken)
            self.assertEqual(healthy.participant_ids.res_id, partner.id)
            # the user's own tracking and chatter are kept
            self.assertIn("Contact created", partner.message_ids.mapped("body")[-1] or "")

    @mute_logger(FAILURE_LOG)
    def test_paused_after_five_failures(self):
        """B02: the fifth failure within a day pauses the scenario, with the error in its
        chatter; then creating contacts does not even try it. Resuming counts anew."""
        with self.at(NOW):
            broken = self.make_broken("Broken", trigger="create")
            for i in range(5):
                self.env["res.partner"].create({"name": f"C{i}", "email": f"c{i}@example.com"})
            self.assertEqual(broken.state, "paused")
            self.assertFailed(broken, count=5)
            message = broken.message_ids[0]
            self.assertIn("Paused after 5 failures within a day", message.body)
            self.assertIn("date value out of range", message.body)
            self.env["res.partner"].create({"name": "C6", "email": "c6@example.com"})
            self.assertEqual(broken.failure_count, 5, "a paused scenario is not tried")
            broken.action_resume()
            self.assertEqual((broken.state, broken.failure_count), ("running", 0))

    @mute_logger(FAILURE_LOG)
    def test_write_goes_on(self):
        """B03: a write that makes a contact match a failing "starts matching" scenario;
        B04: a write of the date of a date scenario whose offset overflows."""
        with self.at(NOW):
            broken = self.make_broken(
                "Broken", trigger="match", domain="[('function', '=', 'Buyer')]"
            )
            partner = self.make_partners(1)
            partner.write({"function": "Buyer", "phone": "+32 2 555 00 00"})
            self.assertEqual((partner.function, partner.phone), ("Buyer", "+32 2 555 00 00"))
            self.assertFailed(broken)
            dated = self.make_scenario(
                name="Birthday",
                trigger="date",
                date_field_id=self.env["ir.model.fields"]._get("res.partner", "birthdate").id,
            )
            self.make_step(dated, "wait", name="Pause")
            dated.action_start()
            self.env.cr.execute(
                "UPDATE marketing_scenario SET trigger_offset = 99999999 WHERE id = %s",
                [dated.id],
            )
            self.env.invalidate_all()
            self.env.registry.clear_cache()
            partner.birthdate = "1990-03-10"
            self.assertEqual(str(partner.birthdate), "1990-03-10")
            dated.invalidate_recordset()
            self.assertEqual(dated.failure_count, 1)
            self.assertIn("out of range", dated.last_failure)

    @mute_logger(FAILURE_LOG)
    def test_signup_and_score_go_on(self):
        """B05: an account signup with a failing "signs up" scenario; B06: a score
        crossing the threshold of a failing score scenario; B07: a list subscription."""
        with self.at(NOW):
            signup = self.make_broken("Signup", trigger="signup", signup_source="account")
            user = (
                self.env["res.users"]
                .sudo()
                ._signup_create_user(
                    {"login": "new@example.com", "name": "New", "email": "new@example.com"}
                )
            )
            self.assertTrue(user.exists())
            self.assertFailed(signup)
            scored = self.make_broken("Hot", trigger="score", score_threshold=10)
            partner = self.make_partners(1)
            changes = self.env["res.partner"]._add_marketing_score(
                [{"partner_id": partner.id, "points": 15, "description": "Test"}]
            )
            self.assertEqual(changes[partner.id], (0, 15))
            self.assertEqual(partner.marketing_score, 15)
            self.assertFailed(scored)
            mailing_list = self.env["mailing.list"].create({"name": "News"})
            listed = self.make_broken(
                "Listed",
                trigger="signup",
                signup_source="list",
                signup_list_ids=[mailing_list.id],
            )
            partner._marketing_list_subscribe(mailing_list)
            self.assertIn(partner.email, mailing_list.contact_ids.mapped("email"))
            self.assertFailed(listed)

    @mute_logger(FAILURE_LOG)
    def test_broken_audience_after_save(self):
        """B08: an audience that stopped evaluating after it was saved (its field was
        removed with a module): creates go on, the scenario records why."""
        with self.at(NOW):
            scenario = self.make_scenario(name="Gone", trigger="create")
            self.make_step(scenario, "wait", name="Pause")
            scenario.action_start()
            self.env.cr.execute(
                "UPDATE marketing_scenario SET domain = %s WHERE id = %s",
                ["[('x_removed_field', '=', 1)]", scenario.id],
            )
            self.env.invalidate_all()
            self.env.registry.clear_cache()
            partner = self.env["res.partner"].create({"name": "Ann", "email": "ann@example.com"})
            self.assertTrue(partner.exists())
            scenario.invalidate_recordset()
            self.assertIn("Audience of scenario Gone is not a valid filter", scenario.last_failure)
