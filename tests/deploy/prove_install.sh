#!/usr/bin/env bash
# Prove the README's install on a fresh Debian root, as root:
#
#   sudo tests/deploy/prove_install.sh            # about 2 minutes: debootstrap, pip, two runs, serve
#
# 1. debootstrap a minimal Debian (bookworm) into a folder and enter it with chroot (no systemd);
# 2. run deploy/install.sh in it, as the README says, with the Moodle URL and the token passed in,
#    then make the admin's edits the README lists (a roster, a report token, free ports);
# 3. start `serve` as lms-sync.service's sibling unit would, *before* any run, so serve creates the
#    state store: it must come out 0600 and owned by lms-sync all the same;
# 4. run the nightly job exactly as cron would (the line of /etc/cron.d/lms-sync: its user, its
#    environment, its folder), against a fake Moodle on loopback (tests/fakes/loopback.py);
# 5. run it again exactly as the systemd unit would (its User, Environment, UMask, WorkingDirectory,
#    LoadCredential emulated as systemd makes it), reading lms-sync.service itself;
# 6. check that serve reads what they wrote (/healthz names the last run, the report lists the
#    roster), that the logs are where the README says, that nobody else can read the store, the
#    token or the settings, that the web server can read the static feed, and that a second install
#    changes nothing.
#
# Needs root, debootstrap and network access to a Debian mirror (DEBIAN_MIRROR) and to PyPI.
# KEEP_ROOT=1 keeps the folder for a look afterwards. Exit 0 when every check passed.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${DEBIAN_ROOT_WORK:-/var/tmp/lms-sync-debian-root}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=${DEBIAN_SUITE:-bookworm}
ROOT=$WORK/root.$$
TOKEN=proof-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
STARTED=$(date +%s)
PIDS=()

step() { printf '\n== %s (%ss)\n' "$*" "$(( $(date +%s) - STARTED ))"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
ok() { printf 'ok: %s\n' "$*"; }
# A root shell of the fresh host: none of this machine's environment leaks in.
in_root() { chroot "$ROOT" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 TERM=dumb "$@"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
BODY=$WORK/body.$$
http_get() {  # URL [bearer token] -> the status on stdout, the body in $BODY
    python3 - "$BODY" "$@" <<'EOF'
import sys, urllib.request, urllib.error
request = urllib.request.Request(sys.argv[2])
if len(sys.argv) > 3:
    request.add_header("Authorization", f"Bearer {sys.argv[3]}")
try:
    with urllib.request.urlopen(request, timeout=10) as answer:
        status, body = answer.status, answer.read()
except urllib.error.HTTPError as error:
    status, body = error.code, error.read()
open(sys.argv[1], "wb").write(body)
print(status)
EOF
}
wait_port() {
    for _ in $(seq 1 150); do
        python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $1), timeout=1)" 2>/dev/null && return 0
        sleep 0.2
    done
    return 1
}

cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    umount "$ROOT/proc" 2>/dev/null || true
    umount "$ROOT/dev" 2>/dev/null || true
    rm -f "$BODY"
    if [ "${KEEP_ROOT:-}" = 1 ]; then echo "kept $ROOT"; else rm -rf "$ROOT"; fi
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || fail "run it as root (it debootstraps and uses chroot)"
command -v debootstrap >/dev/null || fail "debootstrap is missing: apt-get install debootstrap"
mkdir -p "$WORK"

step "debootstrap $SUITE into $ROOT"
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates "$SUITE" "$ROOT" "$MIRROR" \
    >"$WORK/debootstrap.log" 2>&1 || { tail -20 "$WORK/debootstrap.log"; fail "debootstrap failed"; }
mount -t proc proc "$ROOT/proc"
mount --bind /dev "$ROOT/dev"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
# This network's own certificate authorities (an egress proxy, say) are trusted by the host: the new
# root gets them too, as any host on this network would, so pip can reach PyPI.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/"
    chroot "$ROOT" update-ca-certificates >/dev/null 2>&1
fi
mkdir -p "$ROOT/root/lms-sync"
tar -C "$REPO" --exclude=./.venv --exclude=./.git --exclude=./var --exclude='*/__pycache__' -cf - . \
    | tar -C "$ROOT/root/lms-sync" -xf -
ok "a fresh $(in_root cat /etc/debian_version) root with $(in_root python3 -V)"

PORT_MOODLE=$(free_port)
PORT_SERVE=$(free_port)
step "install, as the README says"
printf '%s\n' "$TOKEN" | in_root /root/lms-sync/deploy/install.sh --moodle-url "http://127.0.0.1:$PORT_MOODLE" \
    --token-stdin --scheduler cron --no-start
[ -f "$ROOT/etc/cron.d/lms-sync" ] || fail "no /etc/cron.d/lms-sync"

