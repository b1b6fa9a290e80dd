import re
from contextlib import contextmanager
from datetime import datetime

from odoo.tests import new_test_user
from odoo.tools import mail

from odoo.addons.base.tests.test_ir_cron import CronMixinCase
from odoo.addons.mass_mailing.tests.common import MassMailCase

NOW = datetime(2026, 3, 2, 9, 0, 0)  # a Monday


class TriggerMarketingCase(MassMailCase, CronMixinCase):
    """Scenarios on real Odoo: helpers to build trees, move time and run the cron."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cron = cls.env.ref("trigger_marketing.ir_cron_scenario_process")
        cls.user_marketing = new_test_user(
            cls.env,
            login="tm_user",
            groups="base.group_user,trigger_marketing.marketing_scenario_group_user",
            email="tm.user@example.com",
            name="Maria Marketer",
        )
        cls.user_manager = new_test_user(
            cls.env,
            login="tm_manager",
            groups="base.group_user,trigger_marketing.marketing_scenario_group_manager",
            email="tm.manager@example.com",
        )
        cls.partner_model = cls.env["ir.model"]._get("res.partner")
        # never rely on demo data: no demo score rule, band action or running scenario
        cls.env["marketing.score.rule"].search([]).active = False
        cls.env["marketing.score.band.action"].search([]).active = False
        cls.env["marketing.scenario"].search([("state", "=", "running")]).state = "stopped"
        cls.set_score_settings(warm=20, hot=50, decay=False)

    @classmethod
    def set_score_settings(
        cls, warm=None, hot=None, decay=None, decay_percent=None, decay_period=None
    ):
        ICP = cls.env["ir.config_parameter"].sudo()
        values = {
            "trigger_marketing.score_warm": warm,
            "trigger_marketing.score_hot": hot,
            "trigger_marketing.score_decay": decay,
            "trigger_marketing.score_decay_percent": decay_percent,
            "trigger_marketing.score_decay_period": decay_period,
        }
        for key, value in values.items():
            if value is not None:
                ICP.set_param(key, value if value is not True else "True")

    # ------------------------------------------------------------
    # Builders
    # ------------------------------------------------------------

    def make_scenario(self, **vals):
        values = {
            "name": "Scenario",
            "model_id": self.partner_model.id,
            "trigger": "manual",
            "domain": "[('email', '!=', False)]",
        }
        values.update(vals)
        return self.env["marketing.scenario"].create(values)

    def make_mailing(self, scenario, subject="Hello", body='<p>Hello <t t-out="object.name"/></p>'):
        return self.env["mailing.mailing"].create(
            {
                "name": subject,
                "subject": subject,
                "body_html": body,
                "mailing_model_id": scenario.model_id.id,
                "use_in_trigger_marketing": True,
            }
        )

    def make_step(self, scenario, action_type="wait", parent=None, **vals):
        values = {
            "name": vals.pop("name", action_type.capitalize()),
            "scenario_id": scenario.id,
            "action_type": action_type,
            "parent_id": parent.id if parent else False,
        }
        if action_type == "mail" and "mailing_id" not in vals:
            values["mailing_id"] = self.make_mailing(scenario, subject=values["name"]).id
        values.update(vals)
        return self.env["marketing.scenario.step"].create(values)

    def make_rule(self, event="mail_click", points=5, **vals):
        return self.env["marketing.score.rule"].create(
            dict({"name": f"{event} {points:+d}", "event": event, "points": points}, **vals)
        )

    def make_partners(self, count, **vals):
        return self.env["res.partner"].create(
            [
                dict(
                    {"name": f"Contact {i}", "email": f"contact{i}@example.com"},
                    **vals,
                )
                for i in range(count)
            ]
        )

    # ------------------------------------------------------------
    # Time and cron
    # ------------------------------------------------------------

    @contextmanager
    def at(self, when):
        """Freeze Python and database time at ``when``."""
        with self.mock_datetime_and_now(when):
            yield

    def run_cron(self):
        """Run the processing cron as the scheduler would (its own cursor, commits)."""
        with self.enter_registry_test_mode():
            self.cron.method_direct_trigger()
        self.env.invalidate_all()

    def traces(self, step, state=None):
        domain = [("step_id", "=", step.id)]
        if state:
            domain.append(("state", "=", state))
        return self.env["marketing.scenario.trace"].search(domain)

    def send_queue(self):
        """Let the outgoing mail queue send (SMTP is mocked by ``mock_mail_gateway``)."""
        self.env["mail.mail"].sudo().search([("state", "=", "outgoing")]).send()
        self.env.invalidate_all()

    def mailing_trace(self, step, record):
        return self.env["mailing.trace"].search(
            [
                ("mass_mailing_id", "=", step.mailing_id.id),
                ("res_id", "=", record.id),
                ("model", "=", record._name),
            ]
        )

    def trace_of(self, step, record):
        return self.env["marketing.scenario.trace"].search(
            [("step_id", "=", step.id), ("participant_id.res_id", "=", record.id)]
        )

    def handle_mail_events(self):
        """What the engine's next run does with the recorded mail events: the tracking
        requests and the mail gateway only record them (``marketing.mail.event``)."""
        # as the engine's cron: in the company's language (a cron has none)
        lang = self.env.company.partner_id.lang or "en_US"
        self.env["marketing.mail.event"].sudo().with_context(lang=lang)._process_queue()
        self.env.invalidate_all()

    # mass_mailing's helpers, then the engine handles the event they recorded
    def gateway_mail_trace_open(self, mailing, record):
        res = super().gateway_mail_trace_open(mailing, record)
        self.handle_mail_events()
        return res

    def gateway_mail_trace_click(self, mailing, record, click_label):
        res = super().gateway_mail_trace_click(mailing, record, click_label)
        self.handle_mail_events()
        return res

    def gateway_mail_trace_reply(self, mailing, record):
        res = super().gateway_mail_trace_reply(mailing, record)
        self.handle_mail_events()
        return res

    def gateway_mail_trace_bounce(self, mailing, record, bounce_base_values=None):
        res = super().gateway_mail_trace_bounce(mailing, record, bounce_base_values)
        self.handle_mail_events()
        return res

    def click(self, step, partner, label):
        """Click the link ``label`` of the mail ``step`` sent to ``partner``, as the
        tracking route does."""
        trace = self.mailing_trace(step, partner)
        email = self._find_sent_email_wemail(partner.email_formatted)
        for _href, url, _dummy, link_label in re.findall(mail.HTML_TAG_URL_REGEX, email["body"]):
            if link_label == label and "/r/" in url:
                code = url.split("/r/")[1].split("/")[0]
                self.env["link.tracker.click"].sudo().add_click(
                    code, ip="10.0.0.1", country_code="BE", mailing_trace_id=trace.id
                )
                self.handle_mail_events()
                return trace
        raise AssertionError(f"link {label} not found in the mail to {partner.email}")
