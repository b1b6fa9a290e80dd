"""Bad input matrix, screens (DESIGN §8): every search field of our search views works
with what a marketer types, and a change that would break what is saved is refused
with a message saying why.

Each input has an id (S01...): the README's command counts the matrix.
"""

from lxml import etree

from odoo.exceptions import UserError
from odoo.fields import Domain
from odoo.tests import tagged
from odoo.tools.safe_eval import safe_eval

from .common import NOW, TriggerMarketingCase

OUR_MODULES = (
    "trigger_marketing",
    "trigger_marketing_sale",
    "trigger_marketing_crm",
    "trigger_marketing_website_sale",
)
# What a marketer types in the search box, by type of the field searched.
SAMPLES = {
    "char": "Contact",
    "text": "Contact",
    "html": "Contact",
    "many2one": "Contact",
    "many2many": "Contact",
    "one2many": "Contact",
    "many2one_reference": 1,
    "integer": "12",
    "float": "1.5",
    "monetary": "1.5",
    "boolean": True,
    "date": "2026-03-02",
    "datetime": "2026-03-02 09:00:00",
}


@tagged("post_install", "-at_install")
class TestBadInputScreens(TriggerMarketingCase):
    def _search_views(self):
        data = self.env["ir.model.data"].search(
            [("module", "in", OUR_MODULES), ("model", "=", "ir.ui.view")]
        )
        views = self.env["ir.ui.view"].browse(data.mapped("res_id")).exists()
        return views.filtered(lambda v: v.type == "search")

    def _search_field_domain(self, model, node):
        """The domain that typing a sample in the search box builds for ``node``."""
        fname = node.get("name")
        field = model._fields[fname]
        sample = SAMPLES.get(field.type, "Contact")
        if field.type == "selection":
            sample = field._description_selection(self.env)[0][0]
        if node.get("filter_domain"):
            return Domain(
                safe_eval(node.get("filter_domain"), {"self": sample, "raw_value": sample})
            )
        operator = node.get("operator") or (
            "ilike" if field.type in ("char", "text", "html") or field.relational else "="
        )
        return Domain(fname, operator, sample)

    def test_every_search_field_works(self):
        """S01: each <field> of each search view of our addons, searched with a sample
        value as the search box does it, and its autocompletion (name search)."""
        with self.at(NOW):
            scenario = self.make_scenario(name="Contact scenario")
            step = self.make_step(scenario, "score", score_points=1, name="Contact step")
            scenario.action_start()
            scenario.enroll(self.make_partners(2))
            self.run_cron()
            self.assertTrue(step.scenario_id.participant_ids)
        checked = 0
        for view in self._search_views():
            model = self.env[view.model]
            # our own fields: the whole view, or what our extension adds to Odoo's
            for node in etree.fromstring(view.arch_db).iter("field"):
                if node.get("position") or not node.get("name"):
                    continue  # a locator of an extension, not a search field
                with self.subTest(view=view.xml_id, field=node.get("name")):
                    domain = self._search_field_domain(model, node)
                    model.search_fetch(domain, ["display_name"], limit=5)
                    field = model._fields[node.get("name")]
                    if field.type == "many2one":
                        self.env[field.comodel_name].name_search("Contact")
                    checked += 1
        self.assertGreaterEqual(checked, 16, "every search field of our addons was tried")

    def test_traces_and_walks_by_participant(self):
        """S02: a trace by the name of its participant's record (not stored), and the
        negation; S03: a walk by its record's name."""
        with self.at(NOW):
            scenario = self.make_scenario(name="Walks")
            self.make_step(scenario, "wait", name="Pause", delay=1)
            scenario.action_start()
            ann, bob = self.make_partners(2)
            ann.name, bob.name = "Ann Archer", "Bob Baker"
            scenario.enroll(ann | bob)
        Trace = self.env["marketing.scenario.trace"].with_user(self.user_marketing)
        found = Trace.search([("participant_id", "ilike", "archer")])
        self.assertEqual(found.participant_id.mapped("res_id"), [ann.id])
        found = Trace.search(
            [("participant_id", "not ilike", "archer"), ("scenario_id", "=", scenario.id)]
        )
        self.assertEqual(found.participant_id.mapped("res_id"), [bob.id])
        Participant = self.env["marketing.scenario.participant"].with_user(self.user_marketing)
        self.assertEqual(
            Participant.name_search("bob", [("scenario_id", "=", scenario.id)])[0][1],
            "Bob Baker",
        )

    def test_target_change_refused_with_steps(self):
        """S04: a scenario with steps keeps its target (its filters name the target's
        fields); S05: with participants too; a scenario without either may change it."""
        check = self.make_step(
            self.scenario if hasattr(self, "scenario") else self.make_scenario(name="Target"),
            "condition",
            condition_domain="[('country_id', '!=', False)]",
            name="Country?",
        )
        scenario = check.scenario_id
        order_model = self.env["ir.model"]._get("mailing.contact")
        with self.assertRaisesRegex(
            UserError, "the target cannot change while the scenario has steps or participants"
        ):
            scenario.write({"model_id": order_model.id})
        self.assertEqual(scenario.model_name, "res.partner")
        check._domain("condition_domain")  # still opens and evaluates
        # archived steps (deleted with history) count as well
        check.active = False
        with self.assertRaisesRegex(UserError, "Create a new scenario for another target"):
            scenario.write({"model_id": order_model.id})
        empty = self.make_scenario(name="Empty", domain="[]")
        empty.write({"model_id": order_model.id})
        self.assertEqual(empty.model_name, "mailing.contact")
        with self.at(NOW):
            walked = self.make_scenario(name="Walked", domain="[]")
            self.make_step(walked, "wait", name="Pause")
            walked.action_start()
            walked.enroll(self.make_partners(1))
            walked.step_ids.with_context(active_test=False).unlink()
        with self.assertRaisesRegex(UserError, "Scenario Walked: the target cannot change"):
            walked.write({"model_id": order_model.id})
