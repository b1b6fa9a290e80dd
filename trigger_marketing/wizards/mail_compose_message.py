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

    def _render_eval_context(self):
        """E-mails of scenario steps can read the payload of the event that made the
        record enter: ``marketing_payload.get(object.id, {}).get("file")``."""
        render_context = super()._render_eval_context()
        trace_by_res = self.env.context.get("trigger_marketing_trace_by_res")
        if trace_by_res:
            traces = self.env["marketing.scenario.trace"].sudo().browse(trace_by_res.values())
            traces.participant_id.fetch(["payload"])
            payload_by_trace = {t.id: t.participant_id.payload or {} for t in traces}
            render_context["marketing_payload"] = {
                res_id: payload_by_trace.get(trace_id, {})
                for res_id, trace_id in trace_by_res.items()
            }
        return render_context
