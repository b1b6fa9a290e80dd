from odoo.tests import tagged

from .common import NOW, TriggerMarketingCase


@tagged("post_install", "-at_install")
class TestScorePerformance(TriggerMarketingCase):
    """Applying rules costs a constant number of queries, whatever the batch size."""

    def setUp(self):
        super().setUp()
        self.make_rule("event", 5, event_name="webinar", cap_points=10, cap_period="week")
        self.make_rule("event", 2, event_name="webinar")
        self.tag = self.env["res.partner.category"].create({"name": "Warm"})
        self.env["marketing.score.band.action"].create(
            {"name": "Warm", "band": "warm", "tag_ids": [(6, 0, self.tag.ids)]}
        )
        scenario = self.make_scenario(trigger="score", score_threshold=20, domain="[]")
        self.make_step(scenario, "wait", name="Wait", delay=1)
        scenario.action_start()
        self.scenario = scenario

    def apply(self, partners):
        self.env["res.partner"]._marketing_score_event("event", partners, event_name="webinar")

    def count_queries(self, partners):
        """Queries to score ``partners`` (flushed, cold record cache)."""
        self.env.flush_all()
        self.env.invalidate_all()
        start = self.cr.sql_log_count
        self.apply(partners)
        self.env.flush_all()
        return self.cr.sql_log_count - start

    def test_query_count_constant(self):
        """10 and 100 events cost the same: rules from the cache, one query for the caps,
        one insert of history lines, one update of totals; then band actions and
        threshold entries, one batch each."""
        small, large = self.make_partners(10), self.make_partners(100)
        warmup = self.make_partners(1)
        with self.at(NOW):
            self.env["res.partner"]._add_marketing_score(
                [
                    {"partner_id": p.id, "points": 13, "description": "base"}
                    for p in warmup | small | large
                ]
            )
            self.apply(warmup)  # fill the caches (rules, xml ids, defaults)
            # 13 + 7 = 20: every contact crosses the band and the threshold
            queries_small = self.count_queries(small)
            queries_large = self.count_queries(large)
        self.assertEqual(queries_small, queries_large)
        self.assertLessEqual(queries_large, 25)
        self.assertEqual(set((small | large).mapped("marketing_score")), {20})
        self.assertIn(self.tag, large[-1].category_id)
        self.assertEqual(len(self.scenario.participant_ids), 111)

    def test_query_count_without_crossing(self):
        small, large = self.make_partners(10), self.make_partners(100)
        with self.at(NOW):
            self.apply(self.make_partners(1))
            queries_small = self.count_queries(small)
            queries_large = self.count_queries(large)
        self.assertEqual(queries_small, queries_large)
        # cap sums, history insert, totals update
        self.assertEqual(queries_large, 3)
        self.assertEqual(len(large[0].marketing_score_history_ids), 2)

    def test_no_rule_no_query(self):
        partners = self.make_partners(5)
        self.env["res.partner"]._marketing_score_event("signup", partners)  # cache
        self.env.flush_all()
        start = self.cr.sql_log_count
        self.env["res.partner"]._marketing_score_event("signup", partners)
        self.assertEqual(self.cr.sql_log_count - start, 0)
