import logging
from collections import defaultdict

from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.tools import SQL

from .marketing_score_band_action import BANDS
from .marketing_score_rule import CAP_DELTAS

_logger = logging.getLogger(__name__)

# Fields moved by _add_marketing_score in SQL: scenarios whose audience, goal or
# wait-until reads them are told as if the ORM had written them.
SCORE_FIELDS = ("marketing_score", "marketing_score_band", "marketing_last_engagement")

DEFAULT_WARM = 20
DEFAULT_HOT = 50
DECAY_PERIODS = {
    "week": relativedelta(weeks=1),
    "month": relativedelta(months=1),
    "quarter": relativedelta(months=3),
    "year": relativedelta(years=1),
}


class ResPartner(models.Model):
    _inherit = "res.partner"

    marketing_score = fields.Integer(
        string="Score",
        readonly=True,
        index=True,
        copy=False,
        help="Lead score: the sum of the points of the score history.",
    )
    marketing_score_band = fields.Selection(
        BANDS,
        string="Score band",
        compute="_compute_marketing_score_band",
        store=True,
        readonly=True,
        index=True,
        copy=False,
        help="Cold, warm or hot, from the score and the thresholds set in the settings.",
    )
    marketing_last_engagement = fields.Datetime(
        string="Last engagement",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="Last time the contact did something a score rule rewards (opened, clicked, "
        "ordered...), even when the rule's cap gave no more points.",
    )
    marketing_score_history_ids = fields.One2many(
        "marketing.score.history", "partner_id", string="Score history"
    )
    birthdate = fields.Date(
        string="Birth date",
        help="Used by anniversary scenarios (a birthday mail at the contact's local time).",
    )
    marketing_participant_ids = fields.One2many(
        "marketing.scenario.participant", "partner_id", string="Scenarios"
    )

    # ------------------------------------------------------------
    # Bands
    # ------------------------------------------------------------

    @api.model
    def _marketing_score_thresholds(self):
        """(warm, hot): the lowest score of each band (settings; cached by the ICP)."""
        ICP = self.env["ir.config_parameter"].sudo()
        try:
            warm = int(ICP.get_param("trigger_marketing.score_warm", DEFAULT_WARM))
            hot = int(ICP.get_param("trigger_marketing.score_hot", DEFAULT_HOT))
        except ValueError:
            warm, hot = DEFAULT_WARM, DEFAULT_HOT
        return warm, hot

    @api.model
    def _marketing_band_of(self, score, thresholds=None):
        warm, hot = thresholds or self._marketing_score_thresholds()
        score = score or 0
        return "hot" if score >= hot else "warm" if score >= warm else "cold"

    @api.depends("marketing_score")
    def _compute_marketing_score_band(self):
        thresholds = self._marketing_score_thresholds()
        for partner in self:
            partner.marketing_score_band = self._marketing_band_of(
                partner.marketing_score, thresholds
            )

    def _band_sql(self, score_sql, thresholds):
        warm, hot = thresholds
        return SQL(
            "CASE WHEN %(score)s >= %(hot)s THEN 'hot' WHEN %(score)s >= %(warm)s THEN 'warm' "
            "ELSE 'cold' END",
            score=score_sql,
            hot=hot,
            warm=warm,
        )

    @api.model
    def _marketing_recompute_bands(self):
        """After the thresholds changed: re-band every contact in one query. No band
        action runs: nobody *did* anything."""
        self.flush_model(["marketing_score", "marketing_score_band"])
        band = self._band_sql(
            SQL("COALESCE(marketing_score, 0)"), self._marketing_score_thresholds()
        )
        self.env.cr.execute(
            SQL(
                "UPDATE res_partner SET marketing_score_band = %s "
                "WHERE marketing_score_band IS DISTINCT FROM %s",
                band,
                band,
            )
        )
        self.invalidate_model(["marketing_score_band"])

    # ------------------------------------------------------------
    # Score events (the public entry point of scoring)
    # ------------------------------------------------------------

    @api.model
    def _marketing_score_event(
        self, event, partners, source=None, scenario=None, event_name=None, description=None
    ):
        """Apply the score rules of ``event`` to ``partners``: the one call for everything
        that happens to a contact (bridges, controllers, other modules).

        :param str event: a value of ``marketing.score.rule.event`` (``cart_abandoned``,
            ``signup``, ``event``...)
        :param partners: ``res.partner`` recordset; one event per element (a partner may
            appear twice, e.g. ``partners.browse([o.partner_id.id for o in orders])``)
        :param source: the record that caused the event (an order, a cart, a mailing...),
            written on the history line; either one record for all partners, or a
            recordset of the same length as ``partners`` (element by element)
        :param scenario: the ``marketing.scenario`` the event comes from, if any (rules
            restricted to scenarios count only these); one record or aligned like source
        :param str event_name: for ``event='event'``: the name of the named event
        :param str description: detail appended to the rule's name on the history line
        :return: {partner_id: (old_score, new_score)} of the contacts whose score moved

        Cheap when no active rule counts ``event``: no query at all. Otherwise a constant
        number of queries whatever the number of partners. Runs as superuser: it may be
        called from public requests (website, tracking).
        """
        if not partners or not self.env["marketing.score.rule"]._has_rules([event]):
            return {}
        sources = _aligned(source, len(partners), "source")
        scenarios = _aligned(scenario, len(partners), "scenario")
        events = []
        for partner, src, scen in zip(partners, sources, scenarios, strict=True):
            company = None
            if src is not None and "company_id" in src._fields:
                company = src.company_id.id or None
            if company is None and scen is not None:
                company = scen.company_id.id or None
            events.append(
                {
                    "partner_id": partner.id,
                    "event": event,
                    "event_name": event_name,
                    "description": description,
                    "scenario_id": scen.id if scen is not None else None,
                    "res_model": src._name if src is not None else None,
                    "res_id": src.id if src is not None else None,
                    "company_id": company,
                }
            )
        return self._marketing_score_apply(events)

    @api.model
    def _marketing_score_records(self, event, records, source=None, scenario=None, **kwargs):
        """Score ``event`` for the contacts of ``records`` (any model): contacts
        themselves, the contact of a record (its partner field), or the contact with the
        record's e-mail (mailing contacts). Records without a contact score nothing. The
        records are the sources of the lines unless ``source`` is given.

        :return: {partner_id: (old_score, new_score)}
        """
        if not records or not self.env["marketing.score.rule"]._has_rules([event]):
            return {}
        pairs = [(rec, pid) for rec, pid in self._marketing_partner_ids_of(records) if pid]
        if not pairs:
            return {}
        if source is None and records._name != "res.partner":
            source = records.browse([rec.id for rec, _pid in pairs])
        return self._marketing_score_event(
            event,
            self.browse([pid for _rec, pid in pairs]),
            source=source,
            scenario=scenario,
            **kwargs,
        )

    @api.model
    def _marketing_partner_ids_of(self, records):
        """[(record, partner id or None)] for ``records`` of any model (one query)."""
        if records._name == "res.partner":
            return [(rec, rec.id) for rec in records]
        model = records
        fnames = [
            fname
            for fname in (
                model._mail_get_partner_fields(introspect_fields=True)
                if hasattr(model, "_mail_get_partner_fields")
                else []
            )
            if model._fields[fname].type == "many2one"
        ]
        if fnames:
            records.fetch([fnames[0]])
            return [(rec, rec[fnames[0]].id or None) for rec in records]
        if "email_normalized" in model._fields:
            records.fetch(["email_normalized"])
            by_email = self._marketing_partner_by_email(records.mapped("email_normalized"))
            return [(rec, by_email.get(rec.email_normalized)) for rec in records]
        return [(rec, None) for rec in records]

    @api.model
    def _marketing_score_apply(self, events):
        """Apply the score rules to a batch of events, set-based.

        :param events: list of dicts with ``partner_id``, ``event`` and optionally
            ``event_name``, ``scenario_id``, ``step_id``, ``trace_id`` (scenario trace),
            ``res_model``/``res_id`` (source), ``company_id`` (default: the current
            company), ``description``
        :return: {partner_id: (old_score, new_score)}

        Every matching rule gives its points (a rule restricted to a scenario adds to the
        general one). Caps are sliding windows (the last day/week/month/year before the
        event), checked in one query for the whole batch; a capped event writes no line.
        """
        rules_by_event = self.env["marketing.score.rule"]._rules_by_event()
        events = [e for e in events if e.get("partner_id") and e["event"] in rules_by_event]
        if not events:
            return {}
        default_company = self.env.company.id
        matched = []
        for event in events:
            company = event.get("company_id") or default_company
            for rule in rules_by_event[event["event"]]:
                if rule.event_name and rule.event_name != (event.get("event_name") or "").strip():
                    continue
                if rule.company_id and rule.company_id != company:
                    continue
                if rule.scenario_ids and event.get("scenario_id") not in rule.scenario_ids:
                    continue
                matched.append((event, rule))
        if not matched:
            return {}
        now = fields.Datetime.now()
        used = self._marketing_score_used(
            {rule for _event, rule in matched if rule.cap_points},
            {event["partner_id"] for event, _rule in matched},
            now,
        )
        entries = []
        engaged = set()
        for event, rule in matched:
            points = rule.points
            if points > 0:
                engaged.add(event["partner_id"])
            if rule.cap_points:
                key = (event["partner_id"], rule.id)
                room = rule.cap_points - used.get(key, 0)
                if room <= 0:
                    continue
                points = min(abs(points), room) * (1 if points > 0 else -1)
                used[key] = used.get(key, 0) + abs(points)
            description = rule.name
            if event.get("description"):
                description = f"{description}: {event['description']}"
            entries.append(
                {
                    "partner_id": event["partner_id"],
                    "points": points,
                    "date": now,
                    "description": description,
                    "event": rule.event,
                    "event_name": event.get("event_name"),
                    "rule_id": rule.id,
                    "scenario_id": event.get("scenario_id"),
                    "step_id": event.get("step_id"),
                    "trace_id": event.get("trace_id"),
                    "res_model": event.get("res_model"),
                    "res_id": event.get("res_id"),
                }
            )
        return self._add_marketing_score(entries, engaged_partner_ids=engaged)

    @api.model
    def _marketing_score_used(self, rules, partner_ids, now):
        """Points (absolute) already given by each capped rule to each partner within the
        rule's window: {(partner_id, rule_id): points}. One query."""
        if not rules:
            return {}
        rules = list(rules)
        self.env["marketing.score.history"].flush_model(["partner_id", "rule_id", "date", "points"])
        self.env.cr.execute(
            SQL(
                """
                SELECT h.partner_id, h.rule_id, SUM(ABS(h.points))
                  FROM marketing_score_history h
                  JOIN unnest(%s::int[], %s::timestamp[]) AS r(id, since)
                    ON r.id = h.rule_id AND h.date > r.since
                 WHERE h.partner_id = ANY(%s)
              GROUP BY h.partner_id, h.rule_id
                """,
                [rule.id for rule in rules],
                [now - CAP_DELTAS[rule.cap_period] for rule in rules],
                list(partner_ids),
            )
        )
        return {(pid, rid): points for pid, rid, points in self.env.cr.fetchall()}

    @api.model
    def _marketing_partner_by_email(self, emails):
        """{normalized e-mail: partner id} for events known by their address only (list
        mailings, unsubscribes): the oldest active contact with the address. One query."""
        emails = [email for email in emails if email]
        if not emails:
            return {}
        self.flush_model(["email_normalized", "active"])
        self.env.cr.execute(
            SQL(
                """
                SELECT DISTINCT ON (email_normalized) email_normalized, id
                  FROM res_partner
                 WHERE email_normalized = ANY(%s) AND active
              ORDER BY email_normalized, id
                """,
                emails,
            )
        )
        return dict(self.env.cr.fetchall())

    @api.model
    def _marketing_score_unsubscribe(self, emails, source):
        """Score an unsubscribe (list opt-out or blacklisting) of these addresses.

        When it comes from the unsubscribe page of a mailing, the mailing is the source
        and its scenario the event's scenario (context key set by the controller)."""
        if not self.env["marketing.score.rule"]._has_rules(["unsubscribe"]):
            return {}
        scenario_id = None
        mailing_id = self.env.context.get("trigger_marketing_mailing_id")
        if mailing_id:
            mailing = self.env["mailing.mailing"].sudo().browse(mailing_id).exists()
            if mailing:
                source = mailing
                scenario_id = mailing.marketing_step_ids[:1].scenario_id.id or None
        partner_by_email = self._marketing_partner_by_email(set(emails))
        return self.sudo()._marketing_score_apply(
            [
                {
                    "partner_id": partner_id,
                    "event": "unsubscribe",
                    "scenario_id": scenario_id,
                    "res_model": source._name if source else None,
                    "res_id": source.id if source else None,
                }
                for partner_id in partner_by_email.values()
            ]
        )

    # ------------------------------------------------------------
    # The one path that moves scores
    # ------------------------------------------------------------

    @api.model
    def _add_marketing_score(self, entries, engaged_partner_ids=()):
        """Add score points, set-based: ``entries`` is a list of ``marketing.score.history``
        values (``partner_id``, ``points``, and why). Writes the history lines, moves the
        stored totals and bands in one UPDATE, then reacts to what changed: band actions,
        scenarios entered on a score threshold, scenarios watching the score.

        :param engaged_partner_ids: contacts whose last engagement date becomes now (they
            did something a rule rewards, even if its cap gave no points)
        :return: {partner_id: (old_score, new_score)}
        """
        entries = [e for e in entries if e.get("points")]
        engaged = set(engaged_partner_ids or ())
        if not entries and not engaged:
            return {}
        now = fields.Datetime.now()
        for entry in entries:
            entry.setdefault("date", now)
            entry.setdefault("event", "step" if entry.get("step_id") else "manual")
        if entries:
            self.env["marketing.score.history"].sudo()._insert_lines(entries)
        deltas = dict.fromkeys(engaged, 0)
        for entry in entries:
            deltas[entry["partner_id"]] = deltas.get(entry["partner_id"], 0) + entry["points"]
        partners = self.sudo().browse(deltas)
        Scenario = self.env["marketing.scenario"].sudo()
        enabled = not self.env.context.get("trigger_marketing_skip")
        watched = Scenario._watched_by_write("res.partner", SCORE_FIELDS) if enabled else []
        not_matching_before = Scenario._records_not_matching(partners, watched)
        thresholds = self._marketing_score_thresholds()
        self.flush_model(SCORE_FIELDS)
        new_score = SQL("COALESCE(p.marketing_score, 0) + d.points")
        self.env.cr.execute(
            SQL(
                """
                UPDATE res_partner p
                   SET marketing_score = %(new_score)s,
                       marketing_score_band = %(band)s,
                       marketing_last_engagement = CASE WHEN d.engaged THEN %(now)s
                                                   ELSE p.marketing_last_engagement END
                  FROM unnest(%(ids)s::int[], %(points)s::int[], %(engaged)s::bool[])
                       AS d(id, points, engaged)
                 WHERE p.id = d.id
             RETURNING p.id, p.marketing_score - d.points, p.marketing_score, d.points <> 0
                """,
                new_score=new_score,
                band=self._band_sql(new_score, thresholds),
                now=now,
                ids=list(deltas),
                points=list(deltas.values()),
                engaged=[pid in engaged for pid in deltas],
            )
        )
        scored = {entry["partner_id"] for entry in entries}
        changes = {
            pid: (old, new)
            for pid, old, new, moved in self.env.cr.fetchall()
            if moved or pid in scored
        }
        partners.invalidate_recordset([*SCORE_FIELDS, "marketing_score_history_ids"])
        if enabled:
            self._on_marketing_score_changed(changes, thresholds)
            if watched:
                Scenario._on_records_written(partners, watched, not_matching_before)
        return changes

    def get_marketing_timeline(self, limit=30):
        """The scenarios this contact walked and the steps of each walk, newest walk first,
        steps in date order: the data of the contact's marketing timeline.

        A constant number of queries whatever the number of walks and steps.
        """
        self.ensure_one()
        Participant = self.env["marketing.scenario.participant"]
        Trace = self.env["marketing.scenario.trace"]
        participants = Participant.search_fetch(
            [("partner_id", "=", self.id)],
            ["scenario_id", "state", "is_test", "date_start", "date_end", "end_reason_code"],
            limit=limit,
        )
        if not participants:
            return []
        participants.scenario_id.fetch(["name"])
        traces = Trace.search_fetch(
            [("participant_id", "in", participants.ids)],
            [
                "participant_id",
                "step_id",
                "state",
                "scheduled_at",
                "done_at",
                "reason_code",
                "reason",
                "outcome",
                "mail_status",
                "mail_opened_at",
                "mail_clicked_at",
                "mail_replied_at",
                "mail_bounced",
            ],
            order="id",
        )
        traces.step_id.with_context(active_test=False).fetch(["name", "action_type"])

        def labels(model, fname):
            return dict(model._fields[fname]._description_selection(self.env))

        participant_states = labels(Participant, "state")
        trace_states = labels(Trace, "state")
        reasons = labels(Trace, "reason_code")
        actions = labels(self.env["marketing.scenario.step"], "action_type")
        mail_states = labels(Trace, "mail_status")
        steps_by_participant = defaultdict(list)
        for trace in traces:
            date = trace.done_at or trace.scheduled_at
            steps_by_participant[trace.participant_id.id].append(
                {
                    "id": trace.id,
                    "name": trace.step_id.name,
                    "action_type": trace.step_id.action_type,
                    "action_label": actions.get(trace.step_id.action_type),
                    "state": trace.state,
                    "state_label": trace_states.get(trace.state),
                    "pending": trace.state in ("scheduled", "waiting"),
                    "date": fields.Datetime.to_string(date),
                    "reason": reasons.get(trace.reason_code) or trace.reason or "",
                    "outcome": trace.outcome,
                    "mail_status": mail_states.get(trace.mail_status) or "",
                    "opened": bool(trace.mail_opened_at),
                    "clicked": bool(trace.mail_clicked_at),
                    "replied": bool(trace.mail_replied_at),
                    "bounced": trace.mail_bounced,
                }
            )
        result = []
        for participant in participants:
            steps = sorted(
                steps_by_participant[participant.id], key=lambda s: (s["pending"], s["date"])
            )
            result.append(
                {
                    "id": participant.id,
                    "scenario_id": participant.scenario_id.id,
                    "scenario_name": participant.scenario_id.name,
                    "state": participant.state,
                    "state_label": participant_states.get(participant.state),
                    "is_test": participant.is_test,
                    "date_start": fields.Datetime.to_string(participant.date_start),
                    "date_end": fields.Datetime.to_string(participant.date_end),
                    "end_reason": reasons.get(participant.end_reason_code) or "",
                    "steps": steps,
                }
            )
        return result

    @api.model
    def _on_marketing_score_changed(self, changes, thresholds):
        """Band actions and score-threshold scenarios for the scores that moved."""
        crossings = {}
        for pid, (old, new) in changes.items():
            old_band = self._marketing_band_of(old, thresholds)
            new_band = self._marketing_band_of(new, thresholds)
            if old_band != new_band:
                crossings[pid] = (old_band, new_band)
        if crossings:
            self.env["marketing.score.band.action"]._run_crossings(crossings)
        Scenario = self.env["marketing.scenario"].sudo()
        for entry in Scenario._scenario_cache("res.partner")["running"]:
            threshold = entry.get("score_threshold")
            if entry["trigger"] != "score" or not threshold:
                continue
            crossed = [pid for pid, (old, new) in changes.items() if old < threshold <= new]
            if crossed:
                Scenario.browse(entry["id"]).enroll(self.sudo().browse(crossed))

    # ------------------------------------------------------------
    # Decay
    # ------------------------------------------------------------

    @api.model
    def _marketing_decay_settings(self):
        """(percent, period delta) of the score decay, or None when it is off."""
        ICP = self.env["ir.config_parameter"].sudo()
        if not ICP.get_param("trigger_marketing.score_decay"):
            return None
        try:
            percent = int(ICP.get_param("trigger_marketing.score_decay_percent", 10))
        except ValueError:
            return None
        period = DECAY_PERIODS.get(ICP.get_param("trigger_marketing.score_decay_period", "month"))
        if not (0 < percent <= 100) or not period:
            return None
        return percent, period

    @api.model
    def _cron_marketing_score_decay(self):
        """Lower every positive score by the decay percentage, once per period.

        Positive scores only, never below 0: negative points (bounces, unsubscribes) are
        facts that do not fade. The decrease is rounded up (``ceil(score * percent)``),
        so small scores also decay and reach 0; it writes one history line per contact.

        The run goes by batches of contacts in id order, each committed with its
        progress and a cursor; a run interrupted by a time-out resumes where it stopped
        and never decays a contact twice in one period.
        """
        settings = self._marketing_decay_settings()
        if not settings:
            return
        percent, period = settings
        ICP = self.env["ir.config_parameter"].sudo()
        now = fields.Datetime.now()
        cursor = int(ICP.get_param("trigger_marketing.score_decay_cursor", 0) or 0)
        if not cursor:
            last = ICP.get_param("trigger_marketing.score_decay_last_run")
            if last and now < fields.Datetime.to_datetime(last) + period:
                return  # already decayed in this period
            ICP.set_param("trigger_marketing.score_decay_run", fields.Datetime.to_string(now))
        run = ICP.get_param("trigger_marketing.score_decay_run") or fields.Datetime.to_string(now)
        batch_size = int(ICP.get_param("trigger_marketing.score_decay_batch_size", 1000))
        self.flush_model(["marketing_score"])
        self.env.cr.execute(
            SQL("SELECT count(*) FROM res_partner WHERE marketing_score > 0 AND id > %s", cursor)
        )
        Cron = self.env["ir.cron"]
        Cron._commit_progress(remaining=self.env.cr.fetchone()[0])
        description = self.env._("Decay (-%(percent)s %%)", percent=percent)
        while True:
            self.env.cr.execute(
                SQL(
                    """
                    SELECT id, marketing_score FROM res_partner
                     WHERE marketing_score > 0 AND id > %s
                  ORDER BY id LIMIT %s
                       FOR UPDATE
                    """,
                    cursor,
                    batch_size,
                )
            )
            rows = self.env.cr.fetchall()
            if not rows:
                break
            self._add_marketing_score(
                [
                    {
                        "partner_id": pid,
                        "points": -((score * percent + 99) // 100),
                        "description": description,
                        "event": "decay",
                        "date": now,
                    }
                    for pid, score in rows
                ]
            )
            cursor = rows[-1][0]
            ICP.set_param("trigger_marketing.score_decay_cursor", cursor)
            if not Cron._commit_progress(len(rows)):
                return  # time is up: the next run resumes after the cursor
        ICP.set_param("trigger_marketing.score_decay_last_run", run)
        ICP.set_param("trigger_marketing.score_decay_cursor", 0)

    # ------------------------------------------------------------
    # Mailing lists
    # ------------------------------------------------------------

    def _marketing_list_subscribe(self, mailing_list):
        """Subscribe these contacts to ``mailing_list`` (matched on e-mail), creating the
        mailing contacts that are missing. A contact that opted out of the list stays out.

        :return: {partner_id: 'subscribed' | 'already' | 'opted_out' | 'no_email'}
        """
        result = {p.id: "no_email" for p in self if not p.email_normalized}
        partners = self.filtered("email_normalized")
        if not partners:
            return result
        Contact = self.env["mailing.contact"].sudo().with_context(active_test=False)
        Subscription = self.env["mailing.subscription"].sudo()
        emails = set(partners.mapped("email_normalized"))
        by_email = {}
        for contact in Contact.search([("email_normalized", "in", list(emails))], order="id"):
            by_email.setdefault(contact.email_normalized, contact)
        missing = {}
        for partner in partners:
            if partner.email_normalized not in by_email:
                missing.setdefault(partner.email_normalized, partner)
        if missing:
            new_contacts = Contact.create(
                [{"name": p.name, "email": p.email} for p in missing.values()]
            )
            by_email.update(zip(missing, new_contacts, strict=True))
        contacts = Contact.browse({c.id for c in by_email.values()})
        existing = {
            sub.contact_id.id: sub
            for sub in Subscription.search(
                [("contact_id", "in", contacts.ids), ("list_id", "=", mailing_list.id)]
            )
        }
        Subscription.create(
            [
                {"contact_id": contact.id, "list_id": mailing_list.id}
                for contact in contacts
                if contact.id not in existing
            ]
        )
        for partner in partners:
            sub = existing.get(by_email[partner.email_normalized].id)
            result[partner.id] = (
                "subscribed" if not sub else "opted_out" if sub.opt_out else "already"
            )
        return result

    # ------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------

    def action_view_marketing_score_history(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "trigger_marketing.marketing_score_history_action"
        )
        action["domain"] = [("partner_id", "=", self.id)]
        action["context"] = {"default_partner_id": self.id}
        return action


def _aligned(value, size, label):
    """``value`` (None, one record, or a recordset of ``size``) as a list of ``size``
    records or Nones."""
    if value is None or not value:
        return [None] * size
    if len(value) == 1:
        return [value] * size
    if len(value) != size:
        raise ValueError(
            f"{label}: give one record, or as many records as partners ({len(value)} != {size})"
        )
    return list(value)
