"""A filter in words, as Odoo's domain editor shows it: "Country is United States and
E-mail contains “vip”".

The filter's *text* is read (``ast``), not its evaluated value, so that a relative date
stays relative ("Last engagement is before 30 days ago") and nothing is evaluated.
Field and selection labels come from the model, in the user's language; related records
are named by their display name (one read per related model).
"""

import ast

# a date part in a path: ('birthdate.month_number', '=', 3)
DATE_PARTS = (
    "year_number",
    "quarter_number",
    "month_number",
    "iso_week_number",
    "day_of_year",
    "day_of_month",
    "day_of_week",
    "hour_number",
    "minute_number",
    "second_number",
)
UNITS = ("years", "months", "weeks", "days", "hours", "minutes")


def domain_in_words(model, domain_text):
    """``domain_text`` on ``model`` in words; ``None`` when it says nothing (empty), and
    the text itself when it is not a plain list of conditions."""
    if not domain_text or not domain_text.strip():
        return None
    try:
        node = ast.parse(domain_text.strip(), mode="eval").body
    except SyntaxError:
        return domain_text
    if not isinstance(node, (ast.List, ast.Tuple)):
        return domain_text
    if not node.elts:
        return None
    try:
        tree = _to_tree(list(node.elts))
        return _Words(model).say(tree, top=True)
    except (ValueError, KeyError, IndexError):
        return domain_text


def _to_tree(items):
    """Prefix notation (``'|', A, B``) to ``("and"|"or", [children])``, ``("not", child)``
    and ``("cond", path, operator, value node)``."""
    nodes = []
    position = 0
    while position < len(items):
        node, position = _parse(items, position)
        nodes.append(node)
    return nodes[0] if len(nodes) == 1 else ("and", nodes)


def _parse(items, position):
    item = items[position]
    if isinstance(item, ast.Constant) and item.value in ("&", "|"):
        left, position = _parse(items, position + 1)
        right, position = _parse(items, position)
        kind = "and" if item.value == "&" else "or"
        children = []
        for child in (left, right):
            children += child[1] if child[0] == kind else [child]
        return (kind, children), position
    if isinstance(item, ast.Constant) and item.value == "!":
        child, position = _parse(items, position + 1)
        return ("not", child), position
    if isinstance(item, (ast.Tuple, ast.List)) and len(item.elts) == 3:
        path, operator = (ast.literal_eval(elt) for elt in item.elts[:2])
        if path in (0, 1):  # (1, '=', 1): true leaf
            return ("true",), position + 1
        return ("cond", str(path), str(operator), item.elts[2]), position + 1
    raise ValueError("not a condition")


