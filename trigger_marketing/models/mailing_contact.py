from odoo import api, models


class MailingContact(models.Model):
    """Subscriptions written through ``list_ids`` (a many2many on the subscription table)
    bypass ``mailing.subscription.create``: they are caught here."""

    _inherit = "mailing.contact"

    # List steps find the mailing contacts of a batch of contacts by e-mail
    # (marketing.scenario.step._list_contacts); mass_mailing does not index it.
    _email_normalized_idx = models.Index("(email_normalized)")

    @api.model_create_multi
    def create(self, vals_list):
        contacts = super().create(vals_list)
        watched = self.env["mailing.subscription"]._trigger_marketing_watched()
        if watched:
            with_lists = contacts.browse(
                contact.id
                for contact, vals in zip(contacts, vals_list, strict=True)
                if vals.get("list_ids")
            )
            if with_lists:
                contacts._trigger_marketing_subscribed(
                    set(), with_lists._trigger_marketing_subscriptions(watched)
                )
        return contacts

    def write(self, vals):
        watched = (
            self.env["mailing.subscription"]._trigger_marketing_watched()
            if "list_ids" in vals
            else {}
        )
        before = self._trigger_marketing_subscriptions(watched) if watched else set()
        res = super().write(vals)
        if watched:
            self._trigger_marketing_subscribed(
                before, self._trigger_marketing_subscriptions(watched)
            )
        return res

    def _trigger_marketing_subscriptions(self, watched):
        """{(contact id, list id)} of the active subscriptions of these contacts to the
        watched lists (one query)."""
        self.env.flush_all()
        subscriptions = (
            self.env["mailing.subscription"]
            .sudo()
            .search_fetch(
                [
                    ("contact_id", "in", self.ids),
                    ("list_id", "in", list(watched)),
                    ("opt_out", "=", False),
                ],
                ["contact_id", "list_id"],
            )
        )
        return {(s.contact_id.id, s.list_id.id) for s in subscriptions}

    def _trigger_marketing_subscribed(self, before, after):
        new_pairs = sorted(after - before)
        if new_pairs:
            self.env["marketing.scenario"].sudo()._on_list_subscribed(new_pairs)
