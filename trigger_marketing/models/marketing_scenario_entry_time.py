import logging
from collections import defaultdict
from datetime import date, timedelta

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.fields import Domain
from odoo.tools import SQL, split_every

from ..tools import entry_dates
from .marketing_scenario import TIME_TRIGGERS
from .marketing_scenario_step import DELAY_UNITS

_logger = logging.getLogger(__name__)

# A birthday wish sent late is worse than none: anniversaries whose moment passed more
# than this before the intake cron could run (server down) are not sent.
ANNIVERSARY_CATCH_UP = timedelta(days=1)
# Settings of a scenario that change when its records fall due: the cron is woken anew.
WAKE_FIELDS = {
    "state",
    "active",
    "trigger",
    "domain",
    "date_field_id",
    "trigger_offset",
    "trigger_offset_unit",
    "trigger_hour",
}


class MarketingScenario(models.Model):
    """Time-based entry triggers ("date" and "anniversary"): the intake cron, woken at the
    exact moment the next record falls due."""

    _inherit = "marketing.scenario"

    # --- entry triggers "date" and "anniversary"
    date_field_id = fields.Many2one(
        "ir.model.fields",
        string="Date field",
        compute="_compute_date_field_id",
        store=True,
        readonly=False,
        precompute=True,
        ondelete="set null",
        domain="[('model_id', '=', model_id), ('ttype', 'in', ('date', 'datetime')), "
        "('store', '=', True)]",
        help="The date (or date and time) of the record that makes it enter.",
    )
    date_field_type = fields.Selection(related="date_field_id.ttype", string="Date field type")
    trigger_offset = fields.Integer(
        string="Offset",
        help="Moves the entry before (negative) or after (positive) the date, e.g. -7 days: "
        "7 days before the end of a subscription.",
    )
    trigger_offset_unit = fields.Selection(
        DELAY_UNITS, string="Offset unit", default="days", required=True
    )
    trigger_hour = fields.Float(
        string="At (local time)",
        default=9.0,
        help="Time of day of the entry for anniversaries and for dates without a time, in "
        "the contact's time zone (their own, else the company's, else UTC).",
    )
    last_entry_check = fields.Datetime(
        string="Entries checked until",
        readonly=True,
        copy=False,
        help="Time-based entries: every record whose date (with the offset) fell before this "
        "moment was considered. The next check takes the records due since.",
    )

    @api.depends("trigger", "model_id")
    def _compute_date_field_id(self):
        birthdate = self.env["ir.model.fields"]._get("res.partner", "birthdate")
        for scenario in self:
            if scenario.date_field_id and scenario.date_field_id.model_id == scenario.model_id:
                continue
            if scenario.trigger == "anniversary" and scenario.model_name == "res.partner":
                scenario.date_field_id = birthdate
            else:
                scenario.date_field_id = False

    # ------------------------------------------------------------
    # Settings
    # ------------------------------------------------------------

    def _check_entry_date(self):
        _ = self.env._
        field = self.date_field_id
        if not field:
            raise ValidationError(
                _("Scenario %(name)s enters on a date: choose the date field.", name=self.name)
            )
        if field.model_id != self.model_id:
            raise ValidationError(
                _(
                    "Scenario %(name)s: the field %(field)s belongs to %(model)s, not to "
                    "the target %(target)s.",
                    name=self.name,
                    field=field.field_description,
                    model=field.model_id.name,
                    target=self.model_id.name,
                )
            )
        if field.ttype not in ("date", "datetime") or not field.store:
            raise ValidationError(
                _(
                    "Scenario %(name)s: the field %(field)s is not a stored date or date "
                    "and time field.",
                    name=self.name,
                    field=field.field_description,
                )
            )
        if not 0 <= self.trigger_hour < 24:
            raise ValidationError(
                _(
                    "Scenario %(name)s: the time of day must be between 00:00 and 23:59.",
                    name=self.name,
                )
            )

    def _check_entry_anniversary(self):
        self._check_entry_date()
        if self.trigger_offset_unit in ("minutes", "hours"):
            raise ValidationError(
                self.env._(
                    "Scenario %(name)s: an anniversary moves by days, weeks or months; "
                    "set the time of day instead of an offset in hours.",
                    name=self.name,
                )
            )

    @api.onchange("trigger")
    def _onchange_trigger(self):
        if self.trigger == "anniversary" and self.reentry == "never":
            # a birthday comes back every year (the scenario still sends at most one a year)
            self.reentry = "always"

    def write(self, vals):
        """Time-based intake starts from now when a scenario (re)starts or changes trigger:
        what fell due while it was not running does not enter (as for real-time triggers)."""
        restarting = self.browse()
        if vals.get("state") == "running" or "trigger" in vals:
            restarting = self.filtered(
                lambda s: s.state != "running" or s.trigger != vals.get("trigger", s.trigger)
            )
        res = super().write(vals)
        if restarting:
            super(MarketingScenario, restarting).write({"last_entry_check": fields.Datetime.now()})
        if WAKE_FIELDS & set(vals) and any(s.trigger in TIME_TRIGGERS for s in self):
            self._wake_entry_cron(fields.Datetime.now())
        return res

    # ------------------------------------------------------------
    # The intake cron
    # ------------------------------------------------------------

    @api.model
    def _cron_entry(self):
        """Enrol the records whose date (± offset) or anniversary fell due since the last
        check of each running time-based scenario, batch after batch.

        Each scenario keeps a checkpoint (``last_entry_check``): a run takes the records
        due in (checkpoint, now], so a record enters once per date value; the checkpoint
        moves when the whole window is done. A run cut short (time limit, crash) starts
        again from the old checkpoint and skips what already entered.
        """
        Cron = self.env["ir.cron"]
        now = self.env.cr.now()
        scenarios = self.search([("state", "=", "running"), ("trigger", "in", TIME_TRIGGERS)])
        Cron._commit_progress(remaining=len(scenarios))
        for scenario in scenarios:
            if not scenario._enter_due_records(now) or not Cron._commit_progress(1):
                break
        self._schedule_entry_cron(now)

    def _enter_due_records(self, now):
        """Enrol the records of this scenario due in (checkpoint, now].

        :return: False if the cron ran out of time (the checkpoint did not move)
        """
        self.ensure_one()
        start = self.last_entry_check
        if not start or not self.date_field_id:
            self.last_entry_check = now
            return True
        if self.trigger == "anniversary":
            start = max(start, now - ANNIVERSARY_CATCH_UP)
        if start >= now:
            return True
        Cron = self.env["ir.cron"]
        try:
            # a broken scenario (e.g. its audience names a removed field) is logged and
            # retried next time from the same checkpoint; the others go on
            with self.env.cr.savepoint():
                records, anniversaries = self._due_records(start, now)
            for res_ids in split_every(
                self.env["marketing.scenario.trace"]._batch_size(), records.ids
            ):
                with self.env.cr.savepoint():
                    participants = self.enroll(records.browse(res_ids))
                    if anniversaries and participants:
                        self._set_anniversary_dates(participants, anniversaries)
                # each batch is committed with its progress; cut short, the next run
                # starts again from the old checkpoint and skips what entered
                if not Cron._commit_progress():
                    return False
        except Exception:  # noqa: BLE001 - recorded in the log, the cron goes on
            _logger.exception("Entry check of scenario %s failed", self.id)
            return True
        self.last_entry_check = now
        return True

    def _due_records(self, start, end):
        """The records of the audience due in (start, end], not entered since ``start``.

        :return: (records, {res_id: anniversary date} for anniversaries)
        """
        self.ensure_one()
        if self.trigger == "anniversary":
            return self._due_anniversaries(start, end)
        if self.date_field_type == "datetime":
            records = self._due_by_moment(start, end)
        else:
            records = self._due_by_day(start, end)
        if records:
            entered = self._entered_since(records.ids, start)
            records = records.browse(i for i in records.ids if i not in entered)
        return records, {}

    def _target(self):
        return self.env[self.model_name].sudo().with_context(active_test=True, tz=False)

    def _offset(self):
        return entry_dates.offset_delta(self.trigger_offset, self.trigger_offset_unit)

    def _tz_path(self):
        """Path of the contact's time zone from a target record (None: no contact)."""
        if self.model_name == "res.partner":
            return "tz"
        fname = self._partner_field()
        return f"{fname}.tz" if fname and fname != "id" else None

    def _tz_domain(self, tz_name):
        path = self._tz_path()
        domain = Domain(path, "=", tz_name or False)
        if not tz_name and "." in path:
            domain |= Domain(path.split(".")[0], "=", False)
        return domain

    def _default_tz(self):
        company = self.company_id or self.env.company
        return company.partner_id.tz

    def _due_by_moment(self, start, end):
        """Date and time field: due at the value ± offset, whatever the time zone."""
        fname = self.date_field_id.name
        delta = self._offset()
        margin = entry_dates.MONTH_MARGIN if self.trigger_offset_unit == "months" else timedelta(0)
        records = self._target().search_fetch(
            self._audience_domain()
            & Domain(fname, ">", start - delta - margin)
            & Domain(fname, "<=", end - delta + margin),
            [fname],
        )
        return records.filtered(lambda r: start < r[fname] + delta <= end)

    def _day_groups(self, first, last):
        """(date value, time zone) pairs of the audience with a value in [first, last]."""
        fname = self.date_field_id.name
        tz_path = self._tz_path()
        groupby = [f"{fname}:day"] + ([tz_path] if tz_path else [])
        groups = self._target()._read_group(
            self._audience_domain() & Domain(fname, ">=", first) & Domain(fname, "<=", last),
            groupby,
            ["__count"],
        )
        return [(row[0], row[1] if tz_path else False) for row in groups]

    def _day_moment(self, value, tz_name):
        tz = entry_dates.get_tz(tz_name, self._default_tz())
        return entry_dates.day_at(value, self.trigger_hour, tz, self._offset())

    def _due_by_day(self, start, end):
        """Date field: due on the date ± offset at the time of day, in the contact's time
        zone. One grouped query finds the (date, time zone) pairs due in the window, one
        search their records."""
        delta = self._offset()
        margin = entry_dates.TZ_SPREAD
        if self.trigger_offset_unit == "months":
            margin += entry_dates.MONTH_MARGIN
        first = (start - delta - margin).date()
        last = (end - delta + margin).date()
        due = defaultdict(list)
        for value, tz_name in self._day_groups(first, last):
            if start < self._day_moment(value, tz_name) <= end:
                due[tz_name].append(value)
        Target = self._target()
        if not due:
            return Target
        fname = self.date_field_id.name
        by_tz = [
            Domain(fname, "in", values)
            & (self._tz_domain(tz_name) if self._tz_path() else Domain.TRUE)
            for tz_name, values in due.items()
        ]
        return Target.search(self._audience_domain() & Domain.OR(by_tz), order="id")

    def _anniversary_groups(self, first, last):
        """(month, day, time zone) of the audience whose anniversary (± offset) may fall
        on a local date in [first, last]: a set-based query on date parts."""
        fname = self.date_field_id.name
        pairs = entry_dates.anniversary_month_days(
            first, last, self._offset(), self.trigger_offset_unit
        )
        month_days = Domain.OR(
            Domain(f"{fname}.month_number", "=", month) & Domain(f"{fname}.day_of_month", "=", day)
            for month, day in sorted(pairs)
        )
        tz_path = self._tz_path()
        groupby = [f"{fname}:month_number", f"{fname}:day_of_month"]
        if tz_path:
            groupby.append(tz_path)
        groups = self._target()._read_group(
            self._audience_domain() & Domain(fname, "!=", False) & month_days,
            groupby,
            ["__count"],
        )
        return [(int(row[0]), int(row[1]), row[2] if tz_path else False) for row in groups]

    def _anniversary_moments(self, month, day, tz_name, around):
        tz = entry_dates.get_tz(tz_name, self._default_tz())
        return entry_dates.anniversary_moments(
            month, day, self._offset(), self.trigger_hour, tz, around
        )

    def _due_anniversaries(self, start, end):
        """Anniversaries (± offset) whose moment, at the time of day in the contact's time
        zone, falls in (start, end], at most one per anniversary year and record."""
        due = {}  # (month, day, tz) -> anniversary date
        for month, day, tz_name in self._anniversary_groups(
            (start - entry_dates.TZ_SPREAD).date(), (end + entry_dates.TZ_SPREAD).date()
        ):
            for occurrence, moment in self._anniversary_moments(month, day, tz_name, end):
                if start < moment <= end:
                    due[(month, day, tz_name)] = occurrence
        Target = self._target()
        if not due:
            return Target, {}
        fname = self.date_field_id.name
        tz_path = self._tz_path()
        keys = [
            Domain(f"{fname}.month_number", "=", month)
            & Domain(f"{fname}.day_of_month", "=", day)
            & (self._tz_domain(tz_name) if tz_path else Domain.TRUE)
            for month, day, tz_name in due
        ]
        partner_fname = tz_path.split(".")[0] if tz_path and "." in tz_path else None
        records = Target.search_fetch(
            self._audience_domain() & Domain.OR(keys),
            [fname] + (["tz"] if tz_path == "tz" else [partner_fname] if partner_fname else []),
            order="id",
        )
        if partner_fname:
            records[partner_fname].fetch(["tz"])
        occurrences = {}
        for record in records:
            value = record[fname]
            if tz_path == "tz":
                tz_name = record.tz
            elif partner_fname:
                tz_name = record[partner_fname].tz
            else:
                tz_name = False
            occurrence = due.get((value.month, value.day, tz_name or False))
            if occurrence:
                occurrences[record.id] = occurrence
        already = self._anniversary_years_done(
            list(occurrences), min(occurrences.values(), default=None)
        )
        occurrences = {
            res_id: occurrence
            for res_id, occurrence in occurrences.items()
            if (res_id, occurrence.year) not in already
        }
        return records.browse(sorted(occurrences)), occurrences

    def _anniversary_years_done(self, res_ids, since):
        """{(res_id, year)} of the anniversaries that already made these records enter."""
        if not res_ids:
            return set()
        self.env["marketing.scenario.participant"].flush_model()
        self.env.cr.execute(
            SQL(
                """
                SELECT res_id, EXTRACT(YEAR FROM anniversary_date)::int
                  FROM marketing_scenario_participant
                 WHERE scenario_id = %s AND res_id = ANY(%s) AND is_test IS NOT TRUE
                   AND anniversary_date >= %s
                """,
                self.id,
                res_ids,
                date(since.year, 1, 1),
            )
        )
        return set(self.env.cr.fetchall())

    def _set_anniversary_dates(self, participants, anniversaries):
        """Record on each new participant the anniversary it entered for (one query)."""
        participants.flush_recordset(["res_id"])
        self.env.cr.execute(
            SQL(
                """
                UPDATE marketing_scenario_participant p
                   SET anniversary_date = v.day
                  FROM unnest(%s::int[], %s::date[]) AS v(id, day)
                 WHERE p.id = v.id
                """,
                participants.ids,
                [anniversaries[p.res_id] for p in participants],
            )
        )
        participants.invalidate_recordset(["anniversary_date"])

    def _entered_since(self, res_ids, since):
        """Records of ``res_ids`` that entered this scenario after ``since`` (by any way):
        a run of the intake cron cut short never enrols them twice."""
        self.env["marketing.scenario.participant"].flush_model()
        self.env.cr.execute(
            SQL(
                """
                SELECT DISTINCT res_id FROM marketing_scenario_participant
                 WHERE scenario_id = %s AND res_id = ANY(%s) AND is_test IS NOT TRUE
                   AND date_start > %s
                """,
                self.id,
                res_ids,
                since,
            )
        )
        return {row[0] for row in self.env.cr.fetchall()}

    # ------------------------------------------------------------
    # Waking the intake cron at the exact next due moment
    # ------------------------------------------------------------

    @api.model
    def _wake_entry_cron(self, at, realtime=False):
        """Wake the intake cron at ``at``.

        :param realtime: from a user's create or write: at most one query, and a trigger
            only for the earliest moment of the transaction, none when the cron is
            already woken before ``at`` (its run schedules the next one itself)
        """
        at = max(at, fields.Datetime.now())
        xmlid = "trigger_marketing.ir_cron_scenario_entry"
        cron_id = self.env["ir.model.data"]._xmlid_to_res_id(xmlid, raise_if_not_found=False)
        if not cron_id:
            return
        if not realtime:
            self.env["ir.cron"].browse(cron_id).sudo()._trigger(at)
            return
        self.env["marketing.scenario.trace"]._wake_once(
            [cron_id], at, "trigger_marketing.entry_woken_at", unless_pending=True
        )

    @api.model
    def _schedule_entry_cron(self, now):
        """Wake the intake cron when the next record of a running scenario falls due."""
        scenarios = self.search([("state", "=", "running"), ("trigger", "in", TIME_TRIGGERS)])
        moments = [m for m in (s._next_entry_due(now) for s in scenarios) if m]
        if moments:
            self._wake_entry_cron(min(moments))
        return min(moments) if moments else None

    def _next_entry_due(self, now):
        """The next moment after ``now`` at which a record of this scenario falls due."""
        self.ensure_one()
        if not self.date_field_id:
            return None
        if self.trigger == "anniversary":
            return self._next_anniversary_due(now)
        if self.date_field_type == "datetime":
            return self._next_moment_due(now)
        return self._next_day_due(now)

    def _next_anniversary_due(self, now):
        """The next anniversary moment within the hour, else the next hour boundary: the
        hourly wake-up also catches birth dates edited or created meanwhile."""
        next_hour = (now + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
        moments = [next_hour]
        for month, day, tz_name in self._anniversary_groups(
            (now - entry_dates.TZ_SPREAD).date(), (next_hour + entry_dates.TZ_SPREAD).date()
        ):
            moments += [
                moment
                for _occurrence, moment in self._anniversary_moments(month, day, tz_name, now)
                if now < moment < next_hour
            ]
        return min(moments)

    def _next_moment_due(self, now):
        """Date and time field: the smallest value whose moment ± offset is after now."""
        fname = self.date_field_id.name
        delta = self._offset()
        margin = entry_dates.MONTH_MARGIN if self.trigger_offset_unit == "months" else timedelta(0)
        lower = now - delta - margin
        Target = self._target()
        for _attempt in range(10):
            records = Target.search_fetch(
                self._audience_domain() & Domain(fname, ">", lower),
                [fname],
                order=f"{fname}, id",
                limit=50,
            )
            moments = [r[fname] + delta for r in records if r[fname] + delta > now]
            if moments:
                return min(moments)
            if len(records) < 50:
                return None
            lower = records[-1][fname]
        return None

    def _next_day_due(self, now):
        """Date field: the values just after now, grouped by time zone, give the exact next
        moment (two queries)."""
        fname = self.date_field_id.name
        delta = self._offset()
        margin = entry_dates.TZ_SPREAD
        if self.trigger_offset_unit == "months":
            margin += entry_dates.MONTH_MARGIN
        first = (now - delta - margin).date()
        Target = self._target()
        for _attempt in range(10):
            nearest = Target.search_fetch(
                self._audience_domain() & Domain(fname, ">=", first),
                [fname],
                order=f"{fname}, id",
                limit=1,
            )
            if not nearest:
                return None
            last = nearest[fname] + timedelta(days=3)
            moments = [
                moment
                for value, tz_name in self._day_groups(first, last)
                if (moment := self._day_moment(value, tz_name)) > now
            ]
            if moments:
                return min(moments)
            first = last + timedelta(days=1)
        return None

    def _wake_entry_for(self, records):
        """Records of a running date scenario were created or their date changed: wake the
        intake cron by the time the earliest of them falls due (no query for datetime
        fields; early for dates, which depend on the time zone, and exact at the next run).
        """
        self.ensure_one()
        fname = self.date_field_id.name
        delta = self._offset()
        now = fields.Datetime.now()
        earliest = entry_dates.get_tz("Etc/GMT-14")  # the first local day on Earth
        moments = []
        for value in {rec[fname] for rec in records if rec[fname]}:
            if self.date_field_type == "datetime":
                moment = value + delta
            else:
                moment = entry_dates.day_at(value, self.trigger_hour, earliest, delta)
            if moment > now:
                moments.append(moment)
        if moments:
            self._wake_entry_cron(min(moments), realtime=True)
