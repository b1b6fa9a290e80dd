"""What happened to each trace of a batch, collected in memory and applied by the engine
in a few queries (``marketing.scenario.trace._apply``). Plain Python, no ORM."""


def failure_message(error, limit=500):
    """What a marketer reads on a failed trace: the error's first line and its root
    cause (a rendering error carries a whole traceback; the server log keeps it)."""
    message = (str(error).strip() or type(error).__name__).split("\n", 1)[0][:limit]
    root, seen = error, {id(error)}
    while True:
        cause = root.__cause__ or (None if root.__suppress_context__ else root.__context__)
        if cause is None or id(cause) in seen:
            break
        seen.add(id(cause))
        root = cause
    if root is not error:
        message += f" ({type(root).__name__}: {str(root)[:limit]})"
    return message


class TraceResults:
    """Collects what happened to each trace of a batch, applied in a few queries."""

    def __init__(self, now, batch=None):
        """:param batch: the collector of the whole batch, when this one collects a part
        of it (a step): what the batch shares (the e-mails granted under frequency caps)
        is shared with it."""
        self.now = now
        # partner id -> moments of the capped e-mails granted in this batch
        self.mails_granted = batch.mails_granted if batch is not None else {}
        # trace id -> dict of the new values
        self.updates = {}
        self.ended = {}  # participant id -> (state, reason_code)

    def done(self, traces, met=None, reason=None, code=None, branch=None):
        """:param met: for a condition or wait-until step, whether the condition was met
        :param code: a reason code explaining how it was done (e.g. ``holdout``)
        :param branch: for a split step, the id of the branch (child step) taken"""
        for trace in traces:
            vals = {"state": "done", "done_at": self.now, "outcome": met, "reason": reason}
            if code:
                vals["reason_code"] = code
            if branch:
                vals["branch_step_id"] = branch
            self.updates[trace.id] = vals

    def skip(self, traces, code, reason=None):
        for trace in traces:
            self.updates[trace.id] = {
                "state": "skipped",
                "reason_code": code,
                "reason": reason,
                "done_at": self.now,
            }

    def cancel(self, traces, code, reason=None):
        for trace in traces:
            self.updates[trace.id] = {
                "state": "canceled",
                "reason_code": code,
                "reason": reason,
                "done_at": self.now,
            }

    def fail(self, traces, reason):
        for trace in traces:
            self.updates[trace.id] = {
                "state": "failed",
                "reason_code": "error",
                "reason": reason,
                "done_at": self.now,
            }

    def postpone(self, traces, at, reason=None, attempt=False):
        for trace in traces:
            vals = {"state": "scheduled", "scheduled_at": at, "reason": reason}
            if attempt:
                vals["attempt_count"] = trace.attempt_count + 1
            self.updates[trace.id] = vals

    def wait(self, traces, deadline):
        for trace in traces:
            self.updates[trace.id] = {"state": "waiting", "scheduled_at": deadline}

    def end_participants(self, participants, state, code):
        for participant in participants:
            self.ended[participant.id] = (state, code)

    def merge(self, other):
        self.updates.update(other.updates)
        self.ended.update(other.ended)
