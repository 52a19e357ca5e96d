#!/bin/sh
# Install lms_sync on a Debian or Ubuntu host, as root. Safe to run again: it upgrades lms_sync and
# never overwrites settings, the token, the programme or the roster once they exist.
#
#   sudo deploy/install.sh --moodle-url https://formation.ena.tn --token-stdin <<<"$TOKEN"
#   sudo deploy/install.sh                      # asks for the URL and the token on a terminal
#   sudo deploy/install.sh --scheduler cron     # cron instead of the systemd timer
#
# What it makes (README.md, "Installing on a Debian or Ubuntu host"):
#   user and group lms-sync (system, no login), home /var/lib/lms-sync
#   /opt/lms-sync/.venv          lms_sync and its dependencies (root-owned)
#   /etc/lms-sync/               root:lms-sync 0750: settings.toml, moodle-token, program.toml (0640)
#   /var/lib/lms-sync/           lms-sync 0751: the state store (0600), reports/ (0700), public/ (0755:
#                                the static feed, readable by the web server; nothing else is)
#   /var/log/lms-sync/           lms-sync:adm 0750: the cron job's log (rotated weekly)
#   /usr/local/bin/lms-sync      runs lms_sync with /etc/lms-sync/settings.toml, as lms-sync
#   the systemd units (timer for the nightly run, serve), or /etc/cron.d/lms-sync
set -eu

SERVICE_USER=lms-sync
VENV=/opt/lms-sync/.venv
ETC=/etc/lms-sync
STATE=/var/lib/lms-sync
LOGS=/var/log/lms-sync
SOURCE=$(cd "$(dirname "$0")/.." && pwd)

moodle_url=""
token_file=""
token_stdin=no
scheduler=auto
serve=yes
start=yes

usage() {
    sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
    cat <<'EOF'
options:
  --moodle-url URL     the Moodle site root (asked for when missing and a terminal is there)
  --token-stdin        read the web-service token from standard input (never from the command line)
  --token-file PATH    copy the token from this file
  --scheduler WHICH    systemd (the timer), cron, or none; default: systemd when it runs, else cron
  --no-serve           do not install the lms-sync-serve service
  --no-start           install the units but do not enable or start them (an image, a chroot)
  --source DIR         the lms_sync source to install (default: the checkout holding this script)
EOF
}

while [ $# -gt 0 ]; do
    case $1 in
        --moodle-url) moodle_url=$2; shift 2 ;;
        --token-stdin) token_stdin=yes; shift ;;
        --token-file) token_file=$2; shift 2 ;;
        --scheduler) scheduler=$2; shift 2 ;;
        --no-serve) serve=no; shift ;;
        --no-start) start=no; shift ;;
        --source) SOURCE=$(cd "$2" && pwd); shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

say() { printf 'install.sh: %s\n' "$*"; }
die() { printf 'install.sh: error: %s\n' "$*" >&2; exit "${2:-2}"; }

[ "$(id -u)" = 0 ] || die "run it as root (sudo deploy/install.sh ...)"
[ -f "$SOURCE/pyproject.toml" ] && [ -d "$SOURCE/lms_sync" ] || die "$SOURCE is not an lms_sync source tree (--source)"
case $scheduler in
    auto) if [ -d /run/systemd/system ]; then scheduler=systemd; else scheduler=cron; fi ;;
    systemd|cron|none) ;;
    *) die "--scheduler must be systemd, cron or none" ;;
esac
systemd_running=no
[ -d /run/systemd/system ] && systemd_running=yes
if [ "$scheduler" = systemd ] && [ "$systemd_running" = no ] && [ "$start" = yes ]; then
    die "systemd is not running here: use --scheduler cron, or --no-start to only install the units"
fi

# --- 1. Python 3.11+ with venv -------------------------------------------------------------------
if ! python3 -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    say "installing python3 and python3-venv (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3 python3-venv >/dev/null
fi
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "lms_sync needs Python 3.11 or newer; this host has $(python3 -V 2>&1) (Debian 12, Ubuntu 24.04 have it)"

