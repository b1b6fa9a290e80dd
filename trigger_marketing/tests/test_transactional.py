from odoo.tests import tagged

from .common import NOW, TriggerMarketingCase

UNSUBSCRIBE_BODY = (
    '<p>Your order <t t-out="object.name"/> is confirmed.</p>'
    '<p><a href="/unsubscribe_from_list">Unsubscribe</a></p>'
)


@tagged("post_install", "-at_install")
class TestTransactional(TriggerMarketingCase):
    def _scenario(self, transactional):
        scenario = self.make_scenario(name="Orders", domain="[]")
        step = self.make_step(
            scenario,
            "mail",
            name="Confirmation",
            mailing_id=self.make_mailing(scenario, "Your order", UNSUBSCRIBE_BODY).id,
        )
        step.transactional = transactional
        return scenario, step

    def _run(self, scenario, partners):
        with self.at(NOW), self.mock_mail_gateway():
            scenario.action_start()
            scenario.enroll(partners)
            self.run_cron()
            self.send_queue()

    def test_transactional_reaches_contacts_who_unsubscribed_but_not_invalid_ones(self):
        blacklisted, invalid, fine = self.env["res.partner"].create(
            [
                {"name": "Bob", "email": "bob@example.com"},
                {"name": "Ivy", "email": "not-an-address"},
                {"name": "Fay", "email": "fay@example.com"},
            ]
        )
        self.env["mail.blacklist"].sudo()._add("bob@example.com")
        marketing, marketing_step = self._scenario(transactional=False)
        self._run(marketing, blacklisted | fine)
        self.assertEqual(self.trace_of(marketing_step, blacklisted).reason_code, "blacklisted")
        scenario, step = self._scenario(transactional=True)
        self.assertTrue(step.mailing_id.trigger_marketing_transactional)
        self.assertFalse(step.mailing_id.use_exclusion_list)
        self._run(scenario, blacklisted | invalid | fine)
        self.assertEqual(self.trace_of(step, blacklisted).state, "done")
        self.assertEqual(self.mailing_trace(step, blacklisted).trace_status, "sent")
        self.assertEqual(self.trace_of(step, invalid).state, "skipped")
        self.assertEqual(self.trace_of(step, invalid).reason_code, "invalid_email")
        self.assertEqual(self.trace_of(step, fine).state, "done")
        self.assertIn("transactional", step.summary)

    def test_no_unsubscribe_link_nor_list_headers(self):
        fay, zoe = self.make_partners(2)
        scenario, step = self._scenario(transactional=True)
        self._run(scenario, fay)
        sent = self._find_sent_email_wemail(fay.email_formatted)
        self.assertNotIn("List-Unsubscribe", sent["headers"])
        self.assertNotIn("unsubscribe", sent["body"].lower())
        self.assertIn("is confirmed", sent["body"])
        # the same e-mail as marketing keeps both
        marketing, _step = self._scenario(transactional=False)
        self._run(marketing, zoe)
        sent = self._find_sent_email_wemail(zoe.email_formatted)
        self.assertIn("List-Unsubscribe", sent["headers"])
        self.assertIn("unsubscribe", sent["body"].lower())
