"""One SMTP session fed from a thread of its own (no ORM here).

The delivery lane builds each message with Odoo (ORM, in the worker's thread) and hands
it over; this thread holds the SMTP dialogue (MAIL, RCPT, DATA: four round trips per
message), so that the next message is built while the server answers. Messages go in
the order they were given, over the one session; once the session breaks (connection
lost), nothing more is sent and what was not accepted is reported as such.
"""

import queue
import smtplib
import threading

# After these, the session is unusable and the message was not accepted (no 250 reply to
# the end of its DATA): it may be tried again, with every message after it.
SESSION_ERRORS = (smtplib.SMTPServerDisconnected, ConnectionError, TimeoutError)


class SmtpSender:
    """``with SmtpSender(session) as sender: sender.put(key, envelopes)``, then
    ``sender.results[key]``: ``(accepted, error)``, the number of its envelopes the
    server accepted and the error that stopped the others (None: all accepted; a
    ``SESSION_ERRORS`` one for the message that broke the session and those after).

    :param envelopes: ``[(smtp_from, smtp_to_list, message), ...]`` for one key
    """

    def __init__(self, session, depth=16):
        self.session = session
        self.queue = queue.Queue(maxsize=depth)
        self.results = {}
        self.broken = None
        self.thread = threading.Thread(target=self._run, name="smtp-sender", daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.queue.put(None)
        self.thread.join()
        return False

    def put(self, key, envelopes):
        self.queue.put((key, envelopes))

    def _run(self):
        while (item := self.queue.get()) is not None:
            key, envelopes = item
            accepted = 0
            if self.broken is not None:
                self.results[key] = (accepted, self.broken)
                continue
            try:
                for smtp_from, smtp_to_list, message in envelopes:
                    self.session.send_message(message, smtp_from, smtp_to_list)
                    accepted += 1
            except SESSION_ERRORS as error:
                self.broken = error
                self.results[key] = (accepted, error)
            except Exception as error:  # noqa: BLE001 - reported for this message only
                self.results[key] = (accepted, error)
            else:
                self.results[key] = (accepted, None)
