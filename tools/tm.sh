#!/usr/bin/env bash
# Development harness of the trigger_marketing addons: `make` targets call this script.
#
#   tools/tm.sh setup          install what is missing, check PostgreSQL, print the set-up
#   tools/tm.sh run            set-up + create/update the demo database + serve Odoo
#   tools/tm.sh screenshots    set-up + demo database + PNGs of the main screens (SHOTS_DIR)
#   tools/tm.sh test           set-up + fresh test database + pytest -m "not slow"
#   tools/tm.sh test-slow      same, pytest -m slow (no slow test at all is not an error)
#   tools/tm.sh bench          set-up + tools/bench (python -m tools.bench) on a fresh database (N contacts)
#   tools/tm.sh bench-latency  set-up + tools/bench/latency.py: event -> inbox on two real servers
#   tools/tm.sh bench-overhead set-up + tools/bench/overhead.py: Odoo's operations with/without the addon
#   tools/tm.sh wheels         build every addon's wheel (whool) into WHEELS_DIR
#   tools/tm.sh wheels-check   build the wheels, pip-install them into a temporary folder and
#                              install trigger_marketing from there on a fresh database
#   tools/tm.sh lint           ruff check, ruff format --check, pylint-odoo (mandatory checks)
#   tools/tm.sh format         ruff check --fix + ruff format
#   tools/tm.sh pot            export i18n/<addon>.pot (Odoo's export) and merge i18n/*.po
#   tools/tm.sh pot-check      exit 1 if an i18n/<addon>.pot is out of date (part of lint)
#   tools/tm.sh pg-start       start the local PostgreSQL cluster(s) if installed but down
#   tools/tm.sh check-odoo     exit 1 with an explanation unless Odoo 19 is importable
#   tools/tm.sh build-deps     the Debian packages Odoo's requirements build against:
#                              installed with apt-get as root, else the command is printed
#   tools/tm.sh drop-db        drop the demo database (DB)
#
# Settings (environment variables, also accepted as `make VAR=value`): see usage() below.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HELPER="$REPO/tools/tm_helper.py"
I18N="$REPO/tools/tm_i18n.py"

