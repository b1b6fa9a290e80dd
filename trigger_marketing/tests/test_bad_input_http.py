"""Bad input matrix, the event endpoint (DESIGN §8): bodies that are not UTF-8 JSON, too
large (with or without a Content-Length), nested too deeply, or holding what the
database refuses are answered with a clear 4xx before any write; nothing is recorded.

Each input has an id (H01...): the README's command counts the matrix.
"""

import hmac
import json

from odoo.tests import HttpCase, tagged

from ..controllers.main import MAX_BODY_BYTES


@tagged("post_install", "-at_install")
class TestBadInputHttp(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.scenario = cls.env["marketing.scenario"].create(
            {
                "name": "Downloads",
                "model_id": cls.env["ir.model"]._get_id("res.partner"),
                "trigger": "event",
                "event_name": "download",
            }
        )
        cls.env["marketing.scenario.step"].create(
            {"name": "Wait", "scenario_id": cls.scenario.id, "action_type": "wait"}
        )
        cls.scenario.action_start()
        cls.url = f"/trigger_marketing/event/{cls.scenario.id}"

    def signed(self, raw):
        secret = self.scenario.sudo().webhook_secret
        return {"X-Signature": "sha256=" + hmac.new(secret.encode(), raw, "sha256").hexdigest()}

    def body(self, text=None, **vals):
        if text is not None:
            return text.encode()
        data = {"event_id": "e-1", "event": "download", "email": "ann@example.com"}
        data.update(vals)
        return json.dumps(data).encode()

    def post(self, raw, content_type="application/json", headers=None):
        headers = dict({"Content-Type": content_type}, **self.signed(raw), **(headers or {}))
        response = self.url_open(self.url, data=raw, headers=headers)
        return response.status_code, response.json()["error"]

    def assertNothingRecorded(self):
        self.env.invalidate_all()
        self.assertFalse(
            self.env["marketing.scenario.event"].search([("scenario_id", "=", self.scenario.id)])
        )
        self.assertFalse(self.scenario.participant_ids)

    def test_bodies_refused(self):
        deep = '{"event_id": "e", "event": "download", "email": "a@b.c", "payload": %s}'
        too_large = f"at most {MAX_BODY_BYTES} bytes"
        for case, raw, status, error in [
            ("H01", '{"event_id": "é", "event": "download", "email": "a@b.c"}'.encode("latin-1"),
             400, "The body must be JSON encoded in UTF-8."),
            ("H02", self.body().decode().encode("utf-16"), 400, "encoded in UTF-8"),
            ("H03", self.body(payload={"blob": "x" * 70000}), 413, too_large),
            ("H04", b"  ", 400, "The body is not valid JSON: Expecting value"),
            ("H05", self.body(text="[" * 20000 + "]" * 20000), 400, "nested too deeply"),
            ("H06", self.body(text=deep % ('{"a": ' * 40 + "1" + "}" * 40)), 400,
             "nested too deeply (at most 32 levels)"),
            ("H07", self.body(text=deep % '{"price": NaN}'), 400, "NaN is not a JSON number"),
            ("H08", self.body(text=deep % "[-Infinity]"), 400, "-Infinity is not a JSON number"),
            ("H09", self.body(event_id="e\u0000"), 400, r"must not contain NUL characters"),
            ("H10", self.body(payload={"k\u0000": 1}), 400, "NUL characters"),
            ("H11", self.body(name="A" * 10_000), 400, "name must have at most 255 characters."),
            ("H12", self.body(email="a" * 10_000 + "@example.com"), 400,
             "email must have at most 254 characters."),
        ]:  # fmt: skip
            with self.subTest(case=case):
                got_status, got_error = self.post(raw)
                self.assertEqual(got_status, status)
                self.assertIn(error, got_error)
        self.assertNothingRecorded()

    def test_wrong_content_type(self):
        """H13: a body that is not sent as JSON."""
        raw = self.body()
        status, error = self.post(raw, content_type="text/plain")
        self.assertEqual(
            (status, error), (415, "The body must be JSON: send Content-Type: application/json.")
        )
        self.assertNothingRecorded()

    def test_oversized_body_without_length(self):
        """H14: a chunked body (no Content-Length) larger than the limit is refused after
        reading the limit, not loaded whole."""
        raw = self.body(payload={"blob": "x" * (4 * MAX_BODY_BYTES)})

        def chunks():
            for start in range(0, len(raw), 4096):
                yield raw[start : start + 4096]

        headers = {"Content-Type": "application/json", **self.signed(raw)}
        response = self.url_open(self.url, data=chunks(), headers=headers)
        self.assertEqual(response.status_code, 413)
        self.assertIn(f"at most {MAX_BODY_BYTES} bytes", response.json()["error"])
        self.assertNothingRecorded()
