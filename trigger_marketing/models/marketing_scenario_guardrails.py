from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

# Below this many sends, rates say nothing: a scenario is judged from its last
# min(window, GUARD_MIN_SENDS) sends on.
GUARD_MIN_SENDS = 100


class MarketingScenario(models.Model):
    """Deliverability guardrails: a running scenario whose last sends bounce or make
    people unsubscribe too often pauses itself and tells its owner, before mailbox
    providers block the sender (Gmail and Yahoo reject bulk senders above 0.3 % of spam
    complaints; bounces above a few percent mark a list as bought or stale).

    Checked by the cron ``ir_cron_scenario_guardrails`` every 15 minutes: one bounded
    query per running scenario that sends e-mails.
    """

    _inherit = "marketing.scenario"

    guard_enabled = fields.Boolean(
        string="Deliverability guardrails",
        default=True,
        help="Pause the scenario by itself, and tell its responsible, when too many of its "
        "last e-mails bounce or make people unsubscribe.",
    )
    guard_window = fields.Integer(
        string="Judged on the last",
        default=500,
        help="Number of the scenario's last sent e-mails on which the rates are computed "
        f"(judged from {GUARD_MIN_SENDS} sends on).",
    )
    guard_bounce_rate = fields.Float(
        string="Pause above bounces (%)",
        default=5.0,
        help="Share of bounced e-mails among the last sends that pauses the scenario.",
    )
    guard_unsubscribe_rate = fields.Float(
        string="Pause above unsubscribes (%)",
        default=1.0,
        help="Share of recipients who unsubscribed (blacklisted) after the e-mail, among "
        "the last sends, that pauses the scenario.",
    )
    guard_note = fields.Text(string="Paused by the guardrails", readonly=True, copy=False)

    @api.constrains("guard_window", "guard_bounce_rate", "guard_unsubscribe_rate")
    def _check_guardrails(self):
        for scenario in self:
            if not 10 <= scenario.guard_window <= 100000:
                raise ValidationError(
                    self.env._(
                        "Scenario %(name)s: the guardrails judge the last 10 to 100,000 sends.",
                        name=scenario.name,
                    )
                )
            for rate in (scenario.guard_bounce_rate, scenario.guard_unsubscribe_rate):
                if not 0.1 <= rate <= 100.0:
                    raise ValidationError(
                        self.env._(
                            "Scenario %(name)s: a guardrail rate is from 0.1 %% to 100 %%.",
                            name=scenario.name,
                        )
                    )

    @api.model
    def _cron_guardrails(self):
        scenarios = self.search([("state", "=", "running"), ("guard_enabled", "=", True)])
        for scenario in scenarios.filtered(lambda s: "mail" in s.step_ids.mapped("action_type")):
            scenario._guard_check()

    def _guard_rates(self):
        """(sends, bounced, unsubscribed) of the scenario's last ``guard_window`` sent
        e-mails (real participants). One query, bounded by the window."""
        self.ensure_one()
        self.env["mailing.trace"].flush_model()
        self.env["mail.blacklist"].flush_model()
        self.env.cr.execute(
            SQL(
                """
                SELECT count(*),
                       count(*) FILTER (WHERE last.trace_status = 'bounce'),
                       count(*) FILTER (WHERE EXISTS (
                           SELECT 1 FROM mail_blacklist bl
                            WHERE bl.email = last.email AND bl.active
                              AND bl.write_date >= last.sent_datetime))
                  FROM (SELECT mt.trace_status, mt.email, mt.sent_datetime
                          FROM mailing_trace mt
                          JOIN marketing_scenario_trace t ON t.id = mt.marketing_trace_id
                         WHERE t.scenario_id = %(scenario)s AND t.is_test IS NOT TRUE
                           AND mt.sent_datetime IS NOT NULL
                         ORDER BY mt.sent_datetime DESC
                         LIMIT %(window)s) AS last
                """,
                scenario=self.id,
                window=self.guard_window,
            )
        )
        return self.env.cr.fetchone()

    def _guard_check(self):
        """Pause the scenario if a rate of its last sends crosses its threshold.

        :return: the reason, or None when the scenario goes on
        """
        self.ensure_one()
        sends, bounced, unsubscribed = self._guard_rates()
        if sends < min(self.guard_window, GUARD_MIN_SENDS):
            return None
        bounce_rate = 100.0 * bounced / sends
        unsubscribe_rate = 100.0 * unsubscribed / sends
        if bounce_rate > self.guard_bounce_rate:
            reason = self.env._(
                "%(rate).1f %% of the last %(sends)s e-mails bounced (limit %(limit)s %%).",
                rate=bounce_rate,
                sends=sends,
                limit=self.guard_bounce_rate,
            )
        elif unsubscribe_rate > self.guard_unsubscribe_rate:
            reason = self.env._(
                "%(rate).1f %% of the recipients of the last %(sends)s e-mails unsubscribed "
                "(limit %(limit)s %%).",
                rate=unsubscribe_rate,
                sends=sends,
                limit=self.guard_unsubscribe_rate,
            )
        else:
            return None
        self._guard_pause(reason)
        return reason

    def _guard_pause(self, reason):
        self.ensure_one()
        note = self.env._(
            "Paused by the deliverability guardrails: %(reason)s Check the audience and the "
            "content, then resume it: the contacts keep their place.",
            reason=reason,
        )
        self.write({"state": "paused", "guard_note": note})
        self.message_post(body=note)
        self.activity_schedule(
            "mail.mail_activity_data_todo",
            user_id=(self.user_id or self.env.ref("base.user_admin")).id,
            summary=self.env._("Scenario paused by the deliverability guardrails"),
            note=note,
        )

    def action_resume(self):
        self.guard_note = False
        return super().action_resume()
