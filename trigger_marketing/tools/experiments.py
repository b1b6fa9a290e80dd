"""Statistics of experiments: A/B/n splits and holdout groups. Plain Python, no ORM.

Rates are compared with the two-proportion z-test and means (revenue per participant)
with Welch's z-approximation, both well known and exact enough for the sample sizes at
which a winner may be declared (hundreds per branch). A winner is declared only when
every branch has reached the minimum sample and the best branch beats each other one
with the requested confidence (one-sided test).
"""

import math
from dataclasses import dataclass


def normal_cdf(z):
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def normal_quantile(p):
    """Inverse of :func:`normal_cdf` (bisection: no dependency, precise to 1e-9)."""
    low, high = -40.0, 40.0
    for _step in range(200):
        mid = (low + high) / 2.0
        if normal_cdf(mid) < p:
            low = mid
        else:
            high = mid
    return (low + high) / 2.0


@dataclass(frozen=True)
class Sample:
    """One group: ``n`` participants, ``total`` the sum of their values (successes for a
    rate, amounts for revenue) and ``total_sq`` the sum of the squared values."""

    key: object
    n: int
    total: float
    total_sq: float = None

    @property
    def mean(self):
        return self.total / self.n if self.n else 0.0

    @property
    def variance(self):
        """Variance of one value: p(1-p) for a rate, the sample variance for amounts."""
        if not self.n:
            return 0.0
        if self.total_sq is None:
            p = self.mean
            return p * (1.0 - p)
        if self.n < 2:
            return 0.0
        return max(0.0, (self.total_sq - self.total * self.total / self.n) / (self.n - 1))


def z_score(better, other):
    """z of "``better`` has a higher mean than ``other``": pooled for rates (the
    two-proportion z-test), Welch for amounts."""
    if not better.n or not other.n:
        return 0.0
    diff = better.mean - other.mean
    if better.total_sq is None and other.total_sq is None:
        pooled = (better.total + other.total) / (better.n + other.n)
        se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / better.n + 1.0 / other.n))
    else:
        se = math.sqrt(better.variance / better.n + other.variance / other.n)
    if se == 0.0:
        return math.inf if diff > 0 else 0.0
    return diff / se


def confidence_better(better, other):
    """Confidence (0..1) that ``better`` truly has the higher mean (one-sided)."""
    return normal_cdf(z_score(better, other))


def difference_interval(treated, control, level=0.95):
    """Confidence interval of ``treated.mean - control.mean`` (unpooled standard error).

    :return: (difference, low, high)
    """
    diff = treated.mean - control.mean
    if not treated.n or not control.n:
        return diff, -math.inf, math.inf
    se = math.sqrt(treated.variance / treated.n + control.variance / control.n)
    margin = normal_quantile(0.5 + level / 2.0) * se
    return diff, diff - margin, diff + margin


def pick_winner(samples, min_sample, confidence):
    """The winner of an A/B/n test, or None while it cannot be declared.

    :param samples: one :class:`Sample` per branch
    :param min_sample: participants every branch must have reached first
    :param confidence: required confidence (0..1) that the best beats each other branch
    :return: (winning sample or None, confidence reached against the runner-up)
    """
    if len(samples) < 2:
        return None, 0.0
    ranked = sorted(samples, key=lambda s: s.mean, reverse=True)
    best = ranked[0]
    reached = min(confidence_better(best, other) for other in ranked[1:])
    if any(s.n < min_sample for s in samples):
        return None, reached
    return (best if reached >= confidence else None), reached
