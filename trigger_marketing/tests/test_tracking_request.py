"""The public tracking request only records the event: the engine does the rest.

A real HTTP request on mass_mailing's open pixel (``/mail/track/<id>/<token>/blank.gif``):
it records the open (``marketing.mail.event``) and wakes the processing cron; the branch
waiting for the open, the score and the band actions run in the cron's next run, once.
"""

import logging

from odoo.tests import HttpCase, tagged

_logger = logging.getLogger(__name__)

# queries of one open request, caches warm (token, mass_mailing's trace update, our INSERTs)
OPEN_REQUEST_QUERIES = 9


@tagged("post_install", "-at_install")
class TestTrackingRequest(HttpCase):
    def setUp(self):
        super().setUp()
        env = self.env
        env["marketing.score.rule"].search([]).active = False
        env["marketing.score.band.action"].search([]).active = False
        env["marketing.scenario"].search([("state", "=", "running")]).state = "stopped"
        ICP = env["ir.config_parameter"].sudo()
        ICP.set_param("trigger_marketing.score_warm", 5)
        ICP.set_param("trigger_marketing.score_hot", 50)
        self.cron = env.ref("trigger_marketing.ir_cron_scenario_process")
        partner_model = env["ir.model"]._get("res.partner")
        self.scenario = env["marketing.scenario"].create(
            {"name": "Tracked", "model_id": partner_model.id, "domain": "[]"}
        )
        mailing = env["mailing.mailing"].create(
            {
                "name": "Hello",
                "subject": "Hello",
                "body_html": "<p>Hello</p>",
                "mailing_model_id": partner_model.id,
                "use_in_trigger_marketing": True,
            }
        )
        Step = env["marketing.scenario.step"]
        self.mail_step = Step.create(
            {
                "name": "Hello",
                "scenario_id": self.scenario.id,
                "action_type": "mail",
                "mailing_id": mailing.id,
            }
        )
        self.opened = Step.create(
            {
                "name": "Opened",
                "scenario_id": self.scenario.id,
                "parent_id": self.mail_step.id,
                "trigger_type": "mail_open",
                "delay": 3,
                "delay_unit": "days",
                "action_type": "wait",
            }
        )
        env["marketing.score.rule"].create({"name": "Open", "event": "mail_open", "points": 7})
        self.warm_tag = env["res.partner.category"].create({"name": "Warm"})
        env["marketing.score.band.action"].create(
            {"name": "Warm", "band": "warm", "tag_ids": [(6, 0, self.warm_tag.ids)]}
        )
        self.alice, bob = env["res.partner"].create(
            [
                {"name": "Alice", "email": "alice@example.com"},
                {"name": "Bob", "email": "bob@example.com"},
            ]
        )
        self.scenario.action_start()
        self.participant = self.scenario.enroll(self.alice)
        self.scenario.enroll(bob)
        self.cron.method_direct_trigger()
        mails = env["mailing.trace"].search([("mass_mailing_id", "=", mailing.id)])
        self.mail = mails.filtered(lambda m: m.res_id == self.alice.id)
        self.bob_mail = mails - self.mail
        self.assertEqual(len(self.mail), 1)

    def open_pixel(self, mail=None):
        mail_id = (mail or self.mail).mail_mail_id_int
        token = self.env["mail.mail"]._generate_mail_recipient_token(mail_id)
        return self.url_open(
            f"/mail/track/{mail_id}/{token}/blank.gif",
            headers={"User-Agent": "Thunderbird/128.0"},
        )

    def test_open_request_records_the_event_the_engine_does_the_rest(self):
        self.open_pixel(self.bob_mail)  # warm caches: the figure is of a usual request
        self.env.flush_all()
        count0 = self.cr.sql_log_count
        response = self.open_pixel()
        queries = self.cr.sql_log_count - count0
        _logger.info("one open request: %s queries", queries)
        self.assertEqual(response.status_code, 200)
        self.env.invalidate_all()
        self.assertEqual(self.mail.trace_status, "open", "mass_mailing's tracking as before")
        # nothing of the engine ran in the request
        waiting = self.participant.trace_ids.filtered(lambda t: t.step_id == self.opened)
        self.assertEqual(waiting.state, "waiting")
        self.assertEqual(self.alice.marketing_score, 0, "no scoring in the request")
        self.assertFalse(self.alice.category_id, "no band action in the request")
        event = self.env["marketing.mail.event"].search([("mailing_trace_id", "=", self.mail.id)])
        self.assertEqual(event.event, "open")
        self.assertEqual(event.user_agent, "Thunderbird/128.0")
        self.assertEqual(event.ip, "127.0.0.1")
        self.assertTrue(
            self.env["ir.cron.trigger"].search(
                [("cron_id", "=", self.cron.id), ("call_at", "<=", event.date)]
            ),
            "the engine is woken at once",
        )
        self.assertLessEqual(queries, OPEN_REQUEST_QUERIES)
        # the engine's next run: branch woken and run, scored once, band action done
        self.cron.method_direct_trigger()
        self.env.invalidate_all()
        self.assertEqual(waiting.state, "done")
        self.assertEqual(self.alice.marketing_score, 7)
        self.assertEqual(self.alice.category_id, self.warm_tag)
        self.assertFalse(self.env["marketing.mail.event"].search([]), "handled once, gone")
        # a second open is no new event; the next run scores nothing more
        self.open_pixel()
        self.cron.method_direct_trigger()
        self.env.invalidate_all()
        self.assertEqual(self.alice.marketing_score, 7)
        self.assertEqual(len(self.alice.marketing_score_history_ids), 1)
