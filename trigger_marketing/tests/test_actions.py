from datetime import timedelta

from odoo.tests import tagged

from .common import NOW, TriggerMarketingCase


@tagged("post_install", "-at_install")
class TestActions(TriggerMarketingCase):
    """Each action of a step, on real records."""

    def setUp(self):
        super().setUp()
        self.scenario = self.make_scenario()
        self.partners = self.make_partners(3)

    def _run(self, *steps_vals, partners=None):
        """Build root steps, start, enrol and run the cron once."""
        steps = [self.make_step(self.scenario, **vals) for vals in steps_vals]
        self.scenario.action_start()
        self.scenario.enroll(partners or self.partners)
        with self.mock_mail_gateway():
            self.run_cron()
        return steps

    def test_condition_branches(self):
        with self.at(NOW):
            self.partners[0].is_company = True
            condition = self.make_step(
                self.scenario,
                "condition",
                name="Is a company",
                condition_domain="[('is_company', '=', True)]",
            )
            yes = self.make_step(
                self.scenario, "score", condition, name="Yes", trigger_type="yes", score_points=10
            )
            no = self.make_step(
                self.scenario, "score", condition, name="No", trigger_type="no", score_points=1
            )
            always = self.make_step(
                self.scenario, "score", condition, name="Always", score_points=100
            )
            self.scenario.action_start()
            self.scenario.enroll(self.partners)
            self.run_cron()
            self.run_cron()
            self.assertEqual(self.partners.mapped("marketing_score"), [110, 101, 101])
            self.assertEqual(self.trace_of(condition, self.partners[0]).outcome, True)
            self.assertFalse(self.trace_of(no, self.partners[0]), "branch not taken: no trace")
            self.assertFalse(self.trace_of(yes, self.partners[1]))
            self.assertEqual(len(self.traces(always, "done")), 3)

    def test_only_if_filter_skips_with_reason(self):
        with self.at(NOW):
            self.partners[1].phone = "+32 2 000 00 00"
            (step,) = self._run(
                dict(action_type="score", score_points=5, filter_domain="[('phone', '!=', False)]")
            )
            self.assertEqual(self.partners.mapped("marketing_score"), [0, 5, 0])
            skipped = self.traces(step, "skipped")
            self.assertEqual(set(skipped.mapped("reason_code")), {"condition"})
            self.assertEqual(len(skipped), 2)

    def test_wait_until_met_on_write_or_timeout(self):
        with self.at(NOW):
            wait = self.make_step(
                self.scenario,
                "wait_until",
                name="Has a phone",
                condition_domain="[('phone', '!=', False)]",
                wait_timeout=3,
                wait_timeout_unit="days",
            )
            met = self.make_step(
                self.scenario, "score", wait, name="Met", trigger_type="yes", score_points=10
            )
            timeout = self.make_step(
                self.scenario, "score", wait, name="Timeout", trigger_type="no", score_points=1
            )
            self.scenario.action_start()
            self.scenario.enroll(self.partners[:2])
            self.run_cron()
            first, second = self.partners[:2]
            self.assertEqual(self.trace_of(wait, first).state, "waiting")
            self.assertEqual(self.trace_of(wait, first).scheduled_at, NOW + timedelta(days=3))
        with self.at(NOW + timedelta(hours=2)):
            first.phone = "123"  # the write wakes the waiting step at once
            self.assertEqual(self.trace_of(wait, first).state, "scheduled")
            self.run_cron()
            self.run_cron()
            self.assertEqual(self.trace_of(wait, first).outcome, True)
            self.assertEqual(first.marketing_score, 10)
            self.assertEqual(self.trace_of(wait, second).state, "waiting")
        with self.at(NOW + timedelta(days=3, minutes=1)):
            self.run_cron()
            self.run_cron()
            self.assertEqual(self.trace_of(wait, second).outcome, False)
            self.assertEqual(second.marketing_score, 1)
            self.assertFalse(self.trace_of(timeout, first))
            self.assertFalse(self.trace_of(met, second))

    def test_score_history_explains_the_score(self):
        with self.at(NOW):
            (step,) = self._run(dict(action_type="score", score_points=-4, name="Penalty"))
            history = self.partners[0].marketing_score_history_ids
            self.assertEqual(history.mapped("points"), [-4])
            self.assertEqual(history.step_id, step)
            self.assertEqual(history.trace_id, self.trace_of(step, self.partners[0]))
            self.assertEqual(self.partners[0].marketing_score, -4)

    def test_tag_add_and_remove(self):
        with self.at(NOW):
            vip, old = self.env["res.partner.category"].create([{"name": "VIP"}, {"name": "Old"}])
            self.partners.write({"category_id": [(4, old.id)]})
            self._run(
                dict(action_type="tag_add", tag_ids=[(6, 0, vip.ids)]),
                dict(action_type="tag_remove", tag_ids=[(6, 0, old.ids)], name="Remove"),
            )
            for partner in self.partners:
                self.assertEqual(partner.category_id, vip)

    def test_mailing_lists(self):
        with self.at(NOW):
            newsletter = self.env["mailing.list"].create({"name": "Newsletter"})
            other = self.env["mailing.list"].create({"name": "Other"})
            # the second partner unsubscribed from the newsletter earlier
            contact = self.env["mailing.contact"].create(
                {"name": "C1", "email": self.partners[1].email, "list_ids": [(4, other.id)]}
            )
            self.env["mailing.subscription"].create(
                {"contact_id": contact.id, "list_id": newsletter.id, "opt_out": True}
            )
            self.partners[2].email = False
            self.scenario.domain = "[]"
            (add,) = self._run(dict(action_type="list_add", mailing_list_id=newsletter.id))
            subscribed = newsletter.subscription_ids.filtered(lambda s: not s.opt_out)
            self.assertEqual(subscribed.contact_id.mapped("email"), [self.partners[0].email])
            self.assertEqual(self.trace_of(add, self.partners[1]).reason_code, "opted_out")
            self.assertEqual(self.trace_of(add, self.partners[2]).reason_code, "no_email")
            self.assertTrue(
                contact.subscription_ids.filtered(lambda s: s.list_id == newsletter).opt_out,
                "an opt-out is never reverted by a scenario",
            )

    def test_remove_from_list(self):
        with self.at(NOW):
            newsletter = self.env["mailing.list"].create({"name": "Newsletter"})
            self.env["mailing.contact"].create(
                [
                    {"name": p.name, "email": p.email, "list_ids": [(4, newsletter.id)]}
                    for p in self.partners
                ]
            )
            self._run(
                dict(action_type="list_remove", mailing_list_id=newsletter.id),
                partners=self.partners[:2],
            )
            self.assertEqual(newsletter.contact_ids.mapped("email"), [self.partners[2].email])

    def test_activity_for_the_salesperson(self):
        with self.at(NOW):
            self.partners[0].user_id = self.user_marketing
            call = self.env.ref("mail.mail_activity_data_call")
            (step,) = self._run(
                dict(
                    action_type="activity",
                    activity_type_id=call.id,
                    activity_summary="Call this hot lead",
                    activity_days=2,
                )
            )
            activities = self.env["mail.activity"].search(
                [("res_model", "=", "res.partner"), ("res_id", "in", self.partners.ids)]
            )
            self.assertEqual(len(activities), 3)
            mine = activities.filtered(lambda a: a.res_id == self.partners[0].id)
            self.assertEqual(mine.user_id, self.user_marketing)
            self.assertEqual(mine.summary, "Call this hot lead")
            self.assertEqual(mine.date_deadline, (NOW + timedelta(days=2)).date())
            others = activities - mine
            self.assertEqual(others.user_id, self.scenario.user_id, "fallback: the responsible")

    def test_server_action_runs_on_the_batch(self):
        with self.at(NOW):
            action = self.env["ir.actions.server"].create(
                {
                    "name": "Flag",
                    "model_id": self.partner_model.id,
                    "state": "code",
                    "code": "records.write({'comment': 'flagged by %s' % len(records)})",
                }
            )
            self._run(dict(action_type="server_action", server_action_id=action.id))
            self.assertEqual(set(self.partners.mapped("comment")), {"<p>flagged by 3</p>"})

    def test_exit_ends_the_walk(self):
        with self.at(NOW):
            exit_step = self.make_step(self.scenario, "exit", name="Stop here")
            later = self.make_step(
                self.scenario, "score", score_points=1, delay=1, delay_unit="hours", name="Later"
            )
            after_exit = self.make_step(
                self.scenario, "score", exit_step, score_points=1, name="After exit"
            )
            self.scenario.action_start()
            participants = self.scenario.enroll(self.partners)
            self.run_cron()
            self.assertEqual(set(participants.mapped("state")), {"exited"})
            self.assertEqual(set(self.traces(later).mapped("state")), {"canceled"})
            self.assertEqual(set(self.traces(later).mapped("reason_code")), {"exited"})
            self.assertFalse(self.traces(after_exit))

    def test_delays_run_from_when_the_parent_was_done(self):
        with self.at(NOW):
            first = self.make_step(self.scenario, "wait", delay=1, delay_unit="hours")
            units = {}
            for unit, delta in [
                ("minutes", timedelta(minutes=5)),
                ("hours", timedelta(hours=5)),
                ("days", timedelta(days=5)),
                ("weeks", timedelta(weeks=5)),
            ]:
                units[unit] = (
                    self.make_step(
                        self.scenario, "wait", first, name=unit, delay=5, delay_unit=unit
                    ),
                    delta,
                )
            month = self.make_step(
                self.scenario, "wait", first, name="month", delay=1, delay_unit="months"
            )
            self.scenario.action_start()
            self.scenario.enroll(self.partners[0])
        # the cron ran late: 3 hours after the first step was due
        done_at = NOW + timedelta(hours=4)
        with self.at(done_at):
            self.run_cron()
            for step, delta in units.values():
                self.assertEqual(
                    self.trace_of(step, self.partners[0]).scheduled_at, done_at + delta
                )
            self.assertEqual(
                self.trace_of(month, self.partners[0]).scheduled_at, done_at.replace(month=4)
            )
