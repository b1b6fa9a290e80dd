from collections import defaultdict

from odoo import fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    birthdate = fields.Date(
        string="Birth date",
        help="Used by anniversary scenarios (a birthday mail at the contact's local time).",
    )
    marketing_test_recipient = fields.Boolean(
        string="Test recipient",
        readonly=True,
        copy=False,
        help="Made by a scenario test run for a colleague's address: archived, it walks test "
        "runs only and never enters a real scenario.",
    )
    marketing_participant_ids = fields.One2many(
        "marketing.scenario.participant", "partner_id", string="Scenarios"
    )

    # ------------------------------------------------------------
    # The contact's marketing timeline
    # ------------------------------------------------------------

    def get_marketing_timeline(self, limit=30):
        """The scenarios this contact walked and the steps of each walk, newest walk first,
        steps in date order: the data of the contact's marketing timeline.

        A constant number of queries whatever the number of walks and steps.
        """
        self.ensure_one()
        Participant = self.env["marketing.scenario.participant"]
        Trace = self.env["marketing.scenario.trace"]
        participants = Participant.search_fetch(
            [("partner_id", "=", self.id)],
            ["scenario_id", "state", "is_test", "date_start", "date_end", "end_reason_code"],
            limit=limit,
        )
        if not participants:
            return []
        participants.scenario_id.fetch(["name"])
        traces = Trace.search_fetch(
            [("participant_id", "in", participants.ids)],
            [
                "participant_id",
                "step_id",
                "state",
                "scheduled_at",
                "done_at",
                "reason_code",
                "reason",
                "outcome",
                "mail_status",
                "mail_opened_at",
                "mail_clicked_at",
                "mail_replied_at",
                "mail_bounced",
            ],
            order="id",
        )
        traces.step_id.with_context(active_test=False).fetch(["name", "action_type"])

        def labels(model, fname):
            return dict(model._fields[fname]._description_selection(self.env))

        participant_states = labels(Participant, "state")
        trace_states = labels(Trace, "state")
        reasons = labels(Trace, "reason_code")
        actions = labels(self.env["marketing.scenario.step"], "action_type")
        mail_states = labels(Trace, "mail_status")
        steps_by_participant = defaultdict(list)
        for trace in traces:
            date = trace.done_at or trace.scheduled_at
            steps_by_participant[trace.participant_id.id].append(
                {
                    "id": trace.id,
                    "name": trace.step_id.name,
                    "action_type": trace.step_id.action_type,
                    "action_label": actions.get(trace.step_id.action_type),
                    "state": trace.state,
                    "state_label": trace_states.get(trace.state),
                    "pending": trace.state in ("scheduled", "waiting"),
                    "date": fields.Datetime.to_string(date),
                    "reason": reasons.get(trace.reason_code) or trace.reason or "",
                    "outcome": trace.outcome,
                    "mail_status": mail_states.get(trace.mail_status) or "",
                    "opened": bool(trace.mail_opened_at),
                    "clicked": bool(trace.mail_clicked_at),
                    "replied": bool(trace.mail_replied_at),
                    "bounced": trace.mail_bounced,
                }
            )
        result = []
        for participant in participants:
            steps = sorted(
                steps_by_participant[participant.id], key=lambda s: (s["pending"], s["date"])
            )
            result.append(
                {
                    "id": participant.id,
                    "scenario_id": participant.scenario_id.id,
                    "scenario_name": participant.scenario_id.name,
                    "state": participant.state,
                    "state_label": participant_states.get(participant.state),
                    "is_test": participant.is_test,
                    "date_start": fields.Datetime.to_string(participant.date_start),
                    "date_end": fields.Datetime.to_string(participant.date_end),
                    "end_reason": reasons.get(participant.end_reason_code) or "",
                    "steps": steps,
                }
            )
        return result

    # ------------------------------------------------------------
    # Mailing lists
    # ------------------------------------------------------------

    def _marketing_list_subscribe(self, mailing_list):
        """Subscribe these contacts to ``mailing_list`` (matched on e-mail), creating the
        mailing contacts that are missing. A contact that opted out of the list stays out.

        :return: {partner_id: 'subscribed' | 'already' | 'opted_out' | 'no_email'}
        """
        result = {p.id: "no_email" for p in self if not p.email_normalized}
        partners = self.filtered("email_normalized")
        if not partners:
            return result
        Contact = self.env["mailing.contact"].sudo().with_context(active_test=False)
        Subscription = self.env["mailing.subscription"].sudo()
        emails = set(partners.mapped("email_normalized"))
        by_email = {}
        for contact in Contact.search([("email_normalized", "in", list(emails))], order="id"):
            by_email.setdefault(contact.email_normalized, contact)
        missing = {}
        for partner in partners:
            if partner.email_normalized not in by_email:
                missing.setdefault(partner.email_normalized, partner)
        if missing:
            # no "contact created" message nor follower per contact: thousands of contacts
            # are created per batch of a list step
            new_contacts = Contact.with_context(
                mail_create_nolog=True, mail_create_nosubscribe=True
            ).create([{"name": p.name, "email": p.email} for p in missing.values()])
            by_email.update(zip(missing, new_contacts, strict=True))
        contacts = Contact.browse({c.id for c in by_email.values()})
        existing = {
            sub.contact_id.id: sub
            for sub in Subscription.search(
                [("contact_id", "in", contacts.ids), ("list_id", "=", mailing_list.id)]
            )
        }
        Subscription.create(
            [
                {"contact_id": contact.id, "list_id": mailing_list.id}
                for contact in contacts
                if contact.id not in existing
            ]
        )
        for partner in partners:
            sub = existing.get(by_email[partner.email_normalized].id)
            result[partner.id] = (
                "subscribed" if not sub else "opted_out" if sub.opt_out else "already"
            )
        return result

    # ------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------

    def action_view_marketing_score_history(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "trigger_marketing.marketing_score_history_action"
        )
        action["domain"] = [("partner_id", "=", self.id)]
        action["context"] = {"default_partner_id": self.id}
        return action