PYTHON=${PYTHON:-python3}
DB=${DB:-trigger_marketing_demo}
PORT=${PORT:-8069}
HTTP_INTERFACE=${HTTP_INTERFACE:-127.0.0.1}
MODULES=${MODULES:-}
EXTRA_ADDONS_PATH=${EXTRA_ADDONS_PATH:-}
ODOO_SOURCE=${ODOO_SOURCE:-}
ODOO_URL=${ODOO_URL:-https://github.com/odoo/odoo/archive/refs/heads/19.0.tar.gz}
TM_CACHE_DIR=${TM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/trigger_marketing}
ODOO_ARGS=${ODOO_ARGS:-}
SHOTS_DIR=${SHOTS_DIR:-$REPO/screenshots}
SHOTS_PORT=${SHOTS_PORT:-8079}
TESTS=${TESTS:-}
PYTEST_ARGS=${PYTEST_ARGS:-}
KEEP_DB=${KEEP_DB:-0}
TEST_DB=${TEST_DB:-}
TEST_LOG_LEVEL=${TEST_LOG_LEVEL:-warn}
N=${N:-20000}
CARTS=${CARTS:-0}
BENCH_DB=${BENCH_DB:-}
BENCH_JSON=${BENCH_JSON:-bench-results.json}
BENCH_ARGS=${BENCH_ARGS:-}
WHEELS_DIR=${WHEELS_DIR:-$REPO/dist}
# the database the .pot files are exported from: one per clone, kept and reused
POT_DB=${POT_DB:-tm_pot_$(printf '%s' "$REPO" | cksum | cut -d' ' -f1)}

usage() {
    cat <<EOF
usage: tools/tm.sh {setup|run|screenshots|test|test-slow|bench|bench-latency|bench-overhead|wheels|wheels-check|lint|format|pot|pot-check|pg-start|check-odoo|build-deps|drop-db}

Settings (environment variables or make VAR=value):
  PYTHON=$PYTHON             interpreter that has (or gets) Odoo 19 and the dev tools
  DB=$DB                     demo database of 'run'
  PORT=$PORT, HTTP_INTERFACE=$HTTP_INTERFACE
                             where 'run' serves Odoo
  MODULES=a,b                addons to install/test (default: installable addons at the
                             repository root whose dependencies are in the addons path)
  EXTRA_ADDONS_PATH=d1:d2    more addons folders (e.g. third-party dependencies)
  ODOO_SOURCE=dir|archive    Odoo 19 source to install when 'import odoo' fails
                             (default: download $ODOO_URL)
  ODOO_ARGS='...'            extra odoo-bin options for 'run'
  SHOTS_DIR=$SHOTS_DIR, SHOTS_PORT=$SHOTS_PORT
                             where 'screenshots' saves its PNGs / serves Odoo meanwhile
  TESTS='path::Class::test'  what pytest runs (default: <addon>/tests of every module)
  PYTEST_ARGS='-k foo -x'    extra pytest options
  KEEP_DB=1                  keep the test database (its name is printed)
  TM_REQUIRE_BROWSER=1       browser tests skipped for want of Chrome/Chromium fail
  N=$N                   bench: number of contacts (100000 for the documented run)
  CARTS=1                    bench: also the abandoned carts (installs website_sale)
  BENCH_DB=name              bench: database name (default tmbench_<N>_<time>; it must
                             not exist; dropped at the end unless KEEP_DB=1)
  BENCH_JSON=$BENCH_JSON
                             bench: where the figures are written
  BENCH_ARGS='--profile'     bench: more options of tools/bench (python -m tools.bench --help);
                             bench-latency: of python -m tools.bench.latency --help
                             (e.g. '--rate 20 --duration 120 --from-db <db>')
  WHEELS_DIR=$WHEELS_DIR
                             wheels: where the odoo-addon-* wheels are written
  POT_DB=$POT_DB     pot, lint: database the .pot files are exported from
                             (kept; updated with -u only when the addons changed)
EOF
}

# --------------------------------------------------------------------------- #
# messages
# --------------------------------------------------------------------------- #
say() { printf 'tm: %s\n' "$*" >&2; }
die() {
    printf '\ntm: error: %s\n' "$1" >&2
    shift
    local line
    for line in "$@"; do printf '    %s\n' "$line" >&2; done
    exit 1
}
helper() { "$PYTHON" "$HELPER" "$@"; }
i18n() { "$PYTHON" "$I18N" "$@"; }

# split a user-supplied string into words, honouring quotes, without eval
split_words() { # <string> -> prints NUL-separated words
    [[ -n $1 ]] || return 0
    printf '%s' "$1" | xargs -r printf '%s\0'
}

# --------------------------------------------------------------------------- #
# python, Odoo, requirements
# --------------------------------------------------------------------------- #
check_python() {
    command -v "$PYTHON" >/dev/null 2>&1 ||
        die "the Python interpreter PYTHON=$PYTHON was not found." \
            "Set PYTHON=/path/to/python3 (3.10 to 3.13, the one that has or shall get Odoo 19)."
    "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' ||
        die "PYTHON=$PYTHON is older than Python 3.10, which Odoo 19 requires."
}

pip_install() {
    "$PYTHON" -m pip --version >/dev/null 2>&1 ||
        die "pip is not available for PYTHON=$PYTHON." \
            "Install it (python3 -m ensurepip, or apt-get install python3-pip) or choose another PYTHON."
    PIP_ROOT_USER_ACTION=ignore "$PYTHON" -m pip install --disable-pip-version-check "$@"
}

download() { # <url> <dest file>
    local url=$1 dest=$2
    mkdir -p "$(dirname "$dest")"
    say "downloading $url"
    if command -v curl >/dev/null 2>&1; then
        curl -fL --progress-bar --retry 2 --connect-timeout 20 -o "$dest.part" "$url" || return 1
    else
        "$PYTHON" - "$url" "$dest.part" <<'EOF' || return 1
import sys, urllib.request
urllib.request.urlretrieve(sys.argv[1], sys.argv[2])
EOF
    fi
    mv "$dest.part" "$dest"
}

extract_archive() { # <archive> -> prints the Odoo source root
    local archive=$1 name dest
    name=$(basename "$archive")
    name=${name%.zip}; name=${name%.gz}; name=${name%.tgz}; name=${name%.tar}
    dest="$TM_CACHE_DIR/src/$name"
    if [[ -f $dest/.tm-extracted && $dest/.tm-extracted -nt $archive ]]; then
        helper find-root "$dest"
        return
    fi
    say "extracting $archive into $dest"
    rm -rf "$dest"
    helper extract "$archive" "$dest" >/dev/null || return 1
    touch "$dest/.tm-extracted"
    helper find-root "$dest"
}

# resolve ODOO_SOURCE (folder, archive or URL) or the default URL to a source root
odoo_source_root() {
    local spec=$1 archive
    case $spec in
    http://* | https://*)
        archive=$(basename "${spec%%\?*}")
        [[ $archive == odoo* ]] || archive="odoo-$archive" # .../heads/19.0.tar.gz
        archive="$TM_CACHE_DIR/downloads/$archive"
        [[ -f $archive ]] || download "$spec" "$archive" || return 1
        extract_archive "$archive"
        ;;
    *)
        if [[ -d $spec ]]; then
            helper find-root "$spec"
        elif [[ -f $spec ]]; then
            case $spec in
            *.tar.gz | *.tgz | *.tar | *.zip) extract_archive "$spec" ;;
            *) say "ODOO_SOURCE=$spec is a file but not a .tar.gz/.tgz/.tar/.zip archive"; return 1 ;;
            esac
        else
            say "ODOO_SOURCE=$spec: no such file or folder"
            return 1
        fi
        ;;
    esac
}

