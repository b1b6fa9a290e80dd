"""Run locust's command line (``python tools/bench/locust_run.py <locust options>``).

Odoo 19 pins urllib3 1.26 on Python 3.11, and recent locust imports
``urllib3.util.create_urllib3_context`` (urllib3 2), although the bench's users
(``FastHttpUser``, geventhttpclient) never use urllib3. Where it is missing, the same
function of urllib3 1.26 (``urllib3.util.ssl_``) is put there before locust is imported;
nothing else changes. gevent patches the standard library first, as locust expects.
"""

from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402

import urllib3.util  # noqa: E402

if not hasattr(urllib3.util, "create_urllib3_context"):
    from urllib3.util.ssl_ import create_urllib3_context  # noqa: E402

    urllib3.util.create_urllib3_context = create_urllib3_context

from locust.main import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
