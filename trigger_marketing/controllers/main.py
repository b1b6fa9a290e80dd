import hashlib
import hmac
import json
import logging

from odoo import http
from odoo.http import request
from odoo.tools import email_normalize

_logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
MAX_EVENT_ID_LENGTH = 255


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
        if (httprequest.content_length or 0) > MAX_BODY_BYTES:
            raise EventError(413, "The body is too large.")
        raw = httprequest.get_data(cache=False)
        if len(raw) > MAX_BODY_BYTES:
            raise EventError(413, "The body is too large.")
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
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise EventError(400, "The body is not valid JSON.") from e
    if not isinstance(data, dict):
        raise EventError(400, "The body must be a JSON object.")
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
    return event_id, data["event"].strip(), email, payload, (name or "").strip() or None
