from odoo import api, fields, models
from odoo.exceptions import UserError


class MailingMailing(models.Model):
    """E-mails of scenario steps are mailings: edited with the mailing editor, sent and
    tracked by mass_mailing, but never sent to a whole audience at once."""

    _inherit = "mailing.mailing"

    use_in_trigger_marketing = fields.Boolean(
        string="Used in a scenario",
        copy=False,
        index=True,
        help="Sent step by step by trigger marketing scenarios, never as a mass mailing.",
    )
    marketing_step_ids = fields.One2many("marketing.scenario.step", "mailing_id")
    trigger_marketing_transactional = fields.Boolean(
        string="Transactional",
        copy=False,
        help="An order or account message, not marketing: sent even to contacts who "
        "unsubscribed from marketing e-mails (never to invalid addresses), without "
        "unsubscribe link.",
    )

    @api.constrains("subject", "body_html", "mailing_model_id")
    def _check_trigger_marketing_content(self):
        """The e-mail of a scenario step keeps a subject and a body (edited from the step
        or from the mailing itself)."""
        self.marketing_step_ids._check_action_parameters()

    @api.model_create_multi
    def create(self, vals_list):
        if self.env.context.get("default_use_in_trigger_marketing"):
            for vals in vals_list:
                vals.setdefault("use_in_trigger_marketing", True)
        return super().create(vals_list)

    def _check_not_scenario_mailing(self):
        if any(mailing.use_in_trigger_marketing for mailing in self):
            raise UserError(
                self.env._(
                    "This e-mail belongs to a scenario: it is sent contact by contact by the "
                    "scenario, not as a mass mailing."
                )
            )

    def action_launch(self):
        self._check_not_scenario_mailing()
        return super().action_launch()

    def action_put_in_queue(self):
        self._check_not_scenario_mailing()
        return super().action_put_in_queue()

    def action_schedule(self):
        self._check_not_scenario_mailing()
        return super().action_schedule()

    def action_send_mail(self, res_ids=None):
        self._check_not_scenario_mailing()
        return super().action_send_mail(res_ids=res_ids)

    def _get_seen_list(self):
        # Scenario steps check duplicates themselves, per batch and against running walks
        # (see marketing.scenario.step._skip_duplicate_addresses): mass_mailing's seen list
        # would read every trace this mailing ever had, and forbid any re-entry.
        if self.use_in_trigger_marketing and "trigger_marketing_trace_by_res" in self.env.context:
            return set()
        return super()._get_seen_list()

    def _trigger_marketing_composer_values(self):
        """Values of the mass-mail composer for this mailing, as mass_mailing sends it.

        mass_mailing builds them inside ``_action_send_mail``, which also commits (outside
        tests) and marks the mailing done: a scenario step cannot call it from inside its
        batch's transaction, hence these values, kept in step with Odoo 19's.
        """
        self.ensure_one()
        values = {
            "auto_delete": not self.keep_archives,
            "auto_delete_keep_log": self.reply_to_mode == "update",
            "author_id": self.user_id.partner_id.id or self.env.user.partner_id.id,
            "attachment_ids": [(4, attachment.id) for attachment in self.attachment_ids],
            "body": self._prepend_preview(self.body_html or "", self.preview),
            "composition_mode": "mass_mail",
            "email_from": self.email_from,
            # never send from inside the step's transaction: if it rolled back after the
            # SMTP call the mail would go twice. The mail queue sends what was committed.
            "force_send": False,
            "mail_server_id": self.mail_server_id.id,
            "mass_mailing_id": self.id,
            "model": self.mailing_model_real,
            "reply_to_force_new": self.reply_to_mode == "new",
            "subject": self.subject,
            "template_id": False,
            "use_exclusion_list": self.use_exclusion_list,
        }
        if self.reply_to_mode == "new":
            values["reply_to"] = self.reply_to
        return values

    def _send_for_traces(self, traces, records_by_trace, test_email=None):
        """Queue this mailing for the records of ``traces`` (scenario traces), linking each
        generated ``mailing.trace`` to its scenario trace.

        :param test_email: send to this address instead (test participants)
        """
        self.ensure_one()
        if not traces:
            return
        trace_by_res = {records_by_trace[trace].id: trace.id for trace in traces}
        composer = (
            self.env["mail.compose.message"]
            .with_context(
                active_ids=list(trace_by_res),
                default_composition_mode="mass_mail",
                trigger_marketing_trace_by_res=trace_by_res,
                trigger_marketing_test_email=test_email,
                **self._get_mass_mailing_context(),
            )
            .create(self._trigger_marketing_composer_values())
        )
        composer._action_send_mail(auto_commit=False)
        # the right moment: the delivery lane sends them once this transaction is
        # committed (mail_mail_delivery.py)
        self.env["mail.mail"]._trigger_marketing_wake_queue(fields.Datetime.now())
