from odoo.tools import SQL
from odoo.tools.sql import column_exists, create_column


def pre_init_hook(env):
    """Create ``sale_order.cart_changed_at`` and fill it in SQL before the ORM sees the field.

    The ORM would otherwise compute the field for every order of the database at install
    (slow on big shops) and stamp every existing cart with the install time, so that they
    would all look abandoned together a few hours later. The last write is the best
    approximation of the last change of an existing cart.
    """
    cr = env.cr
    if column_exists(cr, "sale_order", "cart_changed_at"):
        return
    create_column(cr, "sale_order", "cart_changed_at", "timestamp")
    cr.execute(
        SQL(
            """
            UPDATE sale_order
               SET cart_changed_at = COALESCE(write_date, create_date)
             WHERE website_id IS NOT NULL
            """
        )
    )
