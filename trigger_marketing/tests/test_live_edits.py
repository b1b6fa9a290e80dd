from datetime import timedelta

from odoo.tests import Form, tagged

from .common import NOW, TriggerMarketingCase

DAY = timedelta(days=1)


@tagged("post_install", "-at_install")
class TestLiveEdits(TriggerMarketingCase):
    """A change of a running scenario says, before it is saved, how many contacts it
    concerns and what happens to them; the choice is applied set-based and recorded."""

    def setUp(self):
        super().setUp()
        self.scenario = self.make_scenario(name="Live")
        self.first = self.make_step(self.scenario, "wait", name="First")
        self.later = self.make_step(
            self.scenario, "score", self.first, score_points=1, delay=2, name="Later"
        )
        with self.at(NOW):
            self.scenario.action_start()

    def walk(self, count, when, offset=0):
        """``count`` contacts enter at ``when`` and walk the first step."""
        with self.at(when):
            partners = self.make_partners(count, comment=f"batch {offset}")
            for i, partner in enumerate(partners):
                partner.email = f"walker{offset + i}@example.com"
            self.scenario.enroll(partners)
            self.run_cron()
        return partners

    def step_form(self, step, user=None):
        return Form(step.with_user(user or self.user_marketing))

    def test_delay_change_previewed_and_retimed(self):
        """12 contacts wait: re-timed to the new delay, those whose new date passed are due
        now; the choice is required on the form before saving."""
        early = self.walk(3, NOW)
        late = self.walk(2, NOW + DAY, offset=10)
        with self.at(NOW + DAY + timedelta(hours=1)):
            form = self.step_form(self.later)
            self.assertFalse(form.live_preview)
            form.delay = 1
            self.assertTrue(form.live_timing_needed)
            self.assertFalse(form.live_new_needed)
            self.assertIn("5 contact(s) wait for this step", form.live_preview)
            self.assertIn("3 of them would be due at once", form.live_preview)
            with self.assertRaises(AssertionError):  # required: no silent default
                form.save()
            form.live_timing_choice = "retime"
            form.save()
            for partner in early:
                self.assertEqual(self.trace_of(self.later, partner).scheduled_at, NOW + DAY)
            for partner in late:
                self.assertEqual(self.trace_of(self.later, partner).scheduled_at, NOW + 2 * DAY)
            self.run_cron()
        self.assertEqual(
            sorted(self.traces(self.later, "done").participant_id.mapped("res_id")),
            sorted(early.ids),
        )
        version = self.scenario.current_version_id
        self.assertEqual(version.number, 2)
        self.assertIn("Delay: 2 → 1", version.change)
        self.assertIn("5 waiting contact(s) re-timed (3 due now)", version.choice)
        self.assertEqual(version.author_id, self.user_marketing)

    def test_delay_change_kept(self):
        partners = self.walk(2, NOW)
        with self.at(NOW + timedelta(hours=3)):
            form = self.step_form(self.later)
            form.delay_unit = "hours"
            self.assertIn("2 of them would be due at once", form.live_preview)
            form.live_timing_choice = "keep"
            form.save()
        for partner in partners:
            self.assertEqual(self.trace_of(self.later, partner).scheduled_at, NOW + 2 * DAY)
        self.assertIn("keep their planned dates", self.scenario.current_version_id.choice)

    def test_draft_scenario_no_preview(self):
        draft = self.make_scenario(name="Draft")
        step = self.make_step(draft, "wait", name="Step")
        form = self.step_form(step)
        form.delay = 3
        self.assertFalse(form.live_preview)
        form.save()
        self.assertFalse(draft.version_ids)
        # inserting a step above works in a draft too
        action = step.action_insert_above()
        form = Form(
            self.env["marketing.scenario.step"]
            .with_user(self.user_marketing)
            .with_context(**action["context"])
        )
        form.name = "Above"
        form.action_choice = "wait"
        above = form.save()
        self.assertEqual(step.parent_id, above)
        self.assertFalse(above.parent_id)

    def test_step_added_under_done_step(self):
        """ "This step was already done for 4 contacts still in the scenario: run it for
        them now / only for contacts who arrive from now on"."""
        walkers = self.walk(4, NOW)
        with self.at(NOW + timedelta(hours=1)):
            form = Form(
                self.env["marketing.scenario.step"]
                .with_user(self.user_marketing)
                .with_context(default_scenario_id=self.scenario.id)
            )
            form.name = "Tag them"
            form.parent_id = self.first
            form.action_choice = "score"
            form.score_points = 5
            self.assertTrue(form.live_new_needed)
            self.assertIn(
                "4 contact(s) still in the scenario are past this point", form.live_preview
            )
            self.assertIn("4 would be due at once", form.live_preview)
            form.live_new_choice = "run_now"
            added = form.save()
            self.assertEqual(len(self.traces(added, "scheduled")), 4)
            self.assertEqual(added.scenario_id.current_version_id, self.traces(added).version_id)
            self.run_cron()
            self.run_cron()
        self.assertEqual(walkers.mapped("marketing_score"), [5] * 4)
        self.assertEqual(len(self.traces(added)), 4)  # once each
        # only for contacts who arrive from now on
        with self.at(NOW + timedelta(hours=2)):
            other = self.make_step(
                self.scenario, "score", self.first, score_points=1, name="New only"
            )
            self.assertFalse(self.traces(other))
        newcomer = self.walk(1, NOW + timedelta(hours=3), offset=50)
        self.assertEqual(self.traces(other).participant_id.res_id, newcomer.id)
        self.assertIn(
            "Only contacts who arrive from now on",
            self.scenario.current_version_id.search(
                [("scenario_id", "=", self.scenario.id), ("number", "=", 3)]
            ).choice,
        )

    def test_run_now_is_set_based(self):
        """Adding a step for the current walkers costs the same queries for 3 or 30."""

        def add_for(count, name, offset):
            self.walk(count, NOW, offset=offset)
            with self.at(NOW + timedelta(hours=1)):
                Step = self.env["marketing.scenario.step"]
                vals = {
                    "name": name,
                    "scenario_id": self.scenario.id,
                    "parent_id": self.first.id,
                    "action_type": "wait",
                    "live_new_choice": "run_now",
                }
                self.env.flush_all()
                self.env.invalidate_all()
                before = self.env.cr.sql_log_count
                step = Step.create(vals)
                self.env.flush_all()
                queries = self.env.cr.sql_log_count - before
                planned = len(self.traces(step))
                self.run_cron()  # the walkers complete, the next batch starts afresh
            return planned, queries

        small, small_queries = add_for(3, "Small", 0)
        big, big_queries = add_for(30, "Big", 100)
        self.assertEqual((small, big), (3, 33))  # the first 3 are still walking
        self.assertEqual(small_queries, big_queries)

    def test_content_change_cancels_for_waiting(self):
        partners = self.walk(3, NOW)
        form = self.step_form(self.later)
        form.score_points = 7
        self.assertTrue(form.live_pending_needed)
        self.assertFalse(form.live_timing_needed)
        self.assertIn("Changed for them: Points", form.live_preview)
        form.live_pending_choice = "cancel"
        form.save()
        for partner in partners:
            trace = self.trace_of(self.later, partner)
            self.assertEqual((trace.state, trace.reason_code), ("canceled", "step_changed"))
        self.assertEqual(
            set(self.scenario.participant_ids.mapped("state")), {"completed"}
        )  # nothing left pending

    def test_content_change_applies_to_waiting(self):
        partners = self.walk(2, NOW)
        form = self.step_form(self.later)
        form.score_points = 7
        form.live_pending_choice = "apply"
        form.save()
        with self.at(NOW + 3 * DAY):
            self.run_cron()
        self.assertEqual(partners.mapped("marketing_score"), [7, 7])

    def test_action_changed_by_a_user_cancels_once(self):
        """A User changes the action through the actions without code: one change, one
        version, and the choice applied."""
        self.walk(2, NOW)
        versions = len(self.scenario.version_ids)
        form = self.step_form(self.later)
        form.action_choice = "wait"
        self.assertIn("Changed for them: Action.", form.live_preview)
        form.live_pending_choice = "cancel"
        form.save()
        self.assertEqual(self.later.action_type, "wait")
        self.assertEqual(set(self.traces(self.later).mapped("state")), {"canceled"})
        self.assertEqual(len(self.scenario.version_ids), versions + 1)

    def test_mail_content_change(self):
        """The e-mail contacts wait for is rewritten: they receive the new one."""
        reminder = self.make_step(self.scenario, "mail", self.first, delay=1, name="Reminder")
        partners = self.walk(2, NOW)
        form = self.step_form(reminder)
        form.mail_subject = "A better subject"
        self.assertIn("2 contact(s) wait for this step", form.live_preview)
        self.assertIn("Changed for them: Subject", form.live_preview)
        form.live_pending_choice = "apply"
        form.save()
        with self.at(NOW + 2 * DAY), self.mock_mail_gateway():
            self.run_cron()
        for partner in partners:
            self.assertEqual(
                self.mailing_trace(reminder, partner).mass_mailing_id.subject, "A better subject"
            )
            self.assertEqual(self.trace_of(reminder, partner).state, "done")
        self.assertIn(
            "Subject: Reminder → A better subject", self.scenario.current_version_id.change
        )

    def test_trigger_change_follows_outcome(self):
        """A 'no' branch turned into a 'yes' branch: the walkers whose condition said no
        no longer belong to it (canceled with the reason)."""
        check = self.make_step(
            self.scenario,
            "condition",
            self.first,
            condition_domain="[('is_company', '=', True)]",
            name="Company?",
        )
        branch = self.make_step(
            self.scenario,
            "score",
            check,
            trigger_type="no",
            score_points=1,
            delay=1,
            name="Not a company",
        )
        partners = self.walk(2, NOW)
        with self.at(NOW + timedelta(hours=1)):
            self.run_cron()
        self.assertEqual(len(self.traces(branch, "scheduled")), 2)
        form = self.step_form(branch)
        form.trigger_type = "yes"
        self.assertIn("Changed for them: Wake-up", form.live_preview)
        form.live_pending_choice = "apply"
        form.save()
        traces = self.traces(branch)
        self.assertEqual(set(traces.mapped("reason_code")), {"step_changed"})
        self.assertEqual(set(traces.mapped("state")), {"canceled"})
        self.assertEqual(sorted(traces.participant_id.mapped("res_id")), sorted(partners.ids))

    def test_move_keeps_or_cancels(self):
        other = self.make_step(self.scenario, "wait", name="Other root")
        self.walk(2, NOW)
        form = self.step_form(self.later)
        form.parent_id = other
        self.assertTrue(form.live_pending_needed)
        self.assertIn("Changed for them: After", form.live_preview)
        form.live_pending_choice = "apply"
        form.save()
        self.assertEqual(len(self.traces(self.later, "scheduled")), 2)
        self.assertIn("After: First → Other root", self.scenario.current_version_id.change)

    def test_insert_above(self):
        """A new step above "Later": the contacts waiting for Later walk it first, then
        Later, each once."""
        partners = self.walk(2, NOW)
        action = self.later.action_insert_above()
        with self.at(NOW + timedelta(hours=1)):
            form = Form(
                self.env["marketing.scenario.step"]
                .with_user(self.user_marketing)
                .with_context(**action["context"])
            )
            form.name = "Above"
            form.action_choice = "score"
            form.score_points = 10
            form.delay = 0
            self.assertIn("“Later” moves under this new step", form.live_preview)
            self.assertIn(
                "2 contact(s) still in the scenario are past this point", form.live_preview
            )
            form.live_new_choice = "run_now"
            above = form.save()
            self.assertEqual(self.later.parent_id, above)
            self.assertFalse(self.traces(self.later))  # taken over by the new step
            self.run_cron()
        with self.at(NOW + 5 * DAY):
            self.run_cron()
        self.assertEqual(partners.mapped("marketing_score"), [11, 11])
        self.assertEqual(len(self.traces(above, "done")), 2)
        self.assertEqual(len(self.traces(self.later, "done")), 2)


