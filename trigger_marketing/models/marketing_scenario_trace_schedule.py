from odoo import api, models, tools
from odoo.tools import SQL

from ..tools import machine_events
from .mail_mail_delivery import DELIVERY_CODE

PROCESSING_CODE = "model._cron_process()"


class MarketingScenarioTrace(models.Model):
    """When the engine runs: the processing cron and its lanes, woken at the exact
    moment the next trace is due."""

    _inherit = "marketing.scenario.trace"

    @api.model
    def _processing_cron_ids(self):
        """The processing cron and its extra lanes (see ``_set_processing_lanes``)."""
        return self._lane_cron_ids(
            "trigger_marketing.ir_cron_scenario_process", self._name, PROCESSING_CODE
        )

    @api.model
    @tools.ormcache("xmlid", "model", "code")
    def _lane_cron_ids(self, xmlid, model, code):
        """The cron ``xmlid`` and its copies (lanes) that run the same ``code``."""
        main_id = self.env["ir.model.data"]._xmlid_to_res_id(xmlid, raise_if_not_found=False)
        if not main_id:
            return ()
        lanes = (
            self.env["ir.cron"]
            .sudo()
            .with_context(active_test=False)
            .search([("model_id.model", "=", model), ("code", "=", code), ("id", "!=", main_id)])
        )
        return (main_id, *lanes.ids)

    @api.model
    def _set_processing_lanes(self, count):
        """Run the processing and the delivery of scenario mails in ``count`` crons each.

        Odoo runs one cron job in one worker at a time; extra crons with the same code
        let several workers (or servers) share the due traces and the queued mails,
        which they claim with ``FOR UPDATE SKIP LOCKED``.
        """
        count = max(1, int(count))
        for xmlid, model, code in (
            ("trigger_marketing.ir_cron_scenario_process", self._name, PROCESSING_CODE),
            ("trigger_marketing.ir_cron_mail_delivery", "mail.mail", DELIVERY_CODE),
        ):
            main = self.env.ref(xmlid).sudo()
            lanes = self.env["ir.cron"].browse(self._lane_cron_ids(xmlid, model, code)[1:])
            lanes = lanes.sudo()
            for index in range(len(lanes) + 2, count + 1):
                name = self.env._("%(cron)s (lane %(index)s)", cron=main.name, index=index)
                main.copy({"name": name, "active": main.active})
            lanes[count - 1 :].unlink()
        self.env["ir.config_parameter"].sudo().set_param(
            "trigger_marketing.processing_lanes", count
        )
        self.env.registry.clear_cache()

    @api.model
    def _wake_cron_at(self, at):
        """Wake the processing cron(s) at ``at``: ``ir.cron._trigger``, lean for the hot path.

        Real-time enrolment calls this inside the user's create or write, so it costs one
        INSERT, and none when this transaction already woke the cron at an earlier or
        equal time: that run schedules the next one itself (``_schedule_next_run``).
        """
        at = max(at, self.env.cr.now())
        self._wake_once(self._processing_cron_ids(), at, "trigger_marketing.woken_at")

    @api.model
    def _wake_once(self, cron_ids, at, key, unless_pending=False):
        """Wake ``cron_ids`` at ``at`` (``_insert_cron_triggers``), once per transaction
        for the earliest moment: nothing when this transaction already woke them (its
        ``postcommit.data[key]``) at an earlier or equal time."""
        woken = self.env.cr.postcommit.data
        if not cron_ids or (woken.get(key) and woken[key] <= at):
            return
        woken[key] = at
        self._insert_cron_triggers(cron_ids, at, unless_pending=unless_pending)

    @api.model
    def _insert_cron_triggers(self, cron_ids, at, unless_pending=False):
        """``ir.cron._trigger(at)`` of ``cron_ids`` in one INSERT (hot paths).

        :param unless_pending: insert nothing for a cron that already has a trigger
            between now (excluded) and ``at``: that run schedules the next one itself
        """
        now = self.env.cr.now()
        pending = SQL()
        if unless_pending:
            pending = SQL(
                """
                WHERE NOT EXISTS (SELECT 1 FROM ir_cron_trigger p
                                   WHERE p.cron_id = c.cron_id
                                     AND p.call_at > %(now)s AND p.call_at <= %(at)s)
                """,
                now=now,
                at=at,
            )
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO ir_cron_trigger (cron_id, call_at, create_uid, create_date,
                                             write_uid, write_date)
                SELECT c.cron_id, %(at)s, %(uid)s, %(now)s, %(uid)s, %(now)s
                  FROM unnest(%(crons)s::int[]) AS c(cron_id)
                %(pending)s
                """,
                crons=list(cron_ids),
                at=at,
                uid=self.env.uid,
                now=now,
                pending=pending,
            )
        )
        if at <= now:
            # as ir.cron._trigger does: tell the cron workers right after the commit
            self.env.cr.postcommit.add(self.env["ir.cron"]._notifydb)

    @api.model
    def _schedule_next_run(self):
        """Wake the processing cron when the next pending trace is due."""
        self.flush_model(["state", "scheduled_at", "scenario_id", "is_test"])
        self.env.cr.execute(
            SQL(
                """
                SELECT min(t.scheduled_at)
                  FROM marketing_scenario_trace t
                  JOIN marketing_scenario s ON s.id = t.scenario_id
                 WHERE t.state IN ('scheduled', 'waiting')
                   AND (t.is_test OR s.state = 'running')
                """
            )
        )
        next_due = self.env.cr.fetchone()[0]
        events_at = self.env["marketing.mail.event"]._next_at(machine_events.BURST_SECONDS)
        if events_at and (not next_due or events_at < next_due):
            next_due = events_at
        if next_due:
            self._wake_cron_at(next_due)
        return next_due

    @api.model
    def _batch_size(self):
        return int(
            self.env["ir.config_parameter"].sudo().get_param("trigger_marketing.batch_size", 500)
        )
