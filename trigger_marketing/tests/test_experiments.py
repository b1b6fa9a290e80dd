import math
from datetime import timedelta

from odoo.exceptions import ValidationError
from odoo.tests import tagged

from ..tools.experiments import (
    Sample,
    confidence_better,
    difference_interval,
    normal_quantile,
    pick_winner,
)
from .common import NOW, TriggerMarketingCase


@tagged("post_install", "-at_install")
class TestExperimentStatistics(TriggerMarketingCase):
    """The statistics themselves, against values computed by hand."""

    def test_two_proportion_z_test(self):
        # 60/500 vs 40/500: pooled p = 0.1, se = sqrt(0.1*0.9*(2/500)) = 0.018974,
        # z = 0.04 / 0.018974 = 2.1082, one-sided confidence Phi(z) = 0.98249
        a, b = Sample("a", 500, 60), Sample("b", 500, 40)
        self.assertAlmostEqual(confidence_better(a, b), 0.98249, places=4)
        self.assertAlmostEqual(confidence_better(b, a), 1 - 0.98249, places=4)

    def test_interval_of_a_difference(self):
        diff, low, high = difference_interval(Sample("t", 1000, 150), Sample("h", 1000, 100))
        se = math.sqrt(0.15 * 0.85 / 1000 + 0.1 * 0.9 / 1000)
        self.assertAlmostEqual(diff, 0.05)
        self.assertAlmostEqual(low, 0.05 - 1.959964 * se, places=5)
        self.assertAlmostEqual(high, 0.05 + 1.959964 * se, places=5)
        self.assertAlmostEqual(normal_quantile(0.975), 1.959964, places=5)

    def test_revenue_uses_the_sample_variance(self):
        # amounts 10, 20, 30 (mean 20, variance 100) vs 0, 0, 0
        spend = Sample("a", 3, 60.0, 1400.0)
        self.assertAlmostEqual(spend.variance, 100.0)
        self.assertGreater(confidence_better(spend, Sample("b", 3, 0.0, 0.0)), 0.99)

    def test_no_winner_before_the_minimum_sample(self):
        big_gap = [Sample("a", 99, 90), Sample("b", 99, 10)]
        winner, confidence = pick_winner(big_gap, min_sample=100, confidence=0.95)
        self.assertIsNone(winner, "99 < 100 per branch: no winner, however clear")
        self.assertGreater(confidence, 0.999)
        winner, _confidence = pick_winner(
            [Sample("a", 100, 90), Sample("b", 100, 10)], min_sample=100, confidence=0.95
        )
        self.assertEqual(winner.key, "a")

    def test_no_winner_without_confidence(self):
        winner, confidence = pick_winner(
            [Sample("a", 1000, 105), Sample("b", 1000, 100), Sample("c", 1000, 20)],
            min_sample=500,
            confidence=0.95,
        )
        self.assertIsNone(winner, "a barely beats b: not 95 % sure")
        self.assertLess(confidence, 0.95)


@tagged("post_install", "-at_install")
class TestSplit(TriggerMarketingCase):
    def _split_scenario(self, weights=(50, 50), **split_vals):
        scenario = self.make_scenario(name="A/B")
        split = self.make_step(scenario, "split", name="Split", **split_vals)
        branches = [
            self.make_step(
                scenario,
                "mail",
                parent=split,
                name=f"Variant {chr(65 + i)}",
                trigger_type="split",
                split_weight=weight,
            )
            for i, weight in enumerate(weights)
        ]
        for branch in branches:
            # the walks stay open a week after the e-mail: the goal is watched meanwhile
            self.make_step(scenario, "wait", parent=branch, name="Wait", delay=7)
        return scenario, split, branches

    def test_branches_follow_the_weights_and_are_recorded(self):
        scenario, split, (a, b) = self._split_scenario((80, 20))
        partners = self.make_partners(400)
        with self.at(NOW), self.mock_mail_gateway():
            scenario.action_start()
            scenario.enroll(partners)
            self.run_cron()  # the split
            self.run_cron()  # the e-mails of the branches
        split_traces = self.traces(split, "done")
        self.assertEqual(len(split_traces), 400)
        taken = split_traces.mapped("branch_step_id")
        self.assertEqual(taken, a | b)
        count_a = len(split_traces.filtered(lambda t: t.branch_step_id == a))
        self.assertTrue(280 <= count_a <= 360, f"80 % of 400 expected, got {count_a}")
        self.assertIn("Variant A", split_traces.filtered(lambda t: t.branch_step_id == a)[0].reason)
        # each participant walks the branch it was sent to, and only that one
        self.assertEqual(len(self.traces(a)), count_a)
        self.assertEqual(len(self.traces(b)), 400 - count_a)
        self.assertEqual(len(self.traces(a) | self.traces(b)), 400)
        self.assertIn("80 %", a.summary)

    def test_winner_then_everyone_takes_it(self):
        scenario, split, (a, b) = self._split_scenario(
            split_metric="conversion", split_min_sample=30, split_confidence=95.0
        )
        scenario.goal_domain = "[('ref', '=', 'bought')]"
        partners = self.make_partners(120)
        with self.at(NOW), self.mock_mail_gateway():
            scenario.action_start()
            scenario.enroll(partners[:100])
            self.run_cron()
        routed = self.traces(split, "done")
        self.assertFalse(split.split_winner_id, "nothing converted yet: no winner")
        # variant A converts everyone, B nobody
        buyers = routed.filtered(lambda t: t.branch_step_id == a).participant_id
        self.env["res.partner"].browse(buyers.mapped("res_id")).write({"ref": "bought"})
        self.assertTrue(all(p.state == "converted" for p in buyers))
        with self.at(NOW + timedelta(minutes=5)), self.mock_mail_gateway():
            scenario.enroll(partners[100:])
            self.run_cron()
        self.assertEqual(split.split_winner_id, a)
        late = self.traces(split, "done").filtered(
            lambda t: t.participant_id.res_id in partners[100:].ids
        )
        self.assertEqual(len(late), 20)
        self.assertEqual(late.mapped("branch_step_id"), a, "after the winner, everyone takes it")
        self.assertIn("Winner", late[0].reason)
        self.assertIn("wins", scenario.message_ids[0].body)

    def test_the_cron_declares_the_winner_when_nobody_enters_any_more(self):
        scenario, split, (a, b) = self._split_scenario(
            split_metric="conversion", split_min_sample=30, split_confidence=95.0
        )
        scenario.goal_domain = "[('ref', '=', 'bought')]"
        with self.at(NOW), self.mock_mail_gateway():
            scenario.action_start()
            scenario.enroll(self.make_partners(100))
            self.run_cron()
        routed = self.traces(split, "done")
        buyers = routed.filtered(lambda t: t.branch_step_id == b).participant_id
        self.env["res.partner"].browse(buyers.mapped("res_id")).write({"ref": "bought"})
        self.assertFalse(split.split_winner_id)
        self.env["marketing.scenario.step"]._cron_split_winners()
        self.assertEqual(split.split_winner_id, b)

    def test_split_needs_two_to_five_branches(self):
        scenario, split, (a,) = self._split_scenario((100,))
        with self.assertRaisesRegex(ValidationError, "2 to 5"):
            scenario.action_start()
        with self.assertRaisesRegex(ValidationError, "not a split step"):
            self.make_step(scenario, "wait", parent=a, trigger_type="split")

    def test_bounded_settings(self):
        scenario, split, (a, b) = self._split_scenario()
        with self.assertRaisesRegex(ValidationError, "80 % to 99.9 %"):
            split.split_confidence = 100.0
        with self.assertRaisesRegex(ValidationError, "from 30"):
            split.split_min_sample = 10
        with self.assertRaisesRegex(ValidationError, "weight from 1"):
            a.split_weight = 0


