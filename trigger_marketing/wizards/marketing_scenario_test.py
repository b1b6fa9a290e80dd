from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools.mail import email_normalize, email_split_tuples

# A test run is for a few records: more is a real enrolment by mistake.
MAX_TEST_RECORDS = 50


class MarketingScenarioTest(models.TransientModel):
    """Test a scenario before going live: on chosen records, or on colleagues' addresses.

    Test participants walk the real steps, but their e-mails go to the scenario's test
    recipient with a [TEST] subject, they never count in statistics and never block a
    real enrolment later.
    """

    _name = "marketing.scenario.test"
    _description = "Test a scenario"

    scenario_id = fields.Many2one("marketing.scenario", required=True, ondelete="cascade")
    model_id = fields.Many2one(related="scenario_id.model_id")
    model_name = fields.Char(related="scenario_id.model_name")
    is_partner_scenario = fields.Boolean(compute="_compute_is_partner_scenario")
    partner_ids = fields.Many2many("res.partner", string="Contacts")
    record_ref = fields.Reference(selection="_selection_record_model", string="Record")
    emails = fields.Text(
        string="Colleagues' addresses",
        help="One or more addresses, separated by commas or new lines. An unknown address "
        "gets an archived test recipient that never enters a real scenario.",
    )
    test_email = fields.Char(
        related="scenario_id.test_email",
        readonly=False,
        string="Send the e-mails to",
        help="Every e-mail of the test run goes to this address, with [TEST] in its subject.",
    )

    @api.model
    def _selection_record_model(self):
        return [
            (model.model, model.name)
            for model in self.env["ir.model"]
            .sudo()
            .search([("is_mail_thread", "=", True), ("transient", "=", False)])
        ]

    @api.depends("model_name")
    def _compute_is_partner_scenario(self):
        for wizard in self:
            wizard.is_partner_scenario = wizard.model_name == "res.partner"

    def _partners_from_emails(self):
        """The contacts of the typed addresses; a test recipient for the others.

        An unknown address never becomes a real contact: it gets an archived contact
        flagged as a test recipient, created without any scenario reacting to it, that
        real enrolments refuse (``_create_for``) and that no search, mailing list or
        statistic sees. It is reused by the next test runs.
        """
        self.ensure_one()
        pairs = email_split_tuples(self.emails or "")
        if (self.emails or "").strip() and not pairs:
            raise ValidationError(self.env._("No valid e-mail address in “%s”.", self.emails))
        by_email = {}
        for name, email in pairs:
            normalized = email_normalize(email)
            if normalized:
                by_email.setdefault(normalized, name or normalized.split("@")[0])
        if not by_email:
            return self.env["res.partner"]
        Partner = self.env["res.partner"]
        existing = Partner.search([("email_normalized", "in", list(by_email))])
        found = {}
        for partner in existing:
            found.setdefault(partner.email_normalized, partner)
        recipients = (
            Partner.sudo()
            .with_context(active_test=False)
            .search(
                [
                    ("email_normalized", "in", [e for e in by_email if e not in found]),
                    ("marketing_test_recipient", "=", True),
                ]
            )
        )
        for partner in recipients:
            found.setdefault(partner.email_normalized, partner.sudo(False))
        missing = [email for email in by_email if email not in found]
        # a marketer may lack the right to create contacts: these get only a name and an
        # address, and no scenario reacts to their creation
        created = (
            Partner.sudo()
            .with_context(trigger_marketing_skip=True, tracking_disable=True)
            .create(
                [
                    {
                        "name": by_email[email],
                        "email": email,
                        "active": False,
                        "marketing_test_recipient": True,
                    }
                    for email in missing
                ]
            )
            .with_env(self.env)
        )
        return Partner.concat(*found.values(), created)

    def _records(self):
        self.ensure_one()
        Model = self.env[self.model_name]
        if self.is_partner_scenario:
            return self.partner_ids | self._partners_from_emails()
        if self.emails and self.emails.strip():
            raise UserError(
                self.env._(
                    "Colleagues' addresses work for scenarios on contacts; pick a record of "
                    "%(model)s instead.",
                    model=self.model_id.name,
                )
            )
        if self.record_ref and self.record_ref._name != self.model_name:
            raise UserError(self.env._("Pick a record of %(model)s.", model=self.model_id.name))
        return Model.browse(self.record_ref.id) if self.record_ref else Model

    def action_start_test(self):
        self.ensure_one()
        if not self.test_email:
            raise UserError(self.env._("Say where the test e-mails go (test recipient)."))
        records = self._records()
        if not records:
            raise UserError(
                self.env._("Pick a record, or type colleagues' addresses, to test with.")
            )
        if len(records) > MAX_TEST_RECORDS:
            raise UserError(
                self.env._(
                    "A test run is for a few records (at most %(max)s); start the scenario to "
                    "add more.",
                    max=MAX_TEST_RECORDS,
                )
            )
        participants = self.scenario_id.enroll(records, test=True)
        action = self.scenario_id.action_view_test_participants()
        if len(participants) == 1:
            action.update(res_id=participants.id, views=[[False, "form"]], view_mode="form")
        return action