@tagged("post_install", "-at_install")
class TestLiveDelete(TriggerMarketingCase):
    """Deleting a step of a live scenario says what happens to the contacts waiting for
    it, and never sends anything twice (Mautic's incident: one e-mail 11,500 times)."""

    def setUp(self):
        super().setUp()
        self.scenario = self.make_scenario(name="Live mails")
        self.hello = self.make_step(self.scenario, "mail", name="Hello")
        self.decide = self.make_step(self.scenario, "wait", self.hello, delay=1, name="Decide")
        self.again = self.make_step(self.scenario, "mail", self.decide, name="Again")
        with self.at(NOW):
            self.scenario.action_start()
            self.partners = self.make_partners(20)
            self.scenario.enroll(self.partners)
            with self.mock_mail_gateway():
                self.run_cron()

    def test_delete_with_branch(self):
        mailings = (self.hello | self.again).mailing_id
        action = self.decide.with_user(self.user_marketing).action_delete()
        wizard = self.env["marketing.scenario.live.edit"].browse(action["res_id"])
        self.assertIn("20 contact(s) wait for “Decide”", wizard.message)
        self.assertIn("1 step(s) come after it", wizard.message)
        self.assertTrue(wizard.can_reattach)
        wizard.with_user(self.user_marketing).action_apply()
        self.assertFalse(self.decide.active)  # archived: its history is kept
        traces = self.traces(self.decide)
        self.assertEqual(set(traces.mapped("reason_code")), {"step_deleted"})
        with self.at(NOW + 3 * DAY), self.mock_mail_gateway():
            for _round in range(3):
                self.run_cron()
        mails = self.env["mailing.trace"].search([("mass_mailing_id", "in", mailings.ids)])
        self.assertEqual(len(mails), 20)  # Hello once each, nothing else
        self.assertIn(
            "Step deleted: Decide (and 1 step(s) under it)", self.scenario.current_version_id.change
        )

    def test_delete_reattach(self):
        action = self.decide.action_delete()
        wizard = self.env["marketing.scenario.live.edit"].browse(action["res_id"])
        wizard.delete_choice = "reattach"
        wizard.action_apply()
        self.assertEqual(self.again.parent_id, self.hello)
        # contacts who get past Hello from now on receive Again, once each
        with self.at(NOW + DAY):
            newcomers = self.make_partners(3, name="New")
            for i, partner in enumerate(newcomers):
                partner.email = f"new{i}@example.com"
            self.scenario.enroll(newcomers)
            with self.mock_mail_gateway():
                for _round in range(3):
                    self.run_cron()
        self.assertEqual(
            len(
                self.env["mailing.trace"].search(
                    [("mass_mailing_id", "=", self.again.mailing_id.id)]
                )
            ),
            3,
        )
        self.assertIn("Steps under it moved up: Again.", self.scenario.current_version_id.choice)