# Debian packages that Odoo's requirements build against (psycopg2, python-ldap)
BUILD_DEPS=(libpq-dev libldap2-dev libsasl2-dev)

missing_build_deps() { # prints the BUILD_DEPS that dpkg does not know as installed
    command -v dpkg-query >/dev/null 2>&1 || return 0 # not Debian: pip will tell
    local pkg
    for pkg in "${BUILD_DEPS[@]}"; do
        [[ $(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null) == installed ]] ||
            printf '%s\n' "$pkg"
    done
}

ensure_build_deps() { # as root with apt: install what is missing; else say the command
    local -a missing=()
    mapfile -t missing < <(missing_build_deps)
    ((${#missing[@]})) || return 0
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        say "Odoo's requirements build against ${missing[*]}, which are missing:" \
            "installing them (apt-get install -y ${missing[*]})"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
                "${missing[@]}" ||
            die "apt-get could not install ${missing[*]} (see above)."
    else
        die "Odoo's requirements need the Debian packages ${missing[*]} to build. Run:" \
            "sudo apt-get install -y ${missing[*]}" \
            "then run make again."
    fi
}

install_odoo() { # <source root>
    local src
    src=$(cd "$1" && pwd -P)
    case "$src/" in
    "$(cd "$REPO" && pwd -P)/"*)
        die "the Odoo source $src is inside the repository." \
            "Keep Odoo outside the repository (e.g. in $TM_CACHE_DIR) and point ODOO_SOURCE at it." ;;
    esac
    say "installing Odoo 19 from $src into $PYTHON"
    # cbor2==5.4.2 (pinned by Odoo for python < 3.12) is an sdist that needs old setuptools
    # and setuptools_scm *without* build isolation; psycopg2 / python-ldap need
    # libpq-dev, libldap2-dev and libsasl2-dev.
    ensure_build_deps
    pip_install "setuptools<70" "setuptools_scm<8" wheel ||
        die "pip could not install setuptools<70 / setuptools_scm<8 into $PYTHON."
    pip_install --no-build-isolation -r "$src/requirements.txt" ||
        die "pip could not install Odoo's requirements ($src/requirements.txt)." \
            "Build dependencies on Debian: apt-get install -y build-essential python3-dev" \
            "libpq-dev libldap2-dev libsasl2-dev libjpeg-dev zlib1g-dev libxml2-dev libxslt1-dev"
    pip_install --no-deps --no-build-isolation -e "$src" ||
        die "pip could not install Odoo from $src."
}

ensure_odoo() {
    local why src
    why=$(helper odoo-check) && return 0
    say "Odoo 19 is not usable: $why"
    if [[ -n $ODOO_SOURCE ]]; then
        src=$(odoo_source_root "$ODOO_SOURCE") ||
            die "Odoo 19 is not importable with PYTHON=$PYTHON ($why)" \
                "and ODOO_SOURCE=$ODOO_SOURCE could not be used (see above)." \
                "Set ODOO_SOURCE to an Odoo 19.0 source folder (with odoo-bin and requirements.txt)" \
                "or to an archive of one (.tar.gz/.zip), e.g. ODOO_SOURCE=/path/to/odoo-19.0.tar.gz"
    else
        src=$(odoo_source_root "$ODOO_URL") ||
            die "Odoo 19 is not importable with PYTHON=$PYTHON ($why)," \
                "ODOO_SOURCE is not set and the download of $ODOO_URL failed." \
                "Set ODOO_SOURCE=/path/to/odoo-19.0 (a source folder) or an archive of it" \
                "(.tar.gz/.zip), or install Odoo 19 into $PYTHON yourself."
    fi
    install_odoo "$src"
    why=$(helper odoo-check) ||
        die "Odoo was installed from $src but is still not usable: $why"
    say "Odoo 19 installed from $src"
}

ensure_requirements() {
    # pip answers from the installed metadata when everything is satisfied (no network)
    pip_install -q -r "$REPO/requirements.txt" ||
        die "pip could not install the development requirements ($REPO/requirements.txt) into $PYTHON."
}

# --------------------------------------------------------------------------- #
# PostgreSQL
# --------------------------------------------------------------------------- #
pg_start_local() { # start Debian clusters that are installed but down; no python needed
    command -v pg_lsclusters >/dev/null 2>&1 || return 0
    local ver name _port status _rest
    while read -r ver name _port status _rest; do
        [[ $status == down* ]] || continue
        say "starting PostgreSQL cluster $ver/$name"
        pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start ||
            say "could not start PostgreSQL cluster $ver/$name"
    done < <(pg_lsclusters --no-header 2>/dev/null)
}

ensure_postgres() {
    local why _
    why=$(helper pg-check 2>&1) && { say "$why"; return 0; }
    pg_start_local
    for _ in 1 2 3 4 5; do
        why=$(helper pg-check 2>&1) && { say "$why"; return 0; }
        sleep 1
    done
    if ! command -v pg_lsclusters >/dev/null 2>&1 && ! command -v postgres >/dev/null 2>&1 &&
        [[ -z ${PGHOST:-} ]]; then
        why="$why (no local PostgreSQL server seems installed)"
    fi
    local user
    user=${PGUSER:-$(id -un)}
    case $why in
    *"role"*"does not exist"* | *"may not create databases"*)
        die "PostgreSQL is running but not usable: $why" \
            "Give the role $user the right to create databases, e.g.:" \
            "  su postgres -c 'createuser -s $user'   (add -p PORT for another cluster)" \
            "or choose another role with PGUSER (and PGPASSWORD)." ;;
    *)
        die "PostgreSQL is not usable: $why" \
            "Install and start a local server: apt-get install -y postgresql &&" \
            "  pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start" \
            "with a role that may create databases: su postgres -c 'createuser -s $user'," \
            "or point libpq at a server with PGHOST / PGPORT / PGUSER / PGPASSWORD." ;;
    esac
}

