#!/usr/bin/env python3
"""Screenshots of the trigger_marketing screens, taken from a running Odoo (``make run``).

    python3 tools/screenshots.py --db <demo db> --url http://localhost:8069 --out screenshots/

Logs in over JSON-RPC (``/web/session/authenticate``), drives Debian's headless Chromium
through the DevTools protocol (websocket-client), sets the session cookie, opens each
screen, waits until the web client is idle and saves a PNG per screen:

    01_scenarios_kanban.png   the scenarios with their key figures
    02_scenario_tree.png      a running scenario with its step tree
    03_step_form.png          an e-mail step, in plain language, with its statistics
    04_statistics.png         the statistics tab of the scenario, step by step
    05_partner_marketing.png  a contact's score, timeline and score history
    06_step_trend.png         the step tree's cards with each step's last 30 days (chart)
    07_score_distribution.png contacts by score band (chart)
    08_live_edit_preview.png  a step contacts wait for, its delay being changed: the
                              contacts concerned and the choice, before saving (not saved)
    09_version_compare.png    a version of a running scenario compared with the one before
                              it (a live change is made for it through the API, then undone:
                              two versions more; on a fresh demo database, version 2 against
                              version 1, the one the demo's contacts walked)

Needs only the standard library, ``websocket-client`` and ``chromium``.
"""

import argparse
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from http.cookiejar import CookieJar

import websocket

IDLE_JS = """
(() => {
    const main = document.querySelector(
        '.o_action_manager .o_view_controller, .o_action_manager .o_form_view');
    const busy = document.querySelector(
        '.o_loading_indicator, .o_blockUI, .o-mail-Thread-loading');
    return Boolean(main) && !busy && document.readyState === 'complete';
})()
"""


class Odoo:
    """A JSON-RPC session on the Odoo server."""

    def __init__(self, url, db, login, password):
        self.url = url.rstrip("/")
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.call("/web/session/authenticate", {"db": db, "login": login, "password": password})
        self.session_id = next((c.value for c in self.jar if c.name == "session_id"), None)
        if not self.session_id:
            raise SystemExit("login failed: no session cookie")

    def call(self, path, params):
        payload = json.dumps({"jsonrpc": "2.0", "method": "call", "params": params}).encode()
        request = urllib.request.Request(
            self.url + path, data=payload, headers={"Content-Type": "application/json"}
        )
        with self.opener.open(request, timeout=60) as response:
            body = json.load(response)
        if body.get("error"):
            raise SystemExit(f"{path}: {body['error'].get('data', {}).get('message')}")
        return body["result"]

    def search_read(self, model, domain, fields, order=None, limit=1):
        return self.call(
            "/web/dataset/call_kw",
            {
                "model": model,
                "method": "search_read",
                "args": [domain, fields],
                "kwargs": {"order": order, "limit": limit},
            },
        )


