from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged

from .common import TriggerMarketingCase


@tagged("post_install", "-at_install")
class TestConstraints(TriggerMarketingCase):
    """Bad input gets a clear error at save time."""

    def setUp(self):
        super().setUp()
        self.scenario = self.make_scenario()

    def test_invalid_audience_domain(self):
        with self.assertRaisesRegex(ValidationError, "Audience"):
            self.make_scenario(domain="[('no_such_field', '=', 1)]")
        with self.assertRaisesRegex(ValidationError, "not a valid filter"):
            self.make_scenario(domain="[('email', '=',")

    def test_invalid_goal_domain(self):
        with self.assertRaisesRegex(ValidationError, "Goal"):
            self.scenario.goal_domain = "[('nope', '=', True)]"

    def test_invalid_step_domains(self):
        with self.assertRaisesRegex(ValidationError, "Only if"):
            self.make_step(self.scenario, "wait", filter_domain="[('nope', '=', 1)]")
        with self.assertRaisesRegex(ValidationError, "needs a condition"):
            self.make_step(self.scenario, "condition")
        with self.assertRaisesRegex(ValidationError, "Condition"):
            self.make_step(self.scenario, "condition", condition_domain="[(1, 2)]")

    def test_cycle_in_the_tree(self):
        a = self.make_step(self.scenario, "wait", name="A")
        b = self.make_step(self.scenario, "wait", a, name="B")
        with self.assertRaisesRegex(ValidationError, "cycle"):
            a.parent_id = b

    def test_parent_in_another_scenario(self):
        other = self.make_step(self.make_scenario(name="Other"), "wait")
        with self.assertRaisesRegex(ValidationError, "different scenarios"):
            self.make_step(self.scenario, "wait", other)

    def test_negative_delay(self):
        with self.assertRaisesRegex(ValidationError, "must be between 0 and"):
            self.make_step(self.scenario, "wait", delay=-1)
        with self.assertRaisesRegex(ValidationError, "must be between 0 and"):
            self.make_step(self.scenario, "wait_until", condition_domain="[]", wait_timeout=-2)

    def test_mail_step_without_content(self):
        with self.assertRaisesRegex(ValidationError, "needs an e-mail"):
            self.make_step(self.scenario, "mail", mailing_id=False)
        empty_body = self.make_mailing(self.scenario, body="<p><br></p>")
        with self.assertRaisesRegex(ValidationError, "a body"):
            self.make_step(self.scenario, "mail", mailing_id=empty_body.id)
        no_subject = self.make_mailing(self.scenario)
        no_subject.subject = " "
        with self.assertRaisesRegex(ValidationError, "a subject"):
            self.make_step(self.scenario, "mail", mailing_id=no_subject.id)

    def test_mail_written_for_another_model(self):
        lists = self.env["mailing.mailing"].create(
            {
                "subject": "Lists",
                "body_html": "<p>Hi</p>",
                "use_in_trigger_marketing": True,
                "mailing_model_id": self.env["ir.model"]._get("mailing.list").id,
            }
        )
        with self.assertRaisesRegex(ValidationError, "written for mailing.contact"):
            self.make_step(self.scenario, "mail", mailing_id=lists.id)

    def test_behaviour_branch_under_a_non_mail_step(self):
        wait = self.make_step(self.scenario, "wait")
        with self.assertRaisesRegex(ValidationError, "not an e-mail step"):
            self.make_step(self.scenario, "wait", wait, trigger_type="mail_open", delay=1)
        with self.assertRaisesRegex(ValidationError, "not an e-mail step"):
            self.make_step(self.scenario, "wait", trigger_type="mail_not_click", delay=1)
        with self.assertRaisesRegex(ValidationError, "not a condition"):
            self.make_step(self.scenario, "wait", wait, trigger_type="yes")

    def test_behaviour_branch_needs_a_window(self):
        mail = self.make_step(self.scenario, "mail")
        with self.assertRaisesRegex(ValidationError, "needs a delay"):
            self.make_step(self.scenario, "wait", mail, trigger_type="mail_not_open", delay=0)

    def test_action_parameters(self):
        for action, message in [
            ("score", "points"),
            ("list_add", "mailing list"),
            ("tag_add", "tag"),
            ("activity", "activity type"),
            ("server_action", "server action"),
        ]:
            with self.subTest(action=action), self.assertRaisesRegex(ValidationError, message):
                self.make_step(self.scenario, action)

    def test_reentry_delay(self):
        with self.assertRaisesRegex(ValidationError, "re-entry delay"):
            self.make_scenario(reentry="delay", reentry_days=0)

    def test_start_without_steps(self):
        with self.assertRaisesRegex(UserError, "no step"):
            self.scenario.action_start()

    def test_target_cannot_change_after_entries(self):
        self.make_step(self.scenario, "wait")
        self.scenario.action_start()
        self.scenario.enroll(self.make_partners(1))
        with self.assertRaisesRegex(UserError, "cannot change"):
            self.scenario.model_id = self.env["ir.model"]._get("mailing.contact")

    def test_scenario_mailing_is_never_sent_as_mass_mailing(self):
        mail = self.make_step(self.scenario, "mail")
        with self.assertRaisesRegex(UserError, "belongs to a scenario"):
            mail.mailing_id.action_put_in_queue()
        with self.assertRaisesRegex(UserError, "belongs to a scenario"):
            mail.mailing_id.action_send_mail()
