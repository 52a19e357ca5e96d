#!/usr/bin/env bash
# A loopback-only Moodle 5.1 test site built from source, for lms_sync's integration tests.
#
#   tests/realmoodle/site.sh up       build (first time, or when an input changed) and start; reset to the built state
#   tests/realmoodle/site.sh reset    put the database back to the built state (a template copy: about a second)
#   tests/realmoodle/site.sh down     stop nginx, php-fpm and PostgreSQL
#   tests/realmoodle/site.sh status   say whether it runs, and where
#
# Inputs (environment):
#   MOODLE_SRC        Moodle 5.1 source, a folder or a .tar.xz/.tgz (default: ../shared/moodle/moodle-*.tar.xz)
#   ATTENDANCE_SRC    mod_attendance source, folder or tarball (default: ../shared/moodle/mod_attendance-*.tar.xz)
#   TEST_MOODLE_HOME  where the site lives (default /var/tmp/lms-sync-test-moodle: www-data must reach it,
#                     which it cannot inside a private clone folder)
#   TEST_MOODLE_PORT  nginx port on 127.0.0.1 (default 47801); PostgreSQL takes the next one
#   PYTHON            Python with lms_sync installed (default: the clone's .venv)
#   TEST_MOODLE_REBUILD=1  build from scratch even if nothing changed
#
# Needs root (apt-get for missing Debian packages, and servers running as www-data and postgres).
# Everything binds 127.0.0.1 only. The site, its database and its tokens never enter the repository.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SITE=${TEST_MOODLE_HOME:-/var/tmp/lms-sync-test-moodle}
HTTP_PORT=${TEST_MOODLE_PORT:-47801}
PG_PORT=$((HTTP_PORT + 1))
PYTHON=${PYTHON:-$REPO/.venv/bin/python}
PG_BIN=/usr/lib/postgresql/15/bin
PHP="php -d max_input_vars=5000 -d memory_limit=1024M"
PACKAGES=(php8.2-fpm php8.2-cli php8.2-pgsql php8.2-intl php8.2-xml php8.2-mbstring php8.2-curl
          php8.2-zip php8.2-gd php8.2-soap php8.2-opcache postgresql-15 nginx)

