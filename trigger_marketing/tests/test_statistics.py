from odoo.tests import tagged

from .common import NOW, TriggerMarketingCase


@tagged("post_install", "-at_install")
class TestStatistics(TriggerMarketingCase):
    """Step and scenario figures, computed set-based on real participants only."""

    def _mail_scenario(self):
        scenario = self.make_scenario(domain="[]")
        welcome = self.make_step(scenario, "mail", name="Welcome")
        scenario.action_start()
        return scenario, welcome

    def test_step_statistics_on_known_traces(self):
        with self.at(NOW):
            scenario, welcome = self._mail_scenario()
            partners = self.make_partners(6)
            partners[1].email = False
            self.env["mail.blacklist"].sudo()._add(partners[0].email)
            scenario.enroll(partners)
            tester = self.make_partners(1, name="Tester", email="tester@example.com")
            scenario.enroll(tester, test=True)
            with self.mock_mail_gateway():
                self.run_cron()
                self.send_queue()
            mail = {p: self.mailing_trace(welcome, p) for p in partners}
            mail[partners[2]].set_opened()
            mail[partners[3]].set_opened()
            mail[partners[3]].set_clicked()
            mail[partners[4]].set_replied()
            mail[partners[5]].set_bounced()
            # the test participant opens and clicks too: it must not count
            self.mailing_trace(welcome, tester).set_opened()
            self.mailing_trace(welcome, tester).set_clicked()
            self.env["mail.blacklist"].sudo()._add(partners[2].email)  # unsubscribes
            self.handle_mail_events()  # the engine counts people's opens and clicks

            self.assertEqual(welcome.stat_done, 4)
            self.assertEqual(welcome.stat_skipped, 2)
            self.assertEqual((welcome.stat_pending, welcome.stat_failed), (0, 0))
            self.assertIn("Blacklisted: 1", welcome.stat_skipped_detail)
            self.assertIn("No e-mail address: 1", welcome.stat_skipped_detail)
            self.assertEqual(
                (
                    welcome.stat_sent,
                    welcome.stat_opened,
                    welcome.stat_clicked,
                    welcome.stat_replied,
                    welcome.stat_bounced,
                    welcome.stat_unsubscribed,
                ),
                (4, 3, 1, 1, 1, 1),
            )
            self.assertEqual(
                (
                    welcome.rate_opened,
                    welcome.rate_clicked,
                    welcome.rate_replied,
                    welcome.rate_bounced,
                    welcome.rate_unsubscribed,
                ),
                (75.0, 25.0, 25.0, 25.0, 25.0),
            )
            self.assertEqual((scenario.sent_count, scenario.opened_count), (4, 3))
            self.assertEqual((scenario.open_rate, scenario.click_rate), (75.0, 25.0))
            self.assertEqual(scenario.participant_count, 6, "the test walk is not counted")

    def test_condition_branch_statistics(self):
        with self.at(NOW):
            scenario = self.make_scenario(domain="[]")
            check = self.make_step(
                scenario, "condition", name="In Paris", condition_domain="[('city', '=', 'Paris')]"
            )
            scenario.action_start()
            partners = self.make_partners(5)
            partners[:2].city = "Paris"
            scenario.enroll(partners)
            self.run_cron()
            self.assertEqual((check.stat_done, check.stat_yes, check.stat_no), (5, 2, 3))

    def test_statistics_queries_do_not_grow_with_steps(self):
        scenario, welcome = self._mail_scenario()
        others = self.env["marketing.scenario.step"]
        for index in range(4):
            others |= self.make_step(
                scenario,
                "mail",
                welcome,
                name=f"Next {index}",
                trigger_type="mail_not_open",
                delay=1,
            )
        with self.at(NOW):
            scenario.enroll(self.make_partners(3))
            with self.mock_mail_gateway():
                self.run_cron()
        self.env.invalidate_all()
        with self.assertQueryCount(4):
            welcome.mapped("stat_done")  # computing is the point
        self.env.invalidate_all()
        with self.assertQueryCount(4):
            (welcome | others).mapped("stat_done")

    def test_kanban_figures_queries_do_not_grow_with_scenarios(self):
        scenarios = self.env["marketing.scenario"]
        for index in range(4):
            scenario = self.make_scenario(name=f"Scenario {index}", domain="[]")
            self.make_step(scenario, "mail", name=f"Hello {index}")
            scenario.action_start()
            scenarios |= scenario
        with self.at(NOW):
            for scenario in scenarios:
                scenario.enroll(self.make_partners(2, name=f"{scenario.name}"))
            with self.mock_mail_gateway():
                self.run_cron()
        figures = [
            "running_count",
            "sent_count",
            "open_rate",
            "conversion_rate",
            "converted_revenue",
            "participant_count",
        ]

        def queries(records):
            self.env.invalidate_all()
            before = self.env.cr.sql_log_count
            records.read(figures)
            return self.env.cr.sql_log_count - before

        queries(scenarios)  # warm the caches of the environment (user, company)
        self.assertEqual(queries(scenarios[:1]), queries(scenarios))
        self.assertEqual(scenarios[-1].participant_count, 2)

    def test_revenue_is_zero_without_amount(self):
        """A target without an amount (mailing contacts) has no revenue (contacts have one
        when the sale bridge is installed: their orders)."""
        scenario = self.make_scenario(
            model_id=self.env["ir.model"]._get_id("mailing.contact"),
            domain="[]",
            goal_domain="[('email', 'ilike', 'won')]",
        )
        self.assertFalse(scenario.has_revenue)
        self.assertEqual(scenario.converted_revenue, 0.0)

    def test_revenue_of_converted_orders(self):
        if "sale.order" not in self.env:
            self.skipTest(
                "sale is not installed: the generic revenue needs a model with "
                "a monetary amount_total"
            )
        order_model = self.env["ir.model"]._get("sale.order")
        scenario = self.make_scenario(
            model_id=order_model.id, domain="[]", goal_domain="[('state', '=', 'sale')]"
        )
        self.make_step(scenario, "wait", delay=1)
        scenario.action_start()
        self.assertTrue(scenario.has_revenue)
        product = self.env["product.product"].create({"name": "Chair", "list_price": 100.0})
        partner = self.make_partners(1)
        orders = self.env["sale.order"].create(
            [
                {
                    "partner_id": partner.id,
                    "order_line": [
                        (
                            0,
                            0,
                            {
                                "product_id": product.id,
                                "product_uom_qty": qty,
                                "price_unit": 100.0,
                                "tax_ids": False,
                            },
                        )
                    ],
                }
                for qty in (1, 2, 5)
            ]
        )
        scenario.enroll(orders[:2])
        scenario.enroll(orders[2], test=True)
        orders.action_confirm()  # the goal: the walks are converted
        self.env.invalidate_all()
        self.assertEqual(
            scenario.test_participant_ids.state,
            "converted",
            "the test walk converted too, and its 500 must not count",
        )
        self.assertEqual(scenario.converted_count, 2)
        self.assertEqual(scenario.converted_revenue, 300.0)
        self.assertEqual(scenario.revenue_currency_id, self.env.company.currency_id)