class Chromium:
    """A headless Chromium driven through the DevTools protocol."""

    def __init__(self, binary, width, height):
        self.profile = tempfile.mkdtemp(prefix="tm_shots_")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.process = subprocess.Popen(
            [
                binary,
                "--headless=new",
                f"--remote-debugging-port={self.port}",
                "--remote-allow-origins=*",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--hide-scrollbars",
                f"--window-size={width},{height}",
                f"--user-data-dir={self.profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.ws = websocket.create_connection(self._page_socket(), timeout=60)
        self.next_id = 0
        self.send("Page.enable")
        self.send("Network.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    def _page_socket(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list") as r:
                    pages = [t for t in json.load(r) if t.get("type") == "page"]
                if pages:
                    return pages[0]["webSocketDebuggerUrl"]
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.2)
        raise SystemExit("chromium did not start")

    def send(self, method, **params):
        self.next_id += 1
        message_id = self.next_id
        self.ws.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == message_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def wait_idle(self, timeout=30, settle=1.2):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.evaluate(IDLE_JS):
                time.sleep(settle)  # let the last renders and fonts settle
                if self.evaluate(IDLE_JS):
                    return True
            time.sleep(0.3)
        print("  (not idle after %ss, taking the screenshot anyway)" % timeout, file=sys.stderr)
        return False

    def wait_for(self, selector, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.evaluate(f"Boolean(document.querySelector({json.dumps(selector)}))"):
                return True
            time.sleep(0.3)
        print(f"  ({selector} not found)", file=sys.stderr)
        return False

    def click(self, selector):
        return self.evaluate(
            f"(() => {{ const el = document.querySelector({json.dumps(selector)});"
            " if (el) { el.click(); return true; } return false; })()"
        )

    def navigate(self, url):
        self.send("Page.navigate", url=url)
        time.sleep(0.5)
        self.wait_idle()

    def screenshot(self, path):
        data = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=False)
        with open(path, "wb") as file:
            file.write(base64.b64decode(data["data"]))
        print(f"  saved {path}")

    def close(self):
        try:
            self.ws.close()
        finally:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
            shutil.rmtree(self.profile, ignore_errors=True)


def live_edit_shots(odoo, browser, base, out):
    """The live-edit preview of a step contacts wait for, and a version comparison."""
    waiting = odoo.search_read(
        "marketing.scenario.trace",
        [
            ("state", "=", "scheduled"),
            ("is_test", "=", False),
            ("scenario_id.state", "=", "running"),
            ("step_id.parent_id", "!=", False),
            ("step_id.trigger_type", "=", "after"),
        ],
        ["step_id", "scenario_id"],
        order="scheduled_at desc",
    )
    if not waiting:
        print("  (no step with waiting contacts: live-edit shots skipped)", file=sys.stderr)
        return
    step_id, scenario_id = waiting[0]["step_id"][0], waiting[0]["scenario_id"][0]
    [step] = odoo.search_read(
        "marketing.scenario.step", [("id", "=", step_id)], ["delay", "delay_unit"]
    )
    print("live edit preview")
    step_action = "action-trigger_marketing.marketing_scenario_step_action"
    browser.navigate(f"{base}/odoo/{step_action}/{step_id}")
    browser.wait_for(".o_form_view div[name=delay] input")
    browser.evaluate(
        "(() => { const input = document.querySelector('.o_form_view div[name=delay] input');"
        f" input.value = '{max(step['delay'] - 1, 0)}';"
        " input.dispatchEvent(new Event('input', {bubbles: true}));"
        " input.dispatchEvent(new Event('change', {bubbles: true})); })()"
    )
    browser.wait_for(".o_tm_live_preview div[name=live_timing_choice]")
    browser.wait_idle()
    browser.evaluate(
        "document.querySelector('.o_tm_live_preview').scrollIntoView({block: 'center'})"
    )
    time.sleep(0.5)
    browser.screenshot(os.path.join(out, "08_live_edit_preview.png"))
    browser.click(".o_form_button_cancel")  # discarded: nothing saved

    print("version comparison")

    def write(delay):
        odoo.call(
            "/web/dataset/call_kw",
            {
                "model": "marketing.scenario.step",
                "method": "write",
                "args": [[step_id], {"delay": delay, "live_timing_choice": "keep"}],
                "kwargs": {},
            },
        )

    write(step["delay"] + 1)
    [version] = odoo.search_read(
        "marketing.scenario.version",
        [("scenario_id", "=", scenario_id)],
        ["id"],
        order="number desc",
    )
    browser.navigate(f"{base}/odoo/marketing.scenario.version/{version['id']}")
    browser.wait_for(".o_tm_version_comparison .o_tm_version_changes")
    browser.wait_idle()
    browser.screenshot(os.path.join(out, "09_version_compare.png"))
    write(step["delay"])  # undone (a version of its own)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="database of the running server")
    parser.add_argument("--url", default="http://localhost:8069")
    parser.add_argument("--out", default="screenshots")
    parser.add_argument("--login", default="admin")
    parser.add_argument("--password", default="admin")
    parser.add_argument("--width", type=int, default=1440)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args()

    os.makedirs(args.out, exist_ok=True)
    odoo = Odoo(args.url, args.db, args.login, args.password)
    scenarios = odoo.search_read(
        "marketing.scenario",
        [("state", "=", "running")],
        ["id", "name", "step_count", "participant_count"],
        order="id",
        limit=None,
    )
    if not scenarios:
        raise SystemExit("no running scenario: is this the demo database of `make run`?")
    # the richest tree that contacts walk
    scenario = max(scenarios, key=lambda s: (s["participant_count"] > 0, s["step_count"]))
    steps = odoo.search_read(
        "marketing.scenario.step",
        [("scenario_id", "=", scenario["id"]), ("action_type", "=", "mail")],
        ["id"],
        order="parent_id desc, id",
    )
    partners = odoo.search_read(
        "res.partner",
        [("marketing_participant_ids.scenario_id", "=", scenario["id"])],
        ["id"],
        order="marketing_score desc nulls last, id",
    )
    base = odoo.url
    action = "action-trigger_marketing.marketing_scenario_action"
    browser = Chromium(args.chromium, args.width, args.height)
    try:
        browser.send(
            "Network.setCookie",
            name="session_id",
            value=odoo.session_id,
            url=base,
            path="/",
            httpOnly=True,
        )
        print("scenarios kanban")
        browser.navigate(f"{base}/odoo/{action}")
        browser.wait_for(".o_kanban_record")
        browser.screenshot(os.path.join(args.out, "01_scenarios_kanban.png"))

        print(f"scenario form: {scenario['name']}")
        browser.navigate(f"{base}/odoo/{action}/{scenario['id']}")
        browser.wait_for(".o_tm_step_tree .o_tm_step_card")
        browser.wait_idle()
        browser.evaluate("document.querySelector('.o_notebook').scrollIntoView()")
        time.sleep(0.5)
        browser.screenshot(os.path.join(args.out, "02_scenario_tree.png"))

        print("per-step trend")
        browser.wait_for(".o_tm_step_card .o_tm_trend canvas, .o_tm_step_card .o_tm_trend_empty")
        browser.evaluate(
            "(document.querySelector('.o_tm_step_card .o_tm_trend canvas')"
            " || document.querySelector('.o_tm_step_card')).scrollIntoView({block: 'center'})"
        )
        time.sleep(0.8)
        browser.screenshot(os.path.join(args.out, "06_step_trend.png"))

        print("statistics")
        browser.click(".o_notebook .nav-link[name='statistics']")
        browser.wait_for(".o_tm_step_statistics .o_data_row")
        browser.wait_idle()
        browser.evaluate("document.querySelector('.o_notebook').scrollIntoView()")
        time.sleep(0.5)
        browser.screenshot(os.path.join(args.out, "04_statistics.png"))

        if steps:
            print("step form")
            step_action = "action-trigger_marketing.marketing_scenario_step_action"
            browser.navigate(f"{base}/odoo/{step_action}/{steps[0]['id']}")
            browser.wait_for(".o_tm_step_stats")
            browser.wait_idle()
            browser.screenshot(os.path.join(args.out, "03_step_form.png"))

        if partners:
            print("contact: marketing tab")
            browser.navigate(f"{base}/odoo/res.partner/{partners[0]['id']}")
            browser.click(".o_notebook .nav-link[name='trigger_marketing']")
            browser.wait_for(".o_tm_timeline_walk")
            browser.wait_idle()
            browser.evaluate("document.querySelector('.o_notebook').scrollIntoView()")
            time.sleep(0.5)
            browser.screenshot(os.path.join(args.out, "05_partner_marketing.png"))

        live_edit_shots(odoo, browser, base, args.out)

        print("score distribution")
        browser.navigate(
            f"{base}/odoo/action-trigger_marketing.res_partner_action_score_distribution"
        )
        browser.wait_for(".o_graph_renderer canvas")
        browser.wait_idle()
        browser.screenshot(os.path.join(args.out, "07_score_distribution.png"))
    finally:
        browser.close()


if __name__ == "__main__":
    main()
