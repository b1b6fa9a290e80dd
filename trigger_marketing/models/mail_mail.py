from datetime import timedelta

from odoo import fields, models

from .marketing_scenario_trace_engine import MAIL_QUEUE_GRACE

# A scenario mail that could not reach the SMTP server is tried again after this delay.
SMTP_RETRY_DELAY = timedelta(minutes=10)


class MailMail(models.Model):
    """Scenario mails survive an outage of the outgoing mail server.

    When Odoo cannot connect to the SMTP server, ``mail.mail.send`` marks the whole
    batch *Delivery Failed* (``exception``, failure type ``mail_smtp``) and mass_mailing
    marks their mailing traces *error*; nothing retries them. A scenario's "not opened"
    branch would then be skipped for good although nothing was wrong with the contact.
    Scenario mails stay in the queue instead (``outgoing``, tried again every
    ``SMTP_RETRY_DELAY``, their mailing traces still *outgoing*, so that the branches
    that depend on them wait) until they are ``MAIL_QUEUE_GRACE`` old: then they fail as
    Odoo's other mails do.
    """

    _inherit = "mail.mail"

    def _postprocess_sent_message(
        self, success_pids, success_emails, failure_reason=False, failure_type=None
    ):
        requeued = self.browse()
        if failure_type == "mail_smtp":
            requeued = self._trigger_marketing_requeue()
        others = self - requeued
        if not any(others.mapped("trigger_marketing_lane")):
            # Odoo's own mails: their mailing traces belong to no scenario (only the lane
            # sends those): nothing to mirror on scenario traces (mailing_trace.py)
            others = others.with_context(trigger_marketing_no_scenario=True)
        if not others:
            return True
        return super(MailMail, others)._postprocess_sent_message(
            success_pids, success_emails, failure_reason=failure_reason, failure_type=failure_type
        )

    def _trigger_marketing_requeue(self):
        """Put the scenario mails of this failed batch back in the queue; return them."""
        now = fields.Datetime.now()
        retry = self.filtered(
            lambda mail: (
                mail.mailing_id.use_in_trigger_marketing
                and mail.create_date
                and mail.create_date + MAIL_QUEUE_GRACE > now
            )
        )
        if not retry:
            return retry
        at = now + SMTP_RETRY_DELAY
        # one write per reason (a batch has one per sending configuration at most)
        for reason, mails in retry.grouped("failure_reason").items():
            mails.write(
                {
                    "state": "outgoing",
                    "scheduled_date": at,
                    "failure_reason": self.env._(
                        "The outgoing mail server could not be reached (%(reason)s); "
                        "tried again from %(at)s.",
                        reason=reason or "",
                        at=fields.Datetime.to_string(at),
                    ),
                }
            )
        if not self.env.context.get("trigger_marketing_lane_run"):
            self._trigger_marketing_wake_queue(at)  # else the lane schedules its next run
        return retry