@tagged("post_install", "-at_install")
class TestHoldout(TriggerMarketingCase):
    def test_held_out_contacts_receive_nothing_and_count_in_the_lift(self):
        scenario = self.make_scenario(name="Holdout", holdout_percent=50)
        scenario.goal_domain = "[('ref', '=', 'bought')]"
        mail = self.make_step(scenario, "mail", name="Offer")
        score = self.make_step(scenario, "score", parent=mail, score_points=5, delay=1)
        self.make_step(scenario, "wait", parent=score, name="Wait", delay=7)
        partners = self.make_partners(200)
        with self.at(NOW), self.mock_mail_gateway():
            scenario.action_start()
            participants = scenario.enroll(partners)
            self.run_cron()
        held = participants.filtered("is_holdout")
        treated = participants - held
        self.assertTrue(60 <= len(held) <= 140, f"about half held out, got {len(held)}")
        held_partners = self.env["res.partner"].browse(held.mapped("res_id"))
        # nothing sent to the holdout, every treated contact mailed once
        mails = self.env["mailing.trace"].search([("mass_mailing_id", "=", mail.mailing_id.id)])
        self.assertEqual(set(mails.mapped("res_id")), set(treated.mapped("res_id")))
        self.assertFalse(
            self.env["mail.mail"].search([("recipient_ids", "in", held_partners.ids)]),
            "no mail queued for a held-out contact",
        )
        held_traces = self.traces(mail).filtered(lambda t: t.participant_id.is_holdout)
        self.assertEqual(set(held_traces.mapped("reason_code")), {"holdout"})
        self.assertEqual(set(held_traces.mapped("state")), {"done"}, "the walk goes on")
        # the walk keeps the scenario's timing: the next step is planned for them too
        with self.at(NOW + timedelta(days=1, minutes=1)):
            self.run_cron()
        self.assertEqual(len(self.traces(score, "done")), 200)
        self.assertFalse(any(held_partners.mapped("marketing_score")), "no points either")
        self.assertTrue(
            all(
                p.marketing_score == 5
                for p in self.env["res.partner"].browse(treated.mapped("res_id"))
            )
        )
        # conversions: 3 of 4 treated buy, 1 of 4 held out
        buyers = treated[: (3 * len(treated)) // 4] | held[: len(held) // 4]
        self.env["res.partner"].browse(buyers.mapped("res_id")).write({"ref": "bought"})
        scenario.invalidate_recordset()
        self.assertEqual(scenario.holdout_count, len(held))
        self.assertEqual(scenario.treated_count, len(treated))
        self.assertAlmostEqual(scenario.treated_conversion_rate, 75.0, delta=1.0)
        self.assertAlmostEqual(scenario.holdout_conversion_rate, 25.0, delta=2.0)
        self.assertAlmostEqual(scenario.lift_points, 50.0, delta=3.0)
        self.assertLess(scenario.lift_low, scenario.lift_points)
        self.assertGreater(scenario.lift_high, scenario.lift_points)
        self.assertGreater(scenario.lift_confidence, 99.0)
        self.assertIn("lift", scenario.lift_summary)

    def test_test_runs_are_never_held_out(self):
        scenario = self.make_scenario(name="Holdout", holdout_percent=50)
        self.make_step(scenario, "wait")
        participants = scenario.enroll(self.make_partners(40), test=True)
        self.assertFalse(any(participants.mapped("is_holdout")))

    def test_holdout_is_bounded(self):
        with self.assertRaisesRegex(ValidationError, "0 to 50 %"):
            self.make_scenario(holdout_percent=80)
