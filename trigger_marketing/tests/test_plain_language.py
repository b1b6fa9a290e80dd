from odoo.tests import tagged

from ..tools.domain_words import domain_in_words
from .common import NOW, TriggerMarketingCase


@tagged("post_install", "-at_install")
class TestPlainLanguage(TriggerMarketingCase):
    """Filters and steps in words, as the domain editor shows them."""

    def words(self, text, model="res.partner"):
        return domain_in_words(self.env[model], text)

    def test_conditions(self):
        us = self.env.ref("base.us")
        be = self.env.ref("base.be")
        self.assertIsNone(self.words("[]"))
        self.assertIsNone(self.words(""))
        self.assertEqual(self.words(f"[('country_id', '=', {us.id})]"), "Country is United States")
        self.assertEqual(
            self.words(f"[('country_id', 'in', [{us.id}, {be.id}])]"),
            "Country is United States or Belgium",
        )
        self.assertEqual(self.words(f"[('country_id', '!=', {be.id})]"), "Country is not Belgium")
        self.assertEqual(self.words("[('email', 'ilike', 'vip')]"), "Email contains “vip”")
        self.assertEqual(self.words("[('email', '!=', False)]"), "Email is set")
        self.assertEqual(self.words("[('email', '=', False)]"), "Email is not set")
        self.assertEqual(self.words("[('is_company', '=', True)]"), "Is a Company")
        self.assertEqual(self.words("[('type', '=', 'invoice')]"), "Address Type is Invoice")
        self.assertEqual(
            self.words(
                "['|', ('email', 'ilike', 'a'), ('phone', '!=', False), ('active', '=', True)]"
            ),
            "(Email contains “a” or Phone is set) and Active",
        )
        self.assertEqual(
            self.words("[('country_id.code', '=', 'US')]"), "Country > Country Code is “US”"
        )
        self.assertEqual(
            self.words("['!', ('email', 'ilike', 'test')]"), "not (Email contains “test”)"
        )

    def test_dates(self):
        self.assertEqual(
            self.words("[('birthdate', '<', '2000-01-01')]"), "Birth date is before 2000-01-01"
        )
        self.assertEqual(
            self.words(
                "[('create_date', '>=', (context_today() - relativedelta(days=30))"
                ".strftime('%Y-%m-%d'))]"
            ),
            "Created on is on or after 30 days ago",
        )
        self.assertEqual(
            self.words("[('birthdate', '<=', context_today() + relativedelta(weeks=1))]"),
            "Birth date is on or before in 1 week",
        )
        self.assertEqual(
            self.words("[('birthdate.month_number', '=', 3)]"), "Birth date > month is 3"
        )

    def test_step_summary(self):
        us = self.env.ref("base.us")
        with self.at(NOW):
            scenario = self.make_scenario()
            check = self.make_step(
                scenario,
                "condition",
                name="In the US?",
                condition_domain=f"[('country_id', '=', {us.id})]",
            )
            self.assertEqual(
                check.summary,
                "As soon as the record enters the scenario: check: Country is United States",
            )
            follow = self.make_step(
                scenario,
                "score",
                parent=check,
                trigger_type="yes",
                score_points=5,
                filter_domain="[('email', 'ilike', 'example.com')]",
            )
            self.assertEqual(
                follow.summary,
                "If “In the US?” says yes, only if Email contains “example.com”: "
                "add 5 points to the score",
            )
            # a new e-mail step before a name or a subject is typed
            Step = self.env["marketing.scenario.step"].with_context(
                default_scenario_id=scenario.id, default_action_type="mail"
            )
            new = Step.new({})
            self.assertNotIn("False", new.summary)
            self.assertIn("send an e-mail", new.summary)
