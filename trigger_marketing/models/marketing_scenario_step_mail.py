from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL, html2plaintext, is_html_empty

# mailing.trace failure types (mass_mailing) -> our skip reasons
MAIL_FAILURE_REASONS = {
    "mail_bl": "blacklisted",
    "mail_optout": "opted_out",
    "mail_email_missing": "no_email",
    "mail_email_invalid": "invalid_email",
    "mail_dup": "duplicate",
}


class MarketingScenarioStep(models.Model):
    """E-mail steps: the e-mail written on the step (kept on its ``mailing.mailing``) and
    its sending through mass_mailing, so that tracking, unsubscribe and blacklist apply."""

    _inherit = "marketing.scenario.step"

    # e-mail
    mailing_id = fields.Many2one(
        "mailing.mailing",
        string="E-mail",
        ondelete="restrict",
        copy=False,
        domain="[('use_in_trigger_marketing', '=', True)]",
    )
    # Written on the step, kept on its mailing: a new step creates its mailing on save.
    mail_subject = fields.Char(
        string="Subject",
        compute="_compute_mail_content",
        inverse="_inverse_mail_subject",
        help="Subject of the e-mail. Placeholders such as {{ object.name }} are replaced by "
        "each recipient's values when the e-mail is sent (test runs too).",
    )
    mail_body_html = fields.Html(
        string="Message",
        compute="_compute_mail_content",
        inverse="_inverse_mail_body",
        sanitize="email_outgoing",
    )
    transactional = fields.Boolean(
        compute="_compute_mail_content",
        inverse="_inverse_transactional",
        help="An order or account message (a receipt, a password reset...), not marketing: "
        "sent even to contacts who unsubscribed from marketing e-mails or are blacklisted "
        "(never to invalid addresses), without unsubscribe link, and never held back by "
        "frequency caps.",
    )
    send_time = fields.Selection(
        [("now", "As soon as due"), ("optimal", "At the contact's best hour")],
        string="Send",
        default="now",
        required=True,
        help="At the contact's best hour: the e-mail waits for the hour of the day at which "
        "the contact usually opens or clicks (its own history, else the audience's best "
        "hour), in its time zone and inside the send window, at most the delay below.",
    )
    send_time_max_delay = fields.Integer(
        string="Wait at most (hours)",
        default=24,
        help="The best hour is chosen within this many hours after the step is due.",
    )
    mail_designed = fields.Boolean(
        compute="_compute_mail_content",
        help="The e-mail was laid out with the e-mail designer: edit it there.",
    )

    # ------------------------------------------------------------
    # The e-mail of the step
    # ------------------------------------------------------------

    @api.depends(
        "mailing_id.subject",
        "mailing_id.body_html",
        "mailing_id.body_arch",
        "mailing_id.trigger_marketing_transactional",
    )
    def _compute_mail_content(self):
        for step in self:
            mailing = step.mailing_id
            step.mail_subject = mailing.subject
            step.mail_body_html = mailing.body_html
            step.mail_designed = bool(mailing.body_arch and "o_layout" in mailing.body_arch)
            step.transactional = mailing.trigger_marketing_transactional

    @api.constrains("send_time_max_delay")
    def _check_send_time_max_delay(self):
        for step in self:
            if not 1 <= step.send_time_max_delay <= 168:
                raise ValidationError(
                    self.env._(
                        "Step %(step)s: the best hour is waited for 1 to 168 hours (a week).",
                        step=step.name,
                    )
                )

    def _inverse_transactional(self):
        """A transactional e-mail ignores mass_mailing's exclusion list (blacklist,
        opt-outs); invalid addresses are still refused by the composer."""
        for step in self.filtered("mailing_id"):
            if step.mailing_id.trigger_marketing_transactional != step.transactional:
                step.mailing_id.write(
                    {
                        "trigger_marketing_transactional": step.transactional,
                        "use_exclusion_list": not step.transactional,
                    }
                )

    def _inverse_mail_subject(self):
        self._write_mailing("subject", "mail_subject")

    def _inverse_mail_body(self):
        self._write_mailing("body_html", "mail_body_html")

    def _write_mailing(self, mailing_fname, fname):
        """Keep what the marketer wrote on the step on its mailing (creating it if needed).

        One inverse per field: while a field is being inverted, the ORM protects the other
        fields of the same compute, so each inverse reads only its own field.
        """
        to_create = self.browse()
        for step in self.filtered(lambda s: s.action_type == "mail"):
            value = step[fname]
            if not step.mailing_id:
                to_create |= step
                continue
            if mailing_fname == "subject" and not (value or "").strip():
                raise ValidationError(
                    self.env._("Step %(step)s needs a subject for its e-mail.", step=step.name)
                )
            if mailing_fname == "body_html":
                if step.mailing_id.body_arch and "o_layout" in step.mailing_id.body_arch:
                    continue  # laid out in the designer: edited there only
                if not html2plaintext(value or "").strip():
                    raise ValidationError(
                        self.env._("Step %(step)s needs a body for its e-mail.", step=step.name)
                    )
            if (value or "") != (step.mailing_id[mailing_fname] or ""):
                vals = {mailing_fname: value}
                if mailing_fname == "body_html":
                    vals["body_arch"] = value
                step.mailing_id.write(vals)
        for step in to_create:
            values = {"subject": step.name, "body_html": False}
            values[mailing_fname] = step[fname]
            if (values["subject"] or "").strip() and not is_html_empty(values["body_html"]):
                step.mailing_id = self._new_mailings(
                    [(step.scenario_id, step.name, values["subject"], values["body_html"])]
                )

    @api.model
    def _new_mailings(self, specs):
        """Create the mailings of e-mail steps (the one way to make a scenario's mailing).

        :param specs: [(scenario, name, subject, body html)]
        :return: the new ``mailing.mailing`` records, in the order of ``specs``
        """
        return self.env["mailing.mailing"].create([self._mailing_values(*spec) for spec in specs])

    @api.model
    def _mailing_values(self, scenario, name, subject, body):
        company = scenario.company_id or self.env.company
        return {
            # mass_mailing requires a sender: the marketer, else the company
            "email_from": self.env.user.email_formatted
            or company.email_formatted
            or company.partner_id.email_formatted
            or company.alias_domain_id.default_from_email
            or self.env["ir.mail_server"]._get_default_from_address(),
            "name": name,
            "subject": subject or name,
            "body_arch": body,
            "body_html": body,
            "mailing_model_id": scenario.model_id.id,
            "mailing_type": "mail",
            "use_in_trigger_marketing": True,
            "campaign_id": scenario.campaign_id.id,
        }

    @api.model_create_multi
    def create(self, vals_list):
        self._create_mailings_from_vals(vals_list)
        steps = super().create(vals_list)
        steps._link_mailings()
        return steps

    def write(self, vals):
        if {"mail_subject", "mail_body_html"} & set(vals) and not vals.get("mailing_id"):
            # steps becoming e-mail steps, written with their subject and message
            body = vals.get("mail_body_html")
            new = self.filtered(
                lambda s: not s.mailing_id and vals.get("action_type", s.action_type) == "mail"
            )
            if new and not is_html_empty(body):
                mailings = self._new_mailings(
                    [
                        (
                            step.scenario_id,
                            vals.get("name", step.name),
                            vals.get("mail_subject"),
                            body,
                        )
                        for step in new
                    ]
                )
                for step, mailing in zip(new, mailings, strict=True):
                    step.mailing_id = mailing
        res = super().write(vals)
        if "mailing_id" in vals or "action_type" in vals:
            self._link_mailings()
        return res

    @api.model
    def _create_mailings_from_vals(self, vals_list):
        """New e-mail steps written with a subject and a message get their mailing before
        they are created, so that the "needs an e-mail" constraint sees it."""
        todo = [
            vals
            for vals in vals_list
            if vals.get("action_type", "mail") == "mail"
            and not vals.get("mailing_id")
            and vals.get("scenario_id")
            and (vals.get("mail_subject") or not is_html_empty(vals.get("mail_body_html")))
        ]
        if not todo:
            return
        Scenario = self.env["marketing.scenario"]
        mailings = self._new_mailings(
            [
                (
                    Scenario.browse(vals["scenario_id"]),
                    vals.get("name"),
                    vals.get("mail_subject"),
                    vals.get("mail_body_html"),
                )
                for vals in todo
            ]
        )
        for vals, mailing in zip(todo, mailings, strict=True):
            vals["mailing_id"] = mailing.id
            vals.pop("mail_subject", None)
            vals.pop("mail_body_html", None)

    @api.model
    def _starter_mail_body(self, scenario):
        """A first message for a new e-mail step, greeting the contact by name."""
        partner_field = scenario._partner_field() if scenario.model_name else None
        if partner_field == "id":
            expression = "object.name"
        elif partner_field:
            expression = f"object.{partner_field}.name"
        else:
            expression = None
        greeting = (
            Markup('<p>%s <t t-out="%s"/>,</p>') % (self.env._("Hello"), expression)
            if expression
            else Markup("<p>%s</p>") % self.env._("Hello,")
        )
        return greeting + Markup("<p>%s</p>") % self.env._("Write your message here.")

    @api.model
    def default_get(self, fields):
        vals = super().default_get(fields)
        if (
            "mail_body_html" in fields
            and not vals.get("mail_body_html")
            and vals.get("action_type", "mail") == "mail"
            and vals.get("scenario_id")
        ):
            scenario = self.env["marketing.scenario"].browse(vals["scenario_id"])
            vals["mail_body_html"] = self._starter_mail_body(scenario)
        return vals

    def _link_mailings(self):
        for step in self.filtered("mailing_id"):
            mailing = step.mailing_id
            vals = {}
            if not mailing.use_in_trigger_marketing:
                vals["use_in_trigger_marketing"] = True
            if step.scenario_id.campaign_id and mailing.campaign_id != step.scenario_id.campaign_id:
                vals["campaign_id"] = step.scenario_id.campaign_id.id
            if vals:
                mailing.sudo().write(vals)

    def action_open_mailing(self):
        """Open the step's e-mail in mass_mailing's designer (themes, blocks, images)."""
        self.ensure_one()
        if not self.mailing_id:
            raise UserError(self.env._("This step has no e-mail yet."))
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("E-mail of %s", self.name),
            "res_model": "mailing.mailing",
            "res_id": self.mailing_id.id,
            "views": [[False, "form"]],
            "target": "current",
        }

    def action_view_mails(self):
        """The e-mails this step sent (mass_mailing's traces), real participants only."""
        self.ensure_one()
        return self.scenario_id._action_mailing_traces(
            [("marketing_trace_id.step_id", "=", self.id)]
        )

    # ------------------------------------------------------------
    # Sending (set-based: ``traces`` is a batch of due traces of this step)
    # ------------------------------------------------------------

    def _execute_mail(self, traces, records_by_trace, results):
        """Send through mass_mailing so that tracking, unsubscribe and blacklist apply.

        Mails are queued (``mail.mail``) in this transaction, with their mailing traces
        linked to ours; the mail queue sends them. Skips are read back from the mailing
        traces that mass_mailing cancelled (blacklisted, opted out, invalid e-mail...).
        """
        tests = traces.filtered("is_test")
        real = self._skip_duplicate_addresses(traces - tests, results)
        self.mailing_id._send_for_traces(real, records_by_trace)
        for chunk in self._unique_record_chunks(tests, records_by_trace):
            self.mailing_id._send_for_traces(
                chunk, records_by_trace, test_email=self.scenario_id.test_email
            )
        self._read_mail_results(real | tests, results)

    @staticmethod
    def _unique_record_chunks(traces, records_by_trace):
        """Split test traces so that a record appears once per chunk (the composer is keyed
        by record)."""
        chunks = []
        for trace in traces:
            record = records_by_trace[trace]
            for chunk in chunks:
                if record.id not in chunk[0]:
                    chunk[0].add(record.id)
                    chunk[1].append(trace)
                    break
            else:
                chunks.append(({record.id}, [trace]))
        return [traces.browse(t.id for t in chunk[1]) for chunk in chunks]

    def _skip_duplicate_addresses(self, traces, results):
        """Never mail one address twice for this step at the same time: not twice in a
        batch, and not when another running walk was already sent this step."""
        if not traces:
            return traces
        emails = {
            t: t.participant_id.partner_id.email_normalized
            for t in traces
            if t.participant_id.partner_id.email_normalized
        }
        already = set()
        if emails:
            self.env.flush_all()
            # From the addresses of the batch (mailing.trace's index on the e-mails of
            # scenario mails), then each mail's trace and walk by primary key: never from
            # the step's traces or the running walks, which grow with the audience (with
            # stale statistics PostgreSQL would scan them: O(N) per batch). The LATERAL
            # ... LIMIT 1 and the scalar subquery cannot be flattened: the plan stays.
            self.env.cr.execute(
                SQL(
                    """
                    SELECT DISTINCT mt.email
                      FROM mailing_trace mt
                      CROSS JOIN LATERAL (
                          SELECT 1
                            FROM marketing_scenario_trace t
                           WHERE t.id = mt.marketing_trace_id AND t.step_id = %s
                             AND t.is_test IS NOT TRUE
                             AND (SELECT p.state FROM marketing_scenario_participant p
                                   WHERE p.id = t.participant_id) = 'running'
                           LIMIT 1
                      ) AS walking
                     WHERE mt.marketing_trace_id IS NOT NULL AND mt.email = ANY(%s)
                       AND mt.trace_status NOT IN ('cancel', 'error')
                    """,
                    self.id,
                    list(set(emails.values())),
                )
            )
            already = {row[0] for row in self.env.cr.fetchall()}
        duplicates = traces.browse()
        for trace in traces:
            email = emails.get(trace)
            if not email:
                continue
            if email in already:
                duplicates |= trace
            already.add(email)
        results.skip(duplicates, "duplicate")
        return traces - duplicates

    def _read_mail_results(self, traces, results):
        if not traces:
            return
        mails = (
            self.env["mailing.trace"]
            .sudo()
            .search_fetch(
                [("marketing_trace_id", "in", traces.ids)],
                ["marketing_trace_id", "trace_status", "failure_type", "failure_reason"],
            )
        )
        mail_by_trace = {m.marketing_trace_id.id: m for m in mails}
        for trace in traces:
            mail = mail_by_trace.get(trace.id)
            if not mail:
                results.fail(trace, self.env._("No mail was generated for this record."))
            elif mail.trace_status == "cancel":
                code = MAIL_FAILURE_REASONS.get(mail.failure_type, "mail_canceled")
                results.skip(trace, code, mail.failure_reason or mail.failure_type)
            elif mail.trace_status == "error":
                results.fail(trace, mail.failure_reason or mail.failure_type or "error")
            else:
                results.done(trace)
