import logging
from datetime import timedelta

from markupsafe import Markup

from odoo import api, fields, models, tools
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from odoo.addons.trigger_marketing.tools.bounds import MAX_CART_HOURS
from odoo.addons.trigger_marketing.tools.trace_results import failure_message

from .sale_order import WAKE_KEY

_logger = logging.getLogger(__name__)

HOURS_PARAM = "trigger_marketing_website_sale.cart_abandoned_hours"
CART_GOAL = "[('state', '=', 'sale')]"
# Steps of the template run only while the order is still a cart with something in it
# (not paid by wire transfer meanwhile, not cancelled, not emptied).
STILL_A_CART = "[('state', '=', 'draft'), ('order_line', '!=', False)]"
# A cart enters at the latest this long after it was abandoned (cron down, scenario
# paused): a "you forgot your cart" e-mail weeks later is spam, not service.
MAX_LATENESS = timedelta(days=3)


class MarketingScenario(models.Model):
    _inherit = "marketing.scenario"

    trigger = fields.Selection(
        selection_add=[("cart_abandoned", "Cart abandoned")],
        ondelete={"cart_abandoned": "set default"},
    )
    cart_abandoned_hours = fields.Float(
        string="Abandoned after (hours)",
        default=lambda self: self._default_cart_abandoned_hours(),
        help="A shop cart is abandoned when it has not changed for this long (its content "
        "or its customer), and its customer has not confirmed an order since.",
    )

    @api.model
    def _default_cart_abandoned_hours(self):
        value = self.env["ir.config_parameter"].sudo().get_param(HOURS_PARAM)
        try:
            hours = float(value) if value else 1.0
        except ValueError:
            hours = 1.0
        return hours if hours > 0 else 1.0

    # ------------------------------------------------------------
    # Constraints, defaults
    # ------------------------------------------------------------

    def _marketing_bounds(self):
        kind, numbers, texts = super()._marketing_bounds()
        return kind, [*numbers, ("cart_abandoned_hours", 0, MAX_CART_HOURS)], texts

    @api.constrains("cart_abandoned_hours")
    def _check_cart_abandoned_hours(self):
        self._check_trigger_settings()

    def _check_entry_cart_abandoned(self):
        if self.model_name != "sale.order":
            raise ValidationError(
                self.env._(
                    "Scenario %(name)s: abandoned carts are sales orders; set the target "
                    "to Sales Order.",
                    name=self.name,
                )
            )
        if self.cart_abandoned_hours <= 0:
            raise ValidationError(
                self.env._(
                    "Scenario %(name)s: a cart is abandoned after a positive number of hours.",
                    name=self.name,
                )
            )

    @api.onchange("trigger")
    def _onchange_trigger_cart(self):
        if self.trigger == "cart_abandoned":
            self.model_id = self.env["ir.model"]._get("sale.order")
            if not self.goal_domain:
                self.goal_domain = CART_GOAL

    @api.model_create_multi
    def create(self, vals_list):
        sale_model_id = self.env["ir.model"]._get_id("sale.order")
        for vals in vals_list:
            if vals.get("trigger") == "cart_abandoned":
                vals.setdefault("model_id", sale_model_id)
                vals.setdefault("goal_domain", CART_GOAL)
        return super().create(vals_list)

    def write(self, vals):
        """Changing the delay keeps the cart checkpoint where it is: ``last_entry_check``
        is the moment up to which abandonments were checked, i.e. carts last changed
        before it minus the delay. A shorter delay must not skip the carts in between."""
        if "cart_abandoned_hours" in vals:
            for scenario in self.filtered(
                lambda s: s.trigger == "cart_abandoned" and s.last_entry_check
            ):
                shift = timedelta(
                    hours=vals["cart_abandoned_hours"] - scenario.cart_abandoned_hours
                )
                super(MarketingScenario, scenario).write(
                    {"last_entry_check": scenario.last_entry_check + shift}
                )
        res = super().write(vals)
        if "cart_abandoned_hours" in vals:
            self.env.registry.clear_cache()
        if {"state", "active", "trigger", "cart_abandoned_hours", "domain"} & set(vals) and any(
            s.trigger == "cart_abandoned" and s.state == "running" for s in self
        ):
            self._cart_wake_cron(fields.Datetime.now())
        return res

    # ------------------------------------------------------------
    # Intake of abandoned carts (cron, woken at the exact due time)
    # ------------------------------------------------------------

    @api.model
    @tools.ormcache()
    def _cart_scenarios(self):
        """The live (running or paused) cart-abandonment scenarios, cached per registry:
        the cart hooks ask for it on every cart change and must cost no query."""
        scenarios = (
            self.sudo()
            .with_context(active_test=True)
            .search(
                [
                    ("trigger", "=", "cart_abandoned"),
                    ("model_name", "=", "sale.order"),
                    ("state", "in", ("running", "paused")),
                ]
            )
        )
        return tuple(
            {
                "id": scenario.id,
                "state": scenario.state,
                "hours": scenario.cart_abandoned_hours,
                "company_id": scenario.company_id.id,
            }
            for scenario in scenarios
        )

    @api.model
    def _cart_wake_precommit(self):
        """Before the commit of a transaction that changed carts: wake the intake cron when
        the earliest of them becomes abandoned, for each delay of the running scenarios."""
        changed_at = self.env.cr.precommit.data.pop(WAKE_KEY, None)
        if not changed_at:
            return
        hours = sorted({e["hours"] for e in self._cart_scenarios() if e["state"] == "running"})
        if hours:
            self._cart_wake_cron([changed_at + timedelta(hours=h) for h in hours])

    @api.model
    def _cart_wake_cron(self, at):
        cron = self.env.ref(
            "trigger_marketing_website_sale.ir_cron_cart_abandoned", raise_if_not_found=False
        )
        if cron:
            cron.sudo()._trigger(at)

    @api.model
    def _cron_enroll_abandoned_carts(self):
        """Enrol the carts abandoned since the last run in the running cart scenarios.

        Each scenario keeps a checkpoint (``last_entry_check``, as the date triggers of
        the core do): the carts abandoned before it (last change + delay) were checked, so
        that an abandonment is checked once, whatever happens to the cart afterwards. A
        cart that changes later is abandoned again later, and enters again if the
        scenario's re-entry policy allows it. Starting or resuming a scenario moves the
        checkpoint to "now" (core): carts abandoned while it did not run do not enter.
        Abandonments older than ``MAX_LATENESS`` (the cron was down) do not enter either.
        """
        Cron = self.env["ir.cron"]
        now = self.env.cr.now()
        scenarios = self.search(
            [
                ("trigger", "=", "cart_abandoned"),
                ("model_name", "=", "sale.order"),
                ("state", "=", "running"),
            ]
        )
        plans = []
        for scenario in scenarios:
            delay = timedelta(hours=scenario.cart_abandoned_hours)
            if not scenario.last_entry_check:  # set when the scenario (re)starts
                scenario.last_entry_check = now
                continue
            # carts last changed in ]low, high] are abandoned since the last check
            low = max(scenario.last_entry_check, now - MAX_LATENESS) - delay
            high = now - delay
            if low < high:
                plans.append((scenario, low, high))
        remaining = sum(scenario._cart_count(low, high) for scenario, low, high in plans)
        Cron._commit_progress(remaining=remaining)
        batch_size = self.env["marketing.scenario.trace"]._batch_size()
        for scenario, low, high in plans:
            if not scenario._cart_enroll_range(low, high, batch_size):
                break  # out of time: the next run goes on from the checkpoints
        self._cart_schedule_next_run()

    def _cart_count(self, low, high):
        self.ensure_one()
        self.env.cr.execute(
            SQL("SELECT count(*) FROM (%s) AS candidates", self._cart_candidates_query(low, high))
        )
        return self.env.cr.fetchone()[0]

    def _cart_enroll_range(self, low, high, batch_size):
        """Enrol the abandoned carts last changed in ``]low, high]``, batch after batch,
        each batch committed with the checkpoint (``last_entry_check``, the abandonment
        moment checked so far: last change + delay).

        A broken scenario (e.g. its audience names a removed field) is logged and retried
        next time from its checkpoint; the other scenarios go on.

        :return: False when the cron ran out of time
        """
        self.ensure_one()
        Cron = self.env["ir.cron"]
        delay = timedelta(hours=self.cart_abandoned_hours)
        after = None
        while True:
            try:
                with self.env.cr.savepoint():
                    self.env.cr.execute(
                        SQL(
                            "%s LIMIT %s",
                            self._cart_candidates_query(low, high, after),
                            batch_size,
                        )
                    )
                    rows = self.env.cr.fetchall()
                    if rows:
                        participants = self.enroll(
                            self.env["sale.order"].browse([row[0] for row in rows])
                        )
                        self._cart_after_enrolment(participants)
            except Exception as error:  # noqa: BLE001 - recorded on the scenario, the cron goes on
                _logger.exception("Abandoned carts of scenario %s could not enter", self.id)
                self._record_failure(failure_message(error))
                return True
            if len(rows) < batch_size:
                self.last_entry_check = high + delay
                Cron._commit_progress(len(rows))
                return True
            # Carts changed in the same second as the last one may still wait: the next
            # run takes them again (the ones that entered are not enrolled twice).
            after = rows[-1][1], rows[-1][0]
            self.last_entry_check = after[0] - timedelta(seconds=1) + delay
            if not Cron._commit_progress(len(rows)):
                return False

    def _cart_candidates_query(self, low, high, after=None):
        """Carts abandoned in ``]low, high]`` (last change) that may enter this scenario,
        ordered by last change. The audience, the goal and the re-entry policy are applied
        by :meth:`enroll`.

        A cart: a draft order of a website, with lines, of a known customer (not the
        website's public partner) with an e-mail. It is abandoned when it has not changed
        since ``high`` and its customer has confirmed no order of the same company since
        the cart last changed. Only the customer's latest cart counts (an older one is
        superseded), and an abandonment that already entered the scenario does not again.
        """
        self.ensure_one()
        conditions = [
            SQL("so.state = 'draft'"),
            SQL("so.cart_changed_at > %s AND so.cart_changed_at <= %s", low, high),
        ]
        if after:
            conditions.append(SQL("(so.cart_changed_at, so.id) > (%s, %s)", after[0], after[1]))
        if self.company_id:
            conditions.append(SQL("so.company_id = %s", self.company_id.id))
        return SQL(
            """
            SELECT so.id, so.cart_changed_at
              FROM sale_order so
              JOIN website w ON w.id = so.website_id
              JOIN res_users wu ON wu.id = w.user_id
              JOIN res_partner rp ON rp.id = so.partner_id
             WHERE %(conditions)s
               AND so.partner_id != wu.partner_id
               AND rp.email_normalized IS NOT NULL
               AND EXISTS (SELECT 1 FROM sale_order_line l WHERE l.order_id = so.id)
               AND NOT EXISTS (
                   SELECT 1 FROM sale_order o
                    WHERE o.partner_id = so.partner_id AND o.company_id = so.company_id
                      AND o.state = 'sale' AND o.date_order >= so.cart_changed_at)
               AND NOT EXISTS (
                   SELECT 1 FROM sale_order n
                    WHERE n.partner_id = so.partner_id AND n.company_id = so.company_id
                      AND n.state = 'draft' AND n.website_id IS NOT NULL
                      AND (n.cart_changed_at, n.id) > (so.cart_changed_at, so.id)
                      AND EXISTS (SELECT 1 FROM sale_order_line nl WHERE nl.order_id = n.id))
               AND NOT EXISTS (
                   SELECT 1 FROM marketing_scenario_participant mp
                    WHERE mp.scenario_id = %(scenario)s AND mp.res_id = so.id
                      AND mp.is_test IS NOT TRUE AND mp.date_start >= so.cart_changed_at)
             ORDER BY so.cart_changed_at, so.id
            """,
            conditions=SQL(" AND ").join(conditions),
            scenario=self.id,
        )

    def _cart_after_enrolment(self, participants):
        """The carts that entered: they score a ``cart_abandoned`` event, Odoo's own
        reminder is no longer sent for them, their link to resume the cart works (portal
        token), and the walk of an older cart of the same customer ends: one walk per
        customer, about their latest cart."""
        self.ensure_one()
        if not participants:
            return
        res_ids = participants.mapped("res_id")
        # a "cart abandoned" score event per cart that entered (no query without a rule)
        self.env["res.partner"]._marketing_score_event(
            "cart_abandoned",
            participants.partner_id.browse([p.partner_id.id for p in participants]),
            source=self.env["sale.order"].browse(res_ids),
            scenario=self,
        )
        orders = self.env["sale.order"].sudo().browse(res_ids)
        orders.cart_recovery_email_sent = True
        for order in orders:
            # portal's own token: written in the cache, all flushed in one UPDATE
            order._portal_ensure_token()
        older = self.env["marketing.scenario.participant"].search(
            [
                ("scenario_id", "=", self.id),
                ("state", "=", "running"),
                ("is_test", "=", False),
                ("partner_id", "in", participants.partner_id.ids),
                ("id", "not in", participants.ids),
            ]
        )
        older._end("exited", "cart_superseded")

    @api.model
    def _cart_schedule_next_run(self):
        """Wake the intake cron when the next cart becomes abandoned (one query per running
        cart scenario); changes made later wake it themselves."""
        self.env["sale.order"].flush_model(["cart_changed_at", "state", "website_id"])
        wake_at = []
        for entry in self._cart_scenarios():
            if entry["state"] != "running":
                continue
            scenario = self.browse(entry["id"])
            self.env.cr.execute(
                SQL(
                    """
                    SELECT min(cart_changed_at) FROM sale_order
                     WHERE state = 'draft' AND website_id IS NOT NULL
                       AND cart_changed_at > %s
                    """,
                    (scenario.last_entry_check or self.env.cr.now())
                    - timedelta(hours=entry["hours"]),
                )
            )
            next_change = self.env.cr.fetchone()[0]
            if next_change:
                wake_at.append(next_change + timedelta(hours=entry["hours"]))
        if wake_at:
            self._cart_wake_cron(min(wake_at))

    # ------------------------------------------------------------
    # Template
    # ------------------------------------------------------------

    @api.model
    def _scenario_templates(self):
        description = (
            self.env._(
                'A shop cart left for an hour (the scenario\'s "Abandoned after"): a reminder '
                "right then with the cart's lines, a single-use coupon a day later, a last call "
                "a week later. Ends as soon as the customer orders."
            )
            if self._template_has_coupon()
            else self.env._(
                'A shop cart left for an hour (the scenario\'s "Abandoned after"): a reminder '
                "right then with the cart's lines, a last call a week later. Ends as soon as the "
                "customer orders."
            )
        )
        return [
            *super()._scenario_templates(),
            {
                "code": "cart_abandonment",
                "name": self.env._("Cart abandonment"),
                "description": description,
                "model": "sale.order",
            },
        ]

    @api.model
    def _template_cart_abandonment(self):
        """Create the ready-made "Cart abandonment" scenario, in draft, and return it.

        The reminder goes as soon as the cart is abandoned (it entered the scenario after
        "Abandoned after" hours without change); if no order, a single-use coupon 1 day
        later when the loyalty bridge provides one (``_template_coupon``), else no coupon
        step; if still no order, a last call 1 week later. The goal "order confirmed" ends
        the walk as converted.
        """
        _ = self.env._
        coupon = self._template_coupon()

        def step(name, delay, unit, subject, kind, children=(), extra=None):
            return {
                "name": name,
                "delay": delay,
                "delay_unit": unit,
                "filter_domain": STILL_A_CART,
                "mail": (subject, _cart_mail_body(self.env, kind, coupon and coupon["code"])),
                "children": list(children),
                **(extra or {}),
            }

        last_call = step(
            _("Last call"),
            1,
            "weeks",
            _("Last call: your cart and your discount are waiting")
            if coupon
            else _("Last call: your cart is waiting"),
            "last_call",
        )
        follow = last_call
        if coupon:
            follow = step(
                _("Coupon"),
                1,
                "days",
                _("A little something to complete your order"),
                "coupon",
                [last_call],
                coupon["step"],
            )
        reminder = step(
            _("Reminder"), 0, "hours", _("You left something in your cart"), "reminder", [follow]
        )
        return self._template_create(
            {
                "name": _("Cart abandonment"),
                "model": "sale.order",
                "trigger": "cart_abandoned",
                "domain": "[('amount_total', '>', 0)]",
                "goal_domain": CART_GOAL,
                "reentry": "delay",
                "reentry_days": 30,
            },
            [reminder],
        )


