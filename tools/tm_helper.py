#!/usr/bin/env python3
"""Small helpers for tools/tm.sh that are easier to write in Python.

Stdlib only (psycopg2 is imported lazily by the database commands), so that it
runs under any interpreter, including one that cannot import Odoo yet.

Sub-commands (all print their result on stdout, diagnostics on stderr):

    odoo-check                 exit 0 if Odoo 19.0 is importable, else print why
    addons-path REPO [EXTRA]   comma-separated addons path (Odoo's + REPO + EXTRA)
    odoo-addons-path           Odoo's own addons folders only (comma-separated)
    module-path NAME ADDONS_PATH   the folder Odoo loads addon NAME from
    modules REPO ADDONS_PATH   installable addons of REPO whose dependencies exist
    test-paths MODULES ADDONS_PATH   <addon>/tests folders of MODULES
    extract ARCHIVE DEST       unpack a .tar.gz/.tgz/.tar/.zip, print the Odoo root
    find-root DIR              print the Odoo source root inside DIR
    pg-check                   can we connect to PostgreSQL and create databases?
    db-exists NAME             exit 0 if database NAME exists
    db-drop NAME               drop database NAME (forcefully), if it exists
    module-state DB NAME       print addon NAME's state and version in DB; exit 0 if installed
"""

import ast
import os
import sys
import tarfile
import zipfile

ODOO_SERIES = (19, 0)


def _err(msg):
    print(msg, file=sys.stderr)


# --------------------------------------------------------------------------- #
# Odoo
# --------------------------------------------------------------------------- #
def odoo_check():
    try:
        import odoo
        import odoo.release
    except Exception as exc:  # report anything, never a traceback
        print(f"'import odoo' fails with {sys.executable}: {type(exc).__name__}: {exc}")
        return 1
    found = tuple(odoo.release.version_info[:2])
    if found != ODOO_SERIES:
        where = list(getattr(odoo, "__path__", []))
        print(
            f"{sys.executable} imports Odoo {odoo.release.version} from {where}, "
            f"but Odoo {ODOO_SERIES[0]}.{ODOO_SERIES[1]} is required"
        )
        return 1
    return 0


def _odoo_addons_dirs():
    """Odoo's own addons folders: <odoo pkg>/addons and, in a git/GitHub-archive
    layout, the `addons` folder beside the package directory."""
    import odoo

    pkg_dir = os.path.realpath(list(odoo.__path__)[0])
    dirs = [os.path.join(pkg_dir, "addons")]
    beside = os.path.join(os.path.dirname(pkg_dir), "addons")
    if os.path.isdir(beside) and _is_addons_dir(beside):
        dirs.append(beside)
    return dirs


def odoo_addons_path():
    print(",".join(_odoo_addons_dirs()))
    return 0


def module_path(name, addons_path_value):
    """Where Odoo, with this addons path (and sys.path: PYTHONPATH), finds addon NAME."""
    from odoo.modules.module import get_module_path, initialize_sys_path
    from odoo.tools import config

    config.parse_config(
        [f"--addons-path={addons_path_value}", "--http-interface=127.0.0.1"], setup_logging=False
    )
    initialize_sys_path()
    path = get_module_path(name, display_warning=False)
    if not path:
        _err(f"tm: error: addon {name} is not found with the addons path {addons_path_value}")
        return 1
    print(os.path.realpath(path))
    return 0


def _is_addons_dir(path):
    try:
        entries = os.listdir(path)
    except OSError:
        return False
    return any(os.path.isfile(os.path.join(path, e, "__manifest__.py")) for e in entries)


def _split(value, sep=None):
    if not value:
        return []
    parts = value.split(sep) if sep else value.replace(",", ":").split(":")
    return [p.strip() for p in parts if p.strip()]


def addons_path(repo, extra=""):
    paths = []
    for p in [*_odoo_addons_dirs(), os.path.realpath(repo), *_split(extra)]:
        p = os.path.realpath(os.path.expanduser(p))
        if not os.path.isdir(p):
            _err(f"tm: warning: addons folder {p} does not exist, ignored")
            continue
        if p not in paths:
            paths.append(p)
    print(",".join(paths))
    return 0


def _manifest(module_dir):
    path = os.path.join(module_dir, "__manifest__.py")
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            return ast.literal_eval(fh.read())
    except (ValueError, SyntaxError) as exc:
        _err(f"tm: warning: cannot parse {path}: {exc}")
        return None


def _index(addons_path_value):
    """{module name: folder} for every addon of the addons path (first wins)."""
    index = {}
    for base in _split(addons_path_value, ","):
        try:
            entries = sorted(os.listdir(base))
        except OSError:
            continue
        for name in entries:
            folder = os.path.join(base, name)
            if name not in index and os.path.isfile(os.path.join(folder, "__manifest__.py")):
                index[name] = folder
    return index


