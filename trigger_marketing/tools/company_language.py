"""The language of the texts that a cron writes."""


def in_company_language(records):
    """``records`` in the language of their context, else in the company's.

    Odoo runs a cron without a language, so the texts it writes for the marketer (the
    reason of a trace, a line of score history) would stay in English whatever the
    database speaks. The company's contact has the language the database was created
    in (``res.lang.install_lang``), or the one an administrator chose for it.
    """
    if records.env.context.get("lang"):
        return records
    return records.with_context(lang=records.env.company.partner_id.lang or "en_US")
