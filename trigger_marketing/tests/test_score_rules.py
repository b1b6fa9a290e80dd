from datetime import timedelta

from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import NOW, TriggerMarketingCase


@tagged("post_install", "-at_install")
class TestScoreRules(TriggerMarketingCase):
    """Score rules: events give points, capped per period, filtered by scenario."""

    def score_event(self, event, partners, **kwargs):
        return self.env["res.partner"]._marketing_score_event(event, partners, **kwargs)

    def send_scenario_mail(self, name, partners):
        """A running scenario with one e-mail step, sent to ``partners`` (call it inside
        ``mock_mail_gateway``)."""
        scenario = self.make_scenario(name=name)
        step = self.make_step(
            scenario,
            "mail",
            name=f"{name} mail",
            mailing_id=self.make_mailing(
                scenario,
                f"{name} mail",
                '<p>Hi <t t-out="object.name"/> <a href="https://www.example.com/shop">shop</a></p>',
            ).id,
        )
        scenario.action_start()
        scenario.enroll(partners)
        self.run_cron()
        self.send_queue()
        return scenario, step

    def test_rule_validation(self):
        with self.assertRaisesRegex(ValidationError, "gives no points"):
            self.make_rule(points=0)
        with self.assertRaisesRegex(ValidationError, "give the event's name"):
            self.make_rule(event="event", points=5)
        with self.assertRaisesRegex(ValidationError, "cannot be negative"):
            self.make_rule(points=5, cap_points=-1)
        with self.assertRaisesRegex(ValidationError, "smaller than the points"):
            self.make_rule(points=-10, cap_points=5)
        rule = self.make_rule(event="event", event_name="  pricing  ", points=5, cap_points=5)
        self.assertEqual(rule.event_name, "pricing")
        self.assertEqual(rule.summary, "Named event 'pricing': +5 points, at most 5 per week")

    def test_cap_per_sliding_week(self):
        """Capped at 3 clicks' worth a week: the 4th click of the week adds nothing and
        writes no line; a week after the first clicks, points come again."""
        rule = self.make_rule("mail_click", 5, cap_points=15, cap_period="week")
        partner = self.make_partners(1)
        for day in range(4):
            with self.at(NOW + timedelta(days=day)):
                self.score_event("mail_click", partner)
        self.assertEqual(partner.marketing_score, 15)
        self.assertEqual(len(partner.marketing_score_history_ids), 3)
        with self.at(NOW + timedelta(days=6, hours=23)):
            self.score_event("mail_click", partner)
            self.assertEqual(partner.marketing_score, 15, "still within 7 days of 3 clicks")
        with self.at(NOW + timedelta(days=7, hours=1)):
            # the click of day 0 left the window: room for one more
            self.score_event("mail_click", partner)
            self.assertEqual(partner.marketing_score, 20)
            self.score_event("mail_click", partner)
            self.assertEqual(partner.marketing_score, 20)
        self.assertEqual(partner.marketing_score_history_ids.rule_id, rule)
        self.assertEqual(sum(partner.marketing_score_history_ids.mapped("points")), 20)

    def test_cap_within_one_batch_partial_and_negative(self):
        """Caps also hold inside one batch; the last event gets what is left; a negative
        rule's cap bounds the points removed."""
        self.make_rule("mail_click", 5, cap_points=12, cap_period="day")
        self.make_rule("mail_bounce", -10, cap_points=10, cap_period="month")
        alice, bob = self.make_partners(2)
        Partner = self.env["res.partner"]
        with self.at(NOW):
            changes = self.score_event("mail_click", Partner.browse([alice.id] * 4 + [bob.id]))
            self.assertEqual(changes, {alice.id: (0, 12), bob.id: (0, 5)})
            self.assertEqual(sorted(alice.marketing_score_history_ids.mapped("points")), [2, 5, 5])
            self.score_event("mail_bounce", alice | bob)
            self.score_event("mail_bounce", alice | bob)
        self.assertEqual((alice.marketing_score, bob.marketing_score), (2, -5))
        with self.at(NOW + timedelta(days=1, minutes=1)):
            self.score_event("mail_click", alice)
        self.assertEqual(alice.marketing_score, 7, "the daily cap starts again the next day")

    def test_every_matching_rule_counts(self):
        self.make_rule("event", 10, event_name="pricing_page_visited")
        self.make_rule("event", 3, event_name="pricing_page_visited")
        self.make_rule("event", 50, event_name="demo_booked")
        partner = self.make_partners(1)
        self.score_event("event", partner, event_name="pricing_page_visited")
        self.assertEqual(partner.marketing_score, 13)
        self.score_event("event", partner, event_name="unknown")
        self.score_event("signup", partner)
        self.assertEqual(partner.marketing_score, 13, "no rule, no points")

    def test_history_is_explainable(self):
        rule = self.make_rule("cart_abandoned", 10)
        partner = self.make_partners(1)
        source = self.env["mailing.list"].create({"name": "A source record"})
        with self.at(NOW):
            self.score_event("cart_abandoned", partner, source=source, description="2 items")
        line = partner.marketing_score_history_ids
        self.assertRecordValues(
            line,
            [
                {
                    "points": 10,
                    "rule_id": rule.id,
                    "event": "cart_abandoned",
                    "description": "cart_abandoned +10: 2 items",
                    "date": NOW,
                    "res_model": "mailing.list",
                    "res_id": source.id,
                }
            ],
        )
        self.assertEqual(line.source_ref, source)
        self.assertEqual(partner.marketing_last_engagement, NOW)
        source.unlink()
        line.invalidate_recordset()
        self.assertFalse(line.source_ref, "a deleted source does not break the history")

    def test_sources_aligned_with_partners(self):
        self.make_rule("cart_abandoned", 10)
        alice, bob = self.make_partners(2)
        carts = self.env["mailing.list"].create(
            [{"name": "cart 1"}, {"name": "cart 2"}, {"name": "cart 3"}]
        )
        Partner = self.env["res.partner"]
        self.score_event(
            "cart_abandoned", Partner.browse([alice.id, bob.id, alice.id]), source=carts
        )
        self.assertEqual((alice.marketing_score, bob.marketing_score), (20, 10))
        self.assertEqual(
            sorted(alice.marketing_score_history_ids.mapped("res_id")), sorted(carts[0::2].ids)
        )
        with self.assertRaises(ValueError):
            self.score_event("cart_abandoned", alice | bob, source=carts)

    def test_company_of_the_rule(self):
        other = self.env["res.company"].create({"name": "Other company"})
        self.make_rule("order_confirmed", 30, company_id=other.id)
        self.make_rule("order_confirmed", 1, company_id=False)
        partner = self.make_partners(1)
        self.score_event("order_confirmed", partner)
        self.assertEqual(partner.marketing_score, 1, "events of the current company")
        scenario = self.make_scenario(company_id=other.id)
        self.score_event("order_confirmed", partner, scenario=scenario)
        self.assertEqual(partner.marketing_score, 32, "events of the scenario's company")

    # ------------------------------------------------------------
    # Mail events (through mass_mailing's tracking)
    # ------------------------------------------------------------

    def test_rules_filtered_by_scenario(self):
        """A rule restricted to scenario A counts A's mails only; a general rule counts
        every mail, including plain mass mailings."""
        alice, bob = self.make_partners(2)
        with self.at(NOW), self.mock_mail_gateway():
            scenario_a, step_a = self.send_scenario_mail("A", alice | bob)
            self.click(step_a, alice, "shop")  # no rule yet: no points, no line
            _scenario_b, step_b = self.send_scenario_mail("B", alice | bob)
            self.make_rule("mail_click", 10, name="Clicked A", scenario_ids=[scenario_a.id])
            self.make_rule("mail_click", 1, name="Clicked any")
            self.assertFalse(alice.marketing_score_history_ids)
            self.click(step_a, bob, "shop")
            self.click(step_b, alice, "shop")
            self.assertEqual((alice.marketing_score, bob.marketing_score), (1, 11))
            line = bob.marketing_score_history_ids.filtered(lambda h: h.points == 10)
            self.assertEqual(line.scenario_id, scenario_a)
            self.assertEqual(line.step_id, step_a)
            self.assertEqual(line.trace_id, self.trace_of(step_a, bob))
            self.assertEqual(line.source_ref, self.mailing_trace(step_a, bob))
            # a plain mass mailing on a mailing list: the contact is found by address
            mailing = self.env["mailing.mailing"].create(
                {
                    "name": "Newsletter",
                    "subject": "Newsletter",
                    "body_html": "<p>News</p>",
                    "mailing_model_id": self.env["ir.model"]._get_id("mailing.contact"),
                }
            )
            contact = self.env["mailing.contact"].create(
                {"name": "Bob list", "email": bob.email.upper()}
            )
            trace = self._create_sent_traces(mailing, contact)
            trace.set_clicked()
            self.handle_mail_events()
            self.assertEqual((alice.marketing_score, bob.marketing_score), (1, 12))
            latest = self.env["marketing.score.history"].search(
                [("partner_id", "=", bob.id)], limit=1
            )
            self.assertEqual((latest.points, latest.res_id), (1, trace.id))
            self.assertFalse(latest.scenario_id)

    def test_mail_events_count_once_per_mail(self):
        self.make_rule("mail_open", 1)
        self.make_rule("mail_click", 5)
        self.make_rule("mail_reply", 20)
        alice = self.make_partners(1)
        with self.at(NOW), self.mock_mail_gateway():
            _scenario, step = self.send_scenario_mail("A", alice)
            mailing = step.mailing_id
            self.gateway_mail_trace_open(mailing, alice)
            self.gateway_mail_trace_open(mailing, alice)
            self.assertEqual(alice.marketing_score, 1)
            self.click(step, alice, "shop")
            self.click(step, alice, "shop")
            self.assertEqual(alice.marketing_score, 6, "a click implies no second open")
            self.gateway_mail_trace_reply(mailing, alice)
            self.gateway_mail_trace_reply(mailing, alice)
            self.assertEqual(alice.marketing_score, 26)
            self.assertEqual(
                sorted(alice.marketing_score_history_ids.mapped("event")),
                ["mail_click", "mail_open", "mail_reply"],
            )

    def test_bounce_rule(self):
        self.make_rule("mail_bounce", -10)
        alice, bob = self.make_partners(2)
        with self.at(NOW), self.mock_mail_gateway():
            _scenario, step = self.send_scenario_mail("A", alice | bob)
            self.gateway_mail_trace_bounce(step.mailing_id, bob)
        self.assertEqual((alice.marketing_score, bob.marketing_score), (0, -10))
        self.assertEqual(bob.marketing_score_history_ids.event, "mail_bounce")
        self.assertFalse(bob.marketing_last_engagement, "a bounce is no engagement")

    def test_test_mails_never_score(self):
        self.make_rule("mail_open", 1)
        alice = self.make_partners(1)
        scenario = self.make_scenario()
        step = self.make_step(scenario, "mail", name="Hello")
        with self.at(NOW):
            scenario.enroll(alice, test=True)
            with self.mock_mail_gateway():
                self.run_cron()
                self.send_queue()
            trace = self.env["mailing.trace"].search([("mass_mailing_id", "=", step.mailing_id.id)])
            self.assertTrue(trace.is_test_trace)
            trace.set_opened()
            self.handle_mail_events()
        self.assertEqual(alice.marketing_score, 0)

    # ------------------------------------------------------------
    # Unsubscribes
    # ------------------------------------------------------------

    def test_unsubscribe_from_a_list(self):
        self.make_rule("unsubscribe", -25, cap_points=25, cap_period="month")
        alice, bob = self.make_partners(2)
        lists = self.env["mailing.list"].create([{"name": "News"}, {"name": "Offers"}])
        for partner in alice | bob:
            self.env["mailing.contact"].create(
                {"name": partner.name, "email": partner.email, "list_ids": [(6, 0, lists.ids)]}
            )
        with self.at(NOW):
            # leaving two lists at once is one unsubscribe
            lists._update_subscription_from_email(alice.email, opt_out=True)
            self.assertEqual((alice.marketing_score, bob.marketing_score), (-25, 0))
            self.assertEqual(alice.marketing_score_history_ids.source_ref, lists[0])
            # already opted out: nothing more; the cap counts it once a month anyway
            lists._update_subscription_from_email(alice.email, opt_out=True)
            self.env["mail.blacklist"]._add(alice.email)
            self.assertEqual(alice.marketing_score, -25)

    def test_unsubscribe_by_blacklist_from_a_scenario_mail(self):
        """The unsubscribe link of a scenario mail: the controller passes the mailing,
        so a rule restricted to the scenario counts it."""
        alice, bob = self.make_partners(2)
        with self.at(NOW), self.mock_mail_gateway():
            scenario, step = self.send_scenario_mail("A", alice | bob)
            self.make_rule("unsubscribe", -30, scenario_ids=[scenario.id])
            Blacklist = self.env["mail.blacklist"]
            Blacklist.with_context(trigger_marketing_mailing_id=step.mailing_id.id)._add(
                alice.email
            )
            Blacklist._add(bob.email)  # not from the scenario's mail
            self.assertEqual((alice.marketing_score, bob.marketing_score), (-30, 0))
            line = alice.marketing_score_history_ids
            self.assertEqual((line.scenario_id, line.source_ref), (scenario, step.mailing_id))
            # blacklisting an address already blacklisted is not a new event
            Blacklist.with_context(trigger_marketing_mailing_id=step.mailing_id.id)._add(
                alice.email
            )
            self.assertEqual(alice.marketing_score, -30)
