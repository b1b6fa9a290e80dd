import re
from collections import defaultdict

from markupsafe import Markup, escape

from odoo import api, fields, models
from odoo.fields import Domain
from odoo.tools import format_datetime, html2plaintext

# Settings of a scenario kept in each version (what decides who enters and when it ends).
SCENARIO_FIELDS = (
    "name",
    "model_id",
    "trigger",
    "domain",
    "goal_domain",
    "reentry",
    "reentry_days",
    "window_enabled",
    "holdout_percent",
)
# What a step does, kept in each version.
STEP_FIELDS = (
    "name",
    "parent_id",
    "trigger_type",
    "delay",
    "delay_unit",
    "filter_domain",
    "link_url",
    "action_type",
    "condition_domain",
    "wait_timeout",
    "wait_timeout_unit",
    "score_points",
    "mailing_list_id",
    "tag_ids",
    "activity_type_id",
    "activity_summary",
    "server_action_id",
    "window_mode",
    "mail_subject",
    "mail_body_html",
)


def _plain(record, fname):
    """A field's value as plain, readable data (JSON-safe)."""
    field = record._fields[fname]
    value = record[fname]
    if field.type == "many2one":
        return value.display_name or False
    if field.type in ("many2many", "one2many"):
        return sorted(value.mapped("display_name"))
    if field.type == "html":
        return html2plaintext(value or "").strip()[:2000]
    if field.type == "selection" and value:
        return dict(field._description_selection(record.env)).get(value, value)
    return value


