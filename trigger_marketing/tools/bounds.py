"""Bounds of the numbers and texts that a marketer types, checked at save time.

A number out of these bounds is refused by the record's constraint with a message that
names the record, the field and the allowed range: before them, a delay of 99,999,999
hours was saved, then overflowed Python's dates at the first enrolment; 10^12 points
overflowed the database's integers; a 10,000-character name broke the unique index of
its UTM campaign. Plain Python: the models declare which bound applies to which field.
"""

from odoo.exceptions import ValidationError

# Ten years, in each unit a delay can be written in.
TEN_YEARS = {
    "minutes": 10 * 366 * 24 * 60,
    "hours": 10 * 366 * 24,
    "days": 10 * 366,
    "weeks": 10 * 53,
    "months": 10 * 12,
}
MAX_DAYS = TEN_YEARS["days"]
# Points of one step, one rule or one band: far above any sensible weight, far below
# what the score's 32-bit integer holds.
MAX_POINTS = 100_000
# A rule's cap per period.
MAX_CAP = 10 * MAX_POINTS
# A contact's total score stays within ±SCORE_LIMIT (clamped when points are added), so
# that no event can overflow it; thresholds live within the same range.
SCORE_LIMIT = 1_000_000_000
# An abandoned cart enters at most a year after its last change.
MAX_CART_HOURS = 366 * 24
# Texts: names are indexed (UTM campaign, mailing subject) and shown in one line.
MAX_NAME = 200
MAX_SUBJECT = 500
MAX_URL = 2048
MAX_EMAIL = 254
# A filter is a domain written in the editor: long lists of ids fit, a novel does not.
MAX_FILTER = 20_000


def out_of_range(value, low, high):
    """True when ``value`` (a number, False/None for empty) is outside [low, high]."""
    return value is not None and value is not False and not low <= value <= high


def too_long(text, limit):
    return bool(text) and len(text) > limit


def short(text, limit=40):
    """A record's name as quoted in a message (an overlong name is the bad input)."""
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_values(model, label, values, numbers=(), texts=()):
    """Raise a ``ValidationError`` naming the record, the field and the allowed range for
    the first bound that ``values`` break. Checked on the values about to be written
    (before the database sees them: 10^12 does not fit its integers).

    :param model: the model (its field labels and selections name the field and unit)
    :param str label: the record as named in the message ("Step Welcome", "Settings")
    :param values: a mapping; a field absent from it is not checked
    :param numbers: [(field, low, high)], or [(field, low, high, unit field)] where low
        and high are dicts {unit: bound}
    :param texts: [(field, max length)]
    """
    _ = model.env._
    for spec in numbers:
        fname, low, high = spec[:3]
        if fname not in values:
            continue
        unit = values.get(spec[3]) if len(spec) > 3 else None
        if isinstance(high, dict):
            low, high = low[unit], high[unit]
        value = values[fname]
        if isinstance(value, (int, float)) and out_of_range(value, low, high):
            field = model._fields[fname]._description_string(model.env)
            if unit:
                units = dict(model._fields[spec[3]]._description_selection(model.env))
                field = f"{field} ({units[unit].lower()})"
            raise ValidationError(
                _(
                    "%(record)s: %(field)s must be between %(low)s and %(high)s "
                    "(you entered %(value)s).",
                    record=label,
                    field=field,
                    low=f"{low:,}",
                    high=f"{high:,}",
                    value=f"{value:,}",
                )
            )
    for fname, limit in texts:
        text = values.get(fname)
        if isinstance(text, str) and too_long(text, limit):
            raise ValidationError(
                _(
                    "%(record)s: %(field)s is too long (%(length)s characters, at most %(limit)s).",
                    record=label,
                    field=model._fields[fname]._description_string(model.env),
                    length=f"{len(text):,}",
                    limit=f"{limit:,}",
                )
            )
