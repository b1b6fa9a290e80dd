"""19.0.1.1.0: drop the trace indexes that the model no longer declares.

Commit 61339e5 removed ``index=True`` from five columns of ``marketing_scenario_trace``
(each index costs an insert on every state change of a trace, which is never a HOT
update) while the version stayed 19.0.1.0.0. Odoo keeps an index it no longer expects
("Keep unexpected index"), so the databases installed before that commit still pay for
them. Before the models load: if a field declares the index again, Odoo recreates it.
"""

from odoo.tools import SQL

OBSOLETE_INDEXES = (
    "marketing_scenario_trace__participant_id_index",
    "marketing_scenario_trace__step_id_index",
    "marketing_scenario_trace__company_id_index",
    "marketing_scenario_trace__state_index",
    "marketing_scenario_trace__reason_code_index",
)


def migrate(cr, version):
    for name in OBSOLETE_INDEXES:
        cr.execute(SQL("DROP INDEX IF EXISTS %s", SQL.identifier(name)))
