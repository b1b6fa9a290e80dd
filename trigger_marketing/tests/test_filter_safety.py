import logging
from contextlib import contextmanager
from datetime import datetime, timedelta

from odoo.exceptions import AccessError, ValidationError
from odoo.fields import Domain
from odoo.tests import new_test_user, tagged

from ..tools import domains
from .common import NOW, TriggerMarketingCase
from .common_triggers import TriggerEntryCase

# Texts a marketer could type in a filter to run code (with the old evaluation context,
# the first two made a User a Settings administrator and created server actions, at save
# time and again in the cron). Each one must be refused with a ValidationError.
ATTACKS = {
    "user.sudo().write": "[('id', '!=', user.sudo().write({'group_ids': [(4, %(gid)s)]}))]",
    "user.env create": (
        "[('id', '!=', user.env['ir.actions.server'].sudo().create("
        "{'name': 'pwn', 'model_id': %(mid)s, 'state': 'code', 'code': 'pass'}).id)]"
    ),
    "env": (
        "[('id', '!=', env['ir.actions.server'].sudo().create("
        "{'name': 'pwn', 'model_id': %(mid)s, 'state': 'code', 'code': 'pass'}).id)]"
    ),
    "sudo": "[('id', '!=', sudo().env.ref('base.group_system').id)]",
    "ref": "[('id', '!=', ref('base.group_system'))]",
    "__import__": "[('id', '!=', __import__('os').getpid())]",
    "attribute walk": ("[('id', '!=', ().__class__.__bases__[0].__subclasses__()[0].__name__)]"),
    "method on uid": "[('id', '!=', uid.bit_length())]",
    "dunder of uid": "[('id', '!=', uid.__class__.__name__)]",
    "method on a date": "[('id', '!=', context_today().__class__)]",
    "globals of context_today": "[('id', '!=', context_today.__globals__)]",
    "globals of relativedelta": "[('id', '!=', relativedelta.__init__.__globals__)]",
    "reduce of a datetime": "[('id', '!=', datetime.datetime.now().__reduce__())]",
    "time.sleep": "[('id', '!=', time.sleep(0))]",
    "getattr": "[('id', '!=', getattr(uid, 'real'))]",
    "lambda": "[('id', '!=', (lambda: 1)())]",
    "comprehension": "[('id', 'in', [i for i in (1, 2)])]",
    "huge value": "[('name', '=', 'a' * 10 ** 8)]",
}

# As Odoo's domain editor writes relative dates (virtual_operators.js: boundDate and the
# smart dates of Odoo 19), and the other forms marketers find in Odoo's documentation.
EDITOR_FILTERS = [
    "[('create_date', '>=', context_today().strftime('%Y-%m-%d'))]",
    "[('create_date', '>=', (context_today() + relativedelta(days = -7)).strftime('%Y-%m-%d'))]",
    "[('create_date', '>=', (context_today() + relativedelta(day = 1, months = -1))"
    ".strftime('%Y-%m-%d'))]",
    "[('create_date', '>=', datetime.datetime.combine(context_today() + relativedelta(days = -7),"
    " datetime.time(0, 0, 0)).strftime('%Y-%m-%d %H:%M:%S'))]",
    "[('create_date', '>=', 'today -7d')]",
    "[('create_date', '<', time.strftime('%Y-%m-%d 23:59:59'))]",
    "['|', ('user_id', '=', uid), ('user_id', '=', False)]",
    "[('create_date', '>=', (datetime.date.today() - datetime.timedelta(days=7)).isoformat())]",
]

MARKETING_USER = "trigger_marketing.marketing_scenario_group_user"
ENGINE_LOGGER = "odoo.addons.trigger_marketing.models.marketing_scenario_trace_engine"
ENTRY_LOGGER = "odoo.addons.trigger_marketing.models.marketing_scenario_entry_time"