# --- 2. the service user -------------------------------------------------------------------------
if ! getent passwd "$SERVICE_USER" >/dev/null; then
    say "creating the system user $SERVICE_USER"
    useradd --system --user-group --home-dir "$STATE" --no-create-home --shell /usr/sbin/nologin \
        --comment "lms_sync" "$SERVICE_USER"
fi

# --- 3. folders ----------------------------------------------------------------------------------
install -d -o root -g "$SERVICE_USER" -m 0750 "$ETC"
# 0751: others may reach public/sessions.ics by its name (a web server serving the static feed),
# never list the folder; the store is 0600 and reports/ 0700 anyway.
install -d -o "$SERVICE_USER" -g "$SERVICE_USER" -m 0751 "$STATE"
install -d -o "$SERVICE_USER" -g "$SERVICE_USER" -m 0755 "$STATE/public"
install -d -o "$SERVICE_USER" -g "$SERVICE_USER" -m 0700 "$STATE/reports"
install -d -o "$SERVICE_USER" -g adm -m 0750 "$LOGS"
install -d -o root -g root -m 0755 /opt/lms-sync /usr/local/lib/lms-sync

# --- 4. lms_sync in its virtualenv ----------------------------------------------------------------
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
say "installing lms_sync from $SOURCE into $VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check --upgrade "$SOURCE"
install -m 0644 "$SOURCE/README.md" /opt/lms-sync/README.md

# --- 5. settings, token, programme ---------------------------------------------------------------
umask 0027
if [ ! -f "$ETC/settings.toml" ]; then
    if [ -z "$moodle_url" ] && [ -t 0 ] && [ "$token_stdin" = no ]; then
        printf 'Moodle site root (for example https://formation.ena.tn): '
        read -r moodle_url
    fi
    url_line="# url = \"https://formation.ena.tn\"   # then run: sudo lms-sync check"
    [ -n "$moodle_url" ] && url_line="url = \"$moodle_url\""
    cat >"$ETC/settings.toml" <<EOF
# lms_sync settings, written by deploy/install.sh (never overwritten by it); see
# /opt/lms-sync/README.md and \`lms-sync config\`. The timer, cron and \`serve\` all read this file.
program_file = "$ETC/program.toml"
# Several programmes: one <id>.toml each in this folder (it then replaces program_file).
programs_dir = "$ETC/programs"
# roster_file = "$ETC/roster.csv"
state_path = "$STATE/lms_sync.sqlite3"

[moodle]
$url_line
token_file = "$ETC/moodle-token"

[feed]
out_path = "$STATE/public/sessions.ics"
# public_url = "https://formation.ena.tn/lms-sync/sessions.ics"

[report]
out_dir = "$STATE/reports"

[serve]
host = "127.0.0.1"
port = 8080
# The shipped nginx block (deploy/nginx/lms-sync.conf) is the one proxy in front.
trusted_proxies = 1
# report_token_hashes = ["<sha256 printed by: sudo lms-sync token new>"]
EOF
    say "wrote $ETC/settings.toml"
elif [ -n "$moodle_url" ] && ! grep -q "^url = \"$moodle_url\"" "$ETC/settings.toml"; then
    say "note: $ETC/settings.toml exists and is kept; edit its [moodle] url yourself if $moodle_url is new"
fi
chown root:"$SERVICE_USER" "$ETC/settings.toml" && chmod 0640 "$ETC/settings.toml"

write_token() {  # stdin -> the token file, first line only, nothing else ever sees it
    head -n 1 | tr -d '\r\n' >"$ETC/moodle-token.new"
    [ -s "$ETC/moodle-token.new" ] || { rm -f "$ETC/moodle-token.new"; die "the token given is empty"; }
    chown root:"$SERVICE_USER" "$ETC/moodle-token.new" && chmod 0640 "$ETC/moodle-token.new"
    mv "$ETC/moodle-token.new" "$ETC/moodle-token"
    say "wrote $ETC/moodle-token (readable by root and $SERVICE_USER only)"
}
if [ "$token_stdin" = yes ]; then
    write_token
