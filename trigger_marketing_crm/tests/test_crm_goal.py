from odoo.tests import tagged

from odoo.addons.trigger_marketing.tests.common import NOW, TriggerMarketingCase


@tagged("post_install", "-at_install")
class TestCrmGoal(TriggerMarketingCase):
    """ "Has an opportunity": the contact's walk converts when the opportunity is created,
    or when a lead becomes one, in the same transaction."""

    def test_goal_has_an_opportunity(self):
        with self.at(NOW):
            alice, bob, carol = self.make_partners(3)
            scenario = self.make_scenario(goal_domain="[('opportunity_ids', '!=', False)]")
            self.make_step(scenario, "wait", name="Wait", delay=10)
            scenario.action_start()
            scenario.enroll(alice | bob | carol)
            Lead = self.env["crm.lead"]
            Lead.create({"name": "Alice's deal", "partner_id": alice.id, "type": "opportunity"})
            lead = Lead.create({"name": "Bob's lead", "partner_id": bob.id, "type": "lead"})
            states = {p.res_id: p.state for p in scenario.participant_ids}
            self.assertEqual(states[alice.id], "converted")
            self.assertEqual(states[bob.id], "running", "a lead is not an opportunity")
            lead.convert_opportunity(bob)
            scenario.participant_ids.invalidate_recordset()
            states = {p.res_id: p.state for p in scenario.participant_ids}
            self.assertEqual(states[bob.id], "converted")
            self.assertEqual(states[carol.id], "running")
