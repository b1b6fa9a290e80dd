from datetime import timedelta

from psycopg2 import IntegrityError

from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import NOW, TriggerMarketingCase


@tagged("post_install", "-at_install")
class TestEnrollment(TriggerMarketingCase):
    """Who enters a scenario, when, and never twice at the same time."""

    def setUp(self):
        super().setUp()
        self.tag_vip = self.env["res.partner.category"].create({"name": "VIP"})

    def _scenario(self, **vals):
        scenario = self.make_scenario(**vals)
        self.first = self.make_step(scenario, "score", score_points=1, name="First")
        return scenario

    def test_enroll_respects_audience_goal_and_state(self):
        with self.at(NOW):
            scenario = self._scenario(goal_domain="[('is_company', '=', True)]")
            with_email, without_email = self.make_partners(2)
            without_email.email = False
            company = self.make_partners(1, is_company=True)
            with self.assertRaises(UserError, msg="a draft scenario refuses real records"):
                scenario.enroll(with_email)
            scenario.action_start()
            participants = scenario.enroll(with_email | without_email | company)
            self.assertEqual(participants.mapped("res_id"), [with_email.id])
            self.assertEqual(participants.partner_id, with_email)
            self.assertEqual(participants.state, "running")
            trace = self.trace_of(self.first, with_email)
            self.assertEqual((trace.state, trace.scheduled_at), ("scheduled", NOW))

    def test_never_twice_at_the_same_time(self):
        with self.at(NOW):
            scenario = self._scenario(reentry="always")
            scenario.action_start()
            partner = self.make_partners(1)
            self.assertTrue(scenario.enroll(partner))
            self.assertFalse(scenario.enroll(partner), "already walking")
            # the database refuses a second running walk whatever the code path
            with (
                self.assertRaises(IntegrityError),
                mute_logger("odoo.sql_db"),
                self.env.cr.savepoint(),
            ):
                self.env["marketing.scenario.participant"].create(
                    {"scenario_id": scenario.id, "model_name": "res.partner", "res_id": partner.id}
                )

    def test_reentry_policies(self):
        with self.at(NOW):
            never = self._scenario(name="never", reentry="never")
            always = self._scenario(name="always", reentry="always")
            delay = self._scenario(name="delay", reentry="delay", reentry_days=10)
            (never | always | delay).action_start()
            partner = self.make_partners(1)
            for scenario in never | always | delay:
                scenario.enroll(partner)
            self.run_cron()  # the single step is done: every walk is completed
            self.assertEqual(
                set(
                    self.env["marketing.scenario.participant"]
                    .search([("res_id", "=", partner.id)])
                    .mapped("state")
                ),
                {"completed"},
            )
            self.assertFalse(never.enroll(partner))
            self.assertTrue(always.enroll(partner))
            self.assertFalse(delay.enroll(partner), "10 days have not passed")
        with self.at(NOW + timedelta(days=11)):
            self.assertFalse(never.enroll(partner))
            self.assertTrue(delay.enroll(partner))

    def test_test_participants_never_block_real_ones(self):
        with self.at(NOW):
            scenario = self._scenario(reentry="never")
            partner = self.make_partners(1)
            test = scenario.enroll(partner, test=True)
            self.assertTrue(test.is_test, "draft scenarios accept test records")
            scenario.action_start()
            real = scenario.enroll(partner)
            self.assertTrue(real)
            self.assertFalse(real.is_test)
            self.assertEqual(scenario.participant_count, 1, "test walks are not counted")

    def test_trigger_record_created(self):
        with self.at(NOW):
            scenario = self._scenario(trigger="create")
            self.make_partners(1)  # before the start: nothing
            scenario.action_start()
            new = self.make_partners(2)
            no_email = self.env["res.partner"].create({"name": "No e-mail"})
            participants = self.env["marketing.scenario.participant"].search(
                [("scenario_id", "=", scenario.id)]
            )
            self.assertEqual(sorted(participants.mapped("res_id")), sorted(new.ids))
            self.assertNotIn(no_email.id, participants.mapped("res_id"))

    def test_trigger_starts_matching(self):
        with self.at(NOW):
            scenario = self._scenario(
                trigger="match", domain=f"[('category_id', 'in', [{self.tag_vip.id}])]"
            )
            scenario.action_start()
            partner, other = self.make_partners(2)
            self.assertFalse(scenario.participant_ids)
            partner.write({"category_id": [(4, self.tag_vip.id)]})
            self.assertEqual(scenario.participant_ids.mapped("res_id"), [partner.id])
            # a write that keeps it matching does not enrol again
            partner.write({"category_id": [(4, self.tag_vip.id)], "name": "Renamed"})
            other.write({"name": "Other"})
            self.assertEqual(len(scenario.participant_ids), 1)
            # a record created matching has started to match
            created = self.make_partners(1, category_id=[(4, self.tag_vip.id)])
            self.assertIn(created.id, scenario.participant_ids.mapped("res_id"))

    def _queries(self, func):
        self.env.flush_all()
        start = self.cr.sql_log_count
        func()
        self.env.flush_all()
        return self.cr.sql_log_count - start

    def _create_partner(self, email, skip=False):
        Partner = self.env["res.partner"].with_context(trigger_marketing_skip=skip)
        return lambda: Partner.create({"name": email, "email": email})

    def test_realtime_query_overhead(self):
        """The hooks add nothing when no scenario watches (nor when the record is outside
        the audience), 5 queries to enrol: 3, and the savepoint that keeps a failing
        scenario from failing the create (test_bad_input_realtime)."""
        with self.at(NOW):
            self._create_partner("warm@example.com")()  # warm the caches
            baseline = self._queries(self._create_partner("a@example.com", skip=True))
            self.assertEqual(self._queries(self._create_partner("b@example.com")), baseline)
            scenario = self._scenario(trigger="create", domain="[('email', 'ilike', 'vip')]")
            scenario.action_start()
            self._create_partner("warm-vip@example.com")()  # warm the caches (cron xmlid)
            self.assertEqual(
                self._queries(self._create_partner("c@example.com")),
                baseline,
                "a new record outside the audience costs nothing more",
            )
            self.env.cr.postcommit.data.pop("trigger_marketing.woken_at")  # a new transaction
            enrolled = self._queries(self._create_partner("vip@example.com"))
            self.assertEqual(
                enrolled - baseline,
                5,
                "savepoint, insert participant, insert trace, wake the cron, release",
            )
            enrolled = self._queries(self._create_partner("vip2@example.com"))
            self.assertEqual(enrolled - baseline, 4, "the cron is woken once per transaction")
            # a write of fields no scenario reads costs nothing more either
            partner = self.env["res.partner"].search([("email", "=", "c@example.com")])
            partner.write({"phone": "0"})  # warm
            base_write = self._queries(
                lambda: partner.with_context(trigger_marketing_skip=True).write({"phone": "1"})
            )
            self.assertEqual(self._queries(lambda: partner.write({"phone": "2"})), base_write)

    def test_realtime_overhead_in_a_new_request(self):
        """As in a real request the record cache is empty: enrolling a new record must not
        read the scenario or its steps (they come from the registry cache)."""
        with self.at(NOW):
            scenario = self._scenario(trigger="create", domain="[('email', 'ilike', 'vip')]")
            scenario.action_start()
            self._create_partner("warm-vip@example.com")()  # warm the registry caches

            def fresh(func):
                self.env.cr.postcommit.data.pop("trigger_marketing.woken_at", None)
                self.env.invalidate_all()
                return self._queries(func)

            baseline = fresh(self._create_partner("vip-a@example.com", skip=True))
            enrolled = fresh(self._create_partner("vip-b@example.com"))
            self.assertEqual(
                enrolled - baseline, 5, "savepoint, insert participant, insert trace, wake"
            )
            self.assertEqual(
                scenario.participant_ids.mapped("res_id"),
                self.env["res.partner"]
                .search([("email", "in", ("warm-vip@example.com", "vip-b@example.com"))])
                .ids,
            )

    def test_realtime_cache_follows_the_tree(self):
        """The cached first steps follow edits of the tree (delay, new first step)."""
        with self.at(NOW):
            scenario = self._scenario(trigger="create", domain="[('email', '!=', False)]")
            first = scenario.step_ids
            scenario.action_start()
            self._create_partner("one@example.com")()
            first.write({"delay": 3, "delay_unit": "hours"})
            second = self.make_step(scenario, "wait", name="Second root")
            partner = self._create_partner("two@example.com")()
            self.assertEqual(self.trace_of(first, partner).scheduled_at, NOW.replace(hour=12))
            self.assertTrue(self.trace_of(second, partner))

    def test_company_restriction(self):
        with self.at(NOW):
            other_company = self.env["res.company"].create({"name": "Other Co"})
            scenario = self._scenario(company_id=self.env.company.id)
            scenario.action_start()
            mine = self.make_partners(1, company_id=self.env.company.id)
            theirs = self.make_partners(1, company_id=other_company.id, email="x@example.com")
            shared = self.make_partners(1, company_id=False, email="y@example.com")
            participants = scenario.enroll(mine | theirs | shared)
            self.assertEqual(sorted(participants.mapped("res_id")), sorted((mine | shared).ids))

    def test_manual_wizard(self):
        with self.at(NOW):
            scenario = self._scenario()
            scenario.action_start()
            partners = self.make_partners(3)
            partners[2].email = False
            wizard = (
                self.env["marketing.scenario.enroll"]
                .with_user(self.user_marketing)
                .with_context(active_model="res.partner", active_ids=partners.ids)
                .create({"scenario_id": scenario.id})
            )
            result = wizard.action_enroll()
            self.assertIn("2 record(s) added", result["params"]["message"])
            self.assertIn("1 not added", result["params"]["message"])
