"""Filters that marketers write (audience, goal, "only if", conditions...).

A filter is stored as the text of a domain, as Odoo's domain editor writes it, and is
evaluated each time it is used (it may depend on today's date).
"""

from dateutil.relativedelta import relativedelta

from odoo import fields
from odoo.exceptions import ValidationError
from odoo.fields import Domain
from odoo.tools.safe_eval import datetime as safe_datetime
from odoo.tools.safe_eval import dateutil as safe_dateutil
from odoo.tools.safe_eval import safe_eval
from odoo.tools.safe_eval import time as safe_time


def eval_context(env):
    """What a filter may use: relative dates and the user's id."""
    return {
        "datetime": safe_datetime,
        "dateutil": safe_dateutil,
        "time": safe_time,
        "relativedelta": relativedelta,
        "context_today": lambda: fields.Date.context_today(env.user),
        "uid": env.uid,
        "user": env.user,
    }


def parse_domain(env, model_name, domain_text, label):
    """Evaluate a filter on ``model_name``: a :class:`Domain`, or a ``ValidationError``
    that names the filter (``label``)."""
    if not domain_text:
        return Domain.TRUE
    try:
        domain = Domain(safe_eval(domain_text, eval_context(env)))
        domain.validate(env[model_name])
    except Exception as e:  # noqa: BLE001 - any evaluation error is the user's input
        raise ValidationError(
            env._("%(label)s is not a valid filter: %(error)s", label=label, error=e)
        ) from e
    return domain


def domain_fields(domain):
    """Names of the fields of the model that ``domain`` reads (first part of each path)."""
    return {condition.field_expr.split(".")[0] for condition in domain.iter_conditions()}
