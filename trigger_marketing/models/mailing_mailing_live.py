from markupsafe import Markup

from odoo import api, fields, models

# what the designer changes of a step's e-mail
CONTENT_FIELDS = {"subject", "body_html", "body_arch", "preview"}


class MailingMailing(models.Model):
    """Live edits in the e-mail designer: the e-mail of a step of a running scenario,
    edited in mass_mailing's form, says before it is saved how many contacts wait for it
    (they receive the new content: the step renders the e-mail when it sends it), and
    each saved change is a version of the scenario, as a change on the step form is."""

    _inherit = "mailing.mailing"

    trigger_marketing_live_notice = fields.Html(
        string="Contacts waiting for this e-mail",
        compute="_compute_trigger_marketing_live_notice",
        sanitize=False,
    )

    @api.depends("use_in_trigger_marketing", "marketing_step_ids")
    def _compute_trigger_marketing_live_notice(self):
        steps = self.filtered("use_in_trigger_marketing").marketing_step_ids._live()
        waiting = {}
        if steps:
            waiting = dict(
                self.env["marketing.scenario.trace"]
                .sudo()
                ._read_group(
                    [
                        ("step_id", "in", steps.ids),
                        ("state", "in", ("scheduled", "waiting")),
                        ("is_test", "=", False),
                    ],
                    ["step_id"],
                    ["__count"],
                )
            )
        for mailing in self:
            lines = [
                self.env._(
                    "Step “%(step)s” of the running scenario “%(scenario)s”: %(count)s "
                    "contact(s) wait for this e-mail. Once you save, they receive the new "
                    "content; the change is recorded as a new version of the scenario.",
                    step=step.name,
                    scenario=step.scenario_id.name,
                    count=waiting.get(step, 0),
                )
                for step in mailing.marketing_step_ids
                if step in steps
            ]
            mailing.trigger_marketing_live_notice = Markup("<br/>").join(lines) if lines else False

    def write(self, vals):
        steps = self.env["marketing.scenario.step"]
        # a change made on the step form (tm_live_skip) is recorded by the step
        if CONTENT_FIELDS & set(vals) and not self.env.context.get("tm_live_skip"):
            steps = self.filtered("use_in_trigger_marketing").marketing_step_ids._live()
        res = super().write(vals)
        if steps:
            versions = steps._live_open_versions(steps.scenario_id)
            changes = {}
            for step in steps:
                changes.setdefault(step.scenario_id, []).append(
                    (
                        self.env._("E-mail of step %s changed in the e-mail designer", step.name),
                        self.env._("Contacts waiting for it receive the new e-mail."),
                    )
                )
            steps._live_record_versions(changes, versions)
        return res