class _Words:
    def __init__(self, model):
        self.model = model
        self.env = model.env
        self._ = model.env._

    def say(self, tree, top=False):
        _ = self._
        kind = tree[0]
        if kind == "true":
            return _("all records")
        if kind == "cond":
            return self.condition(self.model, tree[1], tree[2], tree[3])
        if kind == "not":
            return _("not (%(rule)s)", rule=self.say(tree[1]))
        parts = [self.say(child) for child in tree[1]]
        joiner = _(" and ") if kind == "and" else _(" or ")
        text = joiner.join(parts)
        return text if top else f"({text})"

    # ------------------------------------------------------------
    # One condition
    # ------------------------------------------------------------

    def condition(self, model, path, operator, value_node):
        _ = self._
        label, field, comodel = self.path_label(model, path)
        if operator in ("any", "not any"):
            sub = None
            if isinstance(value_node, (ast.List, ast.Tuple)) and comodel is not None:
                sub = _Words(comodel).say(_to_tree(list(value_node.elts)), top=True)
            if operator == "any":
                return _("%(field)s: %(rule)s", field=label, rule=sub) if sub else label
            return _("no %(field)s: %(rule)s", field=label, rule=sub) if sub else label
        try:
            value = ast.literal_eval(value_node)
            literal = True
        except ValueError:
            value, literal = self.expression(value_node), False
        if literal and value is False and operator in ("=", "!="):
            if field is not None and field.type == "boolean":
                return _("%(field)s is not set", field=label) if operator == "=" else label
            if operator == "=":
                return _("%(field)s is not set", field=label)
            return _("%(field)s is set", field=label)
        if literal and value is True and field is not None and field.type == "boolean":
            return label if operator == "=" else _("%(field)s is not set", field=label)
        shown = self.value(field, value) if literal else value
        is_date = field is not None and field.type in ("date", "datetime")
        template = {
            "=": _("%(field)s is %(value)s"),
            "!=": _("%(field)s is not %(value)s"),
            "in": _("%(field)s is %(value)s"),
            "not in": _("%(field)s is not %(value)s"),
            "ilike": _("%(field)s contains %(value)s"),
            "not ilike": _("%(field)s does not contain %(value)s"),
            "like": _("%(field)s contains %(value)s"),
            "not like": _("%(field)s does not contain %(value)s"),
            "=ilike": _("%(field)s is like %(value)s"),
            "=like": _("%(field)s is like %(value)s"),
            ">": _("%(field)s is after %(value)s") if is_date else _("%(field)s > %(value)s"),
            "<": _("%(field)s is before %(value)s") if is_date else _("%(field)s < %(value)s"),
            ">=": _("%(field)s is on or after %(value)s")
            if is_date
            else _("%(field)s ≥ %(value)s"),
            "<=": _("%(field)s is on or before %(value)s")
            if is_date
            else _("%(field)s ≤ %(value)s"),
            "child_of": _("%(field)s is in %(value)s or below"),
            "parent_of": _("%(field)s is %(value)s or above"),
        }.get(operator)
        if template is None:
            return f"{label} {operator} {shown}"
        return template % {"field": label, "value": shown}

    def path_label(self, model, path):
        """ "Country > Name", the last field and, for a relational one, its model."""
        labels = []
        field = None
        current = model
        for name in path.split("."):
            if current is None:
                labels.append(self.date_part(name))
                continue
            field = current._fields.get(name)
            if field is None:
                labels.append(self.date_part(name))
                current = None
                continue
            labels.append(field._description_string(self.env))
            current = self.env[field.comodel_name] if field.relational else None
        if path.split(".")[-1] in DATE_PARTS:
            field = None  # a number, not a date
        return " > ".join(labels), field, current

    # ------------------------------------------------------------
    # Values
    # ------------------------------------------------------------

    def value(self, field, value):
        _ = self._
        values = list(value) if isinstance(value, (list, tuple, set)) else [value]
        if field is not None and field.type == "selection":
            labels = dict(field._description_selection(self.env))
            words = [labels.get(v, str(v)) for v in values]
        elif field is not None and field.relational and all(isinstance(v, int) for v in values):
            names = dict(
                self.env[field.comodel_name]
                .with_context(active_test=False)
                .browse(values)
                .exists()
                .mapped(lambda r: (r.id, r.display_name))
            )
            words = [names.get(v, _("deleted record #%(id)s", id=v)) for v in values]
        elif field is not None and field.type in ("char", "text", "html"):
            words = [f"“{v}”" for v in values]
        else:
            words = ["“”" if v == "" else str(v) for v in values]
        if not words:
            return _("nothing")
        return words[0] if len(words) == 1 else _(" or ").join(words)

    def expression(self, node):
        """A relative date in words ("30 days ago", "in 2 weeks", "today"), else the
        expression as written."""
        words = self.relative_date(node)
        return words if words is not None else ast.unparse(node)

    def relative_date(self, node):
        _ = self._
        # unwrap .strftime(...), datetime.combine(x, time), .to_utc()
        while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in ("strftime", "to_utc", "date"):
                node = node.func.value
            elif node.func.attr == "combine" and node.args:
                node = node.args[0]
            else:
                break
        if _is_today(node):
            return _("today")
        if isinstance(node, ast.BinOp) and _is_today(node.left):
            delta = _relativedelta(node.right)
            if delta is None:
                return None
            number, unit = delta
            if isinstance(node.op, ast.Sub):
                return _("%(number)s %(unit)s ago", number=number, unit=self.unit(unit, number))
            if isinstance(node.op, ast.Add):
                return _("in %(number)s %(unit)s", number=number, unit=self.unit(unit, number))
        return None

    def unit(self, unit, number):
        _ = self._
        if number == 1:
            return {
                "years": _("year"),
                "months": _("month"),
                "weeks": _("week"),
                "days": _("day"),
                "hours": _("hour"),
                "minutes": _("minute"),
            }[unit]
        return {
            "years": _("years"),
            "months": _("months"),
            "weeks": _("weeks"),
            "days": _("days"),
            "hours": _("hours"),
            "minutes": _("minutes"),
        }[unit]

    def date_part(self, name):
        _ = self._
        return {
            "year_number": _("year"),
            "quarter_number": _("quarter"),
            "month_number": _("month"),
            "iso_week_number": _("week"),
            "day_of_year": _("day of the year"),
            "day_of_month": _("day of the month"),
            "day_of_week": _("day of the week"),
            "hour_number": _("hour"),
            "minute_number": _("minute"),
            "second_number": _("second"),
        }.get(name, name)


def _is_today(node):
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "context_today"
    ) or (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("today", "now")
    )


def _relativedelta(node):
    """``relativedelta(days=30)`` or ``datetime.timedelta(days=30)``: (30, "days")."""
    if not (isinstance(node, ast.Call) and len(node.keywords) == 1 and not node.args):
        return None
    keyword = node.keywords[0]
    if keyword.arg not in UNITS or not isinstance(keyword.value, ast.Constant):
        return None
    return keyword.value.value, keyword.arg