def _cart_mail_body(env, kind, code_qweb=None):
    """QWeb body of the template's e-mails: the cart's lines, a link to resume it, and
    the unsubscribe link (replaced by each recipient's own link by mass_mailing).

    :param code_qweb: QWeb that prints the contact's own coupon code (loyalty bridge),
        or None: no coupon is mentioned
    """
    _ = env._
    # our own QWeb (the loyalty bridge's), not user text: kept as markup
    code = Markup("<strong>%s</strong>") % Markup(code_qweb) if code_qweb else None
    intro = {
        "reminder": _("You left these items in your cart. They are waiting for you:"),
        "coupon": Markup(
            _(
                "Your cart is still waiting. Complete your order today with the code "
                "%(code)s at checkout:"
            )
        )
        % {"code": code},
        "last_call": Markup(
            _("Last call: your cart will not wait forever, and neither will your code %(code)s.")
        )
        % {"code": code}
        if code
        else _("Last call: your cart will not wait forever."),
    }[kind]
    button = {
        "reminder": _("Resume my order"),
        "coupon": _("Use my discount"),
        "last_call": _("Complete my order"),
    }[kind]
    return Markup(
        """<div style="font-size: 14px;">
<p>%(hello)s <t t-out="object.partner_id.name or ''"/>,</p>
<p>%(intro)s</p>
<table style="width: 100%%; border-collapse: collapse;">
<t t-foreach="object.website_order_line" t-as="line">
<tr style="border-top: 1px solid #dee2e6;">
<td style="padding: 8px;"><t t-out="line.product_id.display_name"/></td>
<td style="padding: 8px; text-align: right;"><t t-out="'%%g' %% line.product_uom_qty"/></td>
</tr>
</t>
</table>
<p style="text-align: right;"><strong>%(total)s <t t-out="object.amount_total"
 t-options="{'widget': 'monetary', 'display_currency': object.currency_id}"/></strong></p>
<p style="text-align: center; padding: 16px;">
<a t-attf-href="{{ object.get_base_url() }}/shop/cart?id={{ object.id }}&amp;access_token={{ object.access_token }}"
 style="background-color: #875A7B; color: #FFFFFF; padding: 8px 16px; border-radius: 5px; text-decoration: none;">%(button)s</a>
</p>
<p style="margin-top: 24px; font-size: 12px; color: #888888; text-align: center;">
<a href="/unsubscribe_from_list" style="color: #888888;">%(unsubscribe)s</a>
</p>
</div>"""  # noqa: E501
    ) % {
        "hello": _("Hello"),
        "intro": intro,
        "total": _("Total:"),
        "button": button,
        "unsubscribe": _("Unsubscribe"),
    }
