from markupsafe import Markup

from odoo import fields, models
from odoo.exceptions import UserError
from odoo.tools import format_datetime


class MarketingScenarioLiveEdit(models.TransientModel):
    """What a change of a live scenario does to its contacts, with the choice, before it
    is done: deleting a step contacts wait for, resuming after a pause, starting next to
    a running scenario with the same entry. Edits of a step show theirs on its form."""

    _name = "marketing.scenario.live.edit"
    _description = "Change of a running scenario"

    operation = fields.Selection(
        [("delete", "Delete a step"), ("resume", "Resume"), ("start", "Start")],
        required=True,
        readonly=True,
    )
    scenario_id = fields.Many2one("marketing.scenario", required=True, readonly=True)
    step_id = fields.Many2one("marketing.scenario.step", readonly=True)
    message = fields.Html(readonly=True, sanitize=False)
    can_reattach = fields.Boolean(readonly=True)
    delete_choice = fields.Selection(
        [
            ("branch", "Delete the step and the steps under it"),
            ("reattach", "Delete this step only: the steps under it move up to its place"),
        ],
        string="Steps under it",
        default="branch",
    )
    resume_choice = fields.Selection(
        [("let_in", "Let them in now"), ("leave_out", "Leave them out")],
        string="Records missed while paused",
        default="leave_out",
    )
    missed_count = fields.Integer(readonly=True)

    # ------------------------------------------------------------
    # Built by the screens' actions
    # ------------------------------------------------------------

    def _for_delete(self, step):
        """The dialog for deleting ``step`` of a live scenario (also when nobody waits)."""
        _ = self.env._
        Trace = self.env["marketing.scenario.trace"]
        branch = step.search([("id", "child_of", step.id)])
        waiting_here = Trace.search_count(
            [
                ("step_id", "=", step.id),
                ("state", "in", ("scheduled", "waiting")),
                ("is_test", "=", False),
            ]
        )
        waiting_below = Trace.search_count(
            [
                ("step_id", "in", (branch - step).ids),
                ("state", "in", ("scheduled", "waiting")),
                ("is_test", "=", False),
            ]
        )
        lines = [
            _(
                "%(count)s contact(s) wait for “%(step)s”: their waiting step is canceled "
                "(reason: step deleted). Nothing is sent again to anyone: a step runs at most "
                "once per walk.",
                count=waiting_here,
                step=step.name,
            )
        ]
        if branch - step:
            lines.append(
                _(
                    "%(steps)s step(s) come after it, %(count)s contact(s) wait for them: "
                    "deleted with it, their waiting steps are canceled too; moved up, they "
                    "keep waiting.",
                    steps=len(branch - step),
                    count=waiting_below,
                )
            )
        return self.create(
            {
                "operation": "delete",
                "scenario_id": step.scenario_id.id,
                "step_id": step.id,
                "message": _lines(lines),
                "can_reattach": bool(step.child_ids) and step._live_can_reattach(),
            }
        )

    def _for_resume(self, scenario, missed):
        """:param missed: the records missed while paused, or None if not known"""
        _ = self.env._
        if missed is None:
            trigger = dict(scenario._fields["trigger"]._description_selection(self.env))[
                scenario.trigger
            ]
            message = _(
                "Paused since %(date)s. What happened meanwhile (%(trigger)s) was not recorded: "
                "those records cannot enter now; they enter again from now on.",
                date=format_datetime(self.env, scenario.paused_at),
                trigger=trigger,
            )
            return self.create(
                {"operation": "resume", "scenario_id": scenario.id, "message": _lines([message])}
            )
        if scenario.trigger in ("date", "anniversary"):
            what = _("their date or anniversary fell due while the scenario was paused")
        elif scenario.trigger == "create":
            what = _("they were created while the scenario was paused and match its audience")
        else:
            what = _("they changed while the scenario was paused and match its audience now")
        message = _(
            "%(count)s record(s) would have entered since %(date)s: %(what)s.",
            count=len(missed),
            date=format_datetime(self.env, scenario.paused_at),
            what=what,
        )
        return self.create(
            {
                "operation": "resume",
                "scenario_id": scenario.id,
                "message": _lines([message]),
                "missed_count": len(missed),
                "resume_choice": "let_in" if missed else "leave_out",
            }
        )

    def _for_start(self, scenario, overlaps):
        _ = self.env._
        trigger = dict(scenario._fields["trigger"]._description_selection(self.env))[
            scenario.trigger
        ]
        lines = [
            _(
                "Other scenarios with the same entry (%s) already run on the same records: "
                "a record that matches both walks both.",
                trigger,
            )
        ]
        for other, count in overlaps:
            lines.append(
                _(
                    "%(name)s: %(count)s record(s) match both audiences now.",
                    name=other.name,
                    count=count,
                )
                if count is not None
                else _("%s (overlap unknown)", other.name)
            )
        return self.create(
            {"operation": "start", "scenario_id": scenario.id, "message": _lines(lines)}
        )

    def _action_open(self):
        self.ensure_one()
        titles = {
            "delete": self.env._("Delete “%s”", self.step_id.name),
            "resume": self.env._("Resume %s", self.scenario_id.name),
            "start": self.env._("Start %s", self.scenario_id.name),
        }
        return {
            "type": "ir.actions.act_window",
            "name": titles[self.operation],
            "res_model": self._name,
            "res_id": self.id,
            "views": [[False, "form"]],
            "target": "new",
        }

    # ------------------------------------------------------------
    # Apply
    # ------------------------------------------------------------

    def action_apply(self):
        self.ensure_one()
        scenario = self.scenario_id
        if self.operation == "start":
            scenario.with_context(tm_check_overlap=False).action_start()
        elif self.operation == "resume":
            if scenario.state != "paused":
                raise UserError(self.env._("Scenario %s is not paused.", scenario.name))
            if self.resume_choice == "let_in":
                scenario._resume_letting_in(scenario._missed_while_paused())
            else:
                scenario.action_resume()
        elif self.operation == "delete":
            self.step_id._live_delete(self.delete_choice)
        return {"type": "ir.actions.client", "tag": "soft_reload"}


def _lines(lines):
    return Markup("").join(Markup("<p class='mb-1'>%s</p>") % line for line in lines)
