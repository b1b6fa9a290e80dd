import hashlib
import hmac
import json
import logging

from werkzeug.exceptions import RequestEntityTooLarge

from odoo import http
from odoo.http import request
from odoo.tools import email_normalize

_logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
TOO_LARGE = f"The body is too large (at most {MAX_BODY_BYTES} bytes)."
MAX_EVENT_ID_LENGTH = 255
MAX_NAME_LENGTH = 255
MAX_EMAIL_LENGTH = 254
MAX_DEPTH = 32


class EventError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class TriggerMarketingController(http.Controller):
    """Public endpoint of the "named event" entry trigger.

    Deliberately light (rate-safety): a request that is too big, for an unknown scenario
    or wrongly signed is refused after reading one scenario row, before any write; a
    valid one claims its event id and enrols one contact (the steps run in the cron).
    """

    @http.route(
        "/trigger_marketing/event/<int:scenario_id>",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def receive_event(self, scenario_id, **_kwargs):
        try:
            result = self._receive_event(scenario_id)
        except EventError as e:
            return request.make_json_response({"ok": False, "error": e.message}, status=e.status)
        return request.make_json_response(result, status=200)

    def _receive_event(self, scenario_id):
        httprequest = request.httprequest
        if httprequest.mimetype != "application/json":
            raise EventError(415, "The body must be JSON: send Content-Type: application/json.")
        if (httprequest.content_length or 0) > MAX_BODY_BYTES:
            raise EventError(413, TOO_LARGE)
        # never more than the limit in memory, even without Content-Length (chunked):
        # werkzeug stops reading past max_content_length
        httprequest.max_content_length = MAX_BODY_BYTES
        try:
            raw = httprequest.get_data(cache=False)
        except RequestEntityTooLarge as e:
            raise EventError(413, TOO_LARGE) from e
        if len(raw) > MAX_BODY_BYTES:
            raise EventError(413, TOO_LARGE)
        scenario = request.env["marketing.scenario"].sudo().browse(scenario_id).exists()
        if not scenario or not scenario._accepts_http_events():
            raise EventError(404, "Unknown scenario.")
        if not _signature_ok(
            scenario.webhook_secret, raw, httprequest.headers.get("X-Signature", "")
        ):
            raise EventError(
                403,
                "Bad signature: expected X-Signature: sha256=<hex HMAC-SHA256 "
                "of the body with the scenario's secret>.",
            )
        event_id, event, email, payload, name = _parse_body(raw)
        if event != scenario.event_name:
            raise EventError(404, f"Unknown event {event!r} for this scenario.")
        if scenario.state != "running":
            raise EventError(404, "The scenario is not running.")
        return scenario._receive_event(event_id, email, payload, name)


def _signature_ok(secret, raw, header):
    if not secret or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header[len("sha256=") :].strip().lower())


def _parse_body(raw):
    """Validate the JSON body: (event_id, event, normalized email, payload, name)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise EventError(400, "The body must be JSON encoded in UTF-8.") from e
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError as e:
        raise EventError(400, f"The body is nested too deeply (at most {MAX_DEPTH} levels).") from e
    except ValueError as e:
        raise EventError(400, f"The body is not valid JSON: {e}") from e
    if not isinstance(data, dict):
        raise EventError(400, "The body must be a JSON object.")
    problem = _check_strings_and_depth(data)
    if problem:
        raise EventError(400, problem)
    missing = [key for key in ("event_id", "event", "email") if data.get(key) in (None, "")]
    if missing:
        raise EventError(400, f"Missing fields: {', '.join(missing)}.")
    event_id = data["event_id"]
    if not isinstance(event_id, (str, int)) or isinstance(event_id, bool):
        raise EventError(400, "event_id must be a string.")
    event_id = str(event_id).strip()
    if not event_id or len(event_id) > MAX_EVENT_ID_LENGTH:
        raise EventError(400, f"event_id must have 1 to {MAX_EVENT_ID_LENGTH} characters.")
    if not isinstance(data["event"], str):
        raise EventError(400, "event must be a string.")
    if isinstance(data["email"], str) and len(data["email"]) > MAX_EMAIL_LENGTH:
        raise EventError(400, f"email must have at most {MAX_EMAIL_LENGTH} characters.")
    email = email_normalize(data["email"]) if isinstance(data["email"], str) else False
    if not email:
        raise EventError(400, "email is not a valid e-mail address.")
    payload = data.get("payload", {})
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise EventError(400, "payload must be a JSON object.")
    name = data.get("name")
    if name is not None and not isinstance(name, str):
        raise EventError(400, "name must be a string.")
    if name and len(name) > MAX_NAME_LENGTH:
        raise EventError(400, f"name must have at most {MAX_NAME_LENGTH} characters.")
    return event_id, data["event"].strip(), email, payload, (name or "").strip() or None


def _refuse_constant(name):
    """NaN and Infinity are not JSON (the database refuses them in a payload)."""
    raise ValueError(f"{name} is not a JSON number")


def _check_strings_and_depth(data):
    """What the database would refuse in ``data`` (a NUL character in a string), or a
    nesting deeper than MAX_DEPTH; None when it is fine. Iterative: any depth is safe."""
    stack = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"The body is nested too deeply (at most {MAX_DEPTH} levels)."
        if isinstance(item, str):
            if "\x00" in item:
                return "The body must not contain NUL characters (\\u0000)."
        elif isinstance(item, dict):
            stack.extend((key, depth) for key in item)
            stack.extend((value, depth + 1) for value in item.values())
        elif isinstance(item, list):
            stack.extend((value, depth + 1) for value in item)
    return None
