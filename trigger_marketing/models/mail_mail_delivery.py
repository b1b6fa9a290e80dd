import logging
import smtplib
from collections import defaultdict

from odoo import api, fields, models, tools
from odoo.tools import SQL

from ..tools.smtp_sender import SESSION_ERRORS, SmtpSender

_logger = logging.getLogger(__name__)

DELIVERY_CODE = "model._cron_trigger_marketing_deliver()"
# Key space of the advisory locks that tell a live delivery batch from a dead one
# (PostgreSQL's two-key form; its own space, apart from single bigint keys).
LOCK_SPACE = 0x544D  # "TM"


class MailMail(models.Model):
    """The delivery lane of scenario mails: a batch is claimed, committed, then sent over
    one SMTP connection, then post-processed in a constant number of queries.

    A mail is delivered when the SMTP server accepted it (its 250 reply to the end of
    DATA). The claim is committed before the first SMTP command, with the number of the
    batch, while the worker holds a session advisory lock on that number: a crash (or a
    ``kill -9``) ends the session and frees the lock. Mails still claimed by a batch
    whose lock is free belong to a dead worker: nobody knows whether the SMTP server
    accepted them, so they fail with ``INTERRUPTED`` and are never sent again
    automatically (at most once, nothing silently lost). Mails the SMTP server refused
    or could not take (connection failed or lost) were not accepted: they stay queued
    and are tried again (``mail_mail.py``), as Odoo's queue does.

    Odoo's own queue (``process_email_queue``) leaves the lane's mails alone.
    """

    _inherit = "mail.mail"

    trigger_marketing_lane = fields.Boolean(
        string="Scenario mail",
        readonly=True,
        copy=False,
        help="Sent by the scenario delivery lane, not by Odoo's mail queue.",
    )
    trigger_marketing_batch = fields.Integer(
        string="Delivery batch",
        readonly=True,
        copy=False,
        help="The delivery batch that claimed this mail (its first mail's number).",
    )

    # The lane's queue, and the mails a batch holds, through partial indexes only.
    _trigger_marketing_queue_idx = models.Index(
        "(id) WHERE trigger_marketing_lane AND state = 'outgoing'"
        " AND trigger_marketing_batch IS NULL"
    )
    _trigger_marketing_claimed_idx = models.Index(
        "(trigger_marketing_batch) WHERE trigger_marketing_batch IS NOT NULL AND state = 'outgoing'"
    )

    @api.model_create_multi
    def create(self, vals_list):
        if self.env.context.get("trigger_marketing_trace_by_res"):
            for vals in vals_list:
                vals["trigger_marketing_lane"] = True
        return super().create(vals_list)

    @api.model
    def process_email_queue(self, email_ids=(), batch_size=1000):
        """Odoo's queue: every mail but the lane's."""
        filters = [*self.env.context.get("filters", []), ("trigger_marketing_lane", "=", False)]
        return super(MailMail, self.with_context(filters=filters)).process_email_queue(
            email_ids=email_ids, batch_size=batch_size
        )

    def _send(self, *args, **kwargs):
        # never a mail that a delivery batch holds (it may be on its way)
        return super(MailMail, self.filtered(lambda m: not m.trigger_marketing_batch))._send(
            *args, **kwargs
        )

    def mark_outgoing(self):
        """*Retry* (by hand) on failed scenario mails: back in the lane's queue."""
        res = super().mark_outgoing()
        lane = self.filtered("trigger_marketing_lane")
        if lane:
            lane._trigger_marketing_unclaim()
            self._trigger_marketing_wake_queue(fields.Datetime.now())
        return res

    def _trigger_marketing_unclaim(self):
        self.flush_recordset()
        self.env.cr.execute(
            SQL(
                "UPDATE mail_mail SET trigger_marketing_batch = NULL WHERE id = ANY(%s)",
                self.ids,
            )
        )
        self.invalidate_recordset(["trigger_marketing_batch"])

    # ------------------------------------------------------------
    # cron
    # ------------------------------------------------------------

    @api.model
    def _cron_trigger_marketing_deliver(self):
        """Deliver the queued scenario mails, batch after batch (several crons, workers
        or servers at once: a batch is claimed with ``FOR UPDATE SKIP LOCKED``)."""
        self = self.with_context(trigger_marketing_lane_run=True)  # noqa: PLW0642
        Cron = self.env["ir.cron"]
        self._trigger_marketing_fail_interrupted()
        size = self._trigger_marketing_batch_size()
        Cron._commit_progress(remaining=self._trigger_marketing_count_due())
        while batch := self._trigger_marketing_claim(size):
            try:
                with self.env.cr.savepoint():
                    batch._trigger_marketing_deliver_batch()
                left = Cron._commit_progress(len(batch))
            finally:
                self._trigger_marketing_unlock(batch[:1].id)
            self.env.invalidate_all()
            if not left:
                break
        self._trigger_marketing_schedule_next()

    @api.model
    def _trigger_marketing_batch_size(self):
        param = (
            self.env["ir.config_parameter"]
            .sudo()
            .get_param("trigger_marketing.delivery_batch_size", 200)
        )
        return max(1, int(param))

    @api.model
    def _trigger_marketing_count_due(self):
        self.env.cr.execute(
            SQL(
                """
                SELECT count(*) FROM mail_mail
                 WHERE trigger_marketing_lane AND state = 'outgoing'
                   AND trigger_marketing_batch IS NULL
                   AND (scheduled_date IS NULL OR scheduled_date <= %(now)s)
                """,
                now=fields.Datetime.now(),
            )
        )
        return self.env.cr.fetchone()[0]

    @api.model
    def _trigger_marketing_claim(self, size):
        """Claim up to ``size`` due mails and commit the claim; return them, locked by
        this session (see the class docstring)."""
        self.env["marketing.scenario.trace"]._read_committed()
        cr = self.env.cr
        cr.execute(
            SQL(
                """
                SELECT id FROM mail_mail
                 WHERE trigger_marketing_lane AND state = 'outgoing'
                   AND trigger_marketing_batch IS NULL
                   AND (scheduled_date IS NULL OR scheduled_date <= %(now)s)
                 ORDER BY id LIMIT %(size)s
                   FOR UPDATE SKIP LOCKED
                """,
                now=fields.Datetime.now(),
                size=size,
            )
        )
        ids = sorted(row[0] for row in cr.fetchall())
        if not ids:
            return self.browse()
        cr.execute(SQL("SELECT pg_advisory_lock(%s, %s)", LOCK_SPACE, ids[0]))
        cr.execute(
            SQL(
                "UPDATE mail_mail SET trigger_marketing_batch = %s WHERE id = ANY(%s)",
                ids[0],
                ids,
            )
        )
        try:
            self.env["ir.cron"]._commit_progress()
        except Exception:
            self._trigger_marketing_unlock(ids[0])
            raise
        return self.browse(ids)

    @api.model
    def _trigger_marketing_unlock(self, batch):
        self.env.cr.execute(SQL("SELECT pg_advisory_unlock(%s, %s)", LOCK_SPACE, batch))

    @api.model
    def _trigger_marketing_fail_interrupted(self):
        """Fail the mails of dead batches: they may or may not have been delivered."""
        cr = self.env.cr
        cr.execute(
            SQL(
                "SELECT DISTINCT trigger_marketing_batch FROM mail_mail"
                " WHERE trigger_marketing_batch IS NOT NULL AND state = 'outgoing'"
            )
        )
        for (batch,) in cr.fetchall():
            cr.execute(SQL("SELECT pg_try_advisory_lock(%s, %s)", LOCK_SPACE, batch))
            if not cr.fetchone()[0]:
                continue  # alive: its worker holds the lock
            try:
                mails = self.search(
                    [("trigger_marketing_batch", "=", batch), ("state", "=", "outgoing")]
                )
                reason = self.env._(
                    "Delivery interrupted: may or may not have reached the recipient "
                    "(not sent again)."
                )
                _logger.warning(
                    "Delivery batch %s was interrupted: %s mails failed", batch, len(mails)
                )
                mails._trigger_marketing_postprocess(
                    {}, {("unknown", reason): mails}, self.browse()
                )
                self.env["ir.cron"]._commit_progress()
            finally:
                self._trigger_marketing_unlock(batch)

    @api.model
    def _trigger_marketing_schedule_next(self):
        """Wake the lane when the next queued mail is due (retries after an outage)."""
        self.env.cr.execute(
            SQL(
                """
                SELECT min(scheduled_date) FROM mail_mail
                 WHERE trigger_marketing_lane AND state = 'outgoing'
                   AND trigger_marketing_batch IS NULL AND scheduled_date > %(now)s
                """,
                now=fields.Datetime.now(),
            )
        )
        next_due = self.env.cr.fetchone()[0]
        if next_due:
            self._trigger_marketing_wake_queue(next_due)

    @api.model
    def _trigger_marketing_wake_queue(self, at):
        """Wake the delivery lane(s) at ``at``, once per transaction for the earliest."""
        Trace = self.env["marketing.scenario.trace"]
        crons = Trace._lane_cron_ids(
            "trigger_marketing.ir_cron_mail_delivery", self._name, DELIVERY_CODE
        )
        Trace._wake_once(crons, at, "trigger_marketing.delivery_woken_at")

    # ------------------------------------------------------------
    # one batch
    # ------------------------------------------------------------

    def _trigger_marketing_deliver_batch(self):
        """Send the claimed mails ``self``, one SMTP connection per sending
        configuration, then record what happened."""
        sent = {}  # mail -> (partner ids, e-mails) accepted
        failed = defaultdict(lambda: self.browse())  # (failure type, reason) -> mails
        retry = self.browse()
        for server_id, alias_domain_id, smtp_from, ids in self._split_by_mail_configuration():
            mails = self.browse(ids)
            try:
                smtp = self.env["ir.mail_server"]._connect__(
                    mail_server_id=server_id, smtp_from=smtp_from
                )
            except Exception as exc:  # noqa: BLE001 - as Odoo's queue: the batch waits
                mails.write({"failure_reason": tools.exception_to_unicode(exc)})
                retry |= mails
                continue
            try:
                retry |= mails._trigger_marketing_send(
                    smtp, server_id, alias_domain_id, sent, failed
                )
            finally:
                if smtp:
                    try:
                        smtp.quit()
                    except smtplib.SMTPException:
                        _logger.info("Ignoring an SMTP error on quit")
        self._trigger_marketing_postprocess(sent, failed, retry)

    def _trigger_marketing_send(self, smtp, server_id, alias_domain_id, sent, failed):
        """Send each mail of ``self`` through ``smtp`` as ``mail.mail._send`` does,
        the SMTP dialogue in a thread of its own (``tools/smtp_sender.py``): the next
        message is built while the server answers. Fill ``sent`` and ``failed``; return
        the mails the server did not accept because the connection was lost (to be
        tried again)."""
        IrMailServer = self.env["ir.mail_server"]
        if alias_domain_id:
            alias_domain = self.env["mail.alias.domain"].sudo().browse(alias_domain_id)
            IrMailServer = IrMailServer.with_context(
                domain_notifications_email=alias_domain.default_from_email,
                domain_bounce_address=alias_domain.bounce_email,
            )
        mail_server = IrMailServer.browse(server_id)
        with_unfollow = self.filtered(lambda m: m.body_html and "/mail/unfollow" in m.body_html)
        doc_to_followers = self.env["mail.followers"]._get_mail_doc_to_followers(with_unfollow.ids)
        # (partner ids, e-mails, invalid recipients) of the mails handed to the sender
        handed = {}
        with SmtpSender(smtp) as sender:
            for mail in self:
                if sender.broken is not None:
                    break
                try:
                    envelopes, handed[mail] = mail._trigger_marketing_envelopes(
                        smtp, IrMailServer, alias_domain_id, mail_server, doc_to_followers
                    )
                except Exception as exc:  # noqa: BLE001 - one bad mail fails alone, as in Odoo
                    failure_type, reason = mail._trigger_marketing_failure(exc)
                    _logger.info("Scenario mail %s failed: %s", mail.id, reason)
                    failed[failure_type, reason] |= mail
                    continue
                if envelopes and smtp is not None and not IrMailServer._disable_send():
                    sender.put(mail, envelopes)
                else:  # test mode: send_email does not send either
                    sender.results[mail] = (len(envelopes), None)
        retry = self.browse()
        for mail, (pids, emails, invalid) in handed.items():
            accepted, error = sender.results.get(mail, (0, None))
            if isinstance(error, SESSION_ERRORS) and not accepted:
                # no 250 for it: not accepted, like the ones never handed over
                retry |= mail
            elif error is not None and not accepted:
                failure_type, reason = mail._trigger_marketing_failure(error)
                _logger.info("Scenario mail %s refused: %s", mail.id, reason)
                failed[failure_type, reason] |= mail
            elif accepted:
                sent[mail] = (pids, emails)
            elif invalid:
                failed["mail_email_invalid", invalid] |= mail
            else:
                failed["mail_email_missing", IrMailServer.NO_VALID_RECIPIENT] |= mail
        refused = {mail for mails in failed.values() for mail in mails}
        retry |= self.filtered(lambda m: m not in handed and m not in refused)
        if retry and sender.broken is not None:
            retry.write({"failure_reason": tools.exception_to_unicode(sender.broken)})
        return retry

    def _trigger_marketing_envelopes(
        self, smtp, IrMailServer, alias_domain_id, mail_server, doc_to_followers
    ):
        """Build the messages of one mail with Odoo's own message building (tracking,
        unsubscribe headers, bounce address, the outgoing server's from filter...), up
        to what ``ir.mail_server.send_email`` does before talking SMTP.

        :return: ``[(smtp_from, smtp_to_list, message)]`` and (partner ids, e-mails)
            of those messages, and the reason of the invalid recipients if any
        """
        envelopes, pids, emails, invalid = [], [], [], False
        if not (
            (self.email_to or "").strip() or self.recipient_ids or (self.email_cc or "").strip()
        ):
            return envelopes, (pids, emails, invalid)
        emails_from = tools.mail.email_split_and_format_normalize(self.email_from)
        email_from = emails_from[0] if emails_from else self.email_from
        for email in self._prepare_outgoing_list(
            mail_server=mail_server or self.mail_server_id, doc_to_followers=doc_to_followers
        ):
            context = {"send_validated_to": email.pop("email_to_normalized", [])}
            if alias_domain_id and email["headers"].get("Return-Path"):
                context["domain_bounce_address"] = email["headers"]["Return-Path"]
            Server = IrMailServer.with_context(**context)
            msg = Server._build_email__(
                email_from=email_from,
                email_to=email["email_to"],
                subject=email["subject"],
                body=email["body"],
                body_alternative=email["body_alternative"],
                email_cc=email["email_cc"],
                reply_to=email["reply_to"],
                attachments=email["attachments"],
                message_id=email["message_id"],
                references=email["references"],
                object_id=email["object_id"],
                subtype="html",
                subtype_alternative="plain",
                headers=email["headers"],
            )
            partner = email.pop("partner_id", None)
            try:
                envelopes.append(Server._prepare_email_message__(msg, smtp))
            except AssertionError as error:
                if str(error) != IrMailServer.NO_VALID_RECIPIENT:
                    raise
                invalid = tools.exception_to_unicode(error)
                continue
            if partner:
                pids.append(partner.id)
            else:
                emails.extend(email["email_to"] or [])
        return envelopes, (pids, emails, invalid)

    def _trigger_marketing_failure(self, exc):
        """(failure type, reason) of a mail that failed with ``exc``, as Odoo's queue."""
        IrMailServer = self.env["ir.mail_server"]
        if isinstance(exc, AssertionError) and exc.args:
            code = exc.args[0]
            if code == IrMailServer.NO_VALID_FROM:
                return "mail_from_invalid", str(exc.args[1]) if len(exc.args) > 1 else code
            if code in (IrMailServer.NO_FOUND_FROM, IrMailServer.NO_FOUND_SMTP_FROM):
                return "mail_from_missing", code
        return "unknown", tools.exception_to_unicode(exc)

    def _trigger_marketing_postprocess(self, sent, failed, retry):
        """Mail states, mailing traces and auto-delete for the whole batch, through
        ``_postprocess_sent_message`` (mass_mailing's, this addon's): a few queries per
        outcome, none per mail."""
        if sent:
            done = self.browse([mail.id for mail in sent])
            done.write({"state": "sent", "failure_type": False, "failure_reason": False})
            done._postprocess_sent_message(
                success_pids=[pid for pids, _emails in sent.values() for pid in pids],
                success_emails=[e for _pids, emails in sent.values() for e in emails],
            )
        for (failure_type, reason), mails in failed.items():
            mails.write(
                {"state": "exception", "failure_type": failure_type, "failure_reason": reason}
            )
            mails._postprocess_sent_message(
                success_pids=[], success_emails=[], failure_reason=reason, failure_type=failure_type
            )
        if retry:
            # not accepted by the SMTP server: back in the queue (mail_mail.py), or
            # failed as Odoo's after the grace
            retry._trigger_marketing_unclaim()
            retry.write({"state": "exception"})
            retry._postprocess_sent_message(
                success_pids=[], success_emails=[], failure_type="mail_smtp"
            )
