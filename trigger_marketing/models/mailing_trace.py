from odoo import api, fields, models


class MailingTrace(models.Model):
    """Link mass_mailing's traces to scenario traces, and move the branches that wait
    for an open, a click, a reply or a bounce."""

    _inherit = "mailing.trace"

    marketing_trace_id = fields.Many2one(
        "marketing.scenario.trace",
        string="Scenario step",
        index="btree_not_null",
        ondelete="set null",
    )

    # "Was this address already sent this step?" is asked for each batch of an e-mail
    # step (marketing.scenario.step._skip_duplicate_addresses), by address.
    _marketing_email_idx = models.Index("(email) WHERE marketing_trace_id IS NOT NULL")

    @api.model_create_multi
    def create(self, vals_list):
        trace_by_res = self.env.context.get("trigger_marketing_trace_by_res")
        if trace_by_res:
            is_test = bool(self.env.context.get("trigger_marketing_test_email"))
            for vals in vals_list:
                trace_id = trace_by_res.get(vals.get("res_id"))
                if trace_id and not vals.get("marketing_trace_id"):
                    vals["marketing_trace_id"] = trace_id
                    vals["is_test_trace"] = is_test
        return super().create(vals_list)

    def write(self, vals):
        """Detect engagement events on traces linked to scenarios (cheaply)."""
        linked = self.filtered("marketing_trace_id") if self else self
        if not linked:
            return super().write(vals)
        before = {
            trace.id: (trace.open_datetime, trace.reply_datetime, trace.trace_status)
            for trace in linked
        }
        res = super().write(vals)
        events = {"open": [], "reply": [], "bounce": []}
        for trace in linked:
            opened, replied, status = before[trace.id]
            if trace.open_datetime and not opened:
                events["open"].append(trace.marketing_trace_id.id)
            if trace.reply_datetime and not replied:
                events["reply"].append(trace.marketing_trace_id.id)
            if trace.trace_status == "bounce" and status != "bounce":
                events["bounce"].append(trace.marketing_trace_id.id)
        Trace = self.env["marketing.scenario.trace"].sudo()
        for event, trace_ids in events.items():
            if trace_ids:
                Trace.browse(trace_ids)._on_mail_event(event)
        return res
