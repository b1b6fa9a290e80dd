"""Locust users of the latency bench (``tools/bench/latency.py`` runs them headless).

Loopback only: every request goes to one of ``LAT_HOSTS`` (the bench's two Odoo servers
on 127.0.0.1, alternately per user) and redirects are never followed (a click's redirect
points outside). Settings come from the environment (set by latency.py):

- ``LAT_MODE``: ``events`` (signups and shop carts) or ``tracking`` (opens and clicks);
- ``LAT_RATE`` (per second, all users together) and ``LAT_OUT`` (JSON lines written here);
- events: ``LAT_RUN`` (e-mail prefix), ``LAT_SCENARIO``, ``LAT_SECRET``, ``LAT_EVENT``
  (the signed event endpoint), ``LAT_CART_SHARE`` (0..1), ``LAT_PRODUCT``,
  ``LAT_PRODUCT_TEMPLATE`` (the guest cart: add to cart, address page, address form);
- tracking: ``LAT_URLS`` (a JSON file: [[kind, path, key], ...], requested in that order,
  then again from the start while the run lasts).

Events mode writes one line per event (``kind``, ``email``, ``t`` = time.time() when the
request that makes the event was sent, ``ok``, ``status``, ``host``); tracking mode one
line per request (``kind``, ``ms``, ``ok``, ``status``). Times are the client's: what a
visitor waits for.
"""

import hashlib
import hmac
import itertools
import json
import os
import random
import re
import time
from urllib.parse import urlsplit

from locust import constant_throughput, events, task
from locust.contrib.fasthttp import FastHttpUser

MODE = os.environ.get("LAT_MODE", "events")
HOSTS = [h for h in os.environ.get("LAT_HOSTS", "").split(",") if h]
RATE = float(os.environ.get("LAT_RATE", "1"))
USERS = max(1, int(os.environ.get("LAT_USERS", "1")))
OUT = os.environ.get("LAT_OUT", "locust-out.jsonl")
RUN = os.environ.get("LAT_RUN", "lat")
CART_SHARE = float(os.environ.get("LAT_CART_SHARE", "0"))
# a person's browser: the engine tells machines' opens and clicks (no or a robot's user
# agent...) from people's, and only people's wake branches (tools/machine_events.py)
BROWSER = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/131.0 Safari/537.36"
)
CSRF_RE = re.compile(r'name="csrf_token"\s+value="([^"]+)"|csrf_token:\s*"([^"]+)"')

for host in HOSTS:
    if urlsplit(host).hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"locustfile: {host} is not loopback")

_out = open(OUT, "a", encoding="utf-8")  # noqa: SIM115 - closed at quit
_numbers = itertools.count(1)
_user_numbers = itertools.count()


def write(record):
    _out.write(json.dumps(record) + "\n")


@events.quitting.add_listener
def _close(**_kwargs):
    _out.close()


class BenchUser(FastHttpUser):
    abstract = True
    host = HOSTS[0] if HOSTS else None
    wait_time = constant_throughput(RATE / USERS)

    def on_start(self):
        index = next(_user_numbers)
        self.host_url = HOSTS[index % len(HOSTS)]
        # FastHttpUser keeps one client per user: point it at this user's server
        self.client.base_url = self.host_url

    def url(self, path):
        return self.host_url + path


class EventUser(BenchUser):
    """A visitor who signs up (signed event endpoint) or leaves a guest cart."""

    abstract = MODE != "events"

    @task
    def event(self):
        number = next(_numbers)
        if CART_SHARE and random.random() < CART_SHARE:  # noqa: S311 - load mix only
            self.guest_cart(number)
        else:
            self.signup(number)

    def signup(self, number):
        email = f"{RUN}.signup{number}@bench.example.com"
        body = json.dumps(
            {"event_id": f"{RUN}-{number}", "event": os.environ["LAT_EVENT"], "email": email}
        ).encode()
        signature = hmac.new(os.environ["LAT_SECRET"].encode(), body, hashlib.sha256)
        t = time.time()
        with self.client.post(
            f"/trigger_marketing/event/{os.environ['LAT_SCENARIO']}",
            data=body,
            headers={
                "Content-Type": "application/json",
                "X-Signature": "sha256=" + signature.hexdigest(),
            },
            name="signup (event endpoint)",
            catch_response=True,
        ) as response:
            ok = response.status_code == 200 and b'"enrolled": true' in (response.content or b"")
            if not ok:
                response.failure(f"{response.status_code} {(response.text or '')[:200]}")
        write(
            dict(kind="signup", email=email, t=t, ok=ok, status=response.status_code)
            | {"host": self.host_url}
        )

    def guest_cart(self, number):
        """A guest's cart: a product added, the address page, the address form sent (the
        cart gets its customer: that request is the event)."""
        email = f"{RUN}.cart{number}@bench.example.com"
        self.client.cookiejar.clear()  # a new visitor, a new cart
        record = dict(kind="cart", email=email, t=None, ok=False, status=None, host=self.host_url)
        product = int(os.environ["LAT_PRODUCT"])
        template = int(os.environ["LAT_PRODUCT_TEMPLATE"])
        response = self.client.post(
            "/shop/cart/add",
            json={
                "jsonrpc": "2.0",
                "method": "call",
                "id": number,
                "params": {"product_template_id": template, "product_id": product, "quantity": 1},
            },
            name="cart: add product",
        )
        if response.status_code != 200 or b'"error"' in (response.content or b""):
            write(record | {"status": response.status_code, "step": "add"})
            return
        response = self.client.get("/shop/address", name="cart: address page")
        match = CSRF_RE.search(response.text or "")
        if response.status_code != 200 or not match:
            write(record | {"status": response.status_code, "step": "address page"})
            return
        record["t"] = time.time()
        with self.client.post(
            "/shop/address/submit",
            data={
                "csrf_token": match.group(1) or match.group(2),
                "name": f"Guest {number}",
                "email": email,
                "address_type": "billing",
                "use_delivery_as_billing": "true",
            },
            name="cart: address form (the event)",
            catch_response=True,
        ) as response:
            record["status"] = response.status_code
            record["ok"] = response.status_code == 200 and b"invalid_fields" not in (
                response.content or b""
            )
            if not record["ok"]:
                response.failure(f"{response.status_code} {(response.text or '')[:200]}")
        write(record)


_urls = None
_url_index = itertools.count()


def next_url():
    global _urls  # noqa: PLW0603 - loaded once per process
    if _urls is None:
        with open(os.environ["LAT_URLS"], encoding="utf-8") as fh:
            _urls = json.load(fh)
    return _urls[next(_url_index) % len(_urls)]


class TrackingUser(BenchUser):
    """A recipient's mail client (open pixel) or browser (link redirect)."""

    abstract = MODE != "tracking"

    @task
    def track(self):
        kind, path, key = next_url()
        t = time.perf_counter()
        with self.client.get(
            path,
            name=kind,
            allow_redirects=False,
            catch_response=True,
            headers={"User-Agent": BROWSER},
        ) as response:
            ok = response.status_code in (200, 301, 302, 303)
            if ok:
                response.success()
            else:
                response.failure(str(response.status_code))
        ms = (time.perf_counter() - t) * 1000
        write({"kind": kind, "key": key, "ms": ms, "ok": ok, "status": response.status_code})
