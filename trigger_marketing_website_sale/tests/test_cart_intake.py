from datetime import timedelta

from odoo import sql_db
from odoo.exceptions import ValidationError
from odoo.fields import Command
from odoo.tests import tagged

from .common import HOUR, NOW, CartCase


@tagged("post_install", "-at_install")
class TestCartIntake(CartCase):
    """Which carts enter a cart-abandonment scenario, when, and only once per abandonment."""

    def test_abandoned_cart_enters_after_n_hours(self):
        with self.at(NOW):
            scenario = self.make_cart_scenario()
            cart = self.make_cart(self.alice)
            self.assertEqual(cart.cart_changed_at, NOW)
        self.assertFalse(self.abandon(cart, NOW + HOUR - timedelta(minutes=1)))
        participant = self.abandon(cart, NOW + HOUR)
        self.assertEqual(participant.scenario_id, scenario)
        self.assertEqual((participant.state, participant.partner_id), ("running", self.alice))
        self.assertEqual(participant.date_start, NOW + HOUR)
        # Odoo's own reminder will not be sent for it, its "resume" link works
        self.assertTrue(cart.cart_recovery_email_sent)
        self.assertTrue(cart.access_token)
        self.assertEqual(scenario.last_entry_check, NOW + HOUR)
        # later runs do not enrol the same abandonment again
        self.assertEqual(self.abandon(cart, NOW + 5 * HOUR), participant)

    def test_hours_of_the_scenario(self):
        with self.at(NOW):
            self.make_cart_scenario(cart_abandoned_hours=3.5)
            cart = self.make_cart(self.alice)
        self.assertFalse(self.abandon(cart, NOW + 3 * HOUR))
        self.assertTrue(self.abandon(cart, NOW + 3.5 * HOUR))

    def test_cart_modified_before_n_hours_does_not_enter(self):
        with self.at(NOW):
            self.make_cart_scenario()
            cart = self.make_cart(self.alice)
        self.change(cart, NOW + timedelta(minutes=40), 3)
        self.assertEqual(cart.cart_changed_at, NOW + timedelta(minutes=40))
        self.assertFalse(self.abandon(cart, NOW + HOUR))
        self.assertFalse(self.abandon(cart, NOW + HOUR + timedelta(minutes=39)))
        self.assertTrue(self.abandon(cart, NOW + HOUR + timedelta(minutes=40)))

    def test_only_customer_changes_count_as_cart_changes(self):
        """Lines and customer stamp the cart; writes that are no activity of the customer
        (recovery flag, portal token, note) do not make it abandoned anew."""
        with self.at(NOW):
            cart = self.make_cart(self.alice)
        with self.at(NOW + HOUR):
            cart.write({"cart_recovery_email_sent": True, "note": "<p>VIP</p>"})
            cart._portal_ensure_token()
            self.env.flush_all()
            self.assertEqual(cart.cart_changed_at, NOW)
            cart.order_line = [Command.create({"product_id": self.product.id})]
            self.env.flush_all()
            self.assertEqual(cart.cart_changed_at, NOW + HOUR)
        with self.at(NOW + 2 * HOUR):
            cart.order_line[-1].unlink()
            self.env.flush_all()
            self.assertEqual(cart.cart_changed_at, NOW + 2 * HOUR)
            cart.action_confirm()
        self.change(cart, NOW + 3 * HOUR, 2)
        self.assertEqual(cart.cart_changed_at, NOW + 2 * HOUR, "not a cart any more")
        backend = self.env["sale.order"].create({"partner_id": self.alice.id})
        self.assertFalse(backend.cart_changed_at, "not a shop cart")

    def test_reentry_never_after_a_change(self):
        """The cart changes after its walk and is abandoned again: it does not enter again
        under the policy "never", and no run enrols it."""
        with self.at(NOW):
            scenario = self.make_cart_scenario(reentry="never")
            cart = self.make_cart(self.alice)
        first = self.abandon(cart, NOW + HOUR)
        self.assertEqual(len(first), 1)
        with self.at(NOW + 2 * HOUR), self.mock_mail_gateway():
            self.run_cron()  # the reminder: the walk completes
        self.assertEqual(first.state, "completed")
        self.change(cart, NOW + 3 * HOUR, 2)
        self.assertEqual(self.abandon(cart, NOW + 4 * HOUR), first)
        self.assertEqual(self.abandon(cart, NOW + 9 * HOUR), first)
        self.assertEqual(scenario.last_entry_check, NOW + 9 * HOUR)

    def test_reentry_always_once_per_abandonment(self):
        """Policy "always": a new abandonment enters again, once; runs without a new change
        of the cart enrol nothing, even though its walk is over."""
        with self.at(NOW):
            self.make_cart_scenario(reentry="always")
            cart = self.make_cart(self.alice)
        first = self.abandon(cart, NOW + HOUR)
        with self.at(NOW + 2 * HOUR), self.mock_mail_gateway():
            self.run_cron()
        self.assertEqual(first.state, "completed")
        self.assertEqual(self.abandon(cart, NOW + 3 * HOUR), first, "same abandonment")
        self.change(cart, NOW + 4 * HOUR, 2)
        self.assertEqual(self.abandon(cart, NOW + 4 * HOUR + timedelta(minutes=59)), first)
        both = self.abandon(cart, NOW + 5 * HOUR)
        self.assertEqual(len(both), 2)
        self.assertEqual(both[1].date_start, NOW + 5 * HOUR)
        self.assertEqual(self.abandon(cart, NOW + 6 * HOUR), both)
        self.assertEqual(self.abandon(cart, NOW + 30 * HOUR), both)

    def test_change_during_the_walk_does_not_double_it(self):
        """The cart changes while its walk runs: the new abandonment cannot enter (the
        record is walking) and is not retried at each run afterwards."""
        with self.at(NOW):
            self.make_cart_scenario(reentry="always")
            cart = self.make_cart(self.alice)
        first = self.abandon(cart, NOW + HOUR)
        self.change(cart, NOW + HOUR + timedelta(minutes=10), 2)
        self.assertEqual(self.abandon(cart, NOW + 2 * HOUR + timedelta(minutes=10)), first)
        with self.at(NOW + 3 * HOUR), self.mock_mail_gateway():
            self.run_cron()
        self.assertEqual(first.state, "completed")
        self.assertEqual(self.abandon(cart, NOW + 4 * HOUR), first)

    def test_later_confirmed_order_of_the_customer(self):
        """A customer who confirmed an order after the cart last changed has bought: the
        cart does not enter. An order confirmed before the change does not count."""
        with self.at(NOW - 2 * HOUR):
            old_order = self.env["sale.order"].create(
                {
                    "partner_id": self.bob.id,
                    "order_line": [Command.create({"product_id": self.product.id})],
                }
            )
            old_order.action_confirm()
        with self.at(NOW):
            scenario = self.make_cart_scenario()
            alice_cart = self.make_cart(self.alice)
            bob_cart = self.make_cart(self.bob)
        with self.at(NOW + timedelta(minutes=30)):
            phone_order = self.env["sale.order"].create(
                {
                    "partner_id": self.alice.id,
                    "order_line": [Command.create({"product_id": self.product.id})],
                }
            )
            phone_order.action_confirm()
        self.assertFalse(self.abandon(alice_cart, NOW + HOUR))
        self.assertTrue(self.participants(scenario, bob_cart))

    def test_carts_that_never_enter(self):
        """Public partner, no e-mail, invalid e-mail, no line, not from the website, not a
        draft: none enter."""
        nobody = self.env["res.partner"].create({"name": "No mail"})
        invalid = self.env["res.partner"].create({"name": "Bad", "email": "not-an-email"})
        with self.at(NOW):
            scenario = self.make_cart_scenario()
            carts = (
                self.make_cart(self.public_partner)
                | self.make_cart(nobody)
                | self.make_cart(invalid)
                | self.make_cart(self.alice, order_line=[])
                | self.make_cart(self.bob, website_id=False)
            )
            sent = self.make_cart(self.carol)
            sent.action_quotation_sent()
        with self.at(NOW + 2 * HOUR):
            self.run_cart_cron()
        self.assertFalse(self.participants(scenario))
        self.assertFalse(any(carts.mapped("cart_recovery_email_sent")))

    def test_only_the_latest_cart_of_a_customer(self):
        """Two abandoned carts of one customer: only the latest enters. When a newer cart
        is abandoned later, it takes over: the older cart's walk ends."""
        with self.at(NOW):
            scenario = self.make_cart_scenario()
            older = self.make_cart(self.alice)
        with self.at(NOW + timedelta(minutes=10)):
            newer = self.make_cart(self.alice, qty=2)
        with self.at(NOW + 2 * HOUR):
            self.run_cart_cron()
        self.assertEqual(self.participants(scenario).mapped("res_id"), [newer.id])
        # a third cart, abandoned later, supersedes the walk of the second
        with self.at(NOW + 3 * HOUR):
            third = self.make_cart(self.alice, qty=3)
        with self.at(NOW + 4 * HOUR):
            self.run_cart_cron()
        first, second = self.participants(scenario)
        self.assertEqual(
            (first.res_id, first.state, first.end_reason_code),
            (newer.id, "exited", "cart_superseded"),
        )
        self.assertEqual(self.trace_of(self.reminder, newer).reason_code, "cart_superseded")
        self.assertEqual((second.res_id, second.state), (third.id, "running"))
        self.assertFalse(self.participants(scenario, older))

    def test_old_carts_do_not_enter_when_the_scenario_starts(self):
        with self.at(NOW - 5 * HOUR):
            old = self.make_cart(self.alice)
        with self.at(NOW):
            scenario = self.make_cart_scenario()
            self.run_cart_cron()
            recent = self.make_cart(self.bob)
        with self.at(NOW + 2 * HOUR):
            self.run_cart_cron()
        self.assertEqual(self.participants(scenario).mapped("res_id"), [recent.id])
        self.assertFalse(self.participants(scenario, old))

    def test_carts_abandoned_during_a_pause_do_not_enter(self):
        """As for every trigger, resuming starts from now: carts abandoned while the
        scenario was paused do not enter; carts abandoned after the resume do."""
        with self.at(NOW):
            scenario = self.make_cart_scenario()
            scenario.action_pause()
            during = self.make_cart(self.alice)
        with self.at(NOW + 2 * HOUR):
            self.run_cart_cron()
            self.assertFalse(self.participants(scenario), "paused")
            scenario.action_resume()
            after = self.make_cart(self.bob)
        with self.at(NOW + 3 * HOUR):
            self.run_cart_cron()
        self.assertEqual(self.participants(scenario).mapped("res_id"), [after.id])
        self.assertFalse(self.participants(scenario, during))

    def test_no_late_entry_after_a_cron_outage(self):
        """The cron did not run for four days: carts abandoned more than three days ago
        are not mailed so late; the more recent ones enter."""
        with self.at(NOW):
            scenario = self.make_cart_scenario()
            stale = self.make_cart(self.alice)
        with self.at(NOW + timedelta(days=2)):
            fresh = self.make_cart(self.bob)
        with self.at(NOW + timedelta(days=4)):
            self.run_cart_cron()
        self.assertEqual(self.participants(scenario).mapped("res_id"), [fresh.id])
        self.assertFalse(self.participants(scenario, stale))

    def test_changing_the_delay_skips_no_cart(self):
        """A running scenario's delay goes from 3 hours to 1: the carts that became
        abandoned in between enter at the next run, none is skipped."""
        with self.at(NOW):
            scenario = self.make_cart_scenario(cart_abandoned_hours=3)
            early = self.make_cart(self.alice)
        with self.at(NOW + HOUR):
            late = self.make_cart(self.bob)
        with self.at(NOW + 2 * HOUR + timedelta(minutes=30)):
            self.run_cart_cron()
            self.assertFalse(self.participants(scenario))
            scenario.cart_abandoned_hours = 1
            self.run_cart_cron()
        self.assertEqual(self.participants(scenario).mapped("res_id"), [early.id, late.id])

    def test_company_of_the_scenario(self):
        other = self.env["res.company"].create({"name": "Other shop"})
        with self.at(NOW):
            scenario = self.make_cart_scenario(company_id=other.id)
            cart = self.make_cart(self.alice)
        self.assertFalse(self.abandon(cart, NOW + 2 * HOUR))
        scenario.company_id = self.env.company
        self.change(cart, NOW + 2 * HOUR, 4)
        self.assertTrue(self.abandon(cart, NOW + 3 * HOUR))

    def test_batches_commit_with_their_checkpoint(self):
        self.env["ir.config_parameter"].set_param("trigger_marketing.batch_size", 3)
        customers = self.env["res.partner"].create(
            [{"name": f"Customer {i}", "email": f"c{i}@example.com"} for i in range(7)]
        )
        with self.at(NOW):
            scenario = self.make_cart_scenario()
            for customer in customers:
                self.make_cart(customer)
        with self.at(NOW + HOUR):
            self.run_cart_cron()
        self.assertEqual(len(self.participants(scenario)), 7)
        progress = self.env["ir.cron.progress"].search(
            [("cron_id", "=", self.cart_cron.id)], order="id desc", limit=1
        )
        self.assertEqual((progress.done, progress.remaining), (7, 0))
        self.assertEqual(scenario.last_entry_check, NOW + HOUR)

    def test_intake_queries_do_not_grow_with_carts(self):
        """A run of the intake cron costs the same queries for 3 carts as for 22 (the
        first run, with cold caches, is left out)."""
        customers = self.env["res.partner"].create(
            [{"name": f"Customer {i}", "email": f"q{i}@example.com"} for i in range(29)]
        )
        sizes = (3, 3, 22)
        with self.at(NOW):
            scenario = self.make_cart_scenario()
        start = 0
        for index, size in enumerate(sizes):
            with self.at(NOW + index * timedelta(minutes=5)):
                for customer in customers[start : start + size]:
                    self.make_cart(customer)
            start += size
        with self.at(NOW + HOUR):  # a later cart: each run plans the next wake-up
            self.make_cart(customers[start])
        counts = []
        for index in range(len(sizes)):
            with self.at(NOW + HOUR + index * timedelta(minutes=5)):
                self.env.flush_all()
                before = sql_db.sql_counter
                self.run_cart_cron()
                counts.append(sql_db.sql_counter - before)
            self.assertEqual(len(self.participants(scenario)), sum(sizes[: index + 1]))
        self.assertEqual(counts[1], counts[2], f"queries for 3 and 22 carts: {counts[1:]}")

    def test_cron_woken_when_a_cart_becomes_abandoned(self):
        with self.at(NOW):
            self.make_cart_scenario(cart_abandoned_hours=2)
            with self.capture_triggers(self.cart_cron.id) as capture:
                cart = self.make_cart(self.alice)
                cart.order_line.product_uom_qty = 2  # one wake-up per transaction
                self.env.cr.flush()  # what the commit does: precommit hooks
            self.assertEqual(capture.records.mapped("call_at"), [NOW + 2 * HOUR])
        with self.at(NOW + 30 * timedelta(minutes=1)):
            self.make_cart(self.bob)
        with self.at(NOW + 2 * HOUR), self.capture_triggers(self.cart_cron.id) as capture:
            self.run_cart_cron()
        self.assertIn(
            NOW + 2.5 * HOUR,
            capture.records.mapped("call_at"),
            "the run wakes the cron when the next cart becomes abandoned",
        )
        self.assertEqual(self.cart_cron.interval_type, "days", "no high-frequency polling")

    def test_no_scenario_no_wake_up(self):
        with self.at(NOW), self.capture_triggers(self.cart_cron.id) as capture:
            self.make_cart(self.alice)
            self.env.cr.flush()
        self.assertFalse(capture.records)

    # ------------------------------------------------------------
    # Settings and validation
    # ------------------------------------------------------------

    def test_defaults_and_validation(self):
        self.env["ir.config_parameter"].set_param(
            "trigger_marketing_website_sale.cart_abandoned_hours", "4"
        )
        scenario = self.env["marketing.scenario"].create(
            {"name": "Carts", "trigger": "cart_abandoned"}
        )
        self.assertEqual(scenario.model_name, "sale.order")
        self.assertEqual(scenario.goal_domain, "[('state', '=', 'sale')]")
        self.assertEqual(scenario.cart_abandoned_hours, 4)
        with self.assertRaisesRegex(ValidationError, "positive number of hours"):
            scenario.cart_abandoned_hours = 0
        with self.assertRaisesRegex(ValidationError, "abandoned carts are sales orders"):
            self.env["marketing.scenario"].create(
                {"name": "Wrong", "trigger": "cart_abandoned", "model_id": self.partner_model.id}
            )
        settings = self.env["res.config.settings"].create(
            {"trigger_marketing_cart_abandoned_hours": 2.5}
        )
        settings.execute()
        self.assertEqual(
            self.env["marketing.scenario"]
            .create({"name": "Carts 2", "trigger": "cart_abandoned"})
            .cart_abandoned_hours,
            2.5,
        )