say() { printf 'test-moodle: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
first() { for f in "$@"; do [ -e "$f" ] && { echo "$f"; return 0; }; done; return 0; }

MOODLE_SRC=${MOODLE_SRC:-$(first "$REPO"/../shared/moodle/moodle-*.tar.xz)}
ATTENDANCE_SRC=${ATTENDANCE_SRC:-$(first "$REPO"/../shared/moodle/mod_attendance-*.tar.xz)}

as_www() { runuser -u www-data -- "$@"; }
as_pg() { runuser -u postgres -- "$@"; }
psql_admin() { PGOPTIONS="-c client_min_messages=warning" as_pg "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }

# --------------------------------------------------------------------------------------------- inputs

fingerprint_of() {  # a hash of a source folder or tarball, cheap for tarballs (their bytes), folders by listing
  local src=$1
  if [ -d "$src" ]; then
    (cd "$src" && find . -type f -printf '%P %s %T@\n' | sort | sha256sum | cut -c1-16)
  else
    sha256sum "$src" | cut -c1-16
  fi
}

unpack() {  # unpack a folder or tarball into $2 (which must not exist)
  local src=$1 dest=$2
  mkdir -p "$dest"
  if [ -d "$src" ]; then
    cp -a "$src"/. "$dest"/
  else
    tar -xf "$src" -C "$dest"
  fi
}

# ------------------------------------------------------------------------------------------- packages

packages() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return
  [ "$(id -u)" -eq 0 ] || die "missing Debian packages (${missing[*]}); run as root or install them"
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  # policy-rc.d keeps the packages' own services from starting on their default ports.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d
}

# -------------------------------------------------------------------------------------------- servers

pg_running() { [ -f "$SITE/pg/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$SITE/pg" status >/dev/null 2>&1; }

pg_start() {
  pg_running && return
  as_pg "$PG_BIN/pg_ctl" -D "$SITE/pg" -l "$SITE/log/postgresql.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $SITE/run/pg -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null 9>&-  # the daemons must not inherit the site's lock (fd 9)
}

write_server_configs() {
  cat > "$SITE/etc/php-fpm.conf" <<CONF
[global]
pid = $SITE/run/php-fpm.pid
error_log = $SITE/log/php-fpm.log
daemonize = yes

[moodle]
user = www-data
group = www-data
listen = $SITE/run/php-fpm.sock
listen.owner = www-data
listen.group = www-data
listen.mode = 0660
; 8 workers: lms_sync's default read concurrency, so parallel reads are served, not queued.
pm = static
pm.max_children = 8
catch_workers_output = yes
php_admin_value[max_input_vars] = 5000
php_admin_value[memory_limit] = 512M
php_admin_value[post_max_size] = 64M
php_admin_value[upload_max_filesize] = 64M
php_admin_value[error_log] = $SITE/log/php-errors.log
php_admin_flag[log_errors] = on
php_admin_flag[display_errors] = off
CONF
  cat > "$SITE/etc/nginx.conf" <<CONF
user www-data;
worker_processes 2;
pid $SITE/run/nginx.pid;
error_log $SITE/log/nginx-error.log warn;
events { worker_connections 512; }
http {
  include /etc/nginx/mime.types;
  access_log $SITE/log/nginx-access.log;
  client_body_temp_path $SITE/nginx/body;
  fastcgi_temp_path $SITE/nginx/fastcgi;
  proxy_temp_path $SITE/nginx/proxy;
  uwsgi_temp_path $SITE/nginx/uwsgi;
  scgi_temp_path $SITE/nginx/scgi;
  client_max_body_size 64m;
  server {
    listen 127.0.0.1:$HTTP_PORT;
    root $SITE/moodle/public;
    index index.php;
    location ~ /\\. { deny all; }
    location / { try_files \$uri \$uri/ /r.php; }
    location ~ [^/]\\.php(/|\$) {
      fastcgi_split_path_info ^(.+\\.php)(/.*)\$;
      fastcgi_index index.php;
      fastcgi_pass unix:$SITE/run/php-fpm.sock;
      include /etc/nginx/fastcgi_params;
      fastcgi_param PATH_INFO \$fastcgi_path_info;
      fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
      fastcgi_read_timeout 300;
    }
  }
}
CONF
}

web_start() {
  write_server_configs
  if ! { [ -f "$SITE/run/php-fpm.pid" ] && kill -0 "$(cat "$SITE/run/php-fpm.pid")" 2>/dev/null; }; then
    # opcache settings are INI_SYSTEM: they go on the command line, not in the pool.
    /usr/sbin/php-fpm8.2 -y "$SITE/etc/php-fpm.conf" -d opcache.enable=1 -d opcache.memory_consumption=256 \
      -d opcache.max_accelerated_files=40000 -d opcache.validate_timestamps=0 9>&-
  fi
  if [ -f "$SITE/run/nginx.pid" ] && kill -0 "$(cat "$SITE/run/nginx.pid")" 2>/dev/null; then
    /usr/sbin/nginx -c "$SITE/etc/nginx.conf" -s reload
  else
    /usr/sbin/nginx -c "$SITE/etc/nginx.conf" 9>&-
  fi
  local i
  for i in $(seq 1 50); do
    curl -fsS -o /dev/null "http://127.0.0.1:$HTTP_PORT/login/index.php" 2>/dev/null && return
    sleep 0.2
  done
  die "the site does not answer on http://127.0.0.1:$HTTP_PORT (see $SITE/log/)"
}

stop_all() {
  [ -f "$SITE/run/nginx.pid" ] && /usr/sbin/nginx -c "$SITE/etc/nginx.conf" -s quit 2>/dev/null || true
  if [ -f "$SITE/run/php-fpm.pid" ]; then kill "$(cat "$SITE/run/php-fpm.pid")" 2>/dev/null || true; fi
  pg_running && as_pg "$PG_BIN/pg_ctl" -D "$SITE/pg" -m fast -w stop >/dev/null || true
  rm -f "$SITE/run/nginx.pid" "$SITE/run/php-fpm.pid"
}

# ---------------------------------------------------------------------------------------------- build

complete_source() {  # the shared tarball has no file named config.php at all: see standins/README.md
  local f
  for f in public/config.php public/cache/classes/config.php public/theme/boost/config.php; do
    if [ ! -f "$SITE/moodle/$f" ]; then
      say "the source lacks $f: using lms_sync's stand-in (tests/realmoodle/standins/README.md)"
      install -m 644 "$HERE/standins/$f" "$SITE/moodle/$f"
    fi
  done
  if [ -d "$SITE/moodle/public/theme/classic" ] && [ ! -f "$SITE/moodle/public/theme/classic/config.php" ]; then
    say "the source lacks public/theme/classic/config.php: the test site goes without the Classic theme"
    rm -rf "$SITE/moodle/public/theme/classic"
  fi
  if [ -d "$SITE/moodle/public/mod/bigbluebuttonbn" ] && [ ! -f "$SITE/moodle/public/mod/bigbluebuttonbn/classes/local/config.php" ]; then
    say "the source lacks mod/bigbluebuttonbn/classes/local/config.php: the test site goes without BigBlueButton"
    rm -rf "$SITE/moodle/public/mod/bigbluebuttonbn"
  fi
}

install_site() {  # a fresh Moodle from source, installed with Moodle's CLI; snapshot "moodle_installed"
  [ -n "$MOODLE_SRC" ] && [ -e "$MOODLE_SRC" ] || die "no Moodle source: set MOODLE_SRC to a Moodle 5.1 folder or tarball"
  stop_all
  # TEST_MOODLE_HOME comes from the environment and this runs as root: only ever delete a folder
  # this script made (it leaves a mark), or an empty one.
  if [ -d "$SITE" ] && [ ! -f "$SITE/.lms-sync-test-moodle" ] && [ -n "$(ls -A "$SITE")" ]; then
    die "$SITE exists and was not made by this script: choose another TEST_MOODLE_HOME"
  fi
  rm -rf "$SITE"
  mkdir -p "$SITE"/{etc,log,run/pg,nginx} "$SITE/moodledata"
  touch "$SITE/.lms-sync-test-moodle"
  chmod 755 "$SITE"
  say "unpacking $MOODLE_SRC"
  unpack "$MOODLE_SRC" "$SITE/moodle"
  [ -f "$SITE/moodle/public/version.php" ] || die "$MOODLE_SRC is not a Moodle 5.1 source (no public/version.php)"
  complete_source
  if [ -n "$ATTENDANCE_SRC" ] && [ -e "$ATTENDANCE_SRC" ]; then
    local tmp; tmp=$(mktemp -d)
    unpack "$ATTENDANCE_SRC" "$tmp"
    if [ -d "$tmp/attendance" ]; then mv "$tmp/attendance" "$SITE/moodle/public/mod/attendance"; else mv "$tmp" "$SITE/moodle/public/mod/attendance"; fi
    rm -rf "$tmp"
  else
    say "no mod_attendance source (ATTENDANCE_SRC): the site has no Attendance activity"
  fi
  chown -R www-data:www-data "$SITE/moodledata" "$SITE/log"
  chown postgres "$SITE/run/pg" && chmod 700 "$SITE/run/pg"
  mkdir -p "$SITE/pg" && chown postgres "$SITE/pg"
  as_pg "$PG_BIN/initdb" -D "$SITE/pg" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
  touch "$SITE/log/postgresql.log" && chown postgres "$SITE/log/postgresql.log"
  pg_start
  psql_admin -c "CREATE ROLE moodle LOGIN PASSWORD 'moodle'" -c "CREATE DATABASE moodle OWNER moodle ENCODING 'UTF8'"
  cat > "$SITE/moodle/config.php" <<CONF
<?php  // lms_sync's loopback test site: never exposed, no mail leaves it.
unset(\$CFG);
global \$CFG;
\$CFG = new stdClass();
\$CFG->dbtype    = 'pgsql';
\$CFG->dblibrary = 'native';
\$CFG->dbhost    = '127.0.0.1';
\$CFG->dbname    = 'moodle';
\$CFG->dbuser    = 'moodle';
\$CFG->dbpass    = 'moodle';
\$CFG->prefix    = 'mdl_';
\$CFG->dboptions = ['dbpersist' => 0, 'dbport' => $PG_PORT];
\$CFG->wwwroot   = 'http://127.0.0.1:$HTTP_PORT';
\$CFG->dataroot  = '$SITE/moodledata';
\$CFG->admin     = 'admin';
\$CFG->directorypermissions = 02770;
\$CFG->routerconfigured = true;
\$CFG->noemailever = true;
\$CFG->debugdisplay = 0;
require_once(__DIR__ . '/lib/setup.php');
CONF
  chmod 644 "$SITE/moodle/config.php"
  say "installing Moodle (about a minute)"
  as_www $PHP "$SITE/moodle/admin/cli/install_database.php" --agree-license --lang=en \
    --adminuser=admin --adminpass='Admin-test-1!' --adminemail=admin@example.invalid \
    --fullname="ENA - plateforme de formation (test)" --shortname=ena-test >"$SITE/log/install.log" 2>&1 \
    || { tail -20 "$SITE/log/install.log" >&2; die "Moodle install failed (see $SITE/log/install.log)"; }
  # What an ENA admin switches on (Site administration > General > Advanced features, Web services).
  local setting
  for setting in enablewebservices=1 webserviceprotocols=rest enablecompletion=1 timezone=Africa/Tunis \
                 enablecustomreports=1 forcetimezone=99; do
    as_www $PHP "$SITE/moodle/admin/cli/cfg.php" --name="${setting%%=*}" --set="${setting#*=}"
  done
  stop_db_clients
  psql_admin -c "CREATE DATABASE moodle_installed TEMPLATE moodle OWNER moodle"
  echo "$INSTALL_KEY" > "$SITE/installed.stamp"
}

provision() {  # the ENA admin's set-up and the hand-made course (admin_setup.php); snapshot "moodle_base"
  [ -x "$PYTHON" ] || die "no Python with lms_sync at $PYTHON (set PYTHON, or create the .venv first)"
  restore_from moodle_installed
  say "setting the site up as lms_sync's README and check --help say"
  (cd "$REPO" && "$PYTHON" -m tests.realmoodle.spec) > "$SITE/spec.json"
  # www-data may not reach a private clone: what PHP reads is copied beside the site.
  mkdir -p "$SITE/setup"
  cp "$REPO/deploy/moodle/lms_sync-role.xml" "$HERE/admin_setup.php" "$HERE/moodle_admin.php" "$SITE/setup/"
  mv "$SITE/spec.json" "$SITE/setup/spec.json"
  chmod -R a+rX "$SITE/setup"
  as_www $PHP "$SITE/setup/admin_setup.php" "$SITE/moodle/config.php" "$SITE/setup/spec.json" \
    "$SITE/setup/lms_sync-role.xml" > "$SITE/site.json.tmp" \
    2>"$SITE/log/provision.log" \
    || { tail -5 "$SITE/site.json.tmp" "$SITE/log/provision.log" >&2; die "set-up failed (see $SITE/log/provision.log)"; }
  mv "$SITE/site.json.tmp" "$SITE/site.json" && chmod 600 "$SITE/site.json"
  stop_db_clients
  psql_admin -c "DROP DATABASE IF EXISTS moodle_base" -c "CREATE DATABASE moodle_base TEMPLATE moodle OWNER moodle"
  echo "$PROVISION_KEY" > "$SITE/provisioned.stamp"
}

stop_db_clients() {  # no request may hold a connection while a database is copied or dropped
  psql_admin -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname LIKE 'moodle%' AND pid <> pg_backend_pid()" >/dev/null
}

restore_from() {  # the site's database becomes a copy of template $1; caches are purged
  psql_admin -c "DROP DATABASE IF EXISTS moodle WITH (FORCE)" -c "CREATE DATABASE moodle TEMPLATE $1 OWNER moodle"
  as_www $PHP "$SITE/moodle/admin/cli/purge_caches.php" >/dev/null
}

install_key() {
  INSTALL_KEY="moodle:$(fingerprint_of "$MOODLE_SRC") attendance:$( [ -n "$ATTENDANCE_SRC" ] && fingerprint_of "$ATTENDANCE_SRC") site.sh:$(cat "$HERE/site.sh" "$HERE"/standins/public/*.php "$HERE"/standins/public/*/*/*.php | sha256sum | cut -c1-16) port:$HTTP_PORT"
}

provision_key() {  # the set-up scripts and what they are given (lms_sync's functions, the role, the course by hand)
  [ -x "$PYTHON" ] || die "no Python with lms_sync at $PYTHON (set PYTHON, or create the .venv first)"
  local spec
  spec=$(cd "$REPO" && "$PYTHON" -m tests.realmoodle.spec) || die "tests.realmoodle.spec failed"
  PROVISION_KEY="$INSTALL_KEY setup:$( { cat "$HERE/admin_setup.php" "$HERE/moodle_admin.php" \
    "$REPO/deploy/moodle/lms_sync-role.xml"; printf '%s' "$spec"; } | sha256sum | cut -c1-16)"
}

up() {
  [ "$(id -u)" -eq 0 ] || die "run as root (servers run as www-data and postgres)"
  packages
  install_key
  provision_key
  if [ "${TEST_MOODLE_REBUILD:-0}" = 1 ] || [ "$(cat "$SITE/installed.stamp" 2>/dev/null)" != "$INSTALL_KEY" ]; then
    install_site
  fi
  pg_start
  web_start
  if [ "$(cat "$SITE/provisioned.stamp" 2>/dev/null)" != "$PROVISION_KEY" ]; then
    provision
  else
    restore_from moodle_base
  fi
  say "up: http://127.0.0.1:$HTTP_PORT (tokens and ids in $SITE/site.json)"
}

# One change at a time per site (two clones, CI and a developer): a rebuild or reset under a running
# test run would pull the database away from it. The tests take the same lock (tests/realmoodle/conftest.py).
lock_site() {
  mkdir -p "$SITE" && exec 9>>"$SITE.lock" && flock 9
}

case "${1:-}" in
  up) lock_site; up ;;
  _install) packages; install_key; install_site ;;  # the install step alone (for working on the set-up)
  _start) pg_start; web_start ;;
  reset) [ "${TEST_MOODLE_LOCKED:-}" = 1 ] || lock_site; pg_running || die "the site is not running: run $0 up"; restore_from moodle_base ;;
  down) lock_site; stop_all; say "stopped" ;;
  status)
    if pg_running && curl -fsS -o /dev/null "http://127.0.0.1:$HTTP_PORT/login/index.php" 2>/dev/null; then
      say "running: http://127.0.0.1:$HTTP_PORT ($SITE)"
    else
      say "not running ($SITE)"; exit 1
    fi ;;
  *) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