# --------------------------------------------------------------------------- #
# set-up shared by run / test
# --------------------------------------------------------------------------- #
ADDONS_PATH=

compute_addons() {
    ADDONS_PATH=$(helper addons-path "$REPO" "$EXTRA_ADDONS_PATH")
    if [[ -z $MODULES ]]; then
        MODULES=$(helper modules "$REPO" "$ADDONS_PATH")
    fi
    MODULES=$(printf '%s' "$MODULES" | tr -s ' ,\n' ',' | sed 's/^,//; s/,$//')
    [[ -n $MODULES ]] ||
        die "no installable addon found at the repository root ($REPO)." \
            "An addon is a folder with a __manifest__.py; set MODULES=... to choose explicitly."
}

setup() {
    check_python
    ensure_odoo
    ensure_requirements
    ensure_postgres
    compute_addons
    say "python:      $(command -v "$PYTHON") ($("$PYTHON" -c 'import sys; print(sys.version.split()[0])'))"
    say "addons path: $ADDONS_PATH"
    say "modules:     $MODULES"
}

odoo() { # run the Odoo server command with our addons path
    "$PYTHON" -m odoo server --addons-path="$ADDONS_PATH" "$@"
}

port_free() {
    "$PYTHON" - "$1" "$2" <<'EOF'
import socket, sys
s = socket.socket()
try:
    s.bind((sys.argv[1] or "0.0.0.0", int(sys.argv[2])))
except OSError:
    sys.exit(1)
EOF
}