class MarketingScenarioVersion(models.Model):
    """A version of a scenario: its settings and steps when it started or changed live.

    Participants and traces keep the version they walked, so that the figures of each
    version can be read and compared.
    """

    _name = "marketing.scenario.version"
    _description = "Scenario Version"
    _order = "scenario_id, number desc"

    scenario_id = fields.Many2one(
        "marketing.scenario", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="scenario_id.company_id", store=True, index=True)
    number = fields.Integer(required=True, readonly=True)
    date = fields.Datetime(default=fields.Datetime.now, required=True, readonly=True)
    author_id = fields.Many2one("res.users", default=lambda self: self.env.user, readonly=True)
    change = fields.Text(readonly=True)
    choice = fields.Text(
        string="Choice made", readonly=True, help="What was decided for the contacts concerned."
    )
    snapshot = fields.Json(string="Snapshot data", readonly=True, copy=False)
    snapshot_text = fields.Text(string="Snapshot", compute="_compute_snapshot_text")
    participant_count = fields.Integer(string="Participants", compute="_compute_figures")
    converted_count = fields.Integer(string="Converted", compute="_compute_figures")
    sent_count = fields.Integer(string="Sent", compute="_compute_figures")
    open_rate = fields.Float(string="Open rate", compute="_compute_figures")
    click_rate = fields.Float(string="Click rate", compute="_compute_figures")
    conversion_rate = fields.Float(string="Conversion rate", compute="_compute_figures")
    compare_version_id = fields.Many2one(
        "marketing.scenario.version",
        string="Compared with",
        compute="_compute_compare_version_id",
        readonly=False,
        domain="[('scenario_id', '=', scenario_id), ('id', '!=', id)]",
    )
    comparison_html = fields.Html(
        string="Comparison", compute="_compute_comparison_html", sanitize=False
    )

    _number_unique = models.Constraint(
        "UNIQUE(scenario_id, number)", "A scenario has one version of each number."
    )

    @api.depends("number", "scenario_id")
    def _compute_display_name(self):
        for version in self:
            version.display_name = self.env._(
                "%(scenario)s, version %(number)s",
                scenario=version.scenario_id.name,
                number=version.number,
            )

    @api.model
    def _search_display_name(self, operator, value):
        """ "version 3", "3": by number; other words: by scenario name."""
        if operator in ("ilike", "=ilike", "like", "=like", "=") and isinstance(value, str):
            digits = re.findall(r"\d+", value)
            if digits:
                return Domain("number", "=", int(digits[-1]))
            return Domain("scenario_id.name", operator, value)
        return super()._search_display_name(operator, value)

    @api.depends("snapshot")
    def _compute_snapshot_text(self):
        for version in self:
            version.snapshot_text = version._render_text()

    def _render_text(self):
        """The snapshot as text: the settings, then the step tree, indented."""
        snap = self.snapshot or {}
        fields_ = self.env["marketing.scenario"]._fields
        lines = [
            f"{fields_[key]._description_string(self.env) if key in fields_ else key}: "
            f"{'' if value is False else value}"
            for key, value in (snap.get("settings") or {}).items()
        ]
        steps = snap.get("steps") or []
        children = defaultdict(list)
        for step in steps:
            children[step.get("parent")].append(step)

        def walk(parent, depth):
            for step in children.get(parent, ()):
                values = step["values"]
                when = f"{values.get('delay')} {values.get('delay_unit')}"
                lines.append(
                    "  " * depth + f"- {values.get('name')} ({values.get('trigger_type')}, "
                    f"{when}: {values.get('action_type')})"
                )
                walk(step["id"], depth + 1)

        walk(None, 0)
        return "\n".join(lines)

    # ------------------------------------------------------------
    # Figures of each version (real participants only, two queries for all)
    # ------------------------------------------------------------

    def _compute_figures(self):
        ids = [vid for vid in self._origin.ids if vid]
        walks = defaultdict(lambda: defaultdict(int))
        mails = defaultdict(lambda: defaultdict(int))
        if ids:
            for version, state, count in self.env["marketing.scenario.participant"]._read_group(
                [("version_id", "in", ids), ("is_test", "=", False)],
                ["version_id", "state"],
                ["__count"],
            ):
                walks[version.id][state] += count
            mails.update(
                self.env["marketing.scenario.trace"]._mail_figures(
                    [("scenario_id", "in", self.scenario_id.ids), ("version_id", "in", ids)],
                    "version_id",
                )
            )
        for version in self:
            walk, mail = walks[version._origin.id], mails[version._origin.id]
            total = sum(walk.values())
            version.participant_count = total
            version.converted_count = walk["converted"]
            version.conversion_rate = 100.0 * walk["converted"] / total if total else 0.0
            version.sent_count = mail["sent"]
            version.open_rate = 100.0 * mail["opened"] / mail["sent"] if mail["sent"] else 0.0
            version.click_rate = 100.0 * mail["clicked"] / mail["sent"] if mail["sent"] else 0.0

    # ------------------------------------------------------------
    # Comparison of two versions
    # ------------------------------------------------------------

    @api.depends("scenario_id", "number")
    def _compute_compare_version_id(self):
        previous = {}
        versions = self.search(
            [("scenario_id", "in", self.scenario_id.ids)], order="scenario_id, number"
        )
        for version in versions:
            previous.setdefault(version.scenario_id.id, []).append(version)
        for version in self:
            older = [
                v for v in previous.get(version.scenario_id.id, []) if v.number < version.number
            ]
            version.compare_version_id = older[-1] if older else False

    @api.depends("compare_version_id", "snapshot")
    def _compute_comparison_html(self):
        for version in self:
            version.comparison_html = version._comparison_html(version.compare_version_id)

    def _diff(self, other):
        """What changed from ``other`` (an older version) to this one.

        :return: (settings changed [(label, old, new)], steps added [name], steps removed
            [name], steps changed [(name, [(label, old, new)])])
        """
        old, new = (other.snapshot or {}) if other else {}, self.snapshot or {}
        labels = self.env["marketing.scenario"]._fields
        settings = [
            (labels[key]._description_string(self.env), (old.get("settings") or {}).get(key), value)
            for key, value in (new.get("settings") or {}).items()
            if (old.get("settings") or {}).get(key) != value and key in labels
        ]
        old_steps = {s["id"]: s["values"] for s in old.get("steps") or []}
        new_steps = {s["id"]: s["values"] for s in new.get("steps") or []}
        step_fields = self.env["marketing.scenario.step"]._fields
        added = [new_steps[i].get("name") for i in new_steps if i not in old_steps]
        removed = [old_steps[i].get("name") for i in old_steps if i not in new_steps]
        changed = []
        for sid, values in new_steps.items():
            if sid not in old_steps:
                continue
            diffs = [
                (step_fields[key]._description_string(self.env), old_steps[sid].get(key), value)
                for key, value in values.items()
                if old_steps[sid].get(key) != value and key in step_fields
            ]
            if diffs:
                changed.append((values.get("name"), diffs))
        return settings, added, removed, changed

    def _comparison_html(self, other):
        """Figures of both versions side by side, then what changed and who changed it."""
        self.ensure_one()
        _ = self.env._
        if not other:
            return Markup("<p>%s</p>") % _("First version: nothing to compare with.")
        figures = [
            (_("Participants"), other.participant_count, self.participant_count),
            (_("E-mails sent"), other.sent_count, self.sent_count),
            (_("Open rate"), f"{other.open_rate:.0f} %", f"{self.open_rate:.0f} %"),
            (_("Click rate"), f"{other.click_rate:.0f} %", f"{self.click_rate:.0f} %"),
        ]
        if self.scenario_id.goal_domain:  # no goal, no conversion figure
            figures.append(
                (
                    _("Conversion rate"),
                    f"{other.conversion_rate:.0f} %",
                    f"{self.conversion_rate:.0f} %",
                )
            )
        rows = Markup("").join(
            Markup("<tr><td>%s</td><td>%s</td><td>%s</td></tr>") % figure for figure in figures
        )
        header = Markup(
            "<table class='table table-sm o_tm_version_figures'><thead><tr><th/>"
            "<th>%s</th><th>%s</th></tr></thead><tbody>%s</tbody></table>"
        ) % (
            _("Version %s", other.number),
            _("Version %s", self.number),
            rows,
        )
        settings, added, removed, changed = self._diff(other)
        items = []
        for label, old, new in settings:
            items.append(_("Setting %(field)s: %(old)s → %(new)s", field=label, old=old, new=new))
        items += [_("Step added: %s", name) for name in added]
        items += [_("Step removed: %s", name) for name in removed]
        for name, diffs in changed:
            items += [
                _("Step %(step)s, %(field)s: %(old)s → %(new)s", step=name, field=f, old=o, new=n)
                for f, o, n in diffs
            ]
        if not items:
            items = [_("Same steps and settings.")]
        changes = Markup("<ul class='o_tm_version_changes'>%s</ul>") % Markup("").join(
            Markup("<li>%s</li>") % escape(item) for item in items
        )
        # who changed it: each version between the two, oldest first
        low, high = sorted((self.number, other.number))
        between = self.search(
            [
                ("scenario_id", "=", self.scenario_id.id),
                ("number", ">", low),
                ("number", "<=", high),
            ],
            order="number",
        )
        who = Markup("").join(
            Markup("<p class='o_tm_version_author mb-1'>%s</p>")
            % _(
                "Version %(number)s, changed by %(author)s on %(date)s: %(change)s",
                number=version.number,
                author=version.author_id.name or "",
                date=format_datetime(self.env, version.date),
                change=version.change or "",
            )
            for version in between
        )
        return header + who + changes

    def action_open(self):
        """The version's form, compared with the previous one."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.display_name,
            "res_model": self._name,
            "res_id": self.id,
            "views": [[False, "form"]],
            "target": "current",
        }


class MarketingScenario(models.Model):
    """Each start and each saved live change makes a version of the scenario."""

    _inherit = "marketing.scenario"

    version_ids = fields.One2many("marketing.scenario.version", "scenario_id", string="Versions")
    current_version_id = fields.Many2one(
        "marketing.scenario.version",
        string="Current version",
        readonly=True,
        copy=False,
        ondelete="set null",
        help="The version new participants and new steps of walks record.",
    )
    version_count = fields.Integer(compute="_compute_version_count")

    @api.depends("version_ids")
    def _compute_version_count(self):
        counts = dict(
            self.env["marketing.scenario.version"]._read_group(
                [("scenario_id", "in", self.ids)], ["scenario_id"], ["__count"]
            )
        )
        for scenario in self:
            scenario.version_count = counts.get(scenario._origin, 0)

    def _version_settings(self):
        self.ensure_one()
        return {fname: _plain(self, fname) for fname in SCENARIO_FIELDS}

    def _version_snapshot(self):
        """The scenario's settings and steps as plain data (JSON)."""
        self.ensure_one()
        steps = self.step_ids.sorted(lambda s: (s.parent_id.id or 0, s.sequence, s.id))
        return {
            "settings": self._version_settings(),
            "steps": [
                {
                    "id": step.id,
                    "parent": step.parent_id.id or None,
                    "values": {fname: _plain(step, fname) for fname in STEP_FIELDS},
                }
                for step in steps
            ],
        }

    def _create_version(self, change, choice=None):
        """A new version of each of these scenarios, made current."""
        Version = self.env["marketing.scenario.version"].sudo()
        last = dict(
            Version._read_group([("scenario_id", "in", self.ids)], ["scenario_id"], ["number:max"])
        )
        versions = Version.create(
            [
                {
                    "scenario_id": scenario.id,
                    "number": (last.get(scenario) or 0) + 1,
                    "author_id": self.env.user.id,
                    "change": change,
                    "choice": choice or False,
                    "snapshot": scenario._version_snapshot(),
                }
                for scenario in self
            ]
        )
        for scenario, version in zip(self, versions, strict=True):
            scenario.sudo().current_version_id = version
        # the INSERTs of participants and traces read it in SQL
        self.flush_recordset(["current_version_id"])
        return versions


class MarketingScenarioParticipant(models.Model):
    _inherit = "marketing.scenario.participant"

    # set by the enrolment's INSERT (the scenario's current version), no extra query
    version_id = fields.Many2one(
        "marketing.scenario.version",
        readonly=True,
        index="btree_not_null",
        ondelete="set null",
        help="The version of the scenario when the record entered.",
    )


class MarketingScenarioTrace(models.Model):
    _inherit = "marketing.scenario.trace"

    # set by the traces' INSERT (the scenario's current version), no extra query
    version_id = fields.Many2one(
        "marketing.scenario.version",
        readonly=True,
        ondelete="set null",
        help="The version of the scenario when this step was planned for the participant.",
        # no index: the figures read it with the scenario's (each index slows every
        # update of a trace)
    )
