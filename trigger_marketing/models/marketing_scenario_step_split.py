import random

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from ..tools.experiments import Sample, pick_winner

SPLIT_METRICS = [
    ("open", "Opens"),
    ("click", "Clicks"),
    ("conversion", "Conversions (goal)"),
    ("revenue", "Revenue"),
]
MIN_BRANCHES, MAX_BRANCHES = 2, 5


class MarketingScenarioStep(models.Model):
    """A/B/n split: a split step sends each participant down one of its 2 to 5 branches,
    at random by weight, until the branches' results name a winner with the requested
    confidence; from then on every new participant takes the winner.

    The choice is recorded on the split step's trace (``branch_step_id``, and why in its
    details), so that statistics and the contact's timeline explain it.
    """

    _inherit = "marketing.scenario.step"

    action_type = fields.Selection(
        selection_add=[("split", "Split (A/B test)")], ondelete={"split": "set default"}
    )
    trigger_type = fields.Selection(
        selection_add=[("split", "Branch of a split")], ondelete={"split": "set default"}
    )
    split_weight = fields.Integer(
        string="Share (weight)",
        default=50,
        help="Branch of a split: its share of the participants, relative to the other "
        "branches (50 and 50: half each).",
    )
    split_metric = fields.Selection(
        SPLIT_METRICS,
        string="Winner on",
        default="click",
        help="What makes a branch win: the share of its participants who opened or clicked "
        "an e-mail of the branch, reached the goal, or the revenue per participant.",
    )
    split_min_sample = fields.Integer(
        string="Minimum per branch",
        default=500,
        help="No winner is declared before every branch has had this many participants.",
    )
    split_confidence = fields.Float(
        string="Confidence (%)",
        default=95.0,
        help="A branch wins when it beats every other one with this confidence "
        "(one-sided two-proportion z-test for rates, Welch's test for revenue).",
    )
    split_winner_id = fields.Many2one(
        "marketing.scenario.step",
        string="Winner",
        readonly=True,
        copy=False,
        ondelete="set null",
        help="Once set, every new participant takes this branch.",
    )
    split_winner_date = fields.Datetime(string="Winner since", readonly=True, copy=False)
    split_result = fields.Text(
        string="Branches so far", compute="_compute_split_result", help="Figures of each branch."
    )

    @api.constrains("split_weight", "split_min_sample", "split_confidence")
    def _check_split_settings(self):
        _ = self.env._
        for step in self:
            if step.trigger_type == "split" and not 1 <= step.split_weight <= 1000:
                raise ValidationError(
                    _(
                        "Step %(step)s: a branch's share is a weight from 1 to 1,000.",
                        step=step.name,
                    )
                )
            if step.action_type != "split":
                continue
            if not 30 <= step.split_min_sample <= 10_000_000:
                raise ValidationError(
                    _(
                        "Split %(step)s: the minimum per branch is from 30 to 10,000,000 "
                        "participants.",
                        step=step.name,
                    )
                )
            if not 80.0 <= step.split_confidence <= 99.9:
                raise ValidationError(
                    _("Split %(step)s: the confidence is from 80 %% to 99.9 %%.", step=step.name)
                )

    # ------------------------------------------------------------
    # Settings and plain language
    # ------------------------------------------------------------

    def _split_branches(self):
        self.ensure_one()
        return self.child_ids.filtered(lambda c: c.trigger_type == "split").sorted("sequence")

    def _check_ready_to_run(self):
        res = super()._check_ready_to_run()
        for step in self.filtered(lambda s: s.action_type == "split"):
            count = len(step._split_branches())
            if not MIN_BRANCHES <= count <= MAX_BRANCHES:
                raise ValidationError(
                    self.env._(
                        "Split %(step)s has %(count)s branch(es): a split needs 2 to 5.",
                        step=step.name,
                        count=count,
                    )
                )
        return res

    def _split_share(self):
        """This branch's share of its split, in percent."""
        self.ensure_one()
        total = sum(self.parent_id._split_branches().mapped("split_weight")) or 1
        return round(100.0 * self.split_weight / total)

    def _split_branch_text(self):
        return self.env._(
            "Branch of “%(parent)s” (%(share)s %% of its participants)",
            parent=self.parent_id.name or "",
            share=self._split_share(),
        )

    def _split_text(self):
        if self.split_winner_id:
            return self.env._(
                "send everyone to the winner “%(name)s”", name=self.split_winner_id.name
            )
        return self.env._(
            "split the participants between %(count)s branches",
            count=len(self._split_branches()),
        )

    # ------------------------------------------------------------
    # Execution (set-based: ``traces`` is a batch of due traces of this split step)
    # ------------------------------------------------------------

    def _execute_split(self, traces, records_by_trace, results):
        branches = self._split_branches()
        if not branches:
            results.fail(traces, self.env._("This split has no branch."))
            return
        if not self.split_winner_id:
            self._split_check_winner()
        winner = self.split_winner_id
        if winner:
            results.done(
                traces,
                branch=winner.id,
                reason=self.env._("Winner “%(name)s”", name=winner.name),
            )
            return
        weights = [max(b.split_weight, 1) for b in branches]
        for trace in traces:
            # seeded by trace: a batch retried after a crash sends everyone the same way
            branch = random.Random(f"{self.id}-{trace.id}").choices(branches, weights)[0]
            results.done(
                trace,
                branch=branch.id,
                reason=self.env._(
                    "Random branch “%(name)s” (%(share)s %%)",
                    name=branch.name,
                    share=branch._split_share(),
                ),
            )

    # ------------------------------------------------------------
    # Results and winner
    # ------------------------------------------------------------

    def _split_samples(self):
        """One :class:`Sample` per branch, for the split's metric: real participants who
        took the branch (test walks and the holdout aside). Two queries."""
        self.ensure_one()
        branches = self._split_branches()
        descendants = self.with_context(active_test=False).search([("id", "child_of", self.id)])
        self.env["marketing.scenario.trace"].flush_model()
        self.env["marketing.scenario.participant"].flush_model()
        metric = self.split_metric or "click"
        revenue = self.scenario_id._revenue_field() if metric == "revenue" else None
        if metric == "revenue" and not revenue:
            metric = "conversion"  # no amount on the target: conversions instead
        success = {
            "open": SQL(
                "EXISTS (SELECT 1 FROM marketing_scenario_trace m WHERE m.participant_id = "
                "t.participant_id AND m.step_id = ANY(%s) AND m.mail_opened_at IS NOT NULL)",
                descendants.ids,
            ),
            "click": SQL(
                "EXISTS (SELECT 1 FROM marketing_scenario_trace m WHERE m.participant_id = "
                "t.participant_id AND m.step_id = ANY(%s) AND m.mail_clicked_at IS NOT NULL)",
                descendants.ids,
            ),
            "conversion": SQL("p.state = 'converted'"),
        }
        if metric == "revenue":
            target = self.env[self.model_name]
            target.flush_model(["amount_total"])
            amount = SQL(
                "CASE WHEN p.state = 'converted' THEN COALESCE((SELECT r.amount_total FROM %s r "
                "WHERE r.id = p.res_id), 0) ELSE 0 END",
                SQL.identifier(target._table),
            )
            value, value_sq = amount, SQL("(%s) * (%s)", amount, amount)
        else:
            value = SQL("CASE WHEN %s THEN 1 ELSE 0 END", success[metric])
            value_sq = None
        self.env.cr.execute(
            SQL(
                """
                SELECT t.branch_step_id, count(*), SUM(%(value)s), SUM(%(value_sq)s)
                  FROM marketing_scenario_trace t
                  JOIN marketing_scenario_participant p ON p.id = t.participant_id
                 WHERE t.step_id = %(step)s AND t.branch_step_id IS NOT NULL
                   AND t.is_test IS NOT TRUE AND p.is_holdout IS NOT TRUE
                 GROUP BY t.branch_step_id
                """,
                value=value,
                value_sq=value_sq or SQL("0"),
                step=self.id,
            )
        )
        rows = {row[0]: row[1:] for row in self.env.cr.fetchall()}
        samples = []
        for branch in branches:
            n, total, total_sq = rows.get(branch.id, (0, 0, 0))
            samples.append(
                Sample(branch, n, float(total or 0), float(total_sq or 0) if value_sq else None)
            )
        return samples

    @api.model
    def _cron_split_winners(self):
        """Declare the winners that the results allow, also when nobody enters any more
        (the split itself checks at each batch). One query per undecided split."""
        splits = self.search(
            [
                ("action_type", "=", "split"),
                ("split_winner_id", "=", False),
                ("scenario_id.state", "=", "running"),
            ]
        )
        for split in splits:
            split._split_check_winner()

    def _split_check_winner(self):
        """Declare the winner when the test allows it (minimum sample, confidence)."""
        self.ensure_one()
        samples = self._split_samples()
        winner, reached = pick_winner(
            samples, self.split_min_sample or 0, (self.split_confidence or 95.0) / 100.0
        )
        if not winner:
            return False
        self.sudo().write(
            {"split_winner_id": winner.key.id, "split_winner_date": fields.Datetime.now()}
        )
        runner_up = sorted(samples, key=lambda s: s.mean, reverse=True)[1]
        self.scenario_id.sudo().message_post(
            body=self.env._(
                "Split “%(split)s”: “%(winner)s” wins (%(metric)s: %(best).3g vs %(other).3g for "
                "“%(runner_up)s”, confidence %(confidence).1f %%, %(n)s participants). Every new "
                "participant now takes it.",
                split=self.name,
                winner=winner.key.name,
                metric=dict(SPLIT_METRICS)[self.split_metric or "click"],
                best=winner.mean,
                other=runner_up.mean,
                runner_up=runner_up.key.name,
                confidence=100.0 * reached,
                n=sum(s.n for s in samples),
            )
        )
        return True

    @api.depends("action_type", "split_metric", "split_winner_id")
    def _compute_split_result(self):
        for step in self:
            if step.action_type != "split" or not step._origin.id:
                step.split_result = False
                continue
            samples = step._origin._split_samples()
            winner, reached = pick_winner(
                samples, step.split_min_sample or 0, (step.split_confidence or 95.0) / 100.0
            )
            lines = [
                self.env._(
                    "%(name)s: %(n)s participants, %(value).3g",
                    name=s.key.name,
                    n=s.n,
                    value=s.mean,
                )
                for s in samples
            ]
            if step.split_winner_id:
                lines.append(self.env._("Winner: %(name)s", name=step.split_winner_id.name))
            elif any(s.n < (step.split_min_sample or 0) for s in samples):
                lines.append(
                    self.env._(
                        "No winner before %(min)s participants per branch "
                        "(confidence so far: %(confidence).1f %%).",
                        min=step.split_min_sample,
                        confidence=100.0 * reached,
                    )
                )
            else:
                lines.append(
                    self.env._(
                        "No winner yet: confidence %(confidence).1f %% < %(required)s %%.",
                        confidence=100.0 * reached,
                        required=step.split_confidence,
                    )
                )
            step.split_result = "\n".join(lines)
