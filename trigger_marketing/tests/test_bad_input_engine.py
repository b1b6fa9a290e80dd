"""Bad input matrix, the engine (DESIGN §8): one bad step never holds back another
scenario's traces. A step whose next step is 99,999,999 hours away (saved behind the
ORM: the bounds refuse it now) overflows the dates when its traces are done; before,
the whole batch rolled back and the other scenario's due traces stayed blocked run after
run. Now the failure stays with the failing step: its traces fail with the error, its
scenario records it, the rest of the batch goes on in the same run.

Each input has an id (K01...): the README's command counts the matrix.
"""

from datetime import timedelta

from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import NOW, TriggerMarketingCase

ENGINE_LOGS = (
    "odoo.addons.trigger_marketing.models.marketing_scenario_trace_engine",
    "odoo.addons.trigger_marketing.models.marketing_scenario_failure",
)


@tagged("post_install", "-at_install")
class TestBadInputEngine(TriggerMarketingCase):
    def _far_child(self, scenario, parent):
        child = self.make_step(scenario, "wait", parent, name="Far away")
        self.env.cr.execute(
            "UPDATE marketing_scenario_step SET delay = 99999999, delay_unit = 'hours' "
            "WHERE id = %s",
            [child.id],
        )
        self.env.invalidate_all()
        return child

    @mute_logger(*ENGINE_LOGS)
    def test_bad_step_does_not_block_other_scenarios(self):
        """K01: the overflow fails the traces of its step and is recorded on its scenario;
        the other scenario's due traces of the same batch are done in the same run.
        K02: the next run finds nothing left of the failing step to retry."""
        with self.at(NOW):
            bad = self.make_scenario(name="Bad")
            first = self.make_step(bad, "score", score_points=1, name="First")
            self._far_child(bad, first)
            good = self.make_scenario(name="Good")
            welcome = self.make_step(good, "score", score_points=2, name="Welcome")
            later = self.make_step(good, "score", welcome, score_points=3, delay=1, name="Later")
            (bad | good).action_start()
            partners = self.make_partners(3)
            bad.enroll(partners)
            good.enroll(partners)
            self.run_cron()
            failed = self.traces(first)
            self.assertEqual(set(failed.mapped("state")), {"failed"})
            self.assertIn("date value out of range", failed[0].reason)
            self.assertEqual(set(self.traces(welcome).mapped("state")), {"done"})
            self.assertEqual(partners.mapped("marketing_score"), [2, 2, 2], "no point of Bad")
            bad.invalidate_recordset()
            self.assertEqual(bad.failure_count, 1)
            self.assertIn("Step First: date value out of range", bad.last_failure)
            self.assertFalse(good.last_failure)
        with self.at(NOW + timedelta(days=1, minutes=1)):
            self.run_cron()
            self.assertEqual(set(self.traces(later).mapped("state")), {"done"})
            self.assertEqual(partners.mapped("marketing_score"), [5, 5, 5])
            self.assertEqual(set(self.traces(first).mapped("state")), {"failed"})
            self.assertEqual(bad.failure_count, 1, "a failed trace is not tried again")