@tagged("post_install", "-at_install")
class TestLiveLifecycle(TriggerMarketingCase):
    """Resume says who would have entered while paused; start points out another running
    scenario with the same entry on the same records."""

    def setUp(self):
        super().setUp()
        self.scenario = self.make_scenario(
            name="On create", trigger="create", domain="[('email', 'ilike', '@paused.example')]"
        )
        self.make_step(self.scenario, "wait", name="Wait")
        with self.at(NOW):
            self.scenario.action_start()

    def pause_and_create(self, count):
        with self.at(NOW + timedelta(hours=1)):
            self.scenario.action_pause()
        self.assertEqual(self.scenario.paused_at, NOW + timedelta(hours=1))
        with self.at(NOW + timedelta(hours=2)):
            return self.env["res.partner"].create(
                [{"name": f"P{i}", "email": f"p{i}@paused.example"} for i in range(count)]
                + [{"name": "Other", "email": "other@example.com"}]
            )

    def resume_wizard(self):
        with self.at(NOW + timedelta(hours=3)):
            action = (
                self.scenario.with_user(self.user_marketing)
                .with_context(tm_check_missed=True)
                .action_resume()
            )
        return self.env["marketing.scenario.live.edit"].browse(action["res_id"])

    def test_resume_lets_them_in(self):
        self.pause_and_create(3)
        self.assertFalse(self.scenario.participant_ids)
        wizard = self.resume_wizard()
        self.assertEqual(wizard.missed_count, 3)
        self.assertIn("3 record(s) would have entered since", wizard.message)
        self.assertEqual(wizard.resume_choice, "let_in")
        with self.at(NOW + timedelta(hours=3)):
            wizard.with_user(self.user_marketing).action_apply()
        self.assertEqual(self.scenario.state, "running")
        self.assertEqual(len(self.scenario.participant_ids), 3)

    def test_resume_event_trigger_says_what_was_lost(self):
        scenario = self.make_scenario(name="Events", trigger="event", event_name="visited")
        self.make_step(scenario, "wait", name="Wait")
        scenario.action_start()
        scenario.action_pause()
        action = scenario.with_context(tm_check_missed=True).action_resume()
        wizard = self.env["marketing.scenario.live.edit"].browse(action["res_id"])
        self.assertIn("was not recorded", wizard.message)
        self.assertFalse(wizard.missed_count)
        wizard.action_apply()
        self.assertEqual(scenario.state, "running")

    def test_paused_by_the_guardrails_records_when(self):
        with self.at(NOW + timedelta(hours=5)):
            self.scenario.write({"state": "paused"})  # as the guardrails and failures do
        self.assertEqual(self.scenario.paused_at, NOW + timedelta(hours=5))

    def test_resume_leaves_them_out(self):
        self.pause_and_create(2)
        wizard = self.resume_wizard()
        wizard.resume_choice = "leave_out"
        wizard.action_apply()
        self.assertEqual(self.scenario.state, "running")
        self.assertFalse(self.scenario.participant_ids)

    def test_start_points_out_overlap(self):
        twin = self.make_scenario(
            name="Twin", trigger="create", domain="[('email', 'ilike', '.example')]"
        )
        self.make_step(twin, "wait", name="Wait")
        self.env["res.partner"].create(
            [{"name": f"Both {i}", "email": f"b{i}@paused.example"} for i in range(4)]
        )
        action = twin.with_context(tm_check_overlap=True).action_start()
        self.assertEqual(twin.state, "draft")
        wizard = self.env["marketing.scenario.live.edit"].browse(action["res_id"])
        self.assertIn("On create: 4 record(s) match both audiences now", wizard.message)
        wizard.action_apply()
        self.assertEqual(twin.state, "running")
        # another entry trigger: nothing to point out
        manual = self.make_scenario(name="Manual")
        self.make_step(manual, "wait", name="Wait")
        self.assertTrue(manual.with_context(tm_check_overlap=True).action_start() is True)
