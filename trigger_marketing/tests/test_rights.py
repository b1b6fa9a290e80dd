from contextlib import contextmanager

from lxml import etree

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import Form, new_test_user, tagged

from .common import NOW, TriggerMarketingCase

USER_GROUP = "trigger_marketing.marketing_scenario_group_user"
MANAGER_GROUP = "trigger_marketing.marketing_scenario_group_manager"


@tagged("post_install", "-at_install")
class TestServerActionSteps(TriggerMarketingCase):
    """A step that runs a server action belongs to managers: a User can neither create
    one nor change, move, re-parent or delete it, and is never offered the choice."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.marketer = new_test_user(cls.env, login="tm_rights_user", groups=USER_GROUP)
        cls.boss = new_test_user(cls.env, login="tm_rights_manager", groups=MANAGER_GROUP)
        cls.code = cls.env["ir.actions.server"].create(
            {"name": "Code", "model_id": cls.partner_model.id, "state": "code", "code": "pass"}
        )

    def setUp(self):
        super().setUp()
        self.scenario = self.make_scenario()
        self.first = self.make_step(self.scenario, "wait", name="First")
        self.other = self.make_step(self.scenario, "wait", name="Other")
        self.run_code = self.make_step(
            self.scenario,
            "server_action",
            self.first,
            name="Run code",
            server_action_id=self.code.id,
        )
        self.after = self.make_step(self.scenario, "wait", self.run_code, name="After")

    @contextmanager
    def refused(self):
        """Refused with the message, and rolled back as the request would be."""
        with self.assertRaises(AccessError) as catcher:
            yield
        self.assertIn("server action", str(catcher.exception))

    def _as(self, user, records):
        return records.with_user(user)

    def test_user_changes_no_field_of_a_server_action_step(self):
        changes = {
            "name": {"name": "Renamed"},
            "delay": {"delay": 3},
            "delay unit": {"delay_unit": "hours"},
            "filter": {"filter_domain": "[('email', '!=', False)]"},
            "action": {"action_type": "wait"},
            "server action": {"server_action_id": False},
            "move (parent)": {"parent_id": self.other.id},
            "move (first step)": {"parent_id": False},
            "sequence": {"sequence": 99},
            "archive": {"active": False},
            "send window": {"window_mode": "none"},
        }
        snapshot = self.run_code.read(list(set().union(*changes.values())))
        for what, vals in changes.items():
            with self.subTest(change=what), self.refused():
                self._as(self.marketer, self.run_code).write(vals)
        with self.refused():
            self._as(self.marketer, self.scenario).write(
                {"step_ids": [Command.update(self.run_code.id, {"name": "Through the scenario"})]}
            )
        with self.refused():
            self._as(self.marketer, self.run_code).update_field_translations(
                "name", {"fr_FR": "Code"}
            )
        self.assertEqual(self.run_code.read(list(snapshot[0])), snapshot)

    def test_user_deletes_no_server_action_step(self):
        for what, records in {
            "the step": self.run_code,
            "its parent (cascade)": self.first,
        }.items():
            with self.subTest(delete=what), self.refused():
                self._as(self.marketer, records).unlink()
        with self.refused():
            self._as(self.marketer, self.run_code).action_delete()
        with self.refused():
            self._as(self.marketer, self.scenario).write(
                {"step_ids": [Command.delete(self.run_code.id)]}
            )
        with self.refused():
            self._as(self.marketer, self.scenario).unlink()
        self.assertTrue(self.run_code.exists())
        self.assertTrue(self.run_code.active)

    def test_user_creates_no_server_action_step(self):
        Step = self.env["marketing.scenario.step"].with_user(self.marketer)
        attempts = {
            "create": lambda: Step.create(
                {
                    "name": "Mine",
                    "scenario_id": self.scenario.id,
                    "action_type": "server_action",
                    "server_action_id": self.code.id,
                }
            ),
            "default in the context": lambda: Step.with_context(
                default_action_type="server_action", default_server_action_id=self.code.id
            ).create({"name": "Mine", "scenario_id": self.scenario.id}),
            "turn a step into one": lambda: self._as(self.marketer, self.other).write(
                {"action_type": "server_action", "server_action_id": self.code.id}
            ),
            "copy the scenario": lambda: self._as(self.marketer, self.scenario).copy(),
        }
        count = self.env["marketing.scenario.step"].search_count([])
        for what, attempt in attempts.items():
            with self.subTest(attempt=what), self.refused():
                attempt()
        self.assertEqual(self.env["marketing.scenario.step"].search_count([]), count)

    def test_user_keeps_the_other_steps(self):
        """Steps around a server action step stay the User's: add one after it, edit and
        delete the others."""
        Step = self.env["marketing.scenario.step"].with_user(self.marketer)
        child = Step.create(
            {
                "name": "Next",
                "scenario_id": self.scenario.id,
                "parent_id": self.run_code.id,
                "action_type": "wait",
            }
        )
        self._as(self.marketer, self.after).write({"name": "After (renamed)", "delay": 2})
        self._as(self.marketer, self.other).unlink()
        self._as(self.marketer, child).unlink()
        self.assertEqual(self.after.name, "After (renamed)")
        self.assertFalse(self.other.exists())

    def test_manager_does_everything(self):
        self._as(self.boss, self.run_code).write({"name": "Renamed", "delay": 2})
        self._as(self.boss, self.run_code).write({"parent_id": self.other.id})
        copy = self._as(self.boss, self.scenario).copy()
        self.assertIn("server_action", copy.step_ids.mapped("action_type"))
        self._as(self.boss, self.first).unlink()
        self._as(self.boss, self.run_code).unlink()
        self.assertFalse(self.run_code.exists())

    # ------------------------------------------------------------
    # The step form
    # ------------------------------------------------------------

    def _form(self, user):
        views = self.env["marketing.scenario.step"].with_user(user).get_views([(False, "form")])
        arch = etree.fromstring(views["views"]["form"]["arch"])
        fields = views["models"]["marketing.scenario.step"]["fields"]
        return arch, fields

    def _offered(self, arch, fields):
        """The actions the form lets choose: the selection of each visible action field."""
        offered = set()
        for name in ("action_type", "action_choice"):
            for node in arch.xpath(f"//field[@name='{name}']"):
                if node.get("invisible") not in ("1", "True"):
                    offered |= {value for value, _label in fields[name]["selection"]}
        return offered

    def test_server_action_not_offered_to_users(self):
        arch, fields = self._form(self.marketer)
        offered = self._offered(arch, fields)
        self.assertIn("mail", offered)
        self.assertNotIn("server_action", offered)
        self.assertFalse(arch.xpath("//field[@name='server_action_id']"))
        arch, fields = self._form(self.boss)
        self.assertIn("server_action", self._offered(arch, fields))

    def test_user_form_writes_the_action(self):
        """The User's choice (``action_choice``) is the step's action, in the form."""
        form = Form(
            self.env["marketing.scenario.step"]
            .with_user(self.marketer)
            .with_context(default_scenario_id=self.scenario.id)
        )
        form.name = "Points"
        form.action_choice = "score"
        self.assertEqual(form.action_type, "score")
        form.score_points = 3
        step = form.save()
        self.assertEqual((step.action_type, step.score_points), ("score", 3))
        locked = self.run_code.with_user(self.marketer)
        self.assertTrue(locked.server_action_locked)
        self.assertFalse(locked.action_choice)
        self.assertFalse(self.run_code.with_user(self.boss).server_action_locked)


@tagged("post_install", "-at_install")
class TestCompanyRules(TriggerMarketingCase):
    """Every model that holds per-contact data is split by company: a User or a Manager
    of company A reads neither the walks, steps done, score history nor events of
    company B's contacts."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_a = cls.env.company
        cls.company_b = cls.env["res.company"].create({"name": "Company B"})
        cls.users = {
            group: new_test_user(
                cls.env,
                login=f"tm_rules_{group.split('_')[-1]}",
                groups=group,
                company_id=cls.company_a.id,
                company_ids=[Command.set(cls.company_a.ids)],
            )
            for group in (USER_GROUP, MANAGER_GROUP)
        }

    def setUp(self):
        super().setUp()
        with self.at(NOW):
            self.data = {
                company: self._walk(company) for company in (self.company_a, self.company_b)
            }

    def _walk(self, company):
        """A contact of ``company`` walking a scenario of ``company``: its participant,
        traces, score history and a received event."""
        scenario = self.make_scenario(name=f"Walk {company.name}", company_id=company.id)
        self.make_step(scenario, "score", score_points=5)
        scenario.action_start()
        partner = self.env["res.partner"].create(
            {"name": f"Contact {company.name}", "email": "c@example.com", "company_id": company.id}
        )
        participant = scenario.enroll(partner)
        self.run_cron()
        event = self.env["marketing.scenario.event"].create(
            {
                "scenario_id": scenario.id,
                "company_id": company.id,
                "event_id": f"evt-{company.id}",
                "email": partner.email,
                "res_id": partner.id,
                "participant_id": participant.id,
            }
        )
        history = self.env["marketing.score.history"].search([("partner_id", "=", partner.id)])
        self.assertTrue(history, "the score step wrote the contact's history")
        return {
            "marketing.scenario.participant": participant,
            "marketing.scenario.trace": participant.trace_ids,
            "marketing.score.history": history,
            "marketing.scenario.event": event,
        }

    def _check_model(self, model):
        mine, theirs = self.data[self.company_a][model], self.data[self.company_b][model]
        self.assertTrue(mine and theirs)
        for group, user in self.users.items():
            with self.subTest(model=model, group=group):
                Model = self.env[model].with_user(user)
                found = Model.search([("id", "in", (mine | theirs).ids)])
                self.assertEqual(found, mine.with_user(user), "company A only")
                with self.assertRaises(AccessError):
                    theirs.with_user(user).read(["id"])
                # with both companies allowed, company B's are readable again
                user.company_ids = [Command.link(self.company_b.id)]
                both = Model.with_context(
                    allowed_company_ids=[self.company_a.id, self.company_b.id]
                ).search([("id", "in", (mine | theirs).ids)])
                self.assertEqual(set(both.ids), set((mine | theirs).ids))
                user.company_ids = [Command.unlink(self.company_b.id)]

    def test_participants_by_company(self):
        self._check_model("marketing.scenario.participant")

    def test_traces_by_company(self):
        self._check_model("marketing.scenario.trace")

    def test_score_history_by_company(self):
        self._check_model("marketing.score.history")

    def test_events_by_company(self):
        self._check_model("marketing.scenario.event")
