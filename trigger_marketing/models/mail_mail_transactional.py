import re

from odoo import models

# An <a> whose link is mass_mailing's generic unsubscribe placeholder.
UNSUBSCRIBE_LINK = re.compile(
    r"<a\b[^>]*href=[\"'][^\"']*/unsubscribe_from_list[^\"']*[\"'][^>]*>.*?</a>",
    re.IGNORECASE | re.DOTALL,
)
LIST_HEADERS = ("List-Unsubscribe", "List-Unsubscribe-Post", "Precedence")


class MailMail(models.Model):
    """Transactional scenario e-mails (an order or account message) are not marketing:
    no unsubscribe link in the body nor List-Unsubscribe headers (mass_mailing adds both
    to every mailing's e-mail)."""

    _inherit = "mail.mail"

    def _prepare_outgoing_body(self):
        body = super()._prepare_outgoing_body()
        if self.mailing_id.trigger_marketing_transactional and body:
            body = UNSUBSCRIBE_LINK.sub("", body)
        return body

    def _prepare_outgoing_list(self, mail_server=False, doc_to_followers=None):
        email_list = super()._prepare_outgoing_list(
            mail_server=mail_server, doc_to_followers=doc_to_followers
        )
        if self.mailing_id.trigger_marketing_transactional:
            for email_values in email_list:
                for header in LIST_HEADERS:
                    email_values["headers"].pop(header, None)
        return email_list
