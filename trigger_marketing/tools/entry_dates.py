"""Date arithmetic of the time-based entry triggers (date field, anniversary).

Pure functions, no ORM: every moment is a naive UTC ``datetime`` as stored by Odoo,
every time zone a ``pytz`` zone. Local moments that do not exist (the hour skipped
when daylight-saving time starts) move forward; ambiguous ones (the hour repeated
when it ends) take the later, standard-time occurrence.
"""

import calendar
from datetime import date, datetime, time, timedelta

import pytz
from dateutil.relativedelta import relativedelta

# Offsets of time zones range from UTC-12 to UTC+14: a local day starts at most 14 hours
# before and ends at most 12 hours after the UTC day of the same date.
TZ_SPREAD = timedelta(days=2)
# Month arithmetic clamps to the end of the month (31 Jan + 1 month = 28 Feb): bounds
# computed by inverting an offset in months are widened by this margin, and the exact
# moment is then computed forward.
MONTH_MARGIN = timedelta(days=4)


def offset_delta(number, unit):
    """The signed offset ``number`` ``unit`` (minutes ... months) as a relativedelta."""
    return relativedelta(**{unit: number or 0})


def get_tz(*names):
    """The first valid time zone among ``names``, else UTC."""
    for name in names:
        if not name:
            continue
        try:
            return pytz.timezone(name)
        except pytz.UnknownTimeZoneError:
            continue
    return pytz.utc


def hour_to_time(hour):
    """9.5 -> 09:30 (a float_time field)."""
    minutes = round((hour or 0.0) * 60)
    minutes = min(max(minutes, 0), 24 * 60 - 1)
    return time(minutes // 60, minutes % 60)


def local_to_utc(naive_local, tz):
    """A wall-clock moment in ``tz`` as a naive UTC datetime."""
    aware = tz.normalize(tz.localize(naive_local, is_dst=False))
    return aware.astimezone(pytz.utc).replace(tzinfo=None)


def utc_to_local(naive_utc, tz):
    return pytz.utc.localize(naive_utc).astimezone(tz).replace(tzinfo=None)


def day_at(day, hour, tz, delta=None):
    """The moment (naive UTC) of ``day`` at ``hour`` local time in ``tz``, moved by the
    calendar offset ``delta`` in wall-clock time (09:00 stays 09:00 across a
    daylight-saving change)."""
    moment = datetime.combine(day, hour_to_time(hour))
    if delta:
        moment += delta
    return local_to_utc(moment, tz)


def anniversary_in(year, month, day):
    """The anniversary of ``month``/``day`` in ``year``: 29 February falls on
    28 February in years that have none."""
    if month == 2 and day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    return date(year, month, day)


def dates_between(first, last):
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def anniversary_month_days(first, last, delta, unit):
    """The (month, day) pairs of birth dates whose anniversary moved by ``delta`` may
    fall on a local date between ``first`` and ``last`` (a superset: the exact moment
    is checked afterwards)."""
    margin = MONTH_MARGIN if unit == "months" else timedelta(0)
    pairs = set()
    for local_day in dates_between(first - margin, last + margin):
        occurrence = local_day - delta
        pairs.add((occurrence.month, occurrence.day))
        if occurrence.month == 2 and occurrence.day == 28 and not calendar.isleap(occurrence.year):
            pairs.add((2, 29))
    return pairs


def anniversary_moments(month, day, delta, hour, tz, around):
    """The moments (naive UTC) at which the yearly anniversary of ``month``/``day``,
    moved by ``delta``, falls at ``hour`` local time in ``tz``, for the years around
    the moment ``around``.

    :return: list of (anniversary date, moment)
    """
    result = []
    for year in (around.year - 1, around.year, around.year + 1):
        occurrence = anniversary_in(year, month, day)
        result.append((occurrence, day_at(occurrence, hour, tz, delta)))
    return result