@tagged("post_install", "-at_install")
class TestFilterSafety(TriggerEntryCase):
    """Every filter a marketer writes is evaluated without records, environment or ORM
    callables: code in it is refused at save time, and again when the cron (superuser)
    evaluates a text that got into the database some other way."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # our User group only (it implies Employee and Mass mailing user)
        cls.marketer = new_test_user(
            cls.env,
            login="tm_only_user",
            groups=MARKETING_USER,
            tz="UTC",
        )
        cls.admin_group = cls.env.ref("base.group_system")
        values = {"gid": cls.admin_group.id, "mid": cls.partner_model.id}
        cls.attacks = {name: text % values for name, text in ATTACKS.items()}

    # ------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------

    def _state(self):
        """What an attack would change: server actions, and the groups of every user."""
        self.env.flush_all()
        self.env.cr.execute("SELECT count(*) FROM ir_act_server")
        actions = self.env.cr.fetchone()[0]
        self.env.cr.execute("SELECT uid, gid FROM res_groups_users_rel ORDER BY uid, gid")
        return actions, self.env.cr.fetchall()

    def assert_refused_at_save(self, write):
        """``write(text)`` is refused for every attack, with a clear message, and changes
        nothing (checked before the savepoint rolls the attempt back)."""
        before = self._state()
        for name, text in self.attacks.items():
            with self.subTest(attack=name):
                error, after = None, None
                try:
                    with self.env.cr.savepoint():
                        try:
                            write(text)
                        finally:
                            after = self._state()
                except ValidationError as e:
                    error = e
                self.assertEqual(after, before, "nothing created, no group changed")
                self.assertFalse(self.marketer.has_group("base.group_system"))
                self.assertIsNotNone(error, "refused with a ValidationError")
                self.assertIn("is not a valid filter", str(error))

    def plant(self, record, fname, text):
        """Put ``text`` in the database behind the constraints (a filter saved before
        this check existed, an import, a module...)."""
        self.env.flush_all()
        self.env.cr.execute(
            f'UPDATE "{record._table}" SET "{fname}" = %s WHERE id = %s',  # noqa: S608
            (text, record.id),
        )
        self.env.invalidate_all()
        self.env.registry.clear_cache()

    def assert_refused_by_engine(self, record, fname, trace_of_partner):
        """The processing cron (superuser) refuses every attack planted in ``fname``:
        the trace fails with the message, nothing is created, no group changed."""
        before = self._state()
        for name, text in self.attacks.items():
            with self.subTest(attack=name):
                self.plant(record, fname, None)  # the goal is read at entry
                partner = self.make_partners(1, name=name)
                self.scenario.enroll(partner)
                trace = trace_of_partner(partner)
                self.plant(record, fname, text)
                with self.assertLogs(ENGINE_LOGGER, logging.INFO):
                    self.run_cron()
                self.assertEqual(self._state(), before, "nothing created, no group changed")
                self.assertEqual(trace.state, "failed")
                self.assertIn("is not a valid filter", trace.reason)

    def make_running(self, **vals):
        self.scenario = self.make_scenario(**vals)
        return self.scenario

    # ------------------------------------------------------------
    # Scenario: audience and goal
    # ------------------------------------------------------------

    def test_audience_refused_at_save(self):
        scenario = self.make_scenario().with_user(self.marketer)
        self.assert_refused_at_save(lambda text: scenario.write({"domain": text}))
        Scenario = self.env["marketing.scenario"].with_user(self.marketer)
        self.assert_refused_at_save(
            lambda text: Scenario.create(
                {"name": "New", "model_id": self.partner_model.id, "domain": text}
            )
        )

    def test_goal_refused_at_save(self):
        scenario = self.make_scenario().with_user(self.marketer)
        self.assert_refused_at_save(lambda text: scenario.write({"goal_domain": text}))

    def test_audience_refused_by_entry_cron(self):
        """The audience of a time-based scenario, evaluated by the intake cron."""
        with self.at(NOW):
            scenario, _mail = self.make_welcome(
                trigger="date",
                date_field_id=self.field("res.partner", "create_date").id,
                trigger_offset=0,
                trigger_offset_unit="days",
            )
            scenario.action_start()
            self.make_partners(1)
        before = self._state()
        for hours, (name, text) in enumerate(self.attacks.items(), start=1):
            with self.subTest(attack=name), self.at(NOW + timedelta(hours=hours)):
                self.plant(scenario, "domain", text)
                with self.assertLogs(ENTRY_LOGGER, logging.ERROR) as logs:
                    self.run_entry_cron()
                self.assertIn("is not a valid filter", "\n".join(logs.output))
                self.assertEqual(self._state(), before, "nothing created, no group changed")
                self.assertFalse(self.participants(scenario))

    def test_goal_refused_by_engine(self):
        with self.at(NOW):
            scenario = self.make_running()
            step = self.make_step(scenario, "wait")
            scenario.action_start()
            self.assert_refused_by_engine(
                scenario, "goal_domain", lambda partner: self.trace_of(step, partner)
            )

    # ------------------------------------------------------------
    # Steps: "only if", condition, wait until
    # ------------------------------------------------------------

    def test_step_filter_refused_at_save(self):
        step = self.make_step(self.make_scenario(), "wait").with_user(self.marketer)
        self.assert_refused_at_save(lambda text: step.write({"filter_domain": text}))
        scenario = self.make_scenario()
        Step = self.env["marketing.scenario.step"].with_user(self.marketer)
        self.assert_refused_at_save(
            lambda text: Step.create(
                {
                    "name": "New",
                    "scenario_id": scenario.id,
                    "action_type": "wait",
                    "filter_domain": text,
                }
            )
        )

    def test_condition_refused_at_save(self):
        step = self.make_step(
            self.make_scenario(), "condition", condition_domain="[('email', '!=', False)]"
        ).with_user(self.marketer)
        self.assert_refused_at_save(lambda text: step.write({"condition_domain": text}))

    def test_wait_until_refused_at_save(self):
        step = self.make_step(
            self.make_scenario(), "wait_until", condition_domain="[('email', '!=', False)]"
        ).with_user(self.marketer)
        self.assert_refused_at_save(lambda text: step.write({"condition_domain": text}))

    def test_step_filter_refused_by_engine(self):
        with self.at(NOW):
            scenario = self.make_running()
            step = self.make_step(scenario, "wait")
            scenario.action_start()
            self.assert_refused_by_engine(
                step, "filter_domain", lambda partner: self.trace_of(step, partner)
            )

    def test_condition_refused_by_engine(self):
        with self.at(NOW):
            scenario = self.make_running()
            step = self.make_step(scenario, "condition", condition_domain="[('id', '!=', 0)]")
            scenario.action_start()
            self.assert_refused_by_engine(
                step, "condition_domain", lambda partner: self.trace_of(step, partner)
            )

    def test_wait_until_refused_by_engine(self):
        with self.at(NOW):
            scenario = self.make_running()
            step = self.make_step(scenario, "wait_until", condition_domain="[('id', '=', 0)]")
            scenario.action_start()
            self.assert_refused_by_engine(
                step, "condition_domain", lambda partner: self.trace_of(step, partner)
            )

    # ------------------------------------------------------------
    # What marketers need still works
    # ------------------------------------------------------------

    def test_editor_filters_still_work(self):
        """Relative dates as Odoo's domain editor writes them, and uid, save and select
        the right records, in the user's time zone."""
        with self.at(NOW):
            recent, old = self.make_partners(2)
            self.env.flush_all()
            self.env.cr.execute(
                "UPDATE res_partner SET create_date = %s WHERE id = %s",
                (NOW - timedelta(days=40), old.id),
            )
            self.env.invalidate_all()
            scenario = self.make_scenario().with_user(self.marketer)
            for text in EDITOR_FILTERS:
                with self.subTest(text=text):
                    scenario.write({"domain": text})
                    domain = scenario._audience_domain()
                    found = self.env["res.partner"].search(
                        domain & Domain("id", "in", (recent | old).ids)
                    )
                    self.assertIn(recent, found)
                    if "uid" not in text and "23:59:59" not in text:
                        self.assertNotIn(old, found)

    def test_context_today_is_the_users_date(self):
        """``context_today()`` is today's date where the user is, computed beforehand."""
        late_evening = datetime(2026, 3, 2, 23, 30)
        self.marketer.tz = "Pacific/Auckland"  # UTC+13 in March: already 3 March
        with self.at(late_evening):
            context = domains.eval_context(self.env(user=self.marketer))
            self.assertEqual(str(context["context_today"]()), "2026-03-03")
            self.assertEqual(context["uid"], self.marketer.id)
            self.assertNotIn("user", context)
            for value in context.values():
                self.assertNotIsInstance(value, type(self.env["base"]))


