# Real servers on loopback for the integration suites: web servers, databases, an OCI registry and
# podman's Docker-compatible API. Load after helpers: `load helpers` then `load servers`.
#
# Every start_* function requires its program (so RG_REQUIRE_SERVERS=1 fails a test whose server
# is missing), makes its own directory under $BATS_TEST_TMPDIR (or $BATS_FILE_TMPDIR when called
# from setup_file, to share one server between the tests of a file), picks a free port on
# 127.0.0.1, writes a minimal config, starts the server in the foreground under start_server,
# waits until it answers and exports what a test needs. The test's teardown (stop_servers; in
# teardown_file for a shared server) stops it. Nothing is written outside the temporary directory
# except what section "Side effects" of tests/integration/SERVERS.md lists.
#
# Web servers have two steps so a test can write its own config in between:
#   nginx_prepare; cat >"$NGINX_SITE" <<EOF ... EOF; start_nginx
# start_nginx alone serves $NGINX_ROOT (index.html says "nginx ok") with the default site.

RG_SERVER_START_SECONDS=${RG_SERVER_START_SECONDS:-30}
RG_PG_BIN=${RG_PG_BIN:-/usr/lib/postgresql/15/bin}
# Debian's Python, whose cryptography module python3-cryptography installs (not a pyenv one).
RG_SYSTEM_PYTHON=${RG_SYSTEM_PYTHON:-/usr/bin/python3}

# Print the programs the server `start_function` (start_nginx, ...) needs, one table for
# _rg_require and start_shared. Registry auth modes and push_image add their own.
_rg_programs() {
  case "$1" in
  start_nginx | nginx_prepare) echo nginx ;;
  start_apache | apache_prepare) echo apache2 ;;
  start_haproxy | haproxy_prepare) echo haproxy ;;
  start_postgres) echo "$RG_PG_BIN/initdb $RG_PG_BIN/postgres $RG_PG_BIN/pg_isready psql setpriv" ;;
  start_mariadb) echo "mariadbd mariadb-install-db mariadb mariadb-admin" ;;
  start_registry) echo "docker-registry curl" ;;
  start_podman) echo "podman runc curl" ;;
  *) echo "servers.bash: no program list for $1" >&2; return 1 ;;
  esac
}

# require_program for each program the calling start function needs.
_rg_require() {
  local program
  for program in $(_rg_programs "${FUNCNAME[1]}"); do
    require_program "$program"
  done
}

# In setup_file, start one server for all the tests of the file: `start_shared start_postgres`.
# bats 1.8 cannot skip from setup_file, so when a program the server needs is missing (and
# RG_REQUIRE_SERVERS is not 1) nothing starts and RG_SHARED_MISSING says why: call
# require_shared in setup (or in the tests) to skip them then. Stop it with stop_servers in
# teardown_file.
start_shared() {
  local program
  for program in $(_rg_programs "$1"); do
    if ! command -v "$program" >/dev/null 2>&1; then
      if [ "${RG_REQUIRE_SERVERS:-0}" = 1 ]; then
        echo "RG_REQUIRE_SERVERS=1 and $program is not installed" >&2
        return 1
      fi
      export RG_SHARED_MISSING="${RG_SHARED_MISSING:+$RG_SHARED_MISSING, }$program is not installed"
      return 0
    fi
  done
  "$@"
}

# Skip the test when start_shared found a program missing.
require_shared() {
  [ -z "${RG_SHARED_MISSING:-}" ] || skip "$RG_SHARED_MISSING"
}

# Make a new directory `name` (or `name-2`, ...) under the test's (or the file's) temporary
# directory; prints its path.
_rg_server_dir() {
  local base=${BATS_TEST_TMPDIR:-$BATS_FILE_TMPDIR} dir n=1
  dir="$base/$1"
  while [ -e "$dir" ]; do
    n=$((n + 1))
    dir="$base/$1-$n"
  done
  mkdir -p "$dir"
  echo "$dir"
}

