import json
import secrets
from collections import defaultdict

from odoo import api, fields, models, tools
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import SQL
from odoo.tools.mail import formataddr

from .marketing_scenario import EMAIL_TARGETS


class MarketingScenario(models.Model):
    """Entries from outside the target model: signups (accounts, mailing lists) and named
    events (fired by code or by the signed HTTP endpoint)."""

    _inherit = "marketing.scenario"

    # --- entry trigger "signup"
    signup_source = fields.Selection(
        [
            ("account", "Creates an account"),
            ("list", "Subscribes to a mailing list"),
        ],
        string="Signs up by",
        default="account",
        help="Creates an account: a visitor signs up on the website or portal; their contact "
        "enters. Subscribes to a mailing list: a subscription to one of the lists below (a "
        "newsletter form, a white paper download...) makes the subscriber enter.",
    )
    signup_list_ids = fields.Many2many(
        "mailing.list",
        "marketing_scenario_signup_list_rel",
        "scenario_id",
        "list_id",
        string="Mailing lists",
        help="A subscription to any of these lists makes the subscriber enter. On a scenario "
        "on contacts, the contact with the subscriber's e-mail enters (created if missing).",
    )
    # --- entry trigger "event"
    event_name = fields.Char(
        string="Event name",
        help="Records enter when this event is fired, by code (fire_event) or by the signed "
        "HTTP endpoint of the scenario (e.g. whitepaper_downloaded).",
    )
    webhook_secret = fields.Char(
        string="Webhook secret",
        copy=False,
        groups="trigger_marketing.marketing_scenario_group_manager",
        help="Key of the HMAC-SHA256 signature of the events sent to the HTTP endpoint.",
    )
    webhook_url = fields.Char(
        string="Webhook URL",
        compute="_compute_webhook_url",
        groups="trigger_marketing.marketing_scenario_group_manager",
    )
    event_ids = fields.One2many(
        "marketing.scenario.event", "scenario_id", string="Received events", readonly=True
    )

    # ------------------------------------------------------------
    # Settings
    # ------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("event_name"):
                vals["event_name"] = vals["event_name"].strip()
        scenarios = super().create(vals_list)
        # generated here rather than as a default: the field is readable by managers only,
        # every scenario needs one whoever creates it
        for scenario in scenarios.sudo():
            scenario.webhook_secret = self._new_webhook_secret()
        return scenarios

    def write(self, vals):
        if vals.get("event_name"):
            vals = dict(vals, event_name=vals["event_name"].strip())
        return super().write(vals)

    def _check_entry_event(self):
        if not (self.event_name or "").strip():
            raise ValidationError(
                self.env._(
                    "Scenario %(name)s enters on an event: give the event name.", name=self.name
                )
            )

    def _check_entry_signup(self):
        _ = self.env._
        if self.model_name not in EMAIL_TARGETS:
            raise ValidationError(
                _(
                    "Scenario %(name)s enters on signup: its target must be contacts or "
                    "mailing contacts.",
                    name=self.name,
                )
            )
        if self.signup_source == "account" and self.model_name != "res.partner":
            raise ValidationError(
                _(
                    "Scenario %(name)s: an account is created for a contact; target "
                    "contacts, or choose mailing list subscriptions.",
                    name=self.name,
                )
            )
        if self.signup_source == "list" and not self.signup_list_ids:
            raise ValidationError(
                _(
                    "Scenario %(name)s enters on a list subscription: choose the lists.",
                    name=self.name,
                )
            )

    # ------------------------------------------------------------
    # Entry trigger "signup": accounts and mailing list subscriptions
    # ------------------------------------------------------------

    @api.model
    @tools.ormcache()
    def _signup_cache(self):
        """The running signup scenarios, cached per registry so that the hooks of
        ``res.users`` and of the mailing subscriptions cost no query when none runs.

        :return: {"account": (scenario ids), "lists": {list id: (scenario ids)}}
        """
        scenarios = (
            self.sudo()
            .with_context(active_test=True)
            .search([("trigger", "=", "signup"), ("state", "=", "running")], order="id")
        )
        lists = defaultdict(list)
        for scenario in scenarios.filtered(lambda s: s.signup_source == "list"):
            for list_id in scenario.signup_list_ids.ids:
                lists[list_id].append(scenario.id)
        return {
            "account": tuple(scenarios.filtered(lambda s: s.signup_source == "account").ids),
            "lists": {list_id: tuple(ids) for list_id, ids in lists.items()},
        }

    @api.model
    def _on_account_signup(self, partners):
        """Contacts of the accounts just created by ``auth_signup`` enter the running
        "creates an account" scenarios, in the signup transaction."""
        for scenario_id in self._signup_cache()["account"]:
            scenario = self.browse(scenario_id)
            scenario._react(scenario.enroll, partners)

    @api.model
    def _on_list_subscribed(self, pairs):
        """New (or renewed) subscriptions ``pairs`` = [(mailing.contact id, list id)]
        make the subscribers enter the scenarios that watch these lists: the mailing
        contacts themselves, or for a scenario on contacts the contact with the same
        e-mail (created if missing)."""
        watched = self._signup_cache()["lists"]
        contact_ids_by_scenario = defaultdict(set)
        for contact_id, list_id in pairs:
            for scenario_id in watched.get(list_id, ()):
                contact_ids_by_scenario[scenario_id].add(contact_id)
        if not contact_ids_by_scenario:
            return
        Contact = self.env["mailing.contact"].sudo().with_context(active_test=False)
        all_contacts = Contact.browse(set().union(*contact_ids_by_scenario.values()))
        all_contacts.fetch(["name", "email", "email_normalized"])
        for scenario_id, contact_ids in contact_ids_by_scenario.items():
            scenario = self.browse(scenario_id)
            scenario._react(scenario._enroll_subscribers, Contact.browse(sorted(contact_ids)))

    def _enroll_subscribers(self, contacts):
        """The mailing contacts themselves, or the contacts with their e-mails."""
        if self.model_name == "mailing.contact":
            return self.enroll(contacts)
        return self.enroll(
            self._partners_for_emails(
                [(c.name, c.email_normalized) for c in contacts if c.email_normalized]
            )
        )

    def _partners_for_emails(self, name_emails):
        """The contacts of ``name_emails`` = [(name, normalized e-mail)] among the contacts
        of the scenario's company (or shared ones), the oldest first; created in the
        scenario's company when missing. Set-based: one search, one create."""
        self.ensure_one()
        Partner = self.env["res.partner"].sudo()
        if not name_emails:
            return Partner
        company = self.company_id
        emails = [formataddr((name or "", email)) for name, email in name_emails]
        found = Partner._find_or_create_from_emails(
            emails,
            filter_found=lambda p: not p.company_id or not company or p.company_id == company,
            additional_values={email: {"company_id": company.id} for _name, email in name_emails}
            if company
            else None,
        )
        return Partner.concat(*[partner for partner in found if partner])

    # ------------------------------------------------------------
    # Entry trigger "event": fired by code or by the signed HTTP endpoint
    # ------------------------------------------------------------

    def _compute_webhook_url(self):
        base_url = self.get_base_url() if self else ""
        for scenario in self:
            scenario.webhook_url = (
                f"{base_url}/trigger_marketing/event/{scenario._origin.id}"
                if scenario._origin.id
                else False
            )

    @api.model
    def fire_event(self, name, records, payload=None):
        """Make ``records`` enter the running scenarios that wait for the event ``name``
        (same transaction), with ``payload`` stored on their participants for the steps.

        Public requests (website controllers) call it with ``sudo()``.

        :param str name: the event name, e.g. ``"whitepaper_downloaded"``
        :param records: records of the target model of the scenarios
        :param payload: JSON-serializable data about the event (e.g. the file name)
        :return: the new participants
        """
        if not (
            self.env.su
            or self.env.user.has_group("trigger_marketing.marketing_scenario_group_user")
        ):
            raise AccessError(self.env._("Only marketing users can fire scenario events."))
        Participant = self.env["marketing.scenario.participant"].sudo()
        if not records or not name:
            return Participant
        _check_payload(self.env, payload)
        # the event scores once, whichever scenarios it starts
        self.env["res.partner"].sudo()._marketing_score_records(
            "event", records.sudo(), event_name=name.strip()
        )
        scenarios = self.sudo().search(
            [
                ("trigger", "=", "event"),
                ("event_name", "=", name.strip()),
                ("model_name", "=", records._name),
                ("state", "=", "running"),
            ]
        )
        for scenario in scenarios:
            Participant |= scenario._enroll_with_payload(records, payload)
        return Participant

    def _enroll_with_payload(self, records, payload):
        participants = self.enroll(records)
        if participants and payload is not None:
            participants.write({"payload": payload})
        return participants

    @api.model
    def _new_webhook_secret(self):
        return secrets.token_hex(32)

    def action_regenerate_webhook_secret(self):
        """A new secret: events signed with the old one are refused from now on."""
        if not self.env.user.has_group("trigger_marketing.marketing_scenario_group_manager"):
            raise AccessError(self.env._("Only marketing managers can change webhook secrets."))
        for scenario in self.sudo():
            scenario.webhook_secret = self._new_webhook_secret()
        return True

    def _accepts_http_events(self):
        self.ensure_one()
        return self.trigger == "event" and self.active and self.model_name in EMAIL_TARGETS

    def _receive_event(self, event_id, email, payload=None, name=None):
        """An event received (and authenticated) by the HTTP endpoint.

        The event id is claimed first, atomically: a replay (even concurrent) of the same
        id for this scenario inserts nothing and enrols nobody.

        :return: dict for the JSON answer
        """
        self.ensure_one()
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO marketing_scenario_event
                    (scenario_id, company_id, event_id, name, email,
                     create_uid, create_date, write_uid, write_date)
                VALUES (%(scenario)s, %(company)s, %(event_id)s, %(name)s, %(email)s,
                        %(uid)s, %(now)s, %(uid)s, %(now)s)
                ON CONFLICT (scenario_id, event_id) DO NOTHING
                RETURNING id
                """,
                scenario=self.id,
                company=self.company_id.id or None,
                event_id=event_id,
                name=self.event_name,
                email=email,
                uid=self.env.uid,
                now=self.env.cr.now(),
            )
        )
        row = self.env.cr.fetchone()
        if not row:
            return {"ok": True, "duplicate": True, "enrolled": False}
        event = self.env["marketing.scenario.event"].sudo().browse(row[0])
        records = self._records_for_email(email, name)
        self.env["res.partner"].sudo()._marketing_score_records(
            "event", records, source=event, scenario=self, event_name=self.event_name
        )
        participants = self._enroll_with_payload(records, payload or {})
        event.write({"res_id": records[:1].id, "participant_id": participants[:1].id})
        return {"ok": True, "duplicate": False, "enrolled": bool(participants)}

    def _records_for_email(self, email, name=None):
        """The record of the target with this (normalized) e-mail, created if missing:
        an event about an unknown visitor makes a new lead."""
        self.ensure_one()
        if self.model_name == "res.partner":
            return self._partners_for_emails([(name, email)])
        Contact = self.env["mailing.contact"].sudo()
        contact = Contact.search([("email_normalized", "=", email)], order="id", limit=1)
        return contact or Contact.create({"name": name or email, "email": email})


def _check_payload(env, payload):
    """A payload must be JSON data (it is stored on the participants)."""
    if payload is None:
        return
    try:
        json.dumps(payload)
    except (TypeError, ValueError) as e:
        raise UserError(env._("The event payload must be JSON data: %s", e)) from e
