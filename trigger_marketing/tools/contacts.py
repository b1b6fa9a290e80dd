"""The contact (``res.partner``) of a record of any model: the one place that knows how."""

UNKNOWN = object()


def partner_field(model):
    """Name of the field that gives the contact of a record of ``model``: ``"id"`` for
    contacts, the first many2one of ``_mail_get_partner_fields`` otherwise, else None."""
    if model._name == "res.partner":
        return "id"
    getter = getattr(model, "_mail_get_partner_fields", None)
    if getter is None:
        return None
    fnames = [f for f in getter(introspect_fields=True) if model._fields[f].type == "many2one"]
    return fnames[0] if fnames else None


def partner_ids_of(records, fname=UNKNOWN):
    """The contact id of each record, in the order of ``records`` (None when unknown).

    One query at most. :param fname: ``partner_field(records)`` when the caller knows it.
    """
    if fname is UNKNOWN:
        fname = partner_field(records)
    if fname == "id":
        return list(records._ids)
    if not fname:
        return [None] * len(records)
    records.fetch([fname])
    return [rec[fname].id or None for rec in records]
