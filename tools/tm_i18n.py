#!/usr/bin/env python3
"""Translation files of the addons, for tools/tm.sh (``make pot`` and ``make lint``).

The ``.pot`` files are exported by Odoo itself (``odoo.tools.translate.trans_export``, what
``odoo-bin i18n export`` calls) from a database where the addons are installed; the other
commands only read and write PO files (polib, which Odoo requires).

Sub-commands:

    fingerprint REPO MODULES           hash of what the exported terms depend on (the addons'
                                       files but i18n/, tests/, readme/; Odoo's version)
    db-fingerprint DB [VALUE]          print (or set) the fingerprint kept on database DB
    export DB ADDONS_PATH OUTDIR MODULES
                                       OUTDIR/<module>.pot for each module, by Odoo's export
    check REPO OUTDIR MODULES          exit 1 (with a diff) unless every <module>/i18n/<module>.pot
                                       equals OUTDIR/<module>.pot, header dates aside
    install REPO OUTDIR MODULES        copy the changed .pot files into <module>/i18n/ and merge
                                       every <module>/i18n/*.po with its .pot
    stats REPO MODULES [LANG]          terms per addon and how many are translated (fr)

MODULES is comma-separated.
"""

import difflib
import hashlib
import os
import re
import sys

# header lines that change at every export and mean nothing
DATE_LINE = re.compile(r'^"(POT-Creation-Date|PO-Revision-Date): .*\\n"$')
# what the exported terms do not depend on
SKIPPED_DIRS = {"i18n", "tests", "readme", "__pycache__", "description"}
SKIPPED_SUFFIXES = (".pyc", ".md", ".png", ".jpg", ".svg")
# header of a new translation (Odoo's own fr.po files say the same)
LANG_METADATA = {
    "fr": {"Language": "fr", "Plural-Forms": "nplurals=2; plural=n > 1;"},
}


def _err(msg):
    print(msg, file=sys.stderr)


def _modules(value):
    return [m for m in value.replace(",", " ").split() if m]


# --------------------------------------------------------------------------- #
# the database the .pot files are exported from
# --------------------------------------------------------------------------- #
def fingerprint(repo, modules):
    import odoo.release

    digest = hashlib.sha256(f"{odoo.release.version}\n{modules}\n".encode())
    for module in _modules(modules):
        root = os.path.join(repo, module)
        for current, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
            for name in sorted(files):
                if name.endswith(SKIPPED_SUFFIXES):
                    continue
                path = os.path.join(current, name)
                digest.update(os.path.relpath(path, repo).encode() + b"\0")
                with open(path, "rb") as fh:
                    digest.update(hashlib.sha256(fh.read()).digest())
    print(digest.hexdigest())
    return 0


def db_fingerprint(db, value=None):
    """The fingerprint is the database's comment: it goes with the database."""
    import psycopg2
    from psycopg2 import sql

    conn = psycopg2.connect(dbname=os.environ.get("TM_PG_MAINTENANCE_DB", "postgres"))
    conn.autocommit = True
    try:
        with conn.cursor() as cr:
            if value is None:
                cr.execute(
                    "SELECT shobj_description(oid, 'pg_database') FROM pg_database"
                    " WHERE datname = %s",
                    (db,),
                )
                row = cr.fetchone()
                print((row and row[0]) or "")
            else:
                cr.execute(
                    sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                        sql.Identifier(db), sql.Literal(value)
                    )
                )
    finally:
        conn.close()
    return 0


def export(db, addons_path, outdir, modules):
    """One ``<module>.pot`` per module with Odoo's export, in one Odoo process."""
    import odoo
    from odoo.modules.registry import Registry
    from odoo.tools import config
    from odoo.tools.translate import trans_export

    config.parse_config(["--addons-path", addons_path, "--no-http", "--log-level", "warn"])
    os.makedirs(outdir, exist_ok=True)
    with Registry(db).cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        for module in _modules(modules):
            with open(os.path.join(outdir, f"{module}.pot"), "wb") as fh:
                if not trans_export(None, [module], fh, "po", env):
                    _err(f"tm: {module} has no translatable term")
    return 0


# --------------------------------------------------------------------------- #
# comparing and merging PO files
# --------------------------------------------------------------------------- #
def _lines_without_dates(path):
    with open(path, encoding="utf-8") as fh:
        return [line for line in fh.read().splitlines() if not DATE_LINE.match(line)]


def _same_terms(path_a, path_b):
    return _lines_without_dates(path_a) == _lines_without_dates(path_b)


