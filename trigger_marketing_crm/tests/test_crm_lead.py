from lxml import etree

from odoo.tests import Form, new_test_user, tagged

from odoo.addons.trigger_marketing.tests.common import NOW, TriggerMarketingCase


@tagged("post_install", "-at_install")
class TestCrmLead(TriggerMarketingCase):
    """A lead shows its contact's score and band, always current."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.salesman = new_test_user(
            cls.env, login="tm_salesman", groups="base.group_user,sales_team.group_sale_salesman"
        )

    def test_lead_shows_the_band_of_its_contact(self):
        alice, bob = self.make_partners(2)
        Lead = self.env["crm.lead"].with_user(self.salesman)
        leads = Lead.create(
            [
                {"name": "Alice's deal", "partner_id": alice.id, "type": "opportunity"},
                {"name": "Bob's lead", "partner_id": bob.id, "type": "lead"},
                {"name": "No contact", "email_from": "nobody@example.com"},
            ]
        )
        self.assertEqual(leads.mapped("marketing_score_band"), ["cold", "cold", False])
        with self.at(NOW):
            self.env["res.partner"]._add_marketing_score(
                [{"partner_id": alice.id, "points": 60, "description": "test"}]
            )
        leads.invalidate_recordset()
        self.assertEqual((leads[0].marketing_score, leads[0].marketing_score_band), (60, "hot"))
        self.assertEqual(
            Lead.search([("marketing_score_band", "=", "hot"), ("id", "in", leads.ids)]),
            leads[0],
            "salespeople can filter leads on the band",
        )

    def test_views_show_the_band(self):
        Lead = self.env["crm.lead"].with_user(self.salesman)
        for view_ref, view_type in [
            ("crm.crm_lead_view_form", "form"),
            ("crm.crm_case_tree_view_oppor", "list"),
            ("crm.crm_case_tree_view_leads", "list"),
            ("crm.crm_case_kanban_view_leads", "kanban"),
        ]:
            arch = Lead.get_view(self.env.ref(view_ref).id, view_type)["arch"]
            fields = etree.fromstring(arch).xpath("//field[@name='marketing_score_band']")
            self.assertTrue(fields, f"{view_ref} shows the band")
        # both variants of the form (lead and opportunity) show it
        form_arch = etree.fromstring(
            Lead.get_view(self.env.ref("crm.crm_lead_view_form").id, "form")["arch"]
        )
        self.assertEqual(len(form_arch.xpath("//field[@name='marketing_score_band']")), 2)
        alice = self.make_partners(1)
        with Form(Lead.with_context(default_type="opportunity")) as form:
            form.name = "Deal"
            form.partner_id = alice
            self.assertEqual(form.marketing_score_band, "cold")
