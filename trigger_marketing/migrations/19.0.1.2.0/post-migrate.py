"""19.0.1.2.0: the scenario mails already queued leave through the delivery lane.

Mails queued before this version have no ``trigger_marketing_lane`` flag: they would
stay with Odoo's queue. Flag the outgoing mails of scenario mailings, and wake the lane.
"""

from odoo import SUPERUSER_ID, api, fields
from odoo.tools import SQL


def migrate(cr, version):
    cr.execute(
        SQL(
            """
            UPDATE mail_mail m SET trigger_marketing_lane = TRUE
              FROM mailing_mailing g
             WHERE g.id = m.mailing_id AND g.use_in_trigger_marketing
               AND m.state = 'outgoing'
            """
        )
    )
    if cr.rowcount:
        env = api.Environment(cr, SUPERUSER_ID, {})
        env["mail.mail"]._trigger_marketing_wake_queue(fields.Datetime.now())