# --------------------------------------------------------------------------- #
# commands
# --------------------------------------------------------------------------- #
prepare_demo_db() { # create (with demo data) or update the demo database $DB
    local -a init=(-i "$MODULES")
    if helper db-exists "$DB"; then
        say "updating demo database $DB (-u $MODULES)"
        # -i installs modules that are new to the database, -u updates the installed ones
        init+=(-u "$MODULES")
    else
        say "creating demo database $DB with demo data (-i $MODULES)"
    fi
    odoo -d "$DB" --db-filter="^$DB\$" "${init[@]}" --with-demo --stop-after-init \
        "${ODOO_EXTRA[@]}" || die "installing/updating $MODULES in database $DB failed (see the log above)."
}

cmd_run() {
    setup
    ODOO_EXTRA=()
    mapfile -d '' ODOO_EXTRA < <(split_words "$ODOO_ARGS")
    port_free "$HTTP_INTERFACE" "$PORT" ||
        die "port $PORT on ${HTTP_INTERFACE:-all interfaces} is already in use." \
            "Stop what listens there or choose another one: make run PORT=8070"
    prepare_demo_db
    say "serving Odoo on http://localhost:$PORT (database $DB, login admin / password admin); Ctrl-C stops"
    exec "$PYTHON" -m odoo server --addons-path="$ADDONS_PATH" -d "$DB" --db-filter="^$DB\$" \
        --http-interface="$HTTP_INTERFACE" --http-port="$PORT" "${ODOO_EXTRA[@]}"
}

cmd_screenshots() { # PNGs of the main screens, from the demo database, into $SHOTS_DIR
    setup
    ODOO_EXTRA=()
    mapfile -d '' ODOO_EXTRA < <(split_words "$ODOO_ARGS")
    local port=$SHOTS_PORT
    port_free 127.0.0.1 "$port" ||
        die "port $port is already in use: make screenshots SHOTS_PORT=<free port>"
    prepare_demo_db
    say "starting Odoo on 127.0.0.1:$port for the screenshots"
    "$PYTHON" -m odoo server --addons-path="$ADDONS_PATH" -d "$DB" --db-filter="^$DB\$" \
        --http-interface=127.0.0.1 --http-port="$port" --max-cron-threads=0 \
        --log-level=warn "${ODOO_EXTRA[@]}" &
    local server=$!
    # shellcheck disable=SC2064
    trap "kill $server 2>/dev/null; wait $server 2>/dev/null" EXIT
    local tries=0
    until curl -sf -o /dev/null "http://127.0.0.1:$port/web/login"; do
        ((tries++ < 120)) || die "the Odoo server did not answer on port $port"
        kill -0 "$server" 2>/dev/null || die "the Odoo server stopped (see the log above)"
        sleep 1
    done
    "$PYTHON" "$REPO/tools/screenshots.py" --db "$DB" --url "http://127.0.0.1:$port" \
        --out "$SHOTS_DIR" || die "taking the screenshots failed"
    say "screenshots saved in $SHOTS_DIR"
}

TEST_DB_CREATED=
TEST_DATA_DIR=

test_cleanup() {
    local rc=$?
    if [[ -n $TEST_DB_CREATED ]]; then
        if [[ $KEEP_DB == 1 ]]; then
            say "KEEP_DB=1: kept test database $TEST_DB_CREATED (data dir $TEST_DATA_DIR)"
        else
            if helper db-drop "$TEST_DB_CREATED"; then
                say "dropped test database $TEST_DB_CREATED"
            else
                say "could not drop test database $TEST_DB_CREATED"
            fi
            rm -rf "$TEST_DATA_DIR"
        fi
    fi
    return "$rc"
}