@tagged("post_install", "-at_install")
class TestMailBodyCode(TriggerMarketingCase):
    """The e-mail of a step is a ``mailing.mailing``: its body and subject are rendered
    by mass_mailing under Odoo's own rights model. With "Restrict template rendering",
    a User of our group who is not a Mail Template Editor cannot put code in them from
    the step form; the placeholders Odoo allows (the contact's name...) still work."""

    CODE_BODY = (
        "<p>Hi <t t-out=\"object.env['ir.actions.server'].sudo().create({'name': 'pwn', "
        "'model_id': %(mid)s, 'state': 'code', 'code': 'pass'}).id\"/></p>"
    )
    CODE_SUBJECT = "Hi {{ object.sudo().env.ref('base.group_system').sudo().write({}) }}"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.config_parameter"].sudo().set_param("mail.restrict.template.rendering", True)
        cls.marketer = new_test_user(cls.env, login="tm_no_template_editor", groups=MARKETING_USER)
        cls.code_body = cls.CODE_BODY % {"mid": cls.partner_model.id}

    @contextmanager
    def refused(self):
        """Refused with Odoo's message, and rolled back as the request would be."""
        with self.assertRaises(AccessError) as catcher:
            yield
        self.assertIn("Mail Template Editor", str(catcher.exception))

    def test_no_code_in_step_mails(self):
        self.assertFalse(self.marketer.has_group("mail.group_mail_template_editor"))
        scenario = self.make_scenario()
        step = self.make_step(scenario, "mail", name="Welcome")
        body, subject = step.mailing_id.body_html, step.mailing_id.subject
        actions = self.env["ir.actions.server"].search_count([])
        as_user = step.with_user(self.marketer)
        for what, vals in {
            "body": {"mail_body_html": self.code_body},
            "subject": {"mail_subject": self.CODE_SUBJECT},
        }.items():
            with self.subTest(field=what), self.refused():
                as_user.write(vals)
        Step = self.env["marketing.scenario.step"].with_user(self.marketer)
        with self.refused():
            Step.create(
                {
                    "name": "New",
                    "scenario_id": scenario.id,
                    "action_type": "mail",
                    "mail_subject": "New",
                    "mail_body_html": self.code_body,
                }
            )
        with self.refused():
            step.mailing_id.with_user(self.marketer).write({"body_html": self.code_body})
        self.assertEqual((step.mailing_id.body_html, step.mailing_id.subject), (body, subject))
        self.assertEqual(self.env["ir.actions.server"].search_count([]), actions)

    def test_allowed_placeholders_still_work(self):
        with self.at(NOW):
            scenario = self.make_scenario()
            step = self.make_step(scenario, "mail", name="Welcome")
            step.with_user(self.marketer).write(
                {"mail_body_html": '<p>Dear <t t-out="object.name"/>,</p>'}
            )
            scenario.action_start()
            partner = self.make_partners(1, name="Ada")
            scenario.enroll(partner)
            with self.mock_mail_gateway():
                self.run_cron()
                self.send_queue()
            self.assertEqual(self.trace_of(step, partner).state, "done")
            self.assertIn(
                "Dear Ada,", self._find_sent_email_wemail(partner.email_formatted)["body"]
            )


