#!/usr/bin/env python3
"""A real SMTP server on loopback for the bench: it accepts every mail and records it.

Run in its own process (``python -m tools.bench.smtp_sink --port 2525 --out mails.jsonl``)
so that its work never competes with the process it measures. For each mail received it
appends one JSON line to ``--out``, written and flushed at once (a reader sees the mails
as they arrive)::

    {"t": <arrival, seconds since the epoch>, "from": ..., "to": [recipients],
     "message_id": ..., "bytes": <size>, "data": <the message, with --keep-data>}

``--keep-data`` keeps the message itself (the bench reads the tracking URLs from the
bodies). It answers 250 to everything: no delivery, no relay, loopback only. SIGTERM or
SIGINT stops it after a last line on stderr (mails received, first and last arrival).

From Python, :class:`SmtpSink` starts it as a subprocess and waits until it listens;
:func:`read_mails` reads its file.
"""

import argparse
import asyncio
import email
import email.policy
import json
import os
import signal
import socket
import subprocess
import sys
import time

HOST = "127.0.0.1"


class RecordingHandler:
    """aiosmtpd handler: one JSON line per mail, flushed at once."""

    def __init__(self, out, keep_data=False):
        self.out = out
        self.keep_data = keep_data
        self.count = 0
        self.first = self.last = None

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        now = time.time()
        content = envelope.original_content or envelope.content or b""
        message = email.message_from_bytes(content, policy=email.policy.compat32)
        record = {
            "t": now,
            "from": envelope.mail_from,
            "to": list(envelope.rcpt_tos),
            "message_id": (message.get("Message-Id") or "").strip(),
            "bytes": len(content),
        }
        if self.keep_data:
            record["data"] = content.decode("utf-8", "replace")
        self.out.write(json.dumps(record) + "\n")
        self.out.flush()
        self.count += 1
        self.first = self.first or now
        self.last = now
        return "250 Message accepted"


def serve(port, out_path, keep_data=False):
    from aiosmtpd.smtp import SMTP

    with open(out_path, "a", encoding="utf-8") as out:
        handler = RecordingHandler(out, keep_data)
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(
            loop.create_server(
                lambda: SMTP(handler, hostname="bench-sink", enable_SMTPUTF8=True),
                host=HOST,
                port=port,
            )
        )
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        sys.stderr.write(f"smtp_sink: listening on {HOST}:{port}, writing {out_path}\n")
        sys.stderr.flush()
        loop.run_until_complete(stop.wait())
        server.close()
        loop.run_until_complete(server.wait_closed())
        span = (handler.last - handler.first) if handler.count else 0.0
        sys.stderr.write(
            f"smtp_sink: {handler.count} mails received"
            + (f" in {span:.1f}s (first to last)" if handler.count else "")
            + "\n"
        )


def free_port():
    """A TCP port free on loopback now (the sink binds it right after)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def read_mails(path):
    """The records of a sink's file, in arrival order."""
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.endswith("\n")]


class SmtpSink:
    """The sink as a subprocess: ``with SmtpSink(path) as sink: ... sink.port``."""

    def __init__(self, out_path, port=None, keep_data=False):
        self.out_path = out_path
        self.port = port or free_port()
        self.keep_data = keep_data
        self.process = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self, timeout=20):
        cmd = [sys.executable, os.path.abspath(__file__), "--port", str(self.port)]
        cmd += ["--out", self.out_path] + (["--keep-data"] if self.keep_data else [])
        self.process = subprocess.Popen(cmd)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"smtp_sink exited with {self.process.returncode}")
            try:
                with socket.create_connection((HOST, self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"smtp_sink did not listen on {HOST}:{self.port}")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def mails(self):
        return read_mails(self.out_path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True, help="JSON lines file, appended to")
    parser.add_argument("--keep-data", action="store_true", help="keep each message")
    args = parser.parse_args(argv)
    serve(args.port, args.out, args.keep_data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
