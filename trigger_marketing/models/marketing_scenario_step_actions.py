from dateutil.relativedelta import relativedelta

from odoo import fields, models

# Actions that change records outside the walk: simulated for test walks.
PARTNER_ACTIONS = ("score", "tag_add", "tag_remove", "list_add", "list_remove")
SIMULATED_IN_TESTS = (*PARTNER_ACTIONS, "activity", "server_action")


class MarketingScenarioStep(models.Model):
    """The actions of the steps, set-based: ``traces`` is a batch of due traces of the
    step. Each ``_execute_<action_type>`` records what happened in the results collector;
    bridges add actions by adding executors."""

    _inherit = "marketing.scenario.step"

    def _execute(self, traces, records_by_trace, results):
        """Run this step's action for ``traces`` and record what happened in ``results``.

        Test walks never change a real record: actions that write outside the walk
        (score, tags, lists, activities, server actions) are simulated for them, and what
        the live run would do is written in the trace's details (see ``_simulate``).
        """
        self.ensure_one()
        if self.action_type in SIMULATED_IN_TESTS:
            tests = traces.filtered("is_test")
            if tests:
                self._simulate(tests, records_by_trace, results)
                traces -= tests
            if not traces:
                return
        getattr(self, f"_execute_{self.action_type}")(traces, records_by_trace, results)

    def _simulate(self, traces, records_by_trace, results):
        """Test walks: record what the action would do, change nothing.

        Simulated rather than applied to a copy of the contact: a copy is a new contact
        (it would enter "record created" scenarios, mailing lists, statistics), and the
        walk's own log says plainly what the live run will do. Conditions later in a
        test walk read the real record, unchanged by the simulated steps.
        """
        if self.action_type in PARTNER_ACTIONS:
            traces = self._with_partner(traces, results)
        for trace in traces:
            results.done(trace, reason=self._simulation_text(trace, records_by_trace[trace]))

    def _simulation_text(self, trace, record):
        _ = self.env._
        names = ", ".join(self.tag_ids.mapped("name"))
        action = self.action_type
        if action == "score":
            text = _("would add %(points)s points", points=self.score_points)
        elif action == "tag_add":
            text = _("would add the tags %(tags)s", tags=names)
        elif action == "tag_remove":
            text = _("would remove the tags %(tags)s", tags=names)
        elif action == "list_add":
            text = _("would subscribe to the list %(list)s", list=self.mailing_list_id.name)
        elif action == "list_remove":
            text = _("would unsubscribe from the list %(list)s", list=self.mailing_list_id.name)
        elif action == "activity":
            user = self._activity_user(record, trace.participant_id.partner_id)
            text = _(
                "would schedule the activity “%(summary)s” for %(user)s",
                summary=self.activity_summary or self.name,
                user=user.name,
            )
        else:
            text = _("would run the server action “%(name)s”", name=self.server_action_id.name)
        return _("Test run: %(what)s (nothing changed).", what=text)

    def _records_of(self, traces, records_by_trace):
        return self.env[self.model_name].browse(records_by_trace[t].id for t in traces)

    def _with_partner(self, traces, results):
        """Traces whose participant has a contact; the others are skipped with the reason."""
        without = traces.filtered(lambda t: not t.participant_id.partner_id)
        results.skip(without, "no_contact")
        return traces - without

    def _execute_wait(self, traces, records_by_trace, results):
        results.done(traces)

    def _execute_exit(self, traces, records_by_trace, results):
        results.done(traces)
        results.end_participants(traces.participant_id, "exited", "exited")

    def _execute_condition(self, traces, records_by_trace, results):
        records = self._records_of(traces, records_by_trace)
        met = records.filtered_domain(self._domain("condition_domain"))
        yes = traces.filtered(lambda t: records_by_trace[t] in met)
        results.done(yes, met=True)
        results.done(traces - yes, met=False)

    def _execute_wait_until(self, traces, records_by_trace, results):
        records = self._records_of(traces, records_by_trace)
        met = records.filtered_domain(self._domain("condition_domain"))
        yes = traces.filtered(lambda t: records_by_trace[t] in met)
        results.done(yes, met=True)
        results.wait(traces - yes, results.now + self._timeout_delta())

    def _execute_score(self, traces, records_by_trace, results):
        traces = self._with_partner(traces, results)
        if not traces:
            return
        self.env["res.partner"]._add_marketing_score(
            [
                {
                    "partner_id": trace.participant_id.partner_id.id,
                    "points": self.score_points,
                    "description": self.name,
                    "scenario_id": self.scenario_id.id,
                    "step_id": self.id,
                    "trace_id": trace.id,
                }
                for trace in traces
            ]
        )
        results.done(traces)

    def _execute_tag_add(self, traces, records_by_trace, results):
        traces = self._with_partner(traces, results)
        traces.participant_id.partner_id.write(
            {"category_id": [fields.Command.link(tag.id) for tag in self.tag_ids]}
        )
        results.done(traces)

    def _execute_tag_remove(self, traces, records_by_trace, results):
        traces = self._with_partner(traces, results)
        traces.participant_id.partner_id.write(
            {"category_id": [fields.Command.unlink(tag.id) for tag in self.tag_ids]}
        )
        results.done(traces)

    def _execute_list_add(self, traces, records_by_trace, results):
        traces = self._with_partner(traces, results)
        partners = traces.participant_id.partner_id
        status = partners._marketing_list_subscribe(self.mailing_list_id)
        for trace in traces:
            code = status[trace.participant_id.partner_id.id]
            if code in ("no_email", "opted_out"):
                # the contact unsubscribed from this list: never subscribe them back
                results.skip(trace, code)
            else:
                results.done(trace)

    def _execute_list_remove(self, traces, records_by_trace, results):
        traces = self._with_partner(traces, results)
        no_email = traces.filtered(lambda t: not t.participant_id.partner_id.email_normalized)
        results.skip(no_email, "no_email")
        traces -= no_email
        emails = list(set(traces.participant_id.partner_id.mapped("email_normalized")))
        self.env["mailing.subscription"].sudo().search(
            [
                ("contact_id.email_normalized", "in", emails),
                ("list_id", "=", self.mailing_list_id.id),
            ]
        ).unlink()
        results.done(traces)

    def _activity_user(self, record, partner):
        if self.activity_user_id:
            return self.activity_user_id
        user_field = record._fields.get("user_id")
        if user_field and user_field.comodel_name == "res.users" and record.user_id:
            return record.user_id
        if partner and partner.user_id:
            return partner.user_id
        return self.scenario_id.user_id or self.env.user

    def _execute_activity(self, traces, records_by_trace, results):
        model_id = self.env["ir.model"]._get_id(self.model_name)
        deadline = fields.Date.context_today(self) + relativedelta(days=self.activity_days)
        vals_list = []
        for trace in traces:
            record = records_by_trace[trace]
            vals_list.append(
                {
                    "res_model_id": model_id,
                    "res_id": record.id,
                    "activity_type_id": self.activity_type_id.id,
                    "summary": self.activity_summary or self.name,
                    "note": self.activity_note,
                    "date_deadline": deadline,
                    "user_id": self._activity_user(record, trace.participant_id.partner_id).id,
                }
            )
        self.env["mail.activity"].sudo().create(vals_list)
        results.done(traces)

    def _execute_server_action(self, traces, records_by_trace, results):
        records = self._records_of(traces, records_by_trace)
        self.server_action_id.with_context(
            active_model=self.model_name, active_ids=records.ids, active_id=records[:1].id
        ).run()
        results.done(traces)
