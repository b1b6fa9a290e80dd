from odoo.tests import tagged

from .common import TriggerMarketingCase


@tagged("post_install", "-at_install")
class TestPreview(TriggerMarketingCase):
    """Before starting: the audience now, and how many would take each branch."""

    def test_audience_and_branch_counts(self):
        scenario = self.make_scenario(
            domain="[('email', 'ilike', '@preview.example.com')]",
            goal_domain="[('is_company', '=', True)]",
        )
        city = self.make_step(
            scenario, "condition", name="In Paris", condition_domain="[('city', '=', 'Paris')]"
        )
        phone = self.make_step(
            scenario,
            "condition",
            city,
            name="Has a phone",
            trigger_type="yes",
            condition_domain="[('phone', '!=', False)]",
        )
        # a branch under "no" filtered by "only if": it narrows its own path
        vip = self.make_step(
            scenario,
            "condition",
            city,
            name="VIP",
            trigger_type="no",
            filter_domain="[('ref', '!=', False)]",
            condition_domain="[('ref', '=', 'VIP')]",
        )
        Partner = self.env["res.partner"]

        def make(count, **vals):
            return Partner.create(
                [
                    dict(
                        {"name": f"P{i}", "email": f"p{i}.{len(vals)}{count}@preview.example.com"},
                        **vals,
                    )
                    for i in range(count)
                ]
            )

        make(3, city="Paris", phone="+33 1 00 00 00 00")
        make(2, city="Paris")
        make(1, city="Lyon", ref="VIP")
        make(1, city="Lyon", ref="OTHER")
        make(2, city="Lyon")
        make(1, city="Paris", is_company=True)  # goal reached: would not enter
        Partner.create({"name": "Elsewhere", "email": "x@elsewhere.example.com", "city": "Paris"})

        self.assertEqual(scenario.audience_count, 9)
        self.assertEqual((city.preview_yes_count, city.preview_no_count), (5, 4))
        self.assertEqual((phone.preview_yes_count, phone.preview_no_count), (3, 2))
        self.assertEqual((vip.preview_yes_count, vip.preview_no_count), (1, 1))
        self.assertEqual(scenario.preview_step_ids, city | phone | vip)
        # mail branches are unforeseeable: they keep the path of their parent
        mail = self.make_step(scenario, "mail", city, trigger_type="yes", name="Hello")
        opened = self.make_step(
            scenario,
            "condition",
            mail,
            trigger_type="mail_open",
            delay=2,
            name="Opened and phone",
            condition_domain="[('phone', '!=', False)]",
        )
        self.assertEqual((opened.preview_yes_count, opened.preview_no_count), (3, 2))

    def test_invalid_audience_counts_nothing(self):
        scenario = self.make_scenario(domain="[('email', '!=', False)]")
        scenario.write({"model_id": self.partner_model.id})
        self.env.cr.execute(
            "UPDATE marketing_scenario SET domain = %s WHERE id = %s",
            ["[('no_such_field', '=', 1)]", scenario.id],
        )
        scenario.invalidate_recordset()
        self.assertEqual(scenario.audience_count, 0)