step "the admin's edits: a roster, a report token, a free port for this proof"
in_root install -o root -g lms-sync -m 0640 /root/lms-sync/config/roster.example.csv /etc/lms-sync/roster.csv
sed -i 's|^# roster_file = .*|roster_file = "/etc/lms-sync/roster.csv"|; s|^port = 8080|port = '"$PORT_SERVE"'|' \
    "$ROOT/etc/lms-sync/settings.toml"
token_out=$(in_root /usr/local/bin/lms-sync token new)
REPORT_TOKEN=$(printf '%s\n' "$token_out" | sed -n '2p' | tr -d ' ')
REPORT_HASH=$(printf '%s\n' "$token_out" | sed -n '4p' | tr -d ' ')
sed -i 's|^# report_token_hashes = .*|report_token_hashes = ["'"$REPORT_HASH"'"]|' "$ROOT/etc/lms-sync/settings.toml"
in_root /usr/local/bin/lms-sync validate
ROSTER_ROWS=$(( $(grep -c . "$ROOT/etc/lms-sync/roster.csv") - 1 ))

step "a fake Moodle on 127.0.0.1:$PORT_MOODLE (tests/fakes/loopback.py)"
in_root /opt/lms-sync/.venv/bin/pip install -q --disable-pip-version-check --target /opt/fake-moodle responses
in_root env PYTHONPATH=/root/lms-sync:/opt/fake-moodle /opt/lms-sync/.venv/bin/python -m tests.fakes.loopback \
    --port "$PORT_MOODLE" --token "$TOKEN" >"$WORK/fake-moodle.log" 2>&1 &
PIDS+=($!)
wait_port "$PORT_MOODLE" || fail "the fake Moodle did not start"

unit_value() { sed -n "s/^$2=//p" "$ROOT/etc/systemd/system/$1"; }
as_unit() {  # UNIT [background]: run the unit's ExecStart as systemd would (User, Environment, UMask, folder)
    local unit=$1 user folder umask_value exec env_args=() credentials=""
    user=$(unit_value "$unit" User)
    folder=$(unit_value "$unit" WorkingDirectory)
    umask_value=$(unit_value "$unit" UMask)
    exec=$(unit_value "$unit" ExecStart)
    if unit_value "$unit" LoadCredential | grep -q .; then
        # systemd copies each credential into a private folder of the unit, readable by its user only.
        credentials=/run/credentials/$unit
        in_root install -d -o "$user" -m 0500 "$credentials"
        while IFS=: read -r name path; do
            in_root install -o "$user" -m 0400 "$path" "$credentials/$name"
        done < <(unit_value "$unit" LoadCredential)
    fi
    while read -r assignment; do
        env_args+=("${assignment//%d/$credentials}")
    done < <(unit_value "$unit" Environment)
    in_root runuser -u "$user" -- env -i PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 HOME="$folder" \
        "${env_args[@]}" /bin/sh -c "umask ${umask_value:-0022} && cd '$folder' && exec $exec"
}

step "serve, started as lms-sync-serve.service would be, before any run (it creates the state store)"
as_unit lms-sync-serve.service >"$WORK/serve.log" 2>&1 &
PIDS+=($!)
wait_port "$PORT_SERVE" || { cat "$WORK/serve.log"; fail "serve did not start"; }
in_root stat -c '%a %U' /var/lib/lms-sync/lms_sync.sqlite3 | grep -qx '600 lms-sync' \
    || fail "the store serve created is $(in_root stat -c '%a %U' /var/lib/lms-sync/lms_sync.sqlite3)"
ok "serve created the state store 0600, owned by lms-sync"
status=$(http_get "http://127.0.0.1:$PORT_SERVE/healthz")
[ "$status" = 503 ] || fail "healthz before any run answered $status"

step "the nightly job, exactly as cron runs the line of /etc/cron.d/lms-sync"
cron_line=$(grep -E '^[0-9*]' "$ROOT/etc/cron.d/lms-sync")
cron_user=$(printf '%s\n' "$cron_line" | awk '{print $6}')
cron_command=$(printf '%s\n' "$cron_line" | cut -d' ' -f7-)
cron_env=$(grep -E '^[A-Z]+=' "$ROOT/etc/cron.d/lms-sync" | tr '\n' ' ')
cron_home=$(in_root getent passwd "$cron_user" | cut -d: -f6)
# cron: the file's variables, LOGNAME/HOME/SHELL of the user, its home as the folder; stdout is the mail.
set +e
mail=$(in_root runuser -u "$cron_user" -- env -i $cron_env LOGNAME="$cron_user" HOME="$cron_home" \
    /bin/sh -c "cd && $cron_command" 2>&1)
rc=$?
set -e
[ "$rc" = 0 ] || { printf '%s\n' "$mail"; fail "the cron job exited $rc"; }
[ -z "$mail" ] || { printf '%s\n' "$mail"; fail "a successful cron run printed something (cron would mail it)"; }
grep -q 'sync run 1: push ok' "$ROOT/var/log/lms-sync/sync.log" || fail "no run in /var/log/lms-sync/sync.log"
ok "cron job: exit 0, no mail, logged to /var/log/lms-sync/sync.log: $(tail -n 1 "$ROOT/var/log/lms-sync/sync.log")"

