"""Which changes, on which models, may change what a filter says about a record.

A goal such as "has a confirmed order" is written on the contact
(``sale_order_ids.state = 'sale'``) but changes when an order is confirmed. This module
turns a filter into *watch points*: ``(model, field, path)`` meaning "a create, a write of
``field`` or a delete of a record of ``model`` may change the filter for the target
records reached from it by ``path``" (``path`` read from the target: the target records
are those whose ``path`` contains the changed records; an empty path is the record
itself). Stored computed fields are followed through their dependencies, so that a goal
on a computed field is noticed when what it is computed from is written.

Only the fields' metadata is read: no query.
"""

from odoo.fields import Domain

# how deep dependencies of computed fields are followed (a computed field depending on a
# computed field...): deeper chains are rare and each level multiplies the watch points
MAX_DEPTH = 4


def domain_paths(domain):
    """The field paths a filter reads, as tuples of names, ``any`` sub-filters included."""
    paths = set()
    for condition in Domain(domain).iter_conditions():
        path = tuple(condition.field_expr.split("."))
        paths.add(path)
        if condition.operator in ("any", "not any", "any!", "not any!") and isinstance(
            condition.value, (Domain, list, tuple)
        ):
            paths |= {path + sub for sub in domain_paths(condition.value)}
    return paths


def watch_points(model, paths):
    """The ``(model name, field name, path from the target)`` a change may matter at.

    :param model: an empty recordset of the target model
    :param paths: field paths from the target (``domain_paths``)
    """
    points = set()
    for path in paths:
        _walk(model, path, (), points, 0)
    return points


def _walk(model, path, prefix, points, depth):
    for index, name in enumerate(path):
        field = model._fields.get(name)
        if field is None:  # a date part ('birthdate.month_number') or a property
            return
        points.add((model._name, name, prefix))
        if field.compute and depth < MAX_DEPTH:
            for dependency in model.pool.field_depends.get(field, ()):
                _walk(model, tuple(dependency.split(".")), prefix, points, depth + 1)
        if not field.relational or index == len(path) - 1:
            if field.relational:
                _add_inverse(model, field, prefix, points)
            return
        _add_inverse(model, field, prefix, points)
        prefix = (*prefix, name)
        model = model.env[field.comodel_name]


def _add_inverse(model, field, prefix, points):
    """Moving a related record to another target (an order to another customer) changes
    the relation: watch the inverse many2one of a one2many, and archiving (a one2many
    holds active records only; some models archive instead of deleting) and the fields of
    the one2many's own domain."""
    if field.type == "one2many" and field.inverse_name:
        path = (*prefix, field.name)
        points.add((field.comodel_name, field.inverse_name, path))
        if "active" in model.env[field.comodel_name]._fields:
            points.add((field.comodel_name, "active", path))
        # a one2many with a domain (a contact's opportunities: leads of type opportunity)
        if isinstance(field.domain, (list, tuple)):
            for condition in Domain(field.domain).iter_conditions():
                points.add((field.comodel_name, condition.field_expr.split(".")[0], path))


def unreadable_field(model, domain):
    """The first ``(model, field)`` on the filter's paths that the current user may not
    read because of the field's groups (what Odoo hides field by field: tokens, keys,
    costs...), or None.

    Filters run as the superuser in the engine: a filter on such a field would let its
    writer learn the field's values from the counts and the walks. No query. The models
    on the path are not checked: a marketer who is not a salesperson builds cart and
    order scenarios, whose filters read orders.
    """
    for path in sorted(domain_paths(domain)):
        current = model
        for name in path:
            field = current._fields.get(name)
            if field is None:  # a date part ('birthdate.month_number') or a property
                break
            if not current._has_field_access(field, "read"):
                return current, field
            if not field.relational:
                break
            current = current.env[field.comodel_name]
    return None
