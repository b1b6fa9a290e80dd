"""What every phase of the bench shares: its settings, its log, its measures."""

import resource
import sys
import threading
import time

DEFAULT_N = 20_000
OPEN_RATE = 0.30
TARGETS = {
    "enroll_per_s": 5000,
    "non_mail_per_s": 2000,
    "mail_vs_anchor": 1.25,
    "queries_per_non_mail_trace": 0.05,
    "peak_rss_mb_at_100k": 1024,
    # 3, and the savepoint of the real-time reaction (SAVEPOINT, RELEASE: issue 8)
    "realtime_create_extra_queries": 5,
}
MODULE = "trigger_marketing"
BRIDGE = "trigger_marketing_website_sale"
BODY = (
    '<p>Hello <t t-out="object.name"/>,</p>'
    '<p>Our <a href="https://www.example.com/offer">offer</a> is waiting for you.</p>'
    '<p><a href="/unsubscribe_from_list">Unsubscribe</a></p>'
)


def say(msg):
    sys.stderr.write(f"bench: {msg}\n")
    sys.stderr.flush()


def queries():
    return getattr(threading.current_thread(), "query_count", 0)


class Measure:
    """Wall time and queries of a block (every cursor of this thread)."""

    def __enter__(self):
        self.q0 = queries()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        self.queries = queries() - self.q0
        return False


class SqlProfile:
    """``--profile``: time spent per query text (first 160 characters), per round."""

    def __init__(self):
        self.stats = {}
        self.enabled = False

    def install(self):
        from odoo import sql_db

        original = sql_db.Cursor.execute
        profile = self

        def execute(cursor, query, params=None, log_exceptions=True):
            if not profile.enabled:
                return original(cursor, query, params, log_exceptions)
            t0 = time.perf_counter()
            try:
                return original(cursor, query, params, log_exceptions)
            finally:
                text = query.code if hasattr(query, "code") else str(query)
                key = " ".join(text.split())[:160]
                count, spent = profile.stats.get(key, (0, 0.0))
                profile.stats[key] = (count + 1, spent + time.perf_counter() - t0)

        sql_db.Cursor.execute = execute
        self.enabled = True

    def report(self, label, top=12):
        if not self.enabled:
            return
        total = sum(spent for _count, spent in self.stats.values())
        say(f"  SQL profile of {label}: {total:.2f}s in queries")
        ranked = sorted(self.stats.items(), key=lambda kv: -kv[1][1])[:top]
        for key, (count, spent) in ranked:
            say(f"    {spent:7.2f}s {count:6d}x  {key}")
        self.stats.clear()


PROFILE = SqlProfile()


def rss_mb():
    """Peak resident memory of this process (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
