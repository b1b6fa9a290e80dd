from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.tools import SQL

from ..tools import contacts
from ..tools.bounds import SCORE_LIMIT
from ..tools.company_language import in_company_language
from .marketing_score_band_action import BANDS
from .marketing_score_rule import CAP_DELTAS

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
    """The lead score of a contact: events scored by the rules, the history that explains
    the total, bands (cold / warm / hot) and their actions, and the decay."""

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
        fname = contacts.partner_field(records)
        if fname:
            return list(zip(records, contacts.partner_ids_of(records, fname), strict=True))
        if "email_normalized" in records._fields:
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
    # Score changes
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
        # An atomic increment in SQL, on purpose: two transactions scoring one contact
        # add up (an ORM read-then-write would make the second fail or lose points), and
        # it is the hot path of opens and clicks (3 queries per batch; through the ORM,
        # 7 and growing with the batch: test_score_performance).
        # Clamped to ±SCORE_LIMIT in 64-bit arithmetic: no event overflows the score (a
        # contact at 2,000,000,000 points made every open of its mails fail).
        new_score = SQL(
            "LEAST(GREATEST(COALESCE(p.marketing_score, 0)::bigint + d.points, %s), %s)::int",
            -SCORE_LIMIT,
            SCORE_LIMIT,
        )
        self.env.cr.execute(
            SQL(
                """
                UPDATE res_partner p
                   SET marketing_score = %(new_score)s,
                       marketing_score_band = %(band)s,
                       marketing_last_engagement = CASE WHEN d.engaged THEN %(now)s
                                                   ELSE p.marketing_last_engagement END
                  FROM unnest(%(ids)s::int[], %(points)s::bigint[], %(engaged)s::bool[])
                       AS d(id, points, engaged), res_partner o
                 WHERE p.id = d.id AND o.id = d.id
             RETURNING p.id, COALESCE(o.marketing_score, 0), p.marketing_score, d.points <> 0
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
                scenario = Scenario.browse(entry["id"])
                scenario._react(scenario.enroll, self.sudo().browse(crossed))

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
        progress. A run interrupted by a time-out resumes with the contacts that have no
        decay line since the run started: never one contact decayed twice in a period.
        The run's start and end are the only parameters written (no cursor in
        ``ir.config_parameter``: each write there clears the parameter cache of every
        worker).
        """
        self = in_company_language(self)  # a cron has no language
        settings = self._marketing_decay_settings()
        if not settings:
            return
        percent, period = settings
        ICP = self.env["ir.config_parameter"].sudo()
        now = fields.Datetime.now()
        run = ICP.get_param("trigger_marketing.score_decay_run")
        if not run:
            last = ICP.get_param("trigger_marketing.score_decay_last_run")
            if last and now < fields.Datetime.to_datetime(last) + period:
                return  # already decayed in this period
            run = fields.Datetime.to_string(now)
            ICP.set_param("trigger_marketing.score_decay_run", run)
        batch_size = int(ICP.get_param("trigger_marketing.score_decay_batch_size", 1000))
        self.flush_model(["marketing_score"])
        self.env["marketing.score.history"].flush_model()
        not_decayed = SQL(
            """
            marketing_score > 0 AND NOT EXISTS (
                SELECT 1 FROM marketing_score_history h
                 WHERE h.partner_id = res_partner.id AND h.event = 'decay' AND h.date >= %s)
            """,
            run,
        )
        self.env.cr.execute(SQL("SELECT count(*) FROM res_partner WHERE %s", not_decayed))
        Cron = self.env["ir.cron"]
        Cron._commit_progress(remaining=self.env.cr.fetchone()[0])
        description = self.env._("Decay (-%(percent)s %%)", percent=percent)
        cursor = 0
        while True:
            self.env.cr.execute(
                SQL(
                    """
                    SELECT id, marketing_score FROM res_partner
                     WHERE %s AND id > %s
                  ORDER BY id LIMIT %s
                       FOR UPDATE
                    """,
                    not_decayed,
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
            if not Cron._commit_progress(len(rows)):
                return  # time is up: the next run resumes with the contacts left
        ICP.set_param("trigger_marketing.score_decay_last_run", run)
        ICP.set_param("trigger_marketing.score_decay_run", False)


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
