import copy
import logging
from contextlib import contextmanager
from datetime import timedelta

import psycopg2
from markupsafe import Markup

from odoo import fields, models
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY
from odoo.sql_db import Savepoint

from ..tools.trace_results import failure_message

_logger = logging.getLogger(__name__)

# Errors that are not the scenario's: the request or the cron is retried (concurrency)
# or the worker is dying (memory). They are never isolated.
NOT_ISOLATED = (*PG_CONCURRENCY_EXCEPTIONS_TO_RETRY, MemoryError)
# A scenario that fails this many times within FAILURE_WINDOW is paused.
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(days=1)


class MarketingScenario(models.Model):
    """A scenario never breaks the business operation that feeds it.

    Its reaction to a create, a write, a signup, a cart or a score event runs in a
    savepoint of the user's transaction: if it fails, the user's operation goes on, the
    error is recorded on the scenario (shown on its form), and after ``MAX_FAILURES``
    failures within ``FAILURE_WINDOW`` the scenario is paused with a message in its
    chatter. The savepoint is only paid when a scenario actually reacts.
    """

    _inherit = "marketing.scenario"

    failure_count = fields.Integer(
        string="Recent failures",
        readonly=True,
        copy=False,
        help="Failures of this scenario within a day of each other: at %s, the scenario is "
        "paused." % MAX_FAILURES,
    )
    last_failure = fields.Text(string="Last failure", readonly=True, copy=False)
    last_failure_date = fields.Datetime(string="Last failure on", readonly=True, copy=False)

    def _react(self, work, *args, savepoint=True, **kwargs):
        """Run ``work(*args, **kwargs)`` for this scenario, isolated from the operation
        that called it.

        :param savepoint: False when ``work`` writes nothing before it may fail (filters,
            date arithmetic): a Python error then needs no rollback
        :return: what ``work`` returned, or None when it failed (failure recorded)
        """
        self.ensure_one()
        try:
            if not savepoint:
                return work(*args, **kwargs)
            with self._isolated():
                return work(*args, **kwargs)
        except NOT_ISOLATED:
            raise
        except psycopg2.Error as error:
            if not savepoint:
                raise  # the transaction is aborted: nothing more can be written
            self._record_failure(failure_message(error))
        except Exception as error:  # noqa: BLE001 - recorded on the scenario
            self._record_failure(failure_message(error))
        return None

    @contextmanager
    def _isolated(self):
        """A savepoint that, unlike ``cr.savepoint()``, keeps the caller's pre- and
        post-commit hooks when it rolls back (the user's own tracking messages)."""
        cr = self.env.cr
        self.env.flush_all()
        hooks = [(callbacks, _snapshot(callbacks)) for callbacks in (cr.precommit, cr.postcommit)]
        savepoint = Savepoint(cr)
        try:
            yield
            self.env.flush_all()
        except Exception:
            savepoint.close(rollback=True)
            self.env.transaction.clear()
            for callbacks, snapshot in hooks:
                _restore(callbacks, snapshot)
            raise
        savepoint.close(rollback=False)

    def _record_failure(self, message):
        """Keep the error on the scenario; pause it after repeated failures."""
        self.ensure_one()
        _logger.warning("Scenario %s (%s) failed: %s", self.id, self.name, message)
        scenario = self.sudo()
        now = fields.Datetime.now()
        recent = scenario.last_failure_date and scenario.last_failure_date > now - FAILURE_WINDOW
        count = scenario.failure_count + 1 if recent else 1
        scenario.write({"failure_count": count, "last_failure": message, "last_failure_date": now})
        if count >= MAX_FAILURES and scenario.state == "running":
            scenario.action_pause()
            scenario.message_post(
                body=Markup("<p>%s</p><pre>%s</pre>")
                % (
                    self.env._(
                        "Paused after %(count)s failures within a day. The last one:",
                        count=count,
                    ),
                    message,
                )
            )

    def action_resume(self):
        """Resuming is the marketer's answer to the failures: count them anew."""
        self.filtered(lambda s: s.state == "paused" and s.failure_count).failure_count = 0
        return super().action_resume()


def _snapshot(callbacks):
    return list(callbacks._funcs), {k: copy.copy(v) for k, v in callbacks.data.items()}


def _restore(callbacks, snapshot):
    funcs, data = snapshot
    callbacks._funcs.clear()
    callbacks._funcs.extend(funcs)
    callbacks.data.clear()
    callbacks.data.update(data)
