from datetime import timedelta

from dateutil.relativedelta import relativedelta

from odoo.tests import tagged

from .common import NOW, TriggerMarketingCase


@tagged("post_install", "-at_install")
class TestScoreDecay(TriggerMarketingCase):
    """-10 % a month, by cron: once per period, explained in the history."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.decay_cron = cls.env.ref("trigger_marketing.ir_cron_score_decay")

    def setUp(self):
        super().setUp()
        ICP = self.env["ir.config_parameter"].sudo()
        for key in ("score_decay_last_run", "score_decay_cursor", "score_decay_run"):
            ICP.set_param(f"trigger_marketing.{key}", False)
        self.set_score_settings(decay=True, decay_percent=10, decay_period="month")

    def add(self, partner, points):
        self.env["res.partner"]._add_marketing_score(
            [{"partner_id": partner.id, "points": points, "description": "test"}]
        )

    def run_decay(self):
        with self.enter_registry_test_mode():
            self.decay_cron.method_direct_trigger()
        self.env.invalidate_all()

    def decay_lines(self, partner):
        return partner.marketing_score_history_ids.filtered(lambda h: h.event == "decay")

    def test_decay_once_per_period(self):
        alice, bob, carol, dave = self.make_partners(4)
        self.add(alice, 100)
        self.add(bob, 55)  # hot -> warm after decay
        self.add(carol, 1)
        self.add(dave, -20)
        with self.at(NOW):
            self.run_decay()
            self.assertEqual(
                [p.marketing_score for p in (alice, bob, carol, dave)],
                [90, 49, 0, -20],
                "rounded so that small scores decay too; negative scores do not fade",
            )
            self.assertEqual(bob.marketing_score_band, "warm")
            line = self.decay_lines(alice)
            self.assertEqual(
                (line.points, line.description, line.date), (-10, "Decay (-10 %)", NOW)
            )
            self.assertFalse(self.decay_lines(dave))
            self.run_decay()
        with self.at(NOW + timedelta(days=20)):
            self.run_decay()
        self.assertEqual(alice.marketing_score, 90, "once per month")
        self.assertEqual(len(self.decay_lines(alice)), 1)
        with self.at(NOW + relativedelta(months=1)):
            self.run_decay()
        self.assertEqual(alice.marketing_score, 81)
        self.assertEqual(len(self.decay_lines(alice)), 2)
        self.assertFalse(self.decay_lines(carol)[1:], "a score at 0 does not decay")

    def test_decay_in_batches(self):
        self.env["ir.config_parameter"].sudo().set_param(
            "trigger_marketing.score_decay_batch_size", 2
        )
        partners = self.make_partners(5)
        for partner in partners:
            self.add(partner, 30)
        with self.at(NOW):
            self.run_decay()
        self.assertEqual(set(partners.mapped("marketing_score")), {27})
        ICP = self.env["ir.config_parameter"].sudo()
        self.assertFalse(ICP.get_param("trigger_marketing.score_decay_run"), "the run is over")
        self.assertFalse(
            ICP.search([("key", "=", "trigger_marketing.score_decay_cursor")]),
            "no cursor written in the parameters (each write clears every worker's cache)",
        )
        self.assertEqual(
            ICP.get_param("trigger_marketing.score_decay_last_run"), "2026-03-02 09:00:00"
        )

    def test_interrupted_run_resumes_with_the_contacts_left(self):
        """A run stopped by a time-out: the next run finishes the contacts not decayed
        since the run started, and decays nobody twice."""
        partners = self.make_partners(3)
        for partner in partners:
            self.add(partner, 50)
        ICP = self.env["ir.config_parameter"].sudo()
        # state left by a run that decayed the first contact, then timed out
        ICP.set_param("trigger_marketing.score_decay_run", "2026-03-02 09:00:00")
        self.env["res.partner"]._add_marketing_score(
            [
                {
                    "partner_id": partners[0].id,
                    "points": -5,
                    "description": "Decay (-10 %)",
                    "event": "decay",
                    "date": NOW,
                }
            ]
        )
        with self.at(NOW + timedelta(hours=1)):
            self.run_decay()
        self.assertEqual(partners.mapped("marketing_score"), [45, 45, 45])
        self.assertEqual([len(self.decay_lines(p)) for p in partners], [1, 1, 1])
        self.assertEqual(
            ICP.get_param("trigger_marketing.score_decay_last_run"),
            "2026-03-02 09:00:00",
            "the period starts with the interrupted run",
        )

    def test_decay_off(self):
        self.set_score_settings(decay=False)
        alice = self.make_partners(1)
        self.add(alice, 100)
        with self.at(NOW):
            self.run_decay()
        self.assertEqual(alice.marketing_score, 100)
