from odoo import api, fields, models

from ..tools import domain_words


class MarketingScenarioStep(models.Model):
    """The step in plain language: one translatable sentence per case, the rules in words."""

    _inherit = "marketing.scenario.step"

    summary = fields.Char(
        string="In plain language", compute="_compute_summary", help="The step in plain language."
    )

    @api.depends(
        "trigger_type",
        "delay",
        "delay_unit",
        "parent_id.name",
        "action_type",
        "name",
        "mailing_id.subject",
        "score_points",
        "mailing_list_id.name",
        "activity_summary",
        "server_action_id.name",
        "tag_ids",
        "filter_domain",
        "condition_domain",
        "model_name",
        "mail_subject",
        "transactional",
        "wait_timeout",
        "wait_timeout_unit",
    )
    def _compute_summary(self):
        for step in self:
            step.summary = step._plain_language()

    def _delay_text(self, number, unit):
        """ "2 days", "1 hour": whole phrases, so that every language can say them."""
        _ = self.env._
        if number == 1:
            return {
                "minutes": _("1 minute"),
                "hours": _("1 hour"),
                "days": _("1 day"),
                "weeks": _("1 week"),
                "months": _("1 month"),
            }[unit]
        return {
            "minutes": _("%(count)s minutes", count=number),
            "hours": _("%(count)s hours", count=number),
            "days": _("%(count)s days", count=number),
            "weeks": _("%(count)s weeks", count=number),
            "months": _("%(count)s months", count=number),
        }[unit]

    def _plain_language(self):
        """The step in one sentence: "2 days after “Welcome” if not opened: send “Reminder”".

        Each sentence is one translatable string with named placeholders, so that
        translators can reorder words and use their own quotation marks.
        """
        self.ensure_one()
        _ = self.env._
        parent = self.parent_id.name or ""
        delay = self._delay_text(self.delay, self.delay_unit)
        trigger = self.trigger_type
        if trigger == "after":
            if parent:
                when = (
                    _("%(delay)s after “%(parent)s”", delay=delay, parent=parent)
                    if self.delay
                    else _("Right after “%(parent)s”", parent=parent)
                )
            else:
                when = (
                    _("%(delay)s after entering the scenario", delay=delay)
                    if self.delay
                    else _("As soon as the record enters the scenario")
                )
        elif trigger == "split":
            when = self._split_branch_text()
        elif trigger in ("yes", "no"):
            if trigger == "yes":
                when = _("If “%(parent)s” says yes", parent=parent)
            else:
                when = _("If “%(parent)s” says no", parent=parent)
            if self.delay:
                when = _("%(when)s, %(delay)s later", when=when, delay=delay)
        else:
            when = {
                "mail_open": _("When “%(parent)s” is opened (within %(delay)s)"),
                "mail_click": _("When a link of “%(parent)s” is clicked (within %(delay)s)"),
                "mail_reply": _("When “%(parent)s” gets a reply (within %(delay)s)"),
                "mail_bounce": _("When “%(parent)s” bounces (within %(delay)s)"),
                "mail_not_open": _("%(delay)s after “%(parent)s” if not opened"),
                "mail_not_click": _("%(delay)s after “%(parent)s” if not clicked"),
                "mail_not_reply": _("%(delay)s after “%(parent)s” if no reply"),
            }[trigger] % {"parent": parent, "delay": delay}
        only_if = self._domain_words("filter_domain")
        if only_if:
            when = _("%(when)s, only if %(rule)s", when=when, rule=only_if)
        tags = ", ".join(self.tag_ids.mapped("name")) or "?"
        rule = self._domain_words("condition_domain")
        subject = self.mail_subject or self.mailing_id.subject or self.name
        what = {
            "mail": lambda: (
                (
                    _("send the transactional e-mail “%(mail)s”", mail=subject)
                    if self.transactional
                    else _("send “%(mail)s”", mail=subject)
                )
                if subject
                else _("send an e-mail")
            ),
            "condition": lambda: (
                _("check: %(rule)s", rule=rule)
                if rule
                else _("check “%(name)s”", name=self.name or "?")
            ),
            "wait": lambda: _("wait"),
            "wait_until": lambda: _(
                "wait until %(rule)s (at most %(timeout)s)",
                rule=rule or f"“{self.name or '?'}”",
                timeout=self._delay_text(self.wait_timeout, self.wait_timeout_unit),
            ),
            "score": lambda: (
                _("add %(points)s points to the score", points=self.score_points)
                if self.score_points >= 0
                else _("remove %(points)s points from the score", points=-self.score_points)
            ),
            "list_add": lambda: _(
                "add to the list “%(list)s”", list=self.mailing_list_id.name or "?"
            ),
            "list_remove": lambda: _(
                "remove from the list “%(list)s”", list=self.mailing_list_id.name or "?"
            ),
            "tag_add": lambda: _("add the tags %(tags)s", tags=tags),
            "tag_remove": lambda: _("remove the tags %(tags)s", tags=tags),
            "activity": lambda: _(
                "schedule “%(name)s” for the salesperson", name=self.activity_summary or self.name
            ),
            "server_action": lambda: _(
                "run “%(name)s”", name=self.server_action_id.name or self.name
            ),
            "exit": lambda: _("leave the scenario"),
            "split": lambda: self._split_text(),
        }[self.action_type]()
        return _("%(when)s: %(what)s", when=when, what=what)

    def _domain_words(self, fname):
        """A filter of the step in words ("Country is United States"), None if empty."""
        if not self.model_name or self.model_name not in self.env:
            return None
        return domain_words.domain_in_words(self.env[self.model_name], self[fname])