def modules(repo, addons_path_value):
    """Installable addons at the root of REPO whose dependencies (recursively)
    are installable addons of the addons path."""
    index = _index(addons_path_value)
    cache = {}

    def missing_deps(name, seen=()):
        if name in cache:
            return cache[name]
        if name not in index:
            return [name]
        manifest = _manifest(index[name]) or {}
        if not manifest.get("installable", True):
            return [f"{name} (not installable)"]
        missing = []
        for dep in manifest.get("depends", []):
            if dep not in seen:
                missing += missing_deps(dep, (*seen, name))
        cache[name] = missing
        return missing

    result = []
    repo = os.path.realpath(repo)
    for name in sorted(os.listdir(repo)):
        folder = os.path.join(repo, name)
        manifest = _manifest(folder)
        if manifest is None or not manifest.get("installable", True):
            continue
        missing = missing_deps(name)
        if missing:
            _err(
                f"tm: note: {name} skipped, missing dependencies: {', '.join(sorted(set(missing)))}"
            )
            continue
        result.append(name)
    print(",".join(result))
    return 0


def test_paths(module_list, addons_path_value):
    index = _index(addons_path_value)
    out = []
    for name in _split(module_list):
        if name not in index:
            _err(f"tm: error: module {name} is not in the addons path {addons_path_value}")
            return 2
        tests = os.path.join(index[name], "tests")
        if os.path.isdir(tests):
            out.append(tests)
    print("\n".join(out))
    return 0


# --------------------------------------------------------------------------- #
# Odoo source archives
# --------------------------------------------------------------------------- #
def find_root(directory):
    """The folder holding the `odoo` package (odoo/release.py) and setup files."""
    directory = os.path.realpath(directory)
    for current, dirs, _files in os.walk(directory):
        depth = current[len(directory) :].count(os.sep)
        if os.path.isfile(os.path.join(current, "odoo", "release.py")) and (
            os.path.isfile(os.path.join(current, "setup.py"))
            or os.path.isfile(os.path.join(current, "pyproject.toml"))
        ):
            print(current)
            return 0
        if depth >= 2:
            dirs[:] = []
    _err(f"tm: error: no Odoo source tree (odoo/release.py + setup.py) found in {directory}")
    return 1


def extract(archive, dest):
    os.makedirs(dest, exist_ok=True)
    try:
        if archive.endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(dest)
        else:
            with tarfile.open(archive) as tf:
                if hasattr(tarfile, "data_filter"):
                    tf.extractall(dest, filter="data")
                else:
                    tf.extractall(dest)
    except (OSError, tarfile.TarError, zipfile.BadZipFile) as exc:
        _err(f"tm: error: cannot extract {archive}: {exc}")
        return 1
    return find_root(dest)


# --------------------------------------------------------------------------- #
# PostgreSQL (through psycopg2, like Odoo; libpq's PG* variables apply)
# --------------------------------------------------------------------------- #
def psycopg2_connect(dbname):
    import psycopg2

    conn = psycopg2.connect(dbname=dbname)
    conn.autocommit = True
    return conn


def _connect():
    return psycopg2_connect(os.environ.get("TM_PG_MAINTENANCE_DB", "postgres"))


def pg_check():
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        print(
            f"psycopg2 is not importable with {sys.executable} (it comes with Odoo's requirements)"
        )
        return 1
    try:
        conn = _connect()
    except Exception as exc:
        print(f"cannot connect to PostgreSQL: {str(exc).strip()}")
        return 1
    with conn, conn.cursor() as cr:
        cr.execute(
            "SELECT current_user, rolcreatedb OR rolsuper"
            " FROM pg_roles WHERE rolname = current_user"
        )
        user, can_create = cr.fetchone()
        cr.execute("SHOW server_version")
        version = cr.fetchone()[0]
    if not can_create:
        print(f"PostgreSQL role {user!r} may not create databases (run: createuser -s {user})")
        return 1
    print(f"PostgreSQL {version}, role {user}")
    return 0


def db_exists(name):
    with _connect() as conn, conn.cursor() as cr:
        cr.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        return 0 if cr.fetchone() else 1


def db_drop(name):
    from psycopg2 import sql

    conn = _connect()
    try:
        with conn.cursor() as cr:
            cr.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    finally:
        conn.close()
    return 0


def module_state(dbname, name):
    conn = psycopg2_connect(dbname)
    try:
        with conn.cursor() as cr:
            cr.execute(
                "SELECT state, latest_version FROM ir_module_module WHERE name = %s", (name,)
            )
            row = cr.fetchone()
    finally:
        conn.close()
    print(f"{name} in {dbname}: " + (f"{row[0]}, version {row[1]}" if row else "unknown"))
    return 0 if row and row[0] == "installed" else 1


COMMANDS = {
    "odoo-check": (odoo_check, 0),
    "addons-path": (addons_path, 1),
    "odoo-addons-path": (odoo_addons_path, 0),
    "module-path": (module_path, 2),
    "modules": (modules, 2),
    "test-paths": (test_paths, 2),
    "extract": (extract, 2),
    "find-root": (find_root, 1),
    "pg-check": (pg_check, 0),
    "db-exists": (db_exists, 1),
    "db-drop": (db_drop, 1),
    "module-state": (module_state, 2),
}


def main(argv):
    if not argv or argv[0] not in COMMANDS:
        _err(__doc__)
        return 2
    func, nargs = COMMANDS[argv[0]]
    args = argv[1:]
    if len(args) < nargs:
        _err(f"tm_helper: {argv[0]} needs {nargs} argument(s)")
        return 2
    return func(*args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
