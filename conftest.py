"""Repository-wide pytest hooks, loaded for the tests of every addon of the repository.

* Odoo test classes tagged ``@tagged("slow")`` get the pytest marker ``slow``, so that
  ``make test`` (``-m "not slow"``) leaves them to ``make test-slow`` (``-m slow``).
  ``@pytest.mark.slow`` works as well.
* With ``TM_REQUIRE_BROWSER=1`` (CI sets it), a test that Odoo skips because it cannot
  find or start Chrome/Chromium (``odoo.tests.common.ChromeBrowser`` raises
  ``unittest.SkipTest``) is reported as a failure instead of a silent skip.
"""

import os
import re

import pytest

# Skip reasons raised by odoo/tests/common.py (Odoo 19) when the browser is unusable:
# "Chrome executable not found", "<path> not found", "Failed to detect chrome devtools
# port ...", "Error during Chrome headless connection", "Cannot connect to chrome dev tools",
# "websocket-client module is not installed".
BROWSER_SKIP_REASON = re.compile(r"chrom|devtools|websocket", re.IGNORECASE)


def browser_required():
    return os.environ.get("TM_REQUIRE_BROWSER", "").strip().lower() in {"1", "true", "yes"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        tags = getattr(getattr(item, "cls", None), "test_tags", None) or ()
        if "slow" in tags:
            item.add_marker(pytest.mark.slow)


def _skip_reason(report):
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr or "")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.skipped and not hasattr(report, "wasxfail") and browser_required():
        reason = _skip_reason(report)
        if BROWSER_SKIP_REASON.search(reason):
            report.outcome = "failed"
            report.longrepr = (
                f"{item.nodeid}: the browser test was skipped ({reason}) but "
                "TM_REQUIRE_BROWSER=1 requires it to run.\n"
                "Install Chromium (Debian: apt-get install -y chromium) and websocket-client, "
                "or unset TM_REQUIRE_BROWSER."
            )
    return report
