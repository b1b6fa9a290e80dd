"""Send-time optimisation: the hour of the day at which a contact reads its e-mail, from
the moments of its own opens and clicks, in its time zone. Plain Python, no ORM.
"""

from collections import Counter
from datetime import UTC, datetime, timedelta

# A contact's own hour needs this many engagements; below, the audience's best hour.
MIN_EVENTS = 3


def local_hours(moments, zone):
    """Hours of the day (0-23) of naive UTC ``moments`` in ``zone`` (a ``ZoneInfo``)."""
    return [moment.replace(tzinfo=UTC).astimezone(zone).hour for moment in moments]


def best_hours(hours):
    """Hours ranked by how often they occur (ties: the earlier hour first)."""
    counts = Counter(hours)
    return sorted(counts, key=lambda hour: (-counts[hour], hour))


def next_at_hour(now, hour, zone):
    """The next moment (naive UTC, after ``now`` less a minute) at which it is ``hour``:00
    in ``zone``."""
    local_now = now.replace(tzinfo=UTC).astimezone(zone)
    for offset in range(3):
        day = local_now.date() + timedelta(days=offset)
        local = datetime(day.year, day.month, day.day, hour, tzinfo=zone)
        moment = local.astimezone(UTC).replace(tzinfo=None)
        if moment > now - timedelta(minutes=1):
            return moment
    return None
