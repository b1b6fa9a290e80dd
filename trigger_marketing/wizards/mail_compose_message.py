from odoo import models


class MailComposeMessage(models.TransientModel):
    """Test participants of a scenario receive the mails at the test address."""

    _inherit = "mail.compose.message"

    def _process_mail_values_state(self, mail_values_dict):
        test_email = self.env.context.get("trigger_marketing_test_email")
        if test_email and "trigger_marketing_trace_by_res" in self.env.context:
            for mail_values in mail_values_dict.values():
                mail_values.update(
                    email_to=test_email,
                    recipient_ids=[],
                    partner_ids=[],
                    subject=self.env._("[TEST] %s", mail_values.get("subject") or ""),
                )
        return super()._process_mail_values_state(mail_values_dict)
