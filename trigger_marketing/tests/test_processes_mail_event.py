"""A mail event handled while another transaction holds the branch it wakes is not lost.

Slow (``make test-slow``): two real connections on a database of its own. Seen in the
latency bench (``make bench-latency``, two servers, 200 tracking requests a second): a
mail opened and clicked at once, the open handled by one server's cron and the click by
the other's; the click's "clicked" branch was locked by the first transaction, skipped
(``FOR UPDATE SKIP LOCKED``), and the event deleted from the queue: the branch waited
until its time-out although the contact had clicked.
"""

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.tests import BaseCase, tagged

from . import processes as P
from .test_processes import BODY, seed_partners


def queued(dbname):
    return P.run_sql(
        dbname, "SELECT event, scored FROM marketing_mail_event ORDER BY id", fetch=True
    )


def trace_state(dbname, trace_id):
    return P.scalar(dbname, "SELECT state FROM marketing_scenario_trace WHERE id = %s", [trace_id])


@tagged("slow", "-standard", "-at_install", "post_install")
class TestMailEventLock(BaseCase):
    def test_click_while_another_transaction_holds_the_clicked_branch(self):
        dbname = P.copy_db(P.template_db(), "mailevent")
        self.addCleanup(P.drop_db, dbname)
        with P.environment(dbname) as env:
            Step = env["marketing.scenario.step"]
            scenario = env["marketing.scenario"].create(
                {"name": "Click", "model_id": env["ir.model"]._get_id("res.partner")}
            )
            mailing = env["mailing.mailing"].create(
                {
                    "name": "Welcome",
                    "subject": "Welcome",
                    "body_html": BODY,
                    "mailing_model_id": env["ir.model"]._get_id("res.partner"),
                    "use_in_trigger_marketing": True,
                }
            )
            mail = Step.create(
                {
                    "name": "Welcome",
                    "scenario_id": scenario.id,
                    "action_type": "mail",
                    "mailing_id": mailing.id,
                }
            )
            clicked = Step.create(
                {
                    "name": "Clicked: +5",
                    "scenario_id": scenario.id,
                    "parent_id": mail.id,
                    "trigger_type": "mail_click",
                    "delay": 1,
                    "delay_unit": "days",
                    "action_type": "score",
                    "score_points": 5,
                }
            )
            scenario.action_start()
            scenario.enroll(seed_partners(env, 1, "mailevent"))
            Trace = env["marketing.scenario.trace"]
            Trace._claim_due(10)._process()
            branch = Trace.search([("step_id", "=", clicked.id)])
            mailing_trace = env["mailing.trace"].search(
                [("marketing_trace_id.step_id", "=", mail.id)]
            )
            self.assertEqual(branch.state, "waiting")
            self.assertEqual(len(mailing_trace), 1)
            env["marketing.mail.event"]._record([(mailing_trace.id, "click", True, None)])
            ids = (branch.id,)

        registry = Registry(dbname)
        with registry.cursor() as holder_cr, registry.cursor() as engine_cr:
            # another transaction (a batch, the mail's other event) holds the branch
            holder_cr.execute(
                "SELECT id FROM marketing_scenario_trace WHERE id = %s FOR UPDATE", list(ids)
            )
            engine = api.Environment(engine_cr, SUPERUSER_ID, {})
            engine["marketing.scenario.trace"]._read_committed()
            engine["marketing.mail.event"]._process_queue()
            engine_cr.commit()
            self.assertEqual(
                queued(dbname),
                [("click", False)],
                "the click waits in the queue (scored once already: not again)",
            )
            self.assertEqual(trace_state(dbname, ids[0]), "waiting")

            holder_cr.rollback()  # the lock is gone
            engine.invalidate_all()
            engine["marketing.scenario.trace"]._read_committed()
            engine["marketing.mail.event"]._process_queue()
            engine_cr.commit()
        self.assertEqual(queued(dbname), [], "handled once the branch is free")
        self.assertEqual(trace_state(dbname, ids[0]), "scheduled", "the click woke the branch")