step "the nightly job, exactly as lms-sync.service runs it"
as_unit lms-sync.service >"$WORK/unit.log" 2>&1 || { cat "$WORK/unit.log"; fail "the unit's command failed"; }
python3 -c 'import json, sys; [json.loads(line) for line in open(sys.argv[1])]' "$WORK/unit.log" \
    || fail "the unit's log is not one JSON object per line"
UNIT_RUN=$(sed -n 's/.*"message": "sync run \([0-9]*\): push ok.*exit 0 in.*/\1/p' "$WORK/unit.log")
[ -n "$UNIT_RUN" ] || { cat "$WORK/unit.log"; fail "the unit's run did not end well"; }
ok "unit: exit 0, one JSON object per log line (for the journal), sync run $UNIT_RUN"

step "serve reads what they wrote"
status=$(http_get "http://127.0.0.1:$PORT_SERVE/healthz")
[ "$status" = 200 ] || fail "healthz answered $status: $(cat "$BODY")"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["last_run"]; sys.exit(not (r["id"]==int(sys.argv[2]) and r["kind"]=="sync" and r["outcome"]=="ok"))' "$BODY" "$UNIT_RUN" \
    || fail "healthz does not show run $UNIT_RUN: $(cat "$BODY")"
status=$(http_get "http://127.0.0.1:$PORT_SERVE/reports/completion.json" "$REPORT_TOKEN")
[ "$status" = 200 ] || fail "the report answered $status: $(cat "$BODY")"
shown=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["participants"]))' "$BODY")
[ "$shown" = "$ROSTER_ROWS" ] || fail "the report lists $shown participants, the roster $ROSTER_ROWS"
status=$(http_get "http://127.0.0.1:$PORT_SERVE/sessions.ics")
[ "$status" = 200 ] || fail "the feed answered $status"
ok "healthz: sync run $UNIT_RUN ok; the report lists the $ROSTER_ROWS participants of the roster; the feed answers"
in_root /usr/local/bin/lms-sync runs --limit 3 | sed 's/^/   /'

step "who may read what"
expect_mode() { [ "$(in_root stat -c '%a %U:%G' "$1")" = "$2" ] || fail "$1 is $(in_root stat -c '%a %U:%G' "$1"), not $2"; }
expect_mode /etc/lms-sync "750 root:lms-sync"
expect_mode /etc/lms-sync/settings.toml "640 root:lms-sync"
expect_mode /etc/lms-sync/moodle-token "640 root:lms-sync"
expect_mode /var/lib/lms-sync "751 lms-sync:lms-sync"
expect_mode /var/lib/lms-sync/lms_sync.sqlite3 "600 lms-sync:lms-sync"
[ ! -e "$ROOT/var/lib/lms-sync/lms_sync.sqlite3-wal" ] || expect_mode /var/lib/lms-sync/lms_sync.sqlite3-wal "600 lms-sync:lms-sync"
expect_mode /var/lib/lms-sync/public/sessions.ics "644 lms-sync:lms-sync"
expect_mode /var/log/lms-sync "750 lms-sync:adm"
in_root runuser -u www-data -- cat /var/lib/lms-sync/public/sessions.ics | grep -q BEGIN:VCALENDAR \
    || fail "the web server cannot read the static feed"
for secret in /var/lib/lms-sync/lms_sync.sqlite3 /etc/lms-sync/moodle-token /etc/lms-sync/settings.toml; do
    ! in_root runuser -u www-data -- cat "$secret" >/dev/null 2>&1 || fail "another user can read $secret"
done
! in_root runuser -u www-data -- ls /var/lib/lms-sync >/dev/null 2>&1 || fail "another user can list /var/lib/lms-sync"
if grep -rq "$TOKEN" "$ROOT/var/log/lms-sync" "$WORK/unit.log" "$WORK/serve.log"; then fail "the token is in a log"; fi
ok "store, token and settings readable by lms-sync (and root) only; the static feed by the web server"

step "installing again changes nothing"
before=$(cd "$ROOT/etc/lms-sync" && sha256sum settings.toml moodle-token program.toml roster.csv)
in_root /root/lms-sync/deploy/install.sh --scheduler cron --no-start </dev/null >/dev/null
after=$(cd "$ROOT/etc/lms-sync" && sha256sum settings.toml moodle-token program.toml roster.csv)
[ "$before" = "$after" ] || fail "a second install changed /etc/lms-sync"
in_root /usr/local/bin/lms-sync runs --limit 1 >/dev/null
ok "second install: settings, token, programme and roster untouched"

printf '\nPASS: the install, cron, the unit and serve on a fresh %s root in %ss\n' "$SUITE" "$(( $(date +%s) - STARTED ))"