# Let other users (www-data, postgres, mysql) reach `dir`: bats makes its run directory 0700.
# Only directories inside $BATS_RUN_TMPDIR are changed (search permission for others, no read).
_rg_open_path() {
  local dir=$1
  while [ "$dir" != / ] && [ "$dir" != . ]; do
    case "$dir" in
    "${BATS_RUN_TMPDIR:-/nonexistent}" | "${BATS_RUN_TMPDIR:-/nonexistent}"/*) chmod o+x "$dir" ;;
    esac
    dir=$(dirname "$dir")
  done
}

# A command prefix that turns fsync into a no-op (eatmydata, from Debian's package) when it is
# installed: mariadb-install-db alone makes ~1000 fdatasync calls (its DDL recovery log and Aria
# logs), 5 s instead of 0.7 s on a busy disk. Use as: "${RG_NOSYNC[@]}" command...
if command -v eatmydata >/dev/null 2>&1; then
  RG_NOSYNC=(eatmydata)
else
  RG_NOSYNC=()
fi

# Print a password made of 16 hex digits (safe in URLs and config files).
_rg_password() {
  od -An -N8 -tx1 /dev/urandom | tr -d ' \n'
}

# Wait until `command...` succeeds, for up to $RG_SERVER_START_SECONDS, while the server last
# started (RG_SERVER_PID) is alive; on failure print `what` and the server's log, return 1.
_rg_wait_until() {
  local what=$1 i
  shift
  for ((i = 0; i < RG_SERVER_START_SECONDS * 20; i++)); do
    if "$@" >/dev/null 2>&1; then
      return 0
    fi
    if ! kill -0 "$RG_SERVER_PID" 2>/dev/null; then
      echo "$what exited before it answered; its log $RG_SERVER_LOG:" >&2
      cat "$RG_SERVER_LOG" >&2
      return 1
    fi
    sleep 0.05
  done
  echo "$what did not answer within ${RG_SERVER_START_SECONDS}s; its log $RG_SERVER_LOG:" >&2
  cat "$RG_SERVER_LOG" >&2
  return 1
}

_rg_port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# ---------------------------------------------------------------------------------------------
# nginx

# Write an nginx prefix with a main config and a default site; exports
#   NGINX_PREFIX  the -p prefix (logs/, tmp/, html/ inside)     NGINX_PORT  the site's port
#   NGINX_CONF    main config: daemon off, pid, logs and temp paths in the prefix, `user
#                 www-data`, and `include $NGINX_PREFIX/conf.d/*.conf` in http{}
#   NGINX_SITE    $NGINX_PREFIX/conf.d/site.conf, the default server block (replace it freely)
#   NGINX_ROOT    the default site's root, with index.html ("nginx ok")
#   NGINX_ERROR_LOG  the log given with -e and error_log
# nginx -t/-T/-s must be run as `nginx -p "$NGINX_PREFIX" -c "$NGINX_CONF" -e "$NGINX_ERROR_LOG"`.
nginx_prepare() {
  _rg_require
  NGINX_PREFIX=$(_rg_server_dir nginx)
  NGINX_PORT=$(free_port)
  NGINX_CONF="$NGINX_PREFIX/conf/nginx.conf"
  NGINX_SITE="$NGINX_PREFIX/conf.d/site.conf"
  NGINX_ROOT="$NGINX_PREFIX/html"
  NGINX_ERROR_LOG="$NGINX_PREFIX/logs/error.log"
  mkdir -p "$NGINX_PREFIX"/{conf,conf.d,logs,tmp,html}
  _rg_open_path "$NGINX_PREFIX"
  echo "nginx ok" >"$NGINX_ROOT/index.html"
  cat >"$NGINX_CONF" <<EOF
daemon off;
master_process on;
worker_processes 1;
# The master runs as root (tests are root); workers as Debian's www-data, as in production.
user www-data www-data;
pid $NGINX_PREFIX/logs/nginx.pid;
error_log $NGINX_ERROR_LOG info;
events { worker_connections 64; }
http {
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  access_log $NGINX_PREFIX/logs/access.log;
  client_body_temp_path $NGINX_PREFIX/tmp/body;
  proxy_temp_path $NGINX_PREFIX/tmp/proxy;
  fastcgi_temp_path $NGINX_PREFIX/tmp/fastcgi;
  uwsgi_temp_path $NGINX_PREFIX/tmp/uwsgi;
  scgi_temp_path $NGINX_PREFIX/tmp/scgi;
  include $NGINX_PREFIX/conf.d/*.conf;
}
EOF
  cat >"$NGINX_SITE" <<EOF
server {
  listen 127.0.0.1:$NGINX_PORT default_server;
  server_name localhost;
  root $NGINX_ROOT;
}
EOF
  export NGINX_PREFIX NGINX_PORT NGINX_CONF NGINX_SITE NGINX_ROOT NGINX_ERROR_LOG
  _rg_nginx_prepared=1
}

# Start nginx (preparing it first unless nginx_prepare ran since the last start) and wait for
# $NGINX_PORT.
start_nginx() {
  [ "${_rg_nginx_prepared:-}" = 1 ] || nginx_prepare
  _rg_nginx_prepared=
  start_server nginx -p "$NGINX_PREFIX" -c "$NGINX_CONF" -e "$NGINX_ERROR_LOG"
  _rg_wait_until nginx _rg_port_open "$NGINX_PORT"
}

# ---------------------------------------------------------------------------------------------
# Apache httpd (Debian apache2)

# Write a ServerRoot that needs nothing from /etc/apache2; exports
#   APACHE_DIR      the ServerRoot, holding apache2.conf, envvars, run/, logs/, htdocs/
#   APACHE_CONFDIR  = APACHE_DIR: Debian's apache2ctl then sources $APACHE_DIR/envvars (run and
#                   lock dirs in APACHE_DIR, so nothing under /run) and passes `-d $APACHE_DIR`
#   APACHE_CONF     $APACHE_DIR/apache2.conf (the default file name under -d)
#   APACHE_SITE     $APACHE_DIR/sites/site.conf, included last (replace it freely)
#   APACHE_PORT  APACHE_ROOT (index.html "apache ok")  APACHE_ERROR_LOG
# Loaded: mpm_event, authz_core, authz_host, authn_core, authn_file, auth_basic, authz_user,
# dir, mime, alias, headers, rewrite, ssl, socache_shmcb, proxy, proxy_http, status.
# `apache2 -d "$APACHE_DIR" -S` and `apache2ctl -S` (with APACHE_CONFDIR exported) both read it.
apache_prepare() {
  _rg_require
  APACHE_DIR=$(_rg_server_dir apache)
  APACHE_PORT=$(free_port)
  APACHE_CONF="$APACHE_DIR/apache2.conf"
  APACHE_SITE="$APACHE_DIR/sites/site.conf"
  APACHE_ROOT="$APACHE_DIR/htdocs"
  APACHE_ERROR_LOG="$APACHE_DIR/logs/error.log"
  mkdir -p "$APACHE_DIR"/{run,logs,htdocs,sites}
  _rg_open_path "$APACHE_DIR"
  echo "apache ok" >"$APACHE_ROOT/index.html"
  cat >"$APACHE_DIR/envvars" <<EOF
# For Debian's apache2ctl with APACHE_CONFDIR=$APACHE_DIR (instead of /etc/apache2/envvars).
export APACHE_RUN_USER=www-data
export APACHE_RUN_GROUP=www-data
export APACHE_PID_FILE=$APACHE_DIR/run/apache2.pid
export APACHE_RUN_DIR=$APACHE_DIR/run
export APACHE_LOCK_DIR=$APACHE_DIR/run
export APACHE_LOG_DIR=$APACHE_DIR/logs
EOF
  {
    cat <<EOF
ServerRoot $APACHE_DIR
ServerName localhost
DefaultRuntimeDir $APACHE_DIR/run
PidFile $APACHE_DIR/run/apache2.pid
Mutex file:$APACHE_DIR/run default
ErrorLog $APACHE_ERROR_LOG
LogLevel warn
EOF
    local module
    for module in mpm_event authz_core authz_host authn_core authn_file auth_basic authz_user \
      dir mime alias headers rewrite ssl socache_shmcb proxy proxy_http status; do
      echo "LoadModule ${module}_module /usr/lib/apache2/modules/mod_${module}.so"
    done
    cat <<EOF
# The parent runs as root (tests are root); children as Debian's www-data, as in production.
User www-data
Group www-data
TypesConfig /etc/mime.types
DirectoryIndex index.html
# The main server's root (the compiled-in default is /var/www/html).
DocumentRoot $APACHE_ROOT
SSLSessionCache shmcb:$APACHE_DIR/run/ssl_scache(512000)
LogFormat "%h %l %u %t \"%r\" %>s %b" common
CustomLog $APACHE_DIR/logs/access.log common
<Directory />
  AllowOverride None
  Require all denied
</Directory>
Include $APACHE_DIR/sites/*.conf
EOF
  } >"$APACHE_CONF"
  cat >"$APACHE_SITE" <<EOF
Listen 127.0.0.1:$APACHE_PORT
<VirtualHost 127.0.0.1:$APACHE_PORT>
  ServerName localhost
  DocumentRoot $APACHE_ROOT
  <Directory $APACHE_ROOT>
    Require all granted
  </Directory>
</VirtualHost>
EOF
  APACHE_CONFDIR=$APACHE_DIR
  export APACHE_DIR APACHE_CONFDIR APACHE_CONF APACHE_SITE APACHE_PORT APACHE_ROOT APACHE_ERROR_LOG
  _rg_apache_prepared=1
}

# Start apache2 in the foreground (-DFOREGROUND: a root parent and www-data children; preparing
# first unless apache_prepare ran since the last start) and wait for $APACHE_PORT.
start_apache() {
  [ "${_rg_apache_prepared:-}" = 1 ] || apache_prepare
  _rg_apache_prepared=
  start_server apache2 -d "$APACHE_DIR" -f "$APACHE_CONF" -DFOREGROUND
  _rg_wait_until apache2 _rg_port_open "$APACHE_PORT"
}

# ---------------------------------------------------------------------------------------------
# HAProxy

# Write a config; exports HAPROXY_DIR, HAPROXY_CONF, HAPROXY_PORT and HAPROXY_UPSTREAM (the one
# backend server: `upstream` if given, such as 127.0.0.1:$HTTP_PORT; else a free port where
# nothing listens). GET /haproxy-health is answered by haproxy itself ("haproxy ok"); everything
# else goes to backend `app`.
haproxy_prepare() {
  local upstream=${1:-}
  _rg_require
  HAPROXY_DIR=$(_rg_server_dir haproxy)
  HAPROXY_PORT=$(free_port)
  HAPROXY_CONF="$HAPROXY_DIR/haproxy.cfg"
  HAPROXY_UPSTREAM=${upstream:-127.0.0.1:$(free_port)}
  cat >"$HAPROXY_CONF" <<EOF
global
  log stderr format raw local0 notice
  pidfile $HAPROXY_DIR/haproxy.pid
defaults
  mode http
  log global
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend web
  bind 127.0.0.1:$HAPROXY_PORT
  http-request return status 200 content-type text/plain string "haproxy ok" if { path /haproxy-health }
  default_backend app
backend app
  server app1 $HAPROXY_UPSTREAM
EOF
  export HAPROXY_DIR HAPROXY_CONF HAPROXY_PORT HAPROXY_UPSTREAM
  _rg_haproxy_prepared=1
}

# Start `haproxy -db -f $HAPROXY_CONF` (preparing it with `upstream` first unless haproxy_prepare
# ran since the last start) and wait for $HAPROXY_PORT.
start_haproxy() {
  [ "${_rg_haproxy_prepared:-}" = 1 ] || haproxy_prepare "$@"
  _rg_haproxy_prepared=
  start_server haproxy -db -f "$HAPROXY_CONF"
  _rg_wait_until haproxy _rg_port_open "$HAPROXY_PORT"
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL 15

# initdb (as Debian's postgres user: initdb refuses root) and start postgres on 127.0.0.1 with
# its socket in the directory; create role and database `app` whose password is checked with
# `auth` (scram-sha-256, the default, or md5). Exports
#   PG_PORT  PG_DIR  PG_DATA  PG_SOCKET_DIR  PG_USER=app  PG_PASSWORD  PG_DATABASE=app
#   PG_DSN        postgresql://app:PASSWORD@127.0.0.1:PORT/app
#   PG_ADMIN_DSN  the superuser postgres over the unix socket (trust, no password)
# Run SQL as superuser with pg_admin (`pg_admin -c 'SELECT 1'`, or SQL on stdin).
start_postgres() {
  local auth=${1:-scram-sha-256}
  _rg_require
  PG_DIR=$(_rg_server_dir postgres)
  PG_PORT=$(free_port)
  PG_DATA="$PG_DIR/data"
  PG_SOCKET_DIR="$PG_DIR/socket"
  PG_USER=app
  PG_DATABASE=app
  PG_PASSWORD=$(_rg_password)
  mkdir -p "$PG_SOCKET_DIR"
  chown postgres: "$PG_DIR" "$PG_SOCKET_DIR"
  _rg_open_path "$PG_DIR"
  "${RG_NOSYNC[@]}" setpriv --reuid=postgres --regid=postgres --init-groups -- \
    "$RG_PG_BIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale=C.UTF-8 --no-sync \
    --no-instructions --auth-local=trust --auth-host="$auth" >"$PG_DIR/initdb.log" 2>&1 ||
    { cat "$PG_DIR/initdb.log" >&2; return 1; }
  start_server setpriv --reuid=postgres --regid=postgres --init-groups -- \
    "$RG_PG_BIN/postgres" -D "$PG_DATA" -p "$PG_PORT" -c listen_addresses=127.0.0.1 \
    -c unix_socket_directories="$PG_SOCKET_DIR" -c password_encryption="$auth" \
    -c fsync=off -c full_page_writes=off -c synchronous_commit=off
  _rg_wait_until postgres "$RG_PG_BIN/pg_isready" -h "$PG_SOCKET_DIR" -p "$PG_PORT"
  PG_ADMIN_DSN="postgresql:///postgres?host=$PG_SOCKET_DIR&port=$PG_PORT&user=postgres"
  psql -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCKET_DIR" -p "$PG_PORT" -U postgres -d postgres \
    -c "CREATE ROLE $PG_USER LOGIN PASSWORD '$PG_PASSWORD'" \
    -c "CREATE DATABASE $PG_DATABASE OWNER $PG_USER"
  PG_DSN="postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DATABASE"
  export PG_PORT PG_DIR PG_DATA PG_SOCKET_DIR PG_USER PG_PASSWORD PG_DATABASE PG_DSN PG_ADMIN_DSN
}

# psql as the superuser into database `app` (or -d NAME), stopping at the first error.
pg_admin() {
  psql -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCKET_DIR" -p "$PG_PORT" -U postgres \
    -d "$PG_DATABASE" "$@"
}

# ---------------------------------------------------------------------------------------------
# MariaDB 10.11

# mariadb-install-db into the directory and start mariadbd as Debian's mysql user on 127.0.0.1
# (and a unix socket in the directory); create database `app` and user 'app'@'%' with a
# password. Exports
#   MARIADB_PORT  MARIADB_DIR  MARIADB_SOCKET  MARIADB_USER=app  MARIADB_PASSWORD
#   MARIADB_DATABASE=app  MARIADB_DSN=mysql://app:PASSWORD@127.0.0.1:PORT/app
#   MARIADB_CNF   the defaults file (server options; [client] socket for root over the socket)
# Run SQL as root with mariadb_admin (`mariadb_admin -e 'SELECT 1'`, or SQL on stdin). Each
# argument is one more [mariadbd] option line (`start_mariadb 'max_user_connections = 1000'`).
start_mariadb() {
  _rg_require
  MARIADB_DIR=$(_rg_server_dir mariadb)
  MARIADB_PORT=$(free_port)
  MARIADB_SOCKET="$MARIADB_DIR/mariadb.sock"
  MARIADB_CNF="$MARIADB_DIR/my.cnf"
  MARIADB_USER=app
  MARIADB_DATABASE=app
  MARIADB_PASSWORD=$(_rg_password)
  mkdir -p "$MARIADB_DIR/tmp"
  cat >"$MARIADB_CNF" <<EOF
[client]
socket = $MARIADB_SOCKET
[mariadbd]
user = mysql
datadir = $MARIADB_DIR/data
socket = $MARIADB_SOCKET
pid-file = $MARIADB_DIR/mariadb.pid
tmpdir = $MARIADB_DIR/tmp
port = $MARIADB_PORT
bind-address = 127.0.0.1
skip-networking = 0
skip-name-resolve
log-error = $MARIADB_DIR/error.log
innodb_log_file_size = 8M
innodb_buffer_pool_size = 16M
innodb_flush_log_at_trx_commit = 0
innodb_doublewrite = 0
performance_schema = 0
EOF
  [ $# -eq 0 ] || printf '%s\n' "$@" >>"$MARIADB_CNF"
  chown -R mysql: "$MARIADB_DIR"
  _rg_open_path "$MARIADB_DIR"
  "${RG_NOSYNC[@]}" mariadb-install-db --defaults-file="$MARIADB_CNF" \
    --auth-root-authentication-method=socket --skip-test-db >"$MARIADB_DIR/install-db.log" 2>&1 ||
    { cat "$MARIADB_DIR/install-db.log" >&2; return 1; }
  start_server "${RG_NOSYNC[@]}" mariadbd --defaults-file="$MARIADB_CNF"
  _rg_wait_until mariadbd mariadb-admin --defaults-file="$MARIADB_CNF" -uroot ping
  mariadb_admin -e "CREATE DATABASE $MARIADB_DATABASE;
    CREATE USER '$MARIADB_USER'@'%' IDENTIFIED BY '$MARIADB_PASSWORD';
    GRANT ALL ON $MARIADB_DATABASE.* TO '$MARIADB_USER'@'%';"
  MARIADB_DSN="mysql://$MARIADB_USER:$MARIADB_PASSWORD@127.0.0.1:$MARIADB_PORT/$MARIADB_DATABASE"
  export MARIADB_PORT MARIADB_DIR MARIADB_SOCKET MARIADB_CNF MARIADB_USER MARIADB_PASSWORD
  export MARIADB_DATABASE MARIADB_DSN
}

# The mariadb client as root over the unix socket (unix_socket authentication).
mariadb_admin() {
  mariadb --defaults-file="$MARIADB_CNF" -uroot "$@"
}

# ---------------------------------------------------------------------------------------------
# OCI registry (Debian docker-registry 2.8)

# Start docker-registry on 127.0.0.1 with its storage in the directory. `auth` is one of
#   plain        no authentication (default)
#   htpasswd     HTTP Basic against a bcrypt htpasswd file (htpasswd -B, apache2-utils)
#   token        Bearer tokens from the fixture token server (anonymous: grants what is asked)
#   token-login  the same, but the token server wants Basic REGISTRY_USER:REGISTRY_PASSWORD
# Exports REGISTRY_PORT, REGISTRY (127.0.0.1:PORT), REGISTRY_URL (http://...), REGISTRY_DIR,
# REGISTRY_CONFIG, REGISTRY_AUTH; with htpasswd/token-login REGISTRY_USER and REGISTRY_PASSWORD;
# with token* TOKEN_PORT, TOKEN_REALM (http://127.0.0.1:TOKEN_PORT/token), REGISTRY_SERVICE,
# TOKEN_ISSUER, TOKEN_CERT and TOKEN_LOG (the token server's log: one `token <path>` per request).
start_registry() {
  local auth=${1:-plain}
  _rg_require
  REGISTRY_DIR=$(_rg_server_dir registry)
  REGISTRY_PORT=$(free_port)
  REGISTRY="127.0.0.1:$REGISTRY_PORT"
  REGISTRY_URL="http://$REGISTRY"
  REGISTRY_CONFIG="$REGISTRY_DIR/config.yml"
  REGISTRY_AUTH=$auth
  unset REGISTRY_USER REGISTRY_PASSWORD TOKEN_PORT TOKEN_REALM REGISTRY_SERVICE TOKEN_ISSUER TOKEN_CERT TOKEN_LOG
  local auth_config=""
  case "$auth" in
  plain) ;;
  htpasswd)
    require_program htpasswd
    REGISTRY_USER=tester
    REGISTRY_PASSWORD=$(_rg_password)
    htpasswd -Bbn "$REGISTRY_USER" "$REGISTRY_PASSWORD" >"$REGISTRY_DIR/htpasswd" 2>/dev/null
    auth_config="auth: {htpasswd: {realm: readygate-test, path: $REGISTRY_DIR/htpasswd}}"
    ;;
  token | token-login)
    require_program "$RG_SYSTEM_PYTHON"
    TOKEN_PORT=$(free_port)
    TOKEN_REALM="http://127.0.0.1:$TOKEN_PORT/token"
    REGISTRY_SERVICE=readygate-test-registry
    TOKEN_ISSUER=readygate-test-issuer
    TOKEN_CERT="$REGISTRY_DIR/token.crt"
    local login=()
    if [ "$auth" = token-login ]; then
      REGISTRY_USER=tester
      REGISTRY_PASSWORD=$(_rg_password)
      login=(--user "$REGISTRY_USER:$REGISTRY_PASSWORD")
    fi
    start_server "$RG_SYSTEM_PYTHON" "$FIXTURES/token_server.py" --port "$TOKEN_PORT" \
      --cert "$TOKEN_CERT" --issuer "$TOKEN_ISSUER" "${login[@]}"
    TOKEN_LOG=$RG_SERVER_LOG
    _rg_wait_until "the token server" _rg_port_open "$TOKEN_PORT"
    auth_config="auth: {token: {realm: \"$TOKEN_REALM\", service: $REGISTRY_SERVICE, issuer: $TOKEN_ISSUER, rootcertbundle: $TOKEN_CERT}}"
    ;;
  *)
    echo "start_registry: unknown auth \"$auth\" (plain, htpasswd, token, token-login)" >&2
    return 1
    ;;
  esac
  cat >"$REGISTRY_CONFIG" <<EOF
version: 0.1
log: {level: warn, accesslog: {disabled: true}, fields: {service: registry}}
storage: {filesystem: {rootdirectory: $REGISTRY_DIR/storage}, delete: {enabled: true}}
http: {addr: "$REGISTRY", secret: readygate-test-secret}
$auth_config
EOF
  # docker-registry reads REGISTRY_* environment variables as configuration (REGISTRY_AUTH would
  # replace the auth section): start it without those a previous start_registry exported.
  local keep_out=() variable
  for variable in $(compgen -e); do
    [[ $variable != REGISTRY_* ]] || keep_out+=(-u "$variable")
  done
  start_server env "${keep_out[@]}" docker-registry serve "$REGISTRY_CONFIG"
  # /v2/ answers 200, or 401 with auth: either way the registry is up.
  _rg_wait_until docker-registry curl -s -o /dev/null "$REGISTRY_URL/v2/"
  export REGISTRY_PORT REGISTRY REGISTRY_URL REGISTRY_DIR REGISTRY_CONFIG REGISTRY_AUTH
  export REGISTRY_USER REGISTRY_PASSWORD TOKEN_PORT TOKEN_REALM REGISTRY_SERVICE TOKEN_ISSUER
  export TOKEN_CERT TOKEN_LOG
}

# The Accept list that makes registry 2.8 answer with any manifest kind as stored (without it,
# OCI manifests are a 404 and Docker ones are converted to schema1).
REGISTRY_ACCEPT="application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json"

# Print a Bearer token from the token server for `scope` (e.g. repository:app/web:pull).
registry_token() {
  local creds=()
  [ -z "${REGISTRY_USER:-}" ] || creds=(-u "$REGISTRY_USER:$REGISTRY_PASSWORD")
  curl -sf "${creds[@]}" --get --data-urlencode "service=$REGISTRY_SERVICE" \
    --data-urlencode "scope=$1" "$TOKEN_REALM" |
    "$RG_SYSTEM_PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["token"])'
}

# curl `path` (/v2/...) on the registry with its credentials (Basic, or a Bearer token for the
# path's repository, pull and push), plus `curl-args...`.
registry_curl() {
  local path=$1 auth=()
  shift
  case "$REGISTRY_AUTH" in
  htpasswd) auth=(-u "$REGISTRY_USER:$REGISTRY_PASSWORD") ;;
  token | token-login)
    local repo
    repo=$(sed -nE 's#^/v2/(.+)/(manifests|blobs|tags)/.*#\1#p' <<<"$path")
    if [ -n "$repo" ]; then
      auth=(-H "Authorization: Bearer $(registry_token "repository:$repo:pull,push")")
    fi
    ;;
  esac
  curl -s "${auth[@]}" "$@" "$REGISTRY_URL$path"
}

# Print the Docker-Content-Digest of `repo`:`reference` (HEAD with the full Accept list).
manifest_digest() {
  registry_curl "/v2/$1/manifests/$2" -I -H "Accept: $REGISTRY_ACCEPT" |
    tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p'
}

# Print the config digest (the "image ID" engines report) of the manifest `repo`:`reference`.
manifest_config_digest() {
  registry_curl "/v2/$1/manifests/$2" -H "Accept: $REGISTRY_ACCEPT" |
    "$RG_SYSTEM_PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["config"]["digest"])'
}

# Set the array creds to skopeo's options giving the registry's credentials for each of
# `sides...` (src, dest).
_rg_skopeo_creds() {
  local side
  creds=()
  if [ -n "${REGISTRY_USER:-}" ]; then
    for side; do
      creds+=("--$side-creds=$REGISTRY_USER:$REGISTRY_PASSWORD")
    done
  fi
}

# Build a one-layer-plus-busybox image whose /etc/content.txt is `content` (default
# "repo:tag"), in the OCI layout $REGISTRY_DIR/layout (tag `repo_tag`), and push it as
# `repo`:`tag` in `format` (oci, the default, or v2s2 for a Docker manifest). Entrypoint
# /bin/busybox (static), cmd `cat /etc/content.txt`, so `podman run IMAGE sleep 600` works.
# Prints the pushed manifest's digest. Every push is a new image (layer and config carry the
# time), so pushing the same content again also moves the tag.
push_image() {
  local repo=$1 tag=$2 content=${3:-$1:$2} format=${4:-oci}
  require_program umoci
  require_program skopeo
  require_program busybox
  local layout="$REGISTRY_DIR/layout" name="${repo//\//_}_$tag" work
  if [ ! -d "$layout" ]; then
    umoci init --layout "$layout"
    umoci new --image "$layout:base"
    umoci insert --image "$layout:base" "$(command -v busybox)" /bin/busybox >/dev/null
    umoci config --image "$layout:base" --config.entrypoint /bin/busybox \
      --config.cmd cat --config.cmd /etc/content.txt --os linux --architecture amd64
  fi
  work=$(mktemp -d "$REGISTRY_DIR/content.XXXXXX")
  printf '%s\n' "$content" >"$work/content.txt"
  umoci rm --image "$layout:$name" 2>/dev/null || true
  umoci tag --image "$layout:base" "$name"
  umoci insert --image "$layout:$name" "$work/content.txt" /etc/content.txt >/dev/null
  rm -rf "$work"
  local creds
  _rg_skopeo_creds dest
  # --tmpdir: skopeo's big temporary files go to /var/tmp otherwise.
  skopeo --tmpdir "$REGISTRY_DIR" copy -q --format "$format" --dest-tls-verify=false \
    "${creds[@]}" --digestfile "$REGISTRY_DIR/digest" \
    "oci:$layout:$name" "docker://$REGISTRY/$repo:$tag" >&2
  cat "$REGISTRY_DIR/digest"
  echo
}

# Repoint `repo`:`tag` at the manifest of `target` (another tag, or a sha256: digest, of the same
# repository) byte for byte, so the tag's digest becomes target's; prints that digest.
move_tag() {
  local repo=$1 tag=$2 target=$3 source creds
  _rg_skopeo_creds src dest
  case "$target" in
  sha256:*) source="docker://$REGISTRY/$repo@$target" ;;
  *) source="docker://$REGISTRY/$repo:$target" ;;
  esac
  skopeo --tmpdir "$REGISTRY_DIR" copy -q --src-tls-verify=false --dest-tls-verify=false \
    "${creds[@]}" --digestfile "$REGISTRY_DIR/digest" \
    "$source" "docker://$REGISTRY/$repo:$tag" >&2
  cat "$REGISTRY_DIR/digest"
  echo
}

# ---------------------------------------------------------------------------------------------
# podman's Docker-compatible API

# Start `podman system service` (rootful) on a unix socket in the directory, with storage (vfs),
# runtime state, runc's root, events, temporary and CNI config files all inside it. Exports
#   PODMAN_SOCK  the socket (curl --unix-socket "$PODMAN_SOCK" http://d/v1.41/containers/json)
#   DOCKER_HOST  unix://$PODMAN_SOCK          PODMAN_DIR
#   CONTAINERS_CONF, CONTAINERS_STORAGE_CONF  so a plain `podman ...` in the test uses the same
#                store and settings as the service
# Containers run with runc (crun 1.8.1 rejects this host's hybrid cgroups), no network and
# ulimits nofile/nproc 1024 (the default ones cannot be set without CAP_SYS_RESOURCE); every
# container is removed when the test stops (conmon and containers outlive the process group).
start_podman() {
  _rg_require
  PODMAN_DIR=$(_rg_server_dir podman)
  PODMAN_SOCK="$PODMAN_DIR/podman.sock"
  mkdir -p "$PODMAN_DIR"/{tmp,cni,bin,no-cni-plugins}
  # runc's state goes to /run/runc unless --root: a wrapper gives it to every runc call,
  # including those of the `podman container cleanup` that conmon runs when a container exits.
  cat >"$PODMAN_DIR/bin/runc" <<EOF
#!/bin/sh
exec $(command -v runc) --root "$PODMAN_DIR/runc" "\$@"
EOF
  chmod +x "$PODMAN_DIR/bin/runc"
  cat >"$PODMAN_DIR/storage.conf" <<EOF
[storage]
driver = "vfs"
runroot = "$PODMAN_DIR/runroot"
graphroot = "$PODMAN_DIR/graphroot"
EOF
  cat >"$PODMAN_DIR/containers.conf" <<EOF
[containers]
netns = "none"
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[network]
network_backend = "cni"
network_config_dir = "$PODMAN_DIR/cni"
# No CNI plugins: a container asking for a network fails instead of adding a bridge, iptables
# chains, /var/lib/cni and /run/netns to the host.
cni_plugin_dirs = ["$PODMAN_DIR/no-cni-plugins"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$PODMAN_DIR/events.log"
tmp_dir = "$PODMAN_DIR/tmp"
image_copy_tmp_dir = "$PODMAN_DIR/tmp"
volume_path = "$PODMAN_DIR/volumes"
static_dir = "$PODMAN_DIR/graphroot/libpod"
[engine.runtimes]
runc = ["$PODMAN_DIR/bin/runc"]
EOF
  CONTAINERS_CONF="$PODMAN_DIR/containers.conf"
  CONTAINERS_STORAGE_CONF="$PODMAN_DIR/storage.conf"
  DOCKER_HOST="unix://$PODMAN_SOCK"
  export PODMAN_DIR PODMAN_SOCK DOCKER_HOST CONTAINERS_CONF CONTAINERS_STORAGE_CONF
  start_server env TMPDIR="$PODMAN_DIR/tmp" podman system service --time=0 "unix://$PODMAN_SOCK"
  on_stop _rg_podman_remove_all "$PODMAN_DIR"
  _rg_wait_until "podman system service" curl -sf --unix-socket "$PODMAN_SOCK" http://d/_ping
}

# Remove every container of the podman whose directory is `dir` (they are not in its process
# group) so no conmon, container process or shm mount is left.
_rg_podman_remove_all() {
  CONTAINERS_CONF="$1/containers.conf" CONTAINERS_STORAGE_CONF="$1/storage.conf" TMPDIR="$1/tmp" \
    podman rm -a -f -t 0 >/dev/null
}

# Load the image push_image built as `repo`:`tag` (from the OCI layout, not the registry) into
# the podman store as localhost/`repo`:`tag`; prints its image ID (the config digest, no
# sha256:). (`podman pull oci:DIR:TAG` would name the image after DIR, which bats makes with
# upper-case letters: an invalid reference.)
podman_load() {
  local repo=$1 tag=$2
  # Straight into the store (CONTAINERS_STORAGE_CONF is exported): `podman load` of an archive
  # writes to /var/tmp whatever TMPDIR says.
  skopeo --tmpdir "$PODMAN_DIR/tmp" copy -q "oci:$REGISTRY_DIR/layout:${repo//\//_}_$tag" \
    "containers-storage:localhost/$repo:$tag" >&2
  podman image inspect --format '{{.Id}}' "localhost/$repo:$tag"
}

# Start container `name` detached from `image`, running `command...` (default: sleep 3600,
# through the image's busybox entrypoint); prints the container ID. An image on $REGISTRY is
# pulled first (no TLS, with the registry's credentials); any other must be in the store
# already (podman_load).
podman_run() {
  local name=$1 image=$2 pull=()
  shift 2
  [ $# -gt 0 ] || set -- sleep 3600
  case "$image" in
  "${REGISTRY:-/nonexistent}"/*)
    pull=(--tls-verify=false)
    [ -z "${REGISTRY_USER:-}" ] || pull+=(--creds "$REGISTRY_USER:$REGISTRY_PASSWORD")
    TMPDIR="$PODMAN_DIR/tmp" podman pull -q "${pull[@]}" "$image" >/dev/null
    ;;
  esac
  TMPDIR="$PODMAN_DIR/tmp" podman run -d --name "$name" --pull never "$image" "$@"
}
