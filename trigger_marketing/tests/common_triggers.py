from odoo.fields import Domain

from .common import TriggerMarketingCase


class TriggerEntryCase(TriggerMarketingCase):
    """Helpers for the entry triggers: the time-based intake cron, participants."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.entry_cron = cls.env.ref("trigger_marketing.ir_cron_scenario_entry")
        # the company's time zone is the fallback of contacts without one
        cls.env.company.partner_id.tz = "UTC"

    def run_entry_cron(self):
        """Run the intake cron as the scheduler would (its own cursor, commits)."""
        with self.enter_registry_test_mode():
            self.entry_cron.method_direct_trigger()
        self.env.invalidate_all()

    def participants(self, scenario, records=None):
        domain = Domain("scenario_id", "in", scenario.ids)
        if records is not None:
            domain &= Domain("res_id", "in", records.ids)
        return self.env["marketing.scenario.participant"].search(domain)

    def entered(self, scenario):
        """The records that entered ``scenario``."""
        participants = self.participants(scenario)
        return self.env[scenario.model_name].browse(participants.mapped("res_id"))

    def field(self, model, name):
        return self.env["ir.model.fields"]._get(model, name)

    def make_welcome(self, **vals):
        """A scenario whose first step sends the mail "Welcome" on entry."""
        scenario = self.make_scenario(**vals)
        mail = self.make_step(scenario, "mail", name="Welcome")
        return scenario, mail

    def entry_wakeups(self, captured):
        """Moments the intake cron was asked to wake up at."""
        return sorted(t.call_at for t in captured.records)