elif [ -n "$token_file" ]; then
    write_token <"$token_file"
elif [ ! -f "$ETC/moodle-token" ] && [ -t 0 ]; then
    printf 'Moodle web-service token (not shown): '
    stty -echo 2>/dev/null || true
    read -r token_typed
    stty echo 2>/dev/null || true
    printf '\n'
    printf '%s\n' "$token_typed" | write_token
    unset token_typed
fi
if [ -f "$ETC/moodle-token" ]; then
    chown root:"$SERVICE_USER" "$ETC/moodle-token" && chmod 0640 "$ETC/moodle-token"
else
    say "note: no token yet: sudo install -o root -g $SERVICE_USER -m 640 /dev/stdin $ETC/moodle-token <<<\"\$TOKEN\""
fi
if [ ! -f "$ETC/program.toml" ]; then
    install -o root -g "$SERVICE_USER" -m 0640 "$SOURCE/config/program.toml" "$ETC/program.toml"
    say "wrote $ETC/program.toml (the shipped programme: edit it for yours)"
fi
umask 0022

# --- 6. the command, the cron script, log rotation ------------------------------------------------
cat >/usr/local/bin/lms-sync <<EOF
#!/bin/sh
# lms_sync with the installed settings, always as $SERVICE_USER: the state store it writes stays the
# one the timer, cron and serve share (written by deploy/install.sh).
if [ "\$(id -u)" = 0 ]; then
    # From a folder the service user cannot read (root's, a 0700 home), start in its own.
    runuser -u $SERVICE_USER -- test -r . -a -x . 2>/dev/null || cd $STATE
    exec runuser -u $SERVICE_USER -- "\$0" "\$@"
fi
exec $VENV/bin/lms-sync --settings $ETC/settings.toml "\$@"
EOF
chmod 0755 /usr/local/bin/lms-sync
install -m 0755 "$SOURCE/deploy/cron/nightly" /usr/local/lib/lms-sync/nightly
install -m 0644 "$SOURCE/deploy/logrotate/lms-sync" /etc/logrotate.d/lms-sync

# --- 7. scheduling and serving ---------------------------------------------------------------------
for unit in lms-sync.service lms-sync.timer lms-sync-serve.service; do
    install -m 0644 "$SOURCE/deploy/systemd/$unit" "/etc/systemd/system/$unit"
done
case $scheduler in
    cron)
        install -m 0644 "$SOURCE/deploy/cron/lms-sync" /etc/cron.d/lms-sync
        say "nightly run: /etc/cron.d/lms-sync (02:30), log in $LOGS/sync.log" ;;
    systemd|none)
        # One scheduler only: two would run the same night (the second would just exit 4).
        rm -f /etc/cron.d/lms-sync ;;
esac
if [ "$systemd_running" = yes ] && [ "$start" = yes ]; then
    systemctl daemon-reload
    if [ "$scheduler" = systemd ]; then
        systemctl enable --now lms-sync.timer >/dev/null
        say "nightly run: lms-sync.timer (02:30); see systemctl list-timers lms-sync.timer"
    else
        systemctl disable --now lms-sync.timer >/dev/null 2>&1 || true
    fi
    if [ "$serve" = yes ]; then
        systemctl enable lms-sync-serve.service >/dev/null
        systemctl restart lms-sync-serve.service
        say "serving on 127.0.0.1:8080 (lms-sync-serve.service); put deploy/nginx/lms-sync.conf in front"
    fi
fi

# --- 8. a check of what was installed --------------------------------------------------------------
if runuser -u "$SERVICE_USER" -- "$VENV/bin/lms-sync" --settings "$ETC/settings.toml" validate >/dev/null; then
    say "done: the settings and the programme validate; next: sudo lms-sync check"
else
    runuser -u "$SERVICE_USER" -- "$VENV/bin/lms-sync" --settings "$ETC/settings.toml" validate || true
    die "installed, but the settings above need fixing (edit $ETC/settings.toml, then: sudo lms-sync validate)"
fi