def check(repo, outdir, modules):
    stale = []
    for module in _modules(modules):
        current = os.path.join(repo, module, "i18n", f"{module}.pot")
        fresh = os.path.join(outdir, f"{module}.pot")
        if not os.path.isfile(current):
            stale.append(module)
            _err(f"tm: {module}/i18n/{module}.pot is missing")
            continue
        if _same_terms(current, fresh):
            continue
        stale.append(module)
        diff = list(
            difflib.unified_diff(
                _lines_without_dates(current),
                _lines_without_dates(fresh),
                f"{module}/i18n/{module}.pot",
                "exported now",
                lineterm="",
                n=1,
            )
        )
        shown = 60
        _err("\n".join(diff[:shown]))
        if len(diff) > shown:
            _err(f"... ({len(diff) - shown} more lines of diff)")
    if stale:
        _err(
            f"tm: out of date translation template(s): {', '.join(stale)}.\n"
            "    Run `make pot` (it re-exports them and adds the new terms to i18n/fr.po),\n"
            "    translate the new terms of i18n/fr.po, and commit."
        )
        return 1
    return 0


def merge_po(pot_path, po_path, lang):
    """Rewrite ``po_path`` with the entries of the template, in its order, keeping the
    translations (and fuzzy flags) it already has; terms gone from the template go."""
    import polib

    pot = polib.pofile(pot_path)
    old = polib.pofile(po_path) if os.path.isfile(po_path) else None
    known = {(e.msgctxt, e.msgid): e for e in old or () if not e.obsolete}
    po = polib.POFile(wrapwidth=pot.wrapwidth)
    po.header = old.header if old else pot.header
    po.metadata = dict(pot.metadata)
    if old:
        po.metadata.update(
            {k: v for k, v in old.metadata.items() if k not in ("POT-Creation-Date",)}
        )
    po.metadata.update(LANG_METADATA.get(lang, {"Language": lang}))
    for entry in pot:
        previous = known.get((entry.msgctxt, entry.msgid))
        entry.msgstr = previous.msgstr if previous else ""
        if previous and "fuzzy" in previous.flags and "fuzzy" not in entry.flags:
            entry.flags.append("fuzzy")
        po.append(entry)
    po.save(po_path)
    return len(pot), sum(1 for e in po if e.msgstr and "fuzzy" not in e.flags)


def install(repo, outdir, modules):
    import shutil

    for module in _modules(modules):
        fresh = os.path.join(outdir, f"{module}.pot")
        i18n = os.path.join(repo, module, "i18n")
        current = os.path.join(i18n, f"{module}.pot")
        os.makedirs(i18n, exist_ok=True)
        if os.path.isfile(current) and _same_terms(current, fresh):
            _err(f"tm: {module}/i18n/{module}.pot is up to date")
        else:
            shutil.copyfile(fresh, current)
            _err(f"tm: {module}/i18n/{module}.pot written")
        po_files = sorted(f for f in os.listdir(i18n) if f.endswith(".po"))
        for name in po_files or ["fr.po"]:
            total, done = merge_po(current, os.path.join(i18n, name), name[:-3])
            _err(f"tm: {module}/i18n/{name}: {done} of {total} terms translated")
    return 0


def stats(repo, modules, lang="fr"):
    """Per addon: terms of the .pot, and how many have a non-fuzzy, non-empty translation."""
    import polib

    print(f"{'addon':<34} {'terms':>6} {lang + ' translated':>14}")
    total = done = 0
    for module in _modules(modules):
        i18n = os.path.join(repo, module, "i18n")
        pot = polib.pofile(os.path.join(i18n, f"{module}.pot"))
        po_path = os.path.join(i18n, f"{lang}.po")
        translated = {}
        if os.path.isfile(po_path):
            translated = {
                (e.msgctxt, e.msgid)
                for e in polib.pofile(po_path)
                if e.msgstr.strip() and "fuzzy" not in e.flags and not e.obsolete
            }
        count = sum(1 for e in pot if (e.msgctxt, e.msgid) in translated)
        print(f"{module:<34} {len(pot):>6} {count:>14}")
        total += len(pot)
        done += count
    print(f"{'total':<34} {total:>6} {done:>14}")
    return 0


COMMANDS = {
    "fingerprint": (fingerprint, 2),
    "db-fingerprint": (db_fingerprint, 1),
    "export": (export, 4),
    "check": (check, 3),
    "install": (install, 3),
    "stats": (stats, 2),
}


def main(argv):
    if not argv or argv[0] not in COMMANDS:
        _err(__doc__)
        return 2
    func, nargs = COMMANDS[argv[0]]
    if len(argv) - 1 < nargs:
        _err(f"tm_i18n: {argv[0]} needs {nargs} argument(s)")
        return 2
    return func(*argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