cmd_test() { # <fast|slow>
    local mode=$1 marker='not slow'
    [[ $mode == slow ]] && marker='slow'
    setup

    local db=${TEST_DB:-tm_test_$(date +%Y%m%d%H%M%S)_$$}
    ! helper db-exists "$db" || die "the test database $db already exists; choose another TEST_DB."
    TEST_DATA_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tm_test_data.XXXXXX")
    TEST_DB_CREATED=$db
    trap test_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    say "creating test database $db (no demo data) with $MODULES"
    local t0=$SECONDS
    odoo -d "$db" --db-filter="^$db\$" -i "$MODULES" --stop-after-init --log-level=warn \
        --data-dir="$TEST_DATA_DIR" --http-interface=127.0.0.1 ||
        die "installing $MODULES into the test database $db failed (see the log above)."
    say "test database ready in $((SECONDS - t0))s"

    local -a paths=() extra=()
    if [[ -n $TESTS ]]; then
        mapfile -d '' paths < <(split_words "$TESTS")
    else
        mapfile -t paths < <(helper test-paths "$MODULES" "$ADDONS_PATH")
    fi
    mapfile -d '' extra < <(split_words "$PYTEST_ARGS")

    local rc=0
    if ((${#paths[@]} == 0)); then
        say "none of $MODULES has a tests folder: no test to run"
        rc=5
    else
        cd "$REPO"
        "$PYTHON" -m pytest "${paths[@]}" \
            -c "$REPO/pytest.ini" --rootdir="$REPO" -p no:cacheprovider -m "$marker" \
            --odoo-database="$db" --odoo-addons-path="$ADDONS_PATH" --odoo-http \
            --odoo-log-level="$TEST_LOG_LEVEL" \
            --odoo-extra="data-dir=$TEST_DATA_DIR" --odoo-extra="http-interface=127.0.0.1" \
            "${extra[@]}" || rc=$?
    fi
    if [[ $rc == 5 ]]; then
        if [[ $mode == slow ]]; then
            say "no test is marked slow: nothing to run (pytest exit code 5 accepted for test-slow)"
            rc=0
        else
            say "no test was collected (pytest exit code 5): make test needs at least one test"
        fi
    fi
    exit "$rc"
}

cmd_bench() {
    setup
    [[ $N =~ ^[0-9]+$ && $N -gt 0 ]] || die "N=$N is not a positive number of contacts."
    local -a args=(--n "$N" --addons-path "$ADDONS_PATH" --json "$BENCH_JSON") extra=()
    [[ -n $BENCH_DB ]] && args+=(--db "$BENCH_DB")
    [[ $KEEP_DB == 1 ]] && args+=(--keep-db)
    [[ $CARTS == 1 ]] && args+=(--carts)
    mapfile -d '' extra < <(split_words "$BENCH_ARGS")
    cd "$REPO"
    say "bench: N=$N (python -m tools.bench ${args[*]} ${extra[*]})"
    "$PYTHON" -m tools.bench "${args[@]}" "${extra[@]}"
}

cmd_bench_overhead() { # what the addon costs Odoo's own operations (tools/bench/overhead.py)
    setup
    local -a args=(--addons-path "$ADDONS_PATH" --json "${BENCH_JSON%.json}-overhead.json") extra=()
    mapfile -d '' extra < <(split_words "$BENCH_ARGS")
    cd "$REPO"
    say "bench-overhead: python -m tools.bench.overhead ${args[*]} ${extra[*]}"
    "$PYTHON" -m tools.bench.overhead "${args[@]}" "${extra[@]}"
}

cmd_bench_latency() { # event -> inbox latency on two prefork servers (tools/bench/latency.py)
    setup
    local -a args=(--addons-path "$ADDONS_PATH" --json "${BENCH_JSON%.json}-latency.json") extra=()
    [[ -n $BENCH_DB ]] && args+=(--db "$BENCH_DB")
    [[ $KEEP_DB == 1 ]] && args+=(--keep-db)
    mapfile -d '' extra < <(split_words "$BENCH_ARGS")
    cd "$REPO"
    say "bench-latency: python -m tools.bench.latency ${args[*]} ${extra[*]}"
    "$PYTHON" -m tools.bench.latency "${args[@]}" "${extra[@]}"
}

cmd_wheels() { # one odoo-addon-<addon> wheel per addon that has a pyproject.toml
    check_python
    ensure_requirements
    cd "$REPO"
    local -a addons=()
    local toml
    for toml in "$REPO"/*/pyproject.toml; do
        [[ -f ${toml%/pyproject.toml}/__manifest__.py ]] && addons+=("./$(basename "$(dirname "$toml")")")
    done
    ((${#addons[@]})) || die "no addon with a pyproject.toml at the repository root."
    # whool packs the files git knows (git ls-files): commit or `git add` new files first
    mkdir -p "$WHEELS_DIR"
    rm -f "$WHEELS_DIR"/odoo_addon_*.whl
    say "building ${#addons[@]} wheels into $WHEELS_DIR"
    # no build isolation: whool comes from requirements.txt, nothing is downloaded
    PIP_ROOT_USER_ACTION=ignore "$PYTHON" -m pip wheel -q --disable-pip-version-check --no-deps \
        --no-build-isolation --wheel-dir "$WHEELS_DIR" "${addons[@]}" ||
        die "building the wheels failed (see above)."
    local whl
    for whl in "$WHEELS_DIR"/odoo_addon_*.whl; do
        say "  $(basename "$whl")  $(wc -c <"$whl") bytes"
    done
}

WHEEL_DB=
WHEEL_TARGET=

wheels_cleanup() {
    local rc=$?
    [[ -n $WHEEL_DB ]] && helper db-drop "$WHEEL_DB" && say "dropped database $WHEEL_DB"
    [[ -n $WHEEL_TARGET ]] && rm -rf "$WHEEL_TARGET"
    return "$rc"
}

cmd_wheels_check() { # the wheels installed by pip are what Odoo installs, not the repository
    cmd_wheels
    ensure_postgres
    WHEEL_TARGET=$(mktemp -d "${TMPDIR:-/tmp}/tm_wheels.XXXXXX")
    trap wheels_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    # --no-deps: the wheels require odoo==19.0.*, which pip cannot resolve in a --target
    # folder (the editable Odoo of $PYTHON is outside it)
    PIP_ROOT_USER_ACTION=ignore "$PYTHON" -m pip install -q --disable-pip-version-check \
        --no-deps --no-index --target "$WHEEL_TARGET/site" "$WHEELS_DIR"/odoo_addon_*.whl ||
        die "pip could not install the wheels of $WHEELS_DIR."
    local path where
    path=$(helper odoo-addons-path)
    case ",$path," in
    *",$REPO,"* | *",$(cd "$REPO" && pwd -P),"*) die "the addons path $path holds the repository." ;;
    esac
    where=$(PYTHONPATH="$WHEEL_TARGET/site" helper module-path trigger_marketing "$path") ||
        die "Odoo does not find trigger_marketing among the installed wheels."
    case $where in
    "$WHEEL_TARGET"/site/odoo/addons/*) ;;
    *) die "trigger_marketing is loaded from $where, not from the installed wheel." ;;
    esac
    WHEEL_DB=tm_wheels_$(date +%Y%m%d%H%M%S)_$$
    say "installing trigger_marketing from $where into $WHEEL_DB (addons path $path)"
    local t0=$SECONDS
    PYTHONPATH="$WHEEL_TARGET/site" "$PYTHON" -m odoo server --addons-path="$path" \
        -d "$WHEEL_DB" --db-filter="^$WHEEL_DB\$" -i trigger_marketing --stop-after-init \
        --log-level=warn --data-dir="$WHEEL_TARGET/data" --http-interface=127.0.0.1 ||
        die "installing trigger_marketing from the wheel failed (see the log above)."
    helper module-state "$WHEEL_DB" trigger_marketing ||
        die "trigger_marketing is not installed in $WHEEL_DB after -i."
    say "trigger_marketing installed from its wheel in $((SECONDS - t0))s"
}

cmd_lint() {
    check_python
    ensure_requirements
    cd "$REPO"
    local -a addons=()
    local manifest
    for manifest in "$REPO"/*/__manifest__.py; do
        [[ -f $manifest ]] && addons+=("$(basename "$(dirname "$manifest")")")
    done
    local failed=()
    say "ruff check"
    "$PYTHON" -m ruff check --output-format=concise . || failed+=("ruff check")
    say "ruff format --check"
    "$PYTHON" -m ruff format --check --output-format=concise . ||
        failed+=("ruff format --check (make format fixes it)")
    if ((${#addons[@]})); then
        say "pylint-odoo (mandatory checks): ${addons[*]}"
        "$PYTHON" -m pylint --rcfile="$REPO/.pylintrc" "${addons[@]}" || failed+=("pylint-odoo")
    fi
    say "translation templates (i18n/<addon>.pot) up to date"
    local t0=$SECONDS
    (cmd_pot_check) || failed+=("i18n .pot out of date (make pot)")
    say "pot check took $((SECONDS - t0))s"
    if ((${#failed[@]})); then
        die "lint failed: $(IFS=,; echo "${failed[*]}")"
    fi
    say "lint passed"
}

# --------------------------------------------------------------------------- #
# translations: the .pot files are exported by Odoo from $POT_DB
# --------------------------------------------------------------------------- #
ensure_pot_db() { # $POT_DB with $MODULES installed from the current sources
    local want have data_dir="$TM_CACHE_DIR/pot-data"
    mkdir -p "$TM_CACHE_DIR"
    # one run at a time per database (make lint and make pot may overlap)
    exec 9>"$TM_CACHE_DIR/$POT_DB.lock"
    flock 9
    want=$(i18n fingerprint "$REPO" "$MODULES")
    if helper db-exists "$POT_DB"; then
        have=$(i18n db-fingerprint "$POT_DB")
        if [[ $have == "$want" ]]; then
            say "database $POT_DB is up to date with the addons"
            return 0
        fi
        say "updating database $POT_DB (the addons changed): -i/-u $MODULES"
        if ! odoo -d "$POT_DB" --db-filter="^$POT_DB\$" -i "$MODULES" -u "$MODULES" \
            --stop-after-init --log-level=warn --data-dir="$data_dir" --no-http; then
            say "updating $POT_DB failed: creating it afresh"
            helper db-drop "$POT_DB"
        fi
    fi
    if ! helper db-exists "$POT_DB"; then
        say "creating database $POT_DB (no demo data) with $MODULES, for the .pot export"
        odoo -d "$POT_DB" --db-filter="^$POT_DB\$" -i "$MODULES" --stop-after-init \
            --log-level=warn --data-dir="$data_dir" --no-http || {
            helper db-drop "$POT_DB"
            die "installing $MODULES into $POT_DB failed (see the log above)."
        }
    fi
    i18n db-fingerprint "$POT_DB" "$want"
}

export_pots() { # <outdir>: <module>.pot of every module, by Odoo's export
    ensure_pot_db
    i18n export "$POT_DB" "$ADDONS_PATH" "$1" "$MODULES" ||
        die "exporting the translation templates from $POT_DB failed."
}

cmd_pot() { # write i18n/<module>.pot, merge i18n/*.po with it, count the translations
    setup
    local out
    out=$(mktemp -d "${TMPDIR:-/tmp}/tm_pot.XXXXXX")
    # shellcheck disable=SC2064
    trap "rm -rf '$out'" EXIT
    export_pots "$out"
    i18n install "$REPO" "$out" "$MODULES"
    i18n stats "$REPO" "$MODULES"
}

cmd_pot_check() { # exit 1 if a committed .pot differs from a fresh export (dates aside)
    cmd_check_odoo
    ensure_postgres
    compute_addons
    local out rc=0
    out=$(mktemp -d "${TMPDIR:-/tmp}/tm_pot.XXXXXX")
    export_pots "$out"
    i18n check "$REPO" "$out" "$MODULES" || rc=$?
    rm -rf "$out"
    return "$rc"
}

cmd_format() {
    check_python
    ensure_requirements
    cd "$REPO"
    "$PYTHON" -m ruff check --fix . || true
    "$PYTHON" -m ruff format .
}

cmd_check_odoo() {
    check_python
    local why
    why=$(helper odoo-check) ||
        die "Odoo 19 cannot be imported: $why" \
            "Install it with: make setup ODOO_SOURCE=/path/to/odoo-19.0 (a folder or a .tar.gz/.zip)," \
            "or without ODOO_SOURCE to download $ODOO_URL."
    say "Odoo 19 importable with $PYTHON"
}

cmd_drop_db() { # drop the demo database and its filestore (Odoo's `db drop` command)
    check_python
    cmd_check_odoo
    if ! helper db-exists "$DB"; then
        say "database $DB does not exist"
        return 0
    fi
    "$PYTHON" -m odoo db drop "$DB" || die "could not drop database $DB"
    say "dropped database $DB and its filestore"
}

main() {
    local cmd=${1:-help}
    case $cmd in
    setup) setup ;;
    run) cmd_run ;;
    screenshots) cmd_screenshots ;;
    test) cmd_test fast ;;
    test-slow) cmd_test slow ;;
    bench) cmd_bench ;;
    bench-latency) cmd_bench_latency ;;
    bench-overhead) cmd_bench_overhead ;;
    wheels) cmd_wheels ;;
    wheels-check) cmd_wheels_check ;;
    lint) cmd_lint ;;
    format) cmd_format ;;
    pot) cmd_pot ;;
    pot-check) cmd_pot_check ;;
    pg-start) pg_start_local ;;
    check-odoo) cmd_check_odoo ;;
    build-deps) ensure_build_deps ;;
    drop-db) cmd_drop_db ;;
    help | -h | --help) usage ;;
    *) usage >&2; exit 2 ;;
    esac
}

main "$@"
