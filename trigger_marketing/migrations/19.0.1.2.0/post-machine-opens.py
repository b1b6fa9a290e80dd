"""19.0.1.2.0: opens and clicks are told human or machine since this version.

Those of scenario mails recorded before could not be told apart: they stay people's (as
the statistics counted them), so that a later change of such a mail (a reply, a bounce)
does not take its open or click away from the step's figures.
"""

from odoo.tools import SQL


def migrate(cr, version):
    cr.execute(
        SQL(
            """
            UPDATE mailing_trace
               SET marketing_opened_at = COALESCE(open_datetime, links_click_datetime,
                                                  reply_datetime),
                   marketing_clicked_at = links_click_datetime
             WHERE marketing_trace_id IS NOT NULL AND marketing_opened_at IS NULL
               AND (open_datetime IS NOT NULL OR links_click_datetime IS NOT NULL
                    OR reply_datetime IS NOT NULL)
            """
        )
    )
