"""Opens and clicks of machines: mail privacy proxies and security scanners fetch the
tracking pixel and follow the links of an e-mail without anybody reading it. Each
event of a tracking request is told human or machine here, from what the request said
(method, user agent, address) and when it came (after the delivery, beside the other
clicks of the same e-mail). Plain Python, no ORM: the engine gives the rows, the rules
answer (``marketing.mail.event._process_queue``). Sources: ``readme/BEYOND.md``.
"""

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

# An open or click this soon after the e-mail left Odoo is a machine's: a gateway that
# scans the e-mail on delivery, a proxy that fetches its images on arrival.
DELIVERY_SECONDS = 10
# Several different links of one e-mail clicked within this many seconds of each other:
# a scanner that follows every link at once (a person opens one link at a time).
BURST_SECONDS = 2
BURST_LINKS = 2

# Apple Mail Privacy Protection fetches the images of every e-mail through Apple's
# proxies when the mail reaches the device, read or not: its requests carry a bare
# "Mozilla/5.0" user agent, some come from Apple's own network.
APPLE_PROXY_AGENT = "mozilla/5.0"
APPLE_NETWORKS = (ipaddress.ip_network("17.0.0.0/8"),)

# Security gateways and link scanners (their names or products, in their user agents),
# then generic robots and HTTP libraries (no person clicks with curl).
SCANNER_AGENTS = (
    "safelinks",
    "safe links",
    "microsoft defender",
    "proofpoint",
    "urldefense",
    "mimecast",
    "barracuda",
    "ironport",
    "cisco secure email",
    "forcepoint",
    "sophos",
    "trend micro",
    "trendmicro",
    "symantec",
    "messagelabs",
    "fortiguard",
    "fortimail",
    "zscaler",
    "checkpoint",
    "check point",
    "avanan",
    "appriver",
    "bitdefender",
    "trustwave",
    "hornetsecurity",
    "vadesecure",
    "headlesschrome",
    "phantomjs",
    "python-requests",
    "python-urllib",
    "aiohttp",
    "go-http-client",
    "java/",
    "okhttp",
    "apache-httpclient",
    "libwww-perl",
    "curl/",
    "wget/",
    "crawler",
    "spider",
    # robots name themselves "Somebot/2.1" and link their page "+http://..."
    "bot/",
    "bot;",
    "bot)",
    "+http",
)

# why an event is a machine's (stored as a selection)
MACHINE_REASONS = ("head", "agent", "apple_proxy", "no_agent", "delivery", "burst")


@dataclass(frozen=True)
class Event:
    """One open or click of a tracking request, as the queue holds it. ``method`` is
    None for events that came from no request (replies by e-mail, test runs, code)."""

    key: object
    mail: int
    kind: str  # "open" or "click"
    date: datetime
    method: str | None = None
    user_agent: str | None = None
    ip: str | None = None
    url: str | None = None


def scanner_agent(user_agent):
    """True when ``user_agent`` names a security scanner or a robot."""
    agent = (user_agent or "").lower()
    return any(token in agent for token in SCANNER_AGENTS)


def apple_proxy(event):
    """An open fetched by Apple Mail Privacy Protection's proxies."""
    if event.kind != "open":
        return False
    if (event.user_agent or "").strip().lower() == APPLE_PROXY_AGENT:
        return True
    try:
        address = ipaddress.ip_address((event.ip or "").strip())
    except ValueError:
        return False
    return any(address in network for network in APPLE_NETWORKS)


def request_reason(event, sent_at=None):
    """Why this event alone is a machine's, or None (the burst needs the other clicks)."""
    if event.method is None:
        return None  # no request: a reply, a test run's simulation, code
    if event.method.upper() == "HEAD":
        return "head"
    if not (event.user_agent or "").strip():
        return "no_agent"
    if scanner_agent(event.user_agent):
        return "agent"
    if apple_proxy(event):
        return "apple_proxy"
    if sent_at and event.date - sent_at <= timedelta(seconds=DELIVERY_SECONDS):
        return "delivery"
    return None


def burst_keys(events):
    """The keys of the clicks that belong to a burst: ``BURST_LINKS`` different links or
    more of one e-mail clicked within ``BURST_SECONDS`` of each other."""
    window = timedelta(seconds=BURST_SECONDS)
    by_mail = {}
    for event in events:
        if event.kind == "click" and event.method is not None and event.url:
            by_mail.setdefault(event.mail, []).append(event)
    machine = set()
    for clicks in by_mail.values():
        clicks.sort(key=lambda e: e.date)
        for i, click in enumerate(clicks):
            near = [c for c in clicks[i:] if c.date - click.date <= window]
            if len({c.url for c in near}) >= BURST_LINKS:
                machine.update(c.key for c in near)
    return machine


def classify(events, sent_at_by_mail):
    """{event key: machine reason or None (human)} for ``events`` (``Event``), given
    {mail: moment it was sent} (mails not sent yet are absent)."""
    burst = burst_keys(events)
    reasons = {}
    for event in events:
        reason = request_reason(event, sent_at_by_mail.get(event.mail))
        if reason is None and event.key in burst:
            reason = "burst"
        reasons[event.key] = reason
    return reasons
