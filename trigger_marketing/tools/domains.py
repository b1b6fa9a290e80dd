"""Filters that marketers write (audience, goal, "only if", conditions...).

A filter is stored as the text of a domain, as Odoo's domain editor writes it, and is
evaluated each time it is used (it may depend on today's date).

Filters are written by users without any technical right and evaluated again by the
engine as the superuser, so their text never reaches a record, an environment or any
callable that touches the ORM:

- the evaluation context holds plain data and pure functions only (:func:`eval_context`):
  today's date computed beforehand, ``relativedelta``, Odoo's safe ``datetime``,
  ``dateutil`` and ``time`` wrappers, and ``uid`` (an integer);
- before evaluation, the text is parsed and refused unless it is made of literals, those
  names, additions and subtractions, calls of those functions and the date methods that
  the domain editor writes (``strftime``...) (:func:`check_filter_text`): no other name,
  no other attribute, no private attribute, no comprehension, lambda, subscript or
  operator that could build a huge value.

``safe_eval`` still runs afterwards: it is the second wall, not the first.
"""

import ast
import functools

from dateutil.relativedelta import relativedelta

from odoo import fields
from odoo.exceptions import ValidationError
from odoo.fields import Domain
from odoo.tools.safe_eval import datetime as safe_datetime
from odoo.tools.safe_eval import dateutil as safe_dateutil
from odoo.tools.safe_eval import safe_eval
from odoo.tools.safe_eval import time as safe_time

from .domain_paths import unreadable_field

# Names a filter may use: plain data and pure functions (see eval_context).
FILTER_NAMES = frozenset({"context_today", "relativedelta", "datetime", "dateutil", "time", "uid"})
# Names a filter may call directly.
FILTER_CALLABLES = frozenset({"context_today", "relativedelta"})
# Attributes a filter may read: the members of the date modules and the methods of dates,
# times and deltas that filters use. Nothing private, nothing that sleeps or reads a file.
FILTER_ATTRIBUTES = frozenset(
    {
        # datetime, dateutil and time (Odoo's safe wrappers)
        "date",
        "datetime",
        "time",
        "timedelta",
        "timezone",
        "relativedelta",
        "parser",
        "parse",
        "strftime",
        "strptime",
        # methods and attributes of date, datetime, time, timedelta
        "combine",
        "today",
        "now",
        "utcnow",
        "fromisoformat",
        "isoformat",
        "replace",
        "weekday",
        "isoweekday",
        "year",
        "month",
        "day",
        "hour",
        "minute",
        "second",
        "days",
        "seconds",
        "total_seconds",
    }
)
# Node types of a filter text. Everything else is refused (names, attributes and calls
# are checked further in _FilterChecker).
_ALLOWED_NODES = (
    ast.Expression,
    ast.List,
    ast.Tuple,
    ast.Set,
    ast.Dict,
    ast.Constant,
    ast.Name,
    ast.Load,
    ast.Attribute,
    ast.Call,
    ast.keyword,
    ast.UnaryOp,
    ast.USub,
    ast.UAdd,
    ast.Not,
    ast.BinOp,
    ast.Add,
    ast.Sub,
)


class FilterTextError(ValueError):
    """The text of a filter uses something that filters may not use."""


class _FilterChecker(ast.NodeVisitor):
    def __init__(self, text):
        self.text = text

    def refuse(self, node, why):
        piece = ast.get_source_segment(self.text, node) or ast.unparse(node)
        raise FilterTextError(f"“{piece}”: {why}")

    def generic_visit(self, node):
        if not isinstance(node, _ALLOWED_NODES):
            self.refuse(node, "this kind of expression is not allowed in a filter")
        return super().generic_visit(node)

    def visit_Name(self, node):
        if node.id not in FILTER_NAMES:
            self.refuse(node, f"unknown name {node.id!r}")

    def visit_Attribute(self, node):
        if node.attr not in FILTER_ATTRIBUTES:
            self.refuse(node, f"attribute {node.attr!r} is not allowed")
        self.visit(node.value)

    def visit_BinOp(self, node):
        if not isinstance(node.op, (ast.Add, ast.Sub)):
            self.refuse(node, "only + and - are allowed between values")
        self.generic_visit(node)

    def visit_UnaryOp(self, node):
        if not isinstance(node.op, (ast.USub, ast.UAdd, ast.Not)):
            self.refuse(node, "this operator is not allowed in a filter")
        self.generic_visit(node)

    def visit_Call(self, node):
        func = node.func
        if isinstance(func, ast.Name) and func.id not in FILTER_CALLABLES:
            self.refuse(node, f"{func.id!r} cannot be called")
        if not isinstance(func, (ast.Name, ast.Attribute)):
            self.refuse(node, "only dates and deltas can be called")
        if any(kw.arg is None for kw in node.keywords):
            self.refuse(node, "'**' is not allowed")
        self.generic_visit(node)


@functools.lru_cache(maxsize=512)
def check_filter_text(text):
    """Refuse (:class:`FilterTextError`) a filter text that uses anything but literals,
    dates, deltas and ``uid`` (see the module's docstring). Valid texts are cached."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
        raise FilterTextError(f"not a Python expression ({e})") from e
    _FilterChecker(text.strip()).visit(tree)


def eval_context(env):
    """What a filter may use: plain data and pure functions computed beforehand (no record,
    no environment): today's date in the user's time zone, date helpers and ``uid``."""
    today = fields.Date.context_today(env.user)
    return {
        "datetime": safe_datetime,
        "dateutil": safe_dateutil,
        "time": safe_time,
        "relativedelta": relativedelta,
        "context_today": lambda: today,
        "uid": env.uid,
    }


def parse_domain(env, model_name, domain_text, label):
    """Evaluate a filter on ``model_name``: a :class:`Domain`, or a ``ValidationError``
    that names the filter (``label``)."""
    if not domain_text:
        return Domain.TRUE
    try:
        check_filter_text(domain_text)
        domain = Domain(safe_eval(domain_text, eval_context(env)))
        domain.validate(env[model_name])
    except FilterTextError as e:
        raise ValidationError(
            env._(
                "%(label)s is not a valid filter: %(error)s. A filter may only use fields, "
                "values, dates (context_today(), relativedelta, datetime) and uid.",
                label=label,
                error=e,
            )
        ) from None
    except Exception as e:  # noqa: BLE001 - any evaluation error is the user's input
        raise ValidationError(
            env._("%(label)s is not a valid filter: %(error)s", label=label, error=e)
        ) from e
    return domain


def domain_fields(domain):
    """Names of the fields of the model that ``domain`` reads (first part of each path)."""
    return {condition.field_expr.split(".")[0] for condition in domain.iter_conditions()}


def check_readable(env, model_name, domain, label):
    """Refuse, at save time, a filter that reads what its writer may not read (as the
    writer: Odoo runs constraints as the superuser)."""
    found = unreadable_field(env(su=False)[model_name], domain)
    if found:
        model, field = found
        raise ValidationError(
            env._(
                "%(label)s reads %(field)s of %(model)s, which you are not allowed to read.",
                label=label,
                field=field._description_string(env),
                model=model._description,
            )
        )
