from odoo import models


class MailingContact(models.Model):
    _inherit = "mailing.contact"

    # List steps find the mailing contacts of a batch of contacts by e-mail
    # (marketing.scenario.step._list_contacts); mass_mailing does not index it.
    _email_normalized_idx = models.Index("(email_normalized)")
