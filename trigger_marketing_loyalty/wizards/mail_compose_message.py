from odoo import models


class MailComposeMessage(models.TransientModel):
    _inherit = "mail.compose.message"

    def _render_eval_context(self):
        """E-mails of scenario steps print the contact's own coupon code:
        ``marketing_coupon.get(object.id, '')`` (one query per rendering of a batch)."""
        render_context = super()._render_eval_context()
        render_context.setdefault("marketing_coupon", {})
        trace_by_res = self.env.context.get("trigger_marketing_trace_by_res")
        if trace_by_res:
            cards = (
                self.env["loyalty.card"]
                .sudo()
                .search_fetch(
                    [("marketing_trace_id", "in", list(trace_by_res.values()))],
                    ["code", "marketing_trace_id"],
                )
            )
            code_by_trace = {card.marketing_trace_id.id: card.code for card in cards}
            render_context["marketing_coupon"] = {
                res_id: code_by_trace.get(trace_id, "") for res_id, trace_id in trace_by_res.items()
            }
        return render_context
