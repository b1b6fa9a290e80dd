"""Bad input matrix, concurrent edits (DESIGN §8): two transactions editing the same
tree, each valid alone, never commit an invalid tree together. The second one fails
with a serialization error (Odoo retries the request), and its retry is refused with
the clear message of the constraint.

Real transactions on the test database (committed, then deleted): the test transaction
cannot show what a concurrent one sees.

Each input has an id (W01...): the README's command counts the matrix.
"""

from contextlib import closing, contextmanager

from psycopg2.errors import SerializationFailure

from odoo import SUPERUSER_ID, api, sql_db
from odoo.exceptions import ValidationError
from odoo.tests import BaseCase, tagged
from odoo.tools import config, mute_logger


@tagged("post_install", "-at_install")
class TestBadInputConcurrent(BaseCase):
    def setUp(self):
        super().setUp()
        dbname = config["db_name"]
        self.db = sql_db.db_connect(dbname[0] if isinstance(dbname, list) else dbname)
        with self.transaction() as env:
            scenario = env["marketing.scenario"].create(
                {
                    "name": "Concurrent edits",
                    "model_id": env["ir.model"]._get_id("res.partner"),
                    "domain": "[]",
                }
            )
            Step = env["marketing.scenario.step"]
            wait = {"scenario_id": scenario.id, "action_type": "wait"}
            self.a = Step.create(dict(wait, name="A")).id
            self.b = Step.create(dict(wait, name="B")).id
            self.mail = Step.create(
                {"name": "Mail", "scenario_id": scenario.id, "action_type": "wait"}
            ).id
            self.scenario = scenario.id
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        with self.transaction() as env:
            scenario = env["marketing.scenario"].browse(self.scenario)
            campaign = scenario.campaign_id
            scenario.step_ids.with_context(active_test=False).unlink()
            scenario.unlink()
            campaign.unlink()

    @contextmanager
    def transaction(self):
        """A real transaction of its own, committed when the block ends without error."""
        with closing(self.db.cursor()) as cr:
            try:
                yield api.Environment(cr, SUPERUSER_ID, {})
            except Exception:
                cr.rollback()
                raise
            # a real transaction of its own, on the test database: the point of the test
            cr.commit()  # pylint: disable=invalid-commit

    def test_two_edits_make_a_cycle(self):
        """W01: A moved under B while B is moved under A."""
        with mute_logger("odoo.sql_db"), self.assertRaises(SerializationFailure):
            with self.transaction() as env2:
                env2["marketing.scenario.step"].browse(self.b).fetch(["parent_id"])  # snapshot
                with self.transaction() as env1:
                    env1["marketing.scenario.step"].browse(self.a).parent_id = self.b
                env2["marketing.scenario.step"].browse(self.b).parent_id = self.a
        # Odoo retries the request: the retry sees the first edit
        with self.assertRaisesRegex(ValidationError, "cycle in the tree"):
            with self.transaction() as env2:
                env2["marketing.scenario.step"].browse(self.b).parent_id = self.a
        with self.transaction() as env:
            steps = env["marketing.scenario.step"].browse([self.a, self.b])
            self.assertEqual([s.parent_id.id for s in steps], [self.b, False], "one edit, no cycle")

    def test_branch_under_a_step_that_stops_sending(self):
        """W02: an "opened" branch added under an e-mail step while it becomes a wait.
        (Here: a yes/no branch under a condition that becomes a wait.)"""
        with self.transaction() as env:
            env["marketing.scenario.step"].browse(self.mail).write(
                {"action_type": "condition", "condition_domain": "[]"}
            )
        with mute_logger("odoo.sql_db"), self.assertRaises(SerializationFailure):
            with self.transaction() as env2:
                env2["marketing.scenario.step"].browse(self.mail).fetch(["action_type"])
                with self.transaction() as env1:
                    env1["marketing.scenario.step"].browse(self.mail).action_type = "wait"
                env2["marketing.scenario.step"].create(
                    {
                        "name": "Yes",
                        "scenario_id": self.scenario,
                        "parent_id": self.mail,
                        "trigger_type": "yes",
                        "action_type": "wait",
                    }
                )
        with self.assertRaisesRegex(ValidationError, "Step Yes is a yes/no branch"):
            with self.transaction() as env2:
                env2["marketing.scenario.step"].create(
                    {
                        "name": "Yes",
                        "scenario_id": self.scenario,
                        "parent_id": self.mail,
                        "trigger_type": "yes",
                        "action_type": "wait",
                    }
                )
