"""``tools/tm.sh build-deps`` on a fresh Debian machine: the packages that Odoo's
requirements build against are installed by apt as root, else the command is printed.

dpkg-query, apt-get and id are replaced by scripts on PATH that answer as a fresh
Debian 12 would and record how they were called (the machine's packages are not touched).
"""

import os
import stat
import subprocess
import tempfile

from odoo.tests import BaseCase, tagged

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGES = "libpq-dev libldap2-dev libsasl2-dev"


@tagged("post_install", "-at_install")
class TestBuildDeps(BaseCase):
    def setUp(self):
        super().setUp()
        self.bin = tempfile.mkdtemp(prefix="tm_fake_bin_")
        self.calls = os.path.join(self.bin, "calls.log")
        self.addCleanup(subprocess.run, ["rm", "-rf", self.bin], check=False)

    def fake(self, name, body):
        path = os.path.join(self.bin, name)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(f'#!/bin/sh\necho "{name} $*" >> "{self.calls}"\n{body}\n')
        os.chmod(path, os.stat(path).st_mode | stat.S_IEXEC)

    def machine(self, uid, installed=()):
        """dpkg knows ``installed`` only; ``id -u`` says ``uid``; apt-get succeeds."""
        cases = "".join(f'  *" {pkg}") echo installed; exit 0;;\n' for pkg in installed)
        self.fake("dpkg-query", f'case " $*" in\n{cases}esac\nexit 1')
        self.fake("id", f"echo {uid}")
        self.fake("apt-get", "exit 0")

    def run_build_deps(self):
        env = dict(os.environ, PATH=f"{self.bin}:{os.environ['PATH']}")
        proc = subprocess.run(
            ["bash", os.path.join(REPO, "tools", "tm.sh"), "build-deps"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        try:
            with open(self.calls, encoding="utf-8") as fh:
                calls = [line for line in fh.read().splitlines() if line.startswith("apt-get")]
        except FileNotFoundError:
            calls = []
        return proc, calls

    def test_root_with_apt_installs_what_is_missing_and_says_so(self):
        self.machine(uid=0, installed=("libpq-dev",))
        proc, calls = self.run_build_deps()
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(
            calls,
            [
                "apt-get update -qq",
                "apt-get install -y -qq --no-install-recommends libldap2-dev libsasl2-dev",
            ],
        )
        self.assertIn("installing them (apt-get install -y libldap2-dev libsasl2-dev)", proc.stderr)

    def test_not_root_prints_the_single_command(self):
        self.machine(uid=1000)
        proc, calls = self.run_build_deps()
        self.assertEqual(proc.returncode, 1)
        self.assertEqual(calls, [], "nothing is installed without root")
        self.assertIn(f"sudo apt-get install -y {PACKAGES}\n", proc.stderr)

    def test_nothing_missing_nothing_done(self):
        self.machine(uid=0, installed=PACKAGES.split())
        proc, calls = self.run_build_deps()
        self.assertEqual((proc.returncode, proc.stderr, calls), (0, "", []))
