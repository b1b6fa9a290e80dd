import logging
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from odoo import api, fields, models
from odoo.exceptions import ValidationError

_logger = logging.getLogger(__name__)

# Index = datetime.weekday()
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WINDOW_DAY_FIELDS = tuple(f"window_{day}" for day in WEEKDAYS)
WINDOW_FIELDS = (*WINDOW_DAY_FIELDS, "window_hour_from", "window_hour_to")


def get_zone(tz_name):
    """The ``ZoneInfo`` of ``tz_name``; UTC when empty or unknown."""
    if tz_name:
        try:
            return ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError):
            _logger.info("Unknown time zone %r: UTC is used for send windows", tz_name)
    return ZoneInfo("UTC")


def _hour_delta(hour):
    return timedelta(minutes=round(hour * 60))


def _local_to_utc(local, zone, after):
    """Naive UTC instant of the naive wall-clock time ``local`` in ``zone``, later than
    ``after``.

    A wall-clock time skipped by a spring-forward change (02:30 in Brussels on the last
    Sunday of March) maps, as in calendars, to the same time after the jump (03:30). A time
    that occurs twice (fall back) maps to its first occurrence, or to the second when the
    first one is already past.
    """
    for fold in (0, 1):
        utc = local.replace(tzinfo=zone, fold=fold).astimezone(UTC).replace(tzinfo=None)
        if utc > after:
            return utc
    return None


def next_window_opening(now, zone, days, hour_from, hour_to):
    """When a send window opens next.

    :param datetime now: naive UTC
    :param ZoneInfo zone: the recipient's time zone; days and hours are wall-clock times there
    :param set days: allowed weekdays (0 = Monday)
    :param float hour_from: opening hour of the day (9.5 = 09:30)
    :param float hour_to: closing hour of the day (excluded; 24 = midnight)
    :return: ``None`` when ``now`` is inside the window, else the next opening (naive UTC)
    """
    if not days:
        raise ValueError("a send window needs at least one day")
    local = now.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None)
    start, end = _hour_delta(hour_from), _hour_delta(hour_to)
    midnight = datetime.combine(local.date(), time.min)
    for offset in range(8):
        day = midnight + timedelta(days=offset)
        if day.weekday() not in days:
            continue
        opening, closing = day + start, day + end
        if local >= closing:
            continue
        if local >= opening:
            return None
        at = _local_to_utc(opening, zone, now)
        if at:
            return at
    raise ValueError("no opening found in the next week")  # unreachable with a valid window


class MarketingSendWindowMixin(models.AbstractModel):
    """Days of the week and hours at which a step may reach a contact, in the contact's
    own time zone (e.g. Monday to Friday, 09:00 to 18:00).

    Used by scenarios (their default for e-mail steps) and by steps (a window of their own).
    A window never crosses midnight: the opening hour must come before the closing hour.
    """

    _name = "marketing.send.window.mixin"
    _description = "Send window"

    window_monday = fields.Boolean(string="Monday", default=True)
    window_tuesday = fields.Boolean(string="Tuesday", default=True)
    window_wednesday = fields.Boolean(string="Wednesday", default=True)
    window_thursday = fields.Boolean(string="Thursday", default=True)
    window_friday = fields.Boolean(string="Friday", default=True)
    window_saturday = fields.Boolean(string="Saturday", default=False)
    window_sunday = fields.Boolean(string="Sunday", default=False)
    window_hour_from = fields.Float(
        string="From", default=9.0, help="Opening hour, in the recipient's time zone."
    )
    window_hour_to = fields.Float(
        string="To",
        default=18.0,
        help="Closing hour (excluded), in the recipient's time zone; 24:00 for midnight.",
    )
    window_description = fields.Char(string="Window", compute="_compute_window_description")

    def _window_is_set(self):
        """Whether this record's own window is in use (and must be valid)."""
        return False

    def _window_days(self):
        self.ensure_one()
        return {index for index, fname in enumerate(WINDOW_DAY_FIELDS) if self[fname]}

    @api.depends(*WINDOW_FIELDS)
    def _compute_window_description(self):
        for record in self:
            record.window_description = record._window_text()

    def _window_text(self):
        """E.g. "Mon–Fri 09:00–18:00", "Mon, Wed, Sat 08:30–12:00"."""
        self.ensure_one()
        names = [
            self.env._("Mon"),
            self.env._("Tue"),
            self.env._("Wed"),
            self.env._("Thu"),
            self.env._("Fri"),
            self.env._("Sat"),
            self.env._("Sun"),
        ]
        days = sorted(self._window_days())
        runs = []
        for day in days:
            if runs and runs[-1][1] == day - 1:
                runs[-1][1] = day
            else:
                runs.append([day, day])
        parts = []
        for first, last in runs:
            if last - first >= 2:
                parts.append(f"{names[first]}–{names[last]}")
            else:
                parts.extend(names[first : last + 1])

        def hhmm(hour):
            minutes = round(hour * 60)
            return f"{minutes // 60:02d}:{minutes % 60:02d}"

        return "%s %s–%s" % (
            ", ".join(parts) or self.env._("no day"),
            hhmm(self.window_hour_from),
            hhmm(self.window_hour_to),
        )

    def _check_send_window(self):
        for record in self:
            if not record._window_is_set():
                continue
            if not (0 <= record.window_hour_from < record.window_hour_to <= 24):
                raise ValidationError(
                    self.env._(
                        "%(name)s: the send window must open before it closes, within one "
                        "day (from 00:00 to 24:00). A window across midnight is not "
                        "possible: use two days instead.",
                        name=record.display_name,
                    )
                )
            if not record._window_days():
                raise ValidationError(
                    self.env._(
                        "%(name)s: the send window needs at least one day of the week.",
                        name=record.display_name,
                    )
                )

    def _window_next_opening(self, now, tz_name):
        """``None`` if ``now`` (naive UTC) is inside this window in ``tz_name``, else when
        it opens next (naive UTC)."""
        self.ensure_one()
        return next_window_opening(
            now,
            get_zone(tz_name),
            self._window_days(),
            self.window_hour_from,
            self.window_hour_to,
        )