class TestFilterFieldAccess(TriggerEntryCase):
    """Filters run as the superuser in the engine: a marketer may only save a filter on
    fields they may read themselves, or the counts and walks would tell them the values
    of fields Odoo hides from them (a field's groups, a model they cannot read)."""

    # res.partner.signup_type: groups="base.group_erp_manager" (auth_signup), on the
    # record and through a relation
    HIDDEN_FIELD = "[('signup_type', '=', 'signup')]"
    HIDDEN_RELATED = "[('parent_id.signup_type', '=', 'signup')]"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.marketer = new_test_user(
            cls.env, login="tm_field_access_user", groups=MARKETING_USER, tz="UTC"
        )

    def assert_hidden_refused(self, save):
        for text in (self.HIDDEN_FIELD, self.HIDDEN_RELATED):
            with self.subTest(filter=text):
                with self.assertRaises(ValidationError) as caught:
                    save(text)
                self.assertIn("which you are not allowed to read", str(caught.exception))
                self.assertIn("Signup Token Type", str(caught.exception))

    def test_scenario_filters(self):
        scenario = self.make_scenario().with_user(self.marketer)
        self.assert_hidden_refused(lambda text: scenario.write({"domain": text}))
        self.assert_hidden_refused(lambda text: scenario.write({"goal_domain": text}))
        # readable fields (a relation included) still save
        scenario.write({"domain": "[('user_ids.login', '!=', False), ('email', '!=', False)]"})

    def test_step_filters(self):
        scenario = self.make_scenario()
        step = self.make_step(scenario, "wait").with_user(self.marketer)
        self.assert_hidden_refused(lambda text: step.write({"filter_domain": text}))
        condition = self.make_step(
            scenario, "condition", condition_domain="[('email', '!=', False)]"
        ).with_user(self.marketer)
        self.assert_hidden_refused(lambda text: condition.write({"condition_domain": text}))

    def test_administrator_may(self):
        """Who may read the field may filter on it; the engine still evaluates it."""
        scenario = self.make_scenario()
        scenario.write({"domain": self.HIDDEN_FIELD, "goal_domain": self.HIDDEN_RELATED})
        self.assertEqual(scenario.domain, self.HIDDEN_FIELD)
