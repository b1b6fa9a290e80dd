from odoo.tests import tagged

from odoo.addons.trigger_marketing.models.marketing_scenario_templates import (
    MarketingScenario as CoreTemplates,
)
from odoo.addons.trigger_marketing.tests.common import NOW, TriggerMarketingCase


@tagged("post_install", "-at_install")
class TestCoupon(TriggerMarketingCase):
    """Each recipient of a coupon e-mail gets its own single-use code of a loyalty
    program, printed in its e-mail; the ready-made scenarios use it."""

    def test_each_contact_gets_its_own_code(self):
        program = self.env["marketing.scenario"]._template_coupon_program()
        with self.at(NOW):
            scenario = self.make_scenario(domain="[]")
            step = self.make_step(
                scenario,
                "mail",
                name="Coupon",
                coupon_program_id=program.id,
                mail_body_html=(
                    "<p>Your code: <t t-out=\"marketing_coupon.get(object.id, '')\"/></p>"
                ),
            )
            scenario.action_start()
            partners = self.make_partners(3)
            scenario.enroll(partners)
            with self.mock_mail_gateway():
                self.run_cron()
                self.send_queue()
                cards = self.env["loyalty.card"].search([("program_id", "=", program.id)])
                self.assertEqual(cards.partner_id, partners)
                self.assertEqual(len(set(cards.mapped("code"))), 3, "one code each")
                self.assertEqual(set(cards.mapped("points")), {1.0})
                for card in cards:
                    mail = self._find_sent_email_wemail(card.partner_id.email_formatted)
                    self.assertIn(f"Your code: {card.code}", mail["body"])
                    self.assertEqual(card.marketing_trace_id, self.trace_of(step, card.partner_id))
                # loyalty's own "coupon created" e-mail is not sent on top of ours
                self.assertEqual(len(self._mails), 3)

    def test_templates_without_and_with_coupons(self):
        """Without the bridge, no coupon (the core's hook); with it, a real program."""
        Scenario = self.env["marketing.scenario"]
        self.assertIsNone(CoreTemplates._template_coupon(Scenario))
        self.assertFalse(CoreTemplates._template_has_coupon(Scenario))
        self.assertTrue(Scenario._template_has_coupon())
        coupon = Scenario._template_coupon()
        program = self.env["loyalty.program"].browse(coupon["step"]["coupon_program_id"])
        self.assertEqual(program.program_type, "coupons")
        self.assertEqual(program.reward_ids.discount, 10)
        self.assertEqual(Scenario._template_coupon()["step"]["coupon_program_id"], program.id)
