#!/usr/bin/env bats
# The webserver kind against real nginx 1.22, apache2 2.4 and haproxy 2.6 from Debian, in
# temporary prefixes on free loopback ports (servers.bash), with certificates made here with
# OpenSSL: for each server a configuration that passes, and each breakage the server's own test
# lets through failing with what is wrong and the file:line it came from.

bats_require_minimum_version 1.5.0

load helpers
load servers

setup() {
  CERTS="$BATS_TEST_TMPDIR/certs"
  APP_ROOT="$BATS_TEST_TMPDIR/app"
  mkdir -p "$CERTS" "$APP_ROOT"
  require_program openssl
}

teardown() {
  stop_servers
  if [ -n "${SHARED_DIR:-}" ]; then
    rm -rf "$SHARED_DIR"
  fi
}

# Make a CA $CERTS/NAME.pem (key NAME.key), CN=readygate-test-NAME, valid for `days` (negative:
# it expired that many days ago), signed by the CA `parent` (self-signed without one).
make_ca() {
  local name=$1 days=${2:-30} parent=${3:-}
  if [ -z "$parent" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$days" \
      -subj "/CN=readygate-test-$name" -keyout "$CERTS/$name.key" -out "$CERTS/$name.pem" 2>/dev/null
    return
  fi
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=readygate-test-$name" \
    -keyout "$CERTS/$name.key" -out "$CERTS/$name.csr" 2>/dev/null
  openssl x509 -req -in "$CERTS/$name.csr" -CA "$CERTS/$parent.pem" -CAkey "$CERTS/$parent.key" \
    -CAcreateserial -days "$days" \
    -extfile <(printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n') \
    -out "$CERTS/$name.pem" 2>/dev/null
}

# Make a certificate $CERTS/NAME.pem (key NAME.key) for `san` ("DNS:www.example.com"), valid for
# `days` (negative: it expired that many days ago, as `openssl x509 -days -1` makes a certificate
# whose notAfter is yesterday), signed by the CA `issuer` (default: the root CA "ca", made on
# first use; webserver_config names it as the check's ca_file).
make_cert() {
  local name=$1 san=$2 days=${3:-30} issuer=${4:-ca}
  if [ ! -f "$CERTS/ca.pem" ]; then
    make_ca ca
  fi
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$name" \
    -keyout "$CERTS/$name.key" -out "$CERTS/$name.csr" 2>/dev/null
  openssl x509 -req -in "$CERTS/$name.csr" -CA "$CERTS/$issuer.pem" -CAkey "$CERTS/$issuer.key" \
    -CAcreateserial -days "$days" -extfile <(printf 'subjectAltName=%s\n' "$san") \
    -out "$CERTS/$name.pem" 2>/dev/null
}

# Start the application the web servers route to: the fixture HTTP server, whose /version says
# {"version": "1.4.2"}; sets APP_PORT.
start_app() {
  APP_PORT=$(free_port)
  start_server "$RG_PYTHON" "$FIXTURES/http_server.py" --port "$APP_PORT" --root "$APP_ROOT" \
    --version-string "${1:-1.4.2}"
  wait_for_port "$APP_PORT"
}

# Write a config with one webserver check of `server` and the extra TOML from standard input;
# prints its path. Once make_cert made the root CA, it is the check's ca_file (NO_CA_FILE=1: the
# system store).
webserver_config() {
  local server=$1 keys
  keys=$(cat)
  if [ -f "$CERTS/ca.pem" ] && [ -z "${NO_CA_FILE:-}" ]; then
    keys=$(printf 'ca_file = "%s"\n%s' "$CERTS/ca.pem" "$keys")
  fi
  case $server in
  nginx) keys=$(printf 'prefix = "%s"\nconfig = "%s"\n%s' "$NGINX_PREFIX" "$NGINX_CONF" "$keys") ;;
  apache) keys=$(printf 'prefix = "%s"\n%s' "$APACHE_DIR" "$keys") ;;
  haproxy) keys=$(printf 'config = "%s"\n%s' "$HAPROXY_CONF" "$keys") ;;
  esac
  write_config <<EOF
[[check]]
id = "web"
kind = "webserver"
server = "$server"
timeout = "20s"
$keys
EOF
}

# Run readygate check on the config from webserver_config (`server`, TOML on stdin), human then
# JSON ($json), and print both.
check_webserver() {
  local config
  config=$(webserver_config "$1")
  run "$READYGATE" check --config "$config"
  echo "$output"
  json=$("$READYGATE" check --config "$config" --format json) || true
  echo "$json"
}

# Assert the JSON report $json has a finding with exactly `subject`, `expected` and `found`.
assert_finding() {
  output=$json assert_json_finding "$1" "$2" "$3" "$4"
}

# --- nginx ------------------------------------------------------------------------------------

# The site: a plain default server and a TLS server for www.example.com that serves $NGINX_ROOT
# and proxies /version to the app. Line numbers matter to the assertions below.
write_nginx_site() {
  TLS_PORT=${TLS_PORT:-$(free_port)}
  cat >"$NGINX_SITE" <<EOF
server {
  listen 127.0.0.1:$NGINX_PORT default_server;
  server_name localhost;
  root ${DOCROOT:-$NGINX_ROOT};
}
server {
  listen 127.0.0.1:$TLS_PORT ssl;
  server_name www.example.com;
  ssl_certificate $CERTS/${CERT:-www}.pem;
  ssl_certificate_key $CERTS/${KEY:-${CERT:-www}}.key;
  root $NGINX_ROOT;
  location /version { proxy_pass http://127.0.0.1:${APP_PORT:-9}; }
}
EOF
}

@test "webserver nginx: a configuration that serves passes, probed through TLS with Host and SNI" {
  nginx_prepare
  make_cert www DNS:www.example.com
  start_app
  write_nginx_site
  start_nginx
  check_webserver nginx <<EOF
require_server_names = ["www.example.com", "localhost"]
forbid_default_site = true
[[check.probe]]
host = "www.example.com"
path = "/version"
ca_file = "$CERTS/ca.pem"
body_contains = '"version": "1.4.2"'
[[check.probe]]
path = "/index.html"
tls = false
body_contains = "nginx ok"
EOF
  [ "$status" -eq 0 ]
  [[ "$output" == *"nginx: configuration accepted; 2 served paths, 1 certificate, 1 upstream, 2 probes as expected"* ]]
}

@test "webserver nginx: a probe that reaches another release's app fails with what it got" {
  nginx_prepare
  make_cert www DNS:www.example.com
  start_app 1.4.1
  write_nginx_site
  start_nginx
  check_webserver nginx <<EOF
[[check.probe]]
host = "www.example.com"
path = "/version"
ca_file = "$CERTS/ca.pem"
body_contains = '"version": "1.4.2"'
EOF
  [ "$status" -eq 1 ]
  assert_finding fail "GET https://www.example.com:$TLS_PORT/version (to 127.0.0.1:$TLS_PORT) body" \
    'contains "\"version\": \"1.4.2\""' '{"version": "1.4.1"}'
}

@test "webserver nginx: a syntax error fails with nginx's own message at its file:line" {
  nginx_prepare
  make_cert www DNS:www.example.com
  write_nginx_site
  printf 'server {\n  listen 127.0.0.1:1;\n  proxy_passs http://x;\n}\n' >"$NGINX_PREFIX/conf.d/typo.conf"
  check_webserver nginx </dev/null
  [ "$status" -eq 1 ]
  [[ "$output" == *"nginx -t rejects the configuration (exit code 1): [emerg] unknown directive \"proxy_passs\" in $NGINX_PREFIX/conf.d/typo.conf:3"* ]]
  assert_finding fail "$NGINX_PREFIX/conf.d/typo.conf:3" "a configuration nginx accepts" \
    "[emerg] unknown directive \"proxy_passs\" in $NGINX_PREFIX/conf.d/typo.conf:3"
}

@test "webserver nginx: a missing docroot passes nginx -t and fails here at its root directive" {
  nginx_prepare
  make_cert www DNS:www.example.com
  DOCROOT="$NGINX_PREFIX/releases/42/public" write_nginx_site
  nginx -t -q -p "$NGINX_PREFIX" -c "$NGINX_CONF" -e stderr # nginx itself sees nothing wrong
  check_webserver nginx </dev/null
  [ "$status" -eq 1 ]
  [[ "$output" == *"root $NGINX_PREFIX/releases/42/public does not exist ($NGINX_SITE:4)"* ]]
  assert_finding fail "$NGINX_SITE:4" "root $NGINX_PREFIX/releases/42/public: a readable directory" \
    "missing (No such file or directory)"
}

@test "webserver nginx: a docroot its worker user cannot read fails, naming the directory and mode" {
  nginx_prepare
  make_cert www DNS:www.example.com
  mkdir -p "$NGINX_PREFIX/private/public"
  chmod 0700 "$NGINX_PREFIX/private"
  DOCROOT="$NGINX_PREFIX/private/public" write_nginx_site
  check_webserver nginx </dev/null
  [ "$status" -eq 1 ]
  assert_finding fail "$NGINX_SITE:4" "root $NGINX_PREFIX/private/public: a readable directory" \
    "www-data cannot search $NGINX_PREFIX/private (mode 0700, owner 0:0)"
}

@test "webserver nginx: an upstream on this host with nothing listening fails at its proxy_pass" {
  nginx_prepare
  make_cert www DNS:www.example.com
  APP_PORT=$(free_port) # nothing listens there
  write_nginx_site
  check_webserver nginx </dev/null
  [ "$status" -eq 1 ]
  assert_finding fail "$NGINX_SITE:12" "upstream 127.0.0.1:$APP_PORT: accepts connections" \
    "127.0.0.1:$APP_PORT: connection refused"
  # check_upstreams = false leaves them alone.
  check_webserver nginx <<<'check_upstreams = false'
  [ "$status" -eq 0 ]
}

@test "webserver nginx: expired, expiring and wrong-name certificates fail; a wrong key fails nginx -t" {
  nginx_prepare
  start_app
  make_cert expired DNS:www.example.com -1
  CERT=expired write_nginx_site
  check_webserver nginx </dev/null
  [ "$status" -eq 1 ]
  [[ "$output" == *"certificate $CERTS/expired.pem expired on "*"($NGINX_SITE:9)"* ]]

  make_cert soon DNS:www.example.com 3
  CERT=soon write_nginx_site
  check_webserver nginx </dev/null
  [ "$status" -eq 1 ]
  [[ "$output" == *"$NGINX_SITE:9: expected certificate $CERTS/soon.pem: valid for 14 days or more, found expires on "*", in 2 days"* ]]
  check_webserver nginx <<<'cert_min_days = 2'
  [ "$status" -eq 0 ]

  make_cert other DNS:other.example.com
  CERT=other write_nginx_site
  check_webserver nginx </dev/null
  [ "$status" -eq 1 ]
  assert_finding fail "$NGINX_SITE:9" "certificate $CERTS/other.pem: covers www.example.com" \
    "it names other.example.com"

  make_cert www DNS:www.example.com
  CERT=www KEY=other write_nginx_site
  check_webserver nginx </dev/null
  [ "$status" -eq 1 ]
  [[ "$output" == *"nginx -t rejects the configuration"*"key values mismatch"* ]]
}

@test "webserver nginx: a leaf whose intermediate is missing from ssl_certificate fails naming the issuer; the full chain passes" {
  nginx_prepare
  start_app
  make_ca ca
  make_ca intermediate 30 ca
  make_cert www DNS:www.example.com 30 intermediate
  write_nginx_site # ssl_certificate: the leaf alone
  # The system store: the leaf's issuer is nowhere.
  NO_CA_FILE=1 check_webserver nginx </dev/null
  [ "$status" -eq 1 ]
  assert_finding fail "$NGINX_SITE:9" \
    "certificate $CERTS/www.pem: a chain to a trust anchor of the system store" \
    "no certificate of its issuer CN=readygate-test-intermediate (the issuer of CN=www) in the files or among the trust anchors"
  # ca_file trusts the root, but a client still cannot get from the leaf to it.
  check_webserver nginx </dev/null
  [ "$status" -eq 1 ]
  assert_finding fail "$NGINX_SITE:9" \
    "certificate $CERTS/www.pem: a chain to a trust anchor of ca_file $CERTS/ca.pem" \
    "no certificate of its issuer CN=readygate-test-intermediate (the issuer of CN=www) in the files or among the trust anchors"

  # The leaf then the intermediate, as nginx wants them: passes, and a TLS client agrees.
  cat "$CERTS/www.pem" "$CERTS/intermediate.pem" >"$CERTS/www-chain.pem"
  CERT=www-chain KEY=www write_nginx_site
  start_nginx
  check_webserver nginx <<EOF
[[check.probe]]
host = "www.example.com"
path = "/version"
ca_file = "$CERTS/ca.pem"
body_contains = '"version": "1.4.2"'
EOF
  [ "$status" -eq 0 ]
  [[ "$output" == *"nginx: configuration accepted; 2 served paths, 1 certificate, 1 upstream, 1 probe as expected"* ]]
  # The root is no anchor of the system store: there, the issuer missing is the root.
  NO_CA_FILE=1 check_webserver nginx </dev/null
  [ "$status" -eq 1 ]
  [[ "$output" == *"no certificate of its issuer CN=readygate-test-ca (the issuer of CN=readygate-test-intermediate)"* ]]
}

@test "webserver nginx: a wildcard certificate *.com does not cover example.com (OpenSSL's X509_check_host)" {
  nginx_prepare
  start_app
  make_cert tld 'DNS:*.com'
  CERT=tld write_nginx_site
  sed -i 's/server_name www.example.com;/server_name example.com;/' "$NGINX_SITE"
  check_webserver nginx </dev/null
  [ "$status" -eq 1 ]
  assert_finding fail "$NGINX_SITE:9" "certificate $CERTS/tld.pem: covers example.com" "it names *.com"
}

@test "webserver nginx: an IPv6 SAN covers the address however it is written (OpenSSL's X509_check_ip_asc)" {
  nginx_prepare
  start_app
  # The SAN written out in full, the name as a Host header carries it.
  make_cert v6 'IP:0:0:0:0:0:0:0:1'
  CERT=v6 write_nginx_site
  sed -i 's/server_name www.example.com;/server_name [::1];/' "$NGINX_SITE"
  check_webserver nginx </dev/null
  [ "$status" -eq 0 ]
  make_cert v6other 'IP:0:0:0:0:0:0:0:2'
  CERT=v6other write_nginx_site
  sed -i 's/server_name www.example.com;/server_name [::1];/' "$NGINX_SITE"
  check_webserver nginx </dev/null
  [ "$status" -eq 1 ]
  assert_finding fail "$NGINX_SITE:9" "certificate $CERTS/v6other.pem: covers [::1]" "it names ::2"
}

@test "webserver nginx: Debian's default site still enabled fails with forbid_default_site" {
  nginx_prepare
  make_cert www DNS:www.example.com
  start_app
  write_nginx_site
  mkdir -p "$NGINX_PREFIX/sites-enabled"
  sed -e "s/listen 80 default_server;/listen 127.0.0.1:$(free_port);/" -e '/listen \[::\]:80/d' \
    /etc/nginx/sites-available/default >"$NGINX_PREFIX/sites-enabled/default"
  sed -i "s|include $NGINX_PREFIX/conf.d/\*.conf;|&\n  include $NGINX_PREFIX/sites-enabled/*;|" "$NGINX_CONF"
  check_webserver nginx <<<'forbid_default_site = true'
  [ "$status" -eq 1 ]
  line=$(grep -n '^server {' "$NGINX_PREFIX/sites-enabled/default" | head -1 | cut -d: -f1)
  assert_finding fail "$NGINX_PREFIX/sites-enabled/default:$line" \
    "no default site enabled (forbid_default_site)" \
    "the distribution's default site ($NGINX_PREFIX/sites-enabled/default)"
  check_webserver nginx </dev/null
  [ "$status" -eq 0 ]
}

@test "webserver nginx: a required name no server block serves fails" {
  nginx_prepare
  make_cert www DNS:www.example.com
  start_app
  write_nginx_site
  check_webserver nginx <<<'require_server_names = ["www.example.com", "shop.example.com"]'
  [ "$status" -eq 1 ]
  assert_finding fail "$NGINX_CONF" "a virtual server that serves shop.example.com" \
    "server names localhost, www.example.com"
}

@test "webserver nginx: a missing binary is an error (exit 2), never a pass" {
  nginx_prepare
  check_webserver nginx <<<'binary = "/nonexistent/sbin/nginx"'
  [ "$status" -eq 2 ]
  [[ "$output" == *"ERROR"*"nginx -t: cannot run /nonexistent/sbin/nginx"* ]]
  # Without nginx on PATH (a boot step's bare environment), /usr/sbin/nginx is tried next.
  make_cert www DNS:www.example.com
  start_app
  write_nginx_site
  config=$(webserver_config nginx </dev/null)
  PATH=/nonexistent run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 0 ]
}

@test "webserver nginx: a dump longer than output_limit is an error, not a judgement on half of it" {
  nginx_prepare
  make_cert www DNS:www.example.com
  start_app
  write_nginx_site
  check_webserver nginx <<<'output_limit = 1024'
  [ "$status" -eq 2 ]
  [[ "$output" == *"its configuration dump is longer than output_limit (1 KiB); raise output_limit"* ]]
}

@test "webserver nginx: terminal escapes from the configuration reach the report escaped" {
  nginx_prepare
  make_cert www DNS:www.example.com
  start_app
  write_nginx_site
  printf 'server {\n  listen 127.0.0.1:1;\n  root "/srv/\033[2Jgone\033]0;x\007";\n}\n' >"$NGINX_PREFIX/conf.d/odd.conf"
  check_webserver nginx </dev/null
  [ "$status" -eq 1 ]
  [[ "$output" == *'root /srv/\x1b[2Jgone\x1b]0;x\x07 does not exist'* ]]
  [[ "$output" != *$'\033'* ]]
}

@test "webserver nginx: as a non-root user nginx -T cannot run: an error, not a fail" {
  nginx_prepare
  make_cert www DNS:www.example.com
  write_nginx_site
  SHARED_DIR=$(mktemp -d /tmp/readygate-webserver-XXXXXX)
  chmod 0755 "$SHARED_DIR"
  webserver_config nginx </dev/null >/dev/null
  cp "$BATS_TEST_TMPDIR/readygate.toml" "$SHARED_DIR/readygate.toml"
  chmod 0644 "$SHARED_DIR/readygate.toml"
  chmod -R a+rX "$NGINX_PREFIX"
  if [ "$(id -u)" -eq 0 ]; then
    run setpriv --reuid=65534 --regid=65534 --clear-groups \
      "$READYGATE" check --config "$SHARED_DIR/readygate.toml"
  else
    run "$READYGATE" check --config "$SHARED_DIR/readygate.toml"
  fi
  echo "$output"
  [ "$status" -eq 2 ]
  [[ "$output" == *"could not read what it needs as a non-root user (run readygate as root)"*"Permission denied"* ]]
}

# --- Apache httpd -----------------------------------------------------------------------------

# The site: a TLS virtual host for www.example.com serving $APACHE_ROOT (or $DOCROOT) and
# proxying /version to the app. Line numbers matter to the assertions below.
write_apache_site() {
  TLS_PORT=${TLS_PORT:-$(free_port)}
  cat >"$APACHE_SITE" <<EOF
Listen 127.0.0.1:$APACHE_PORT
Listen 127.0.0.1:$TLS_PORT
<VirtualHost 127.0.0.1:$TLS_PORT>
  ServerName www.example.com
  DocumentRoot ${DOCROOT:-$APACHE_ROOT}
  SSLEngine on
  SSLCertificateFile $CERTS/${CERT:-www}.pem
  SSLCertificateKeyFile $CERTS/${KEY:-${CERT:-www}}.key
  ProxyPass /version http://127.0.0.1:${APP_PORT:-9}/version
</VirtualHost>
<VirtualHost 127.0.0.1:$APACHE_PORT>
  ServerName localhost
  DocumentRoot $APACHE_ROOT
</VirtualHost>
<Directory $APACHE_ROOT>
  Require all granted
</Directory>
EOF
}

@test "webserver apache: a configuration that serves passes, probed through TLS with Host and SNI" {
  apache_prepare
  make_cert www DNS:www.example.com
  start_app
  write_apache_site
  start_apache
  check_webserver apache <<EOF
require_server_names = ["www.example.com", "localhost"]
forbid_default_site = true
[[check.probe]]
host = "www.example.com"
path = "/version"
ca_file = "$CERTS/ca.pem"
body_contains = '"version": "1.4.2"'
[[check.probe]]
host = "localhost"
path = "/index.html"
body_contains = "apache ok"
EOF
  [ "$status" -eq 0 ]
  [[ "$output" == *"apache: configuration accepted; 3 served paths, 1 certificate, 1 upstream, 2 probes as expected"* ]]
}

@test "webserver apache: a syntax error fails with Apache's message at its file:line" {
  apache_prepare
  make_cert www DNS:www.example.com
  write_apache_site
  sed -i 's/SSLEngine on/SSLEngin on/' "$APACHE_SITE"
  check_webserver apache </dev/null
  [ "$status" -eq 1 ]
  [[ "$output" == *"apachectl -t rejects the configuration (exit code 1): AH00526: Syntax error on line 6 of $APACHE_SITE: Invalid command 'SSLEngin'"* ]]
  assert_finding fail "$APACHE_SITE:6" "a configuration apache accepts" \
    "AH00526: Syntax error on line 6 of $APACHE_SITE: Invalid command 'SSLEngin', perhaps misspelled or defined by a module not included in the server configuration"
}

@test "webserver apache: a missing DocumentRoot passes apachectl -t and fails here" {
  apache_prepare
  make_cert www DNS:www.example.com
  start_app
  DOCROOT="$APACHE_DIR/releases/42/public" write_apache_site
  check_webserver apache </dev/null
  [ "$status" -eq 1 ]
  assert_finding fail "$APACHE_SITE:5" "DocumentRoot $APACHE_DIR/releases/42/public: a readable directory" \
    "missing (No such file or directory)"
}

@test "webserver apache: a key of another certificate passes apachectl -t and fails here" {
  apache_prepare
  make_cert www DNS:www.example.com
  make_cert other DNS:other.example.com
  start_app
  KEY=other write_apache_site
  APACHE_CONFDIR=$APACHE_DIR apache2ctl -t # Apache itself sees nothing wrong
  check_webserver apache </dev/null
  [ "$status" -eq 1 ]
  assert_finding fail "$APACHE_SITE:7" \
    "key $CERTS/other.key: the private key of certificate $CERTS/www.pem" "the key of another certificate"
}

@test "webserver apache: expired and wrong-name certificates fail at SSLCertificateFile" {
  apache_prepare
  start_app
  make_cert expired DNS:www.example.com -1
  CERT=expired write_apache_site
  check_webserver apache </dev/null
  [ "$status" -eq 1 ]
  [[ "$output" == *"certificate $CERTS/expired.pem expired on "*"($APACHE_SITE:7)"* ]]
  make_cert other DNS:other.example.com
  CERT=other write_apache_site
  check_webserver apache </dev/null
  [ "$status" -eq 1 ]
  assert_finding fail "$APACHE_SITE:7" "certificate $CERTS/other.pem: covers www.example.com" \
    "it names other.example.com"
}

@test "webserver apache: a leaf without its intermediate fails naming the issuer; SSLCertificateChainFile completes it" {
  apache_prepare
  start_app
  make_ca ca
  make_ca intermediate 30 ca
  make_cert www DNS:www.example.com 30 intermediate
  write_apache_site # SSLCertificateFile: the leaf alone
  NO_CA_FILE=1 check_webserver apache </dev/null
  [ "$status" -eq 1 ]
  assert_finding fail "$APACHE_SITE:7" \
    "certificate $CERTS/www.pem: a chain to a trust anchor of the system store" \
    "no certificate of its issuer CN=readygate-test-intermediate (the issuer of CN=www) in the files or among the trust anchors"
  check_webserver apache </dev/null
  [ "$status" -eq 1 ]
  [[ "$output" == *"certificate $CERTS/www.pem: its chain does not reach a trust anchor: no certificate of its issuer CN=readygate-test-intermediate"*"($APACHE_SITE:7)"* ]]

  sed -i "s|^  ProxyPass /version|  SSLCertificateChainFile $CERTS/intermediate.pem\n&|" "$APACHE_SITE"
  start_apache
  check_webserver apache <<EOF
[[check.probe]]
host = "www.example.com"
path = "/version"
ca_file = "$CERTS/ca.pem"
body_contains = '"version": "1.4.2"'
EOF
  [ "$status" -eq 0 ]
}

@test "webserver apache: an expired intermediate in SSLCertificateChainFile fails" {
  apache_prepare
  start_app
  make_ca ca
  make_ca old-intermediate -1 ca
  make_cert www DNS:www.example.com 30 old-intermediate
  write_apache_site
  sed -i "s|^  ProxyPass /version|  SSLCertificateChainFile $CERTS/old-intermediate.pem\n&|" "$APACHE_SITE"
  NO_CA_FILE=1 check_webserver apache </dev/null
  [ "$status" -eq 1 ]
  [[ "$output" == *"chain certificate $CERTS/old-intermediate.pem (#1 in the file, CN=readygate-test-old-intermediate) expired on "*"($APACHE_SITE:7)"* ]]
  # With the root trusted, that is the one finding.
  check_webserver apache </dev/null
  [ "$status" -eq 1 ]
  [ "$(python3 -c 'import json, sys; print(len(json.loads(sys.argv[1])["checks"][0]["findings"]))' "$json")" -eq 1 ]
  [[ "$json" == *'"expected":"chain certificate '"$CERTS"'/old-intermediate.pem (#1 in the file, CN=readygate-test-old-intermediate): valid for 14 days or more","found":"expired on '* ]]
}

@test "webserver apache: a private key named as the certificate fails, and no byte of it is printed" {
  apache_prepare
  make_cert www DNS:www.example.com
  start_app
  KEY=www write_apache_site
  sed -i "s|SSLCertificateFile $CERTS/www.pem|SSLCertificateFile $CERTS/www.key|" "$APACHE_SITE"
  key_line=$(sed -n 2p "$CERTS/www.key")
  check_webserver apache </dev/null
  [ "$status" -eq 1 ]
  assert_finding fail "$APACHE_SITE:7" "certificate $CERTS/www.key: a certificate" "no CERTIFICATE block"
  for format in human json junit tap prometheus; do
    run "$READYGATE" check --config "$BATS_TEST_TMPDIR/readygate.toml" --format "$format"
    [ "$status" -eq 1 ]
    [[ "$output" != *"$key_line"* ]]
    [[ "$output" != *"PRIVATE KEY-----"* ]]
  done
}

@test "webserver apache: a ProxyPass target with nothing listening fails at its line" {
  apache_prepare
  make_cert www DNS:www.example.com
  APP_PORT=$(free_port) # nothing listens there
  write_apache_site
  check_webserver apache </dev/null
  [ "$status" -eq 1 ]
  assert_finding fail "$APACHE_SITE:9" "upstream 127.0.0.1:$APP_PORT: accepts connections" \
    "127.0.0.1:$APP_PORT: connection refused"
}

@test "webserver apache: Debian's 000-default.conf still enabled fails with forbid_default_site" {
  apache_prepare
  make_cert www DNS:www.example.com
  start_app
  write_apache_site
  mkdir -p "$APACHE_DIR/sites-enabled"
  default_port=$(free_port)
  {
    echo "Listen 127.0.0.1:$default_port"
    sed -e "s/<VirtualHost \*:80>/<VirtualHost 127.0.0.1:$default_port>/" -e '/ErrorLog\|CustomLog/d' \
      /etc/apache2/sites-available/000-default.conf
  } >"$APACHE_DIR/sites-enabled/000-default.conf"
  echo "Include $APACHE_DIR/sites-enabled/*.conf" >>"$APACHE_CONF"
  check_webserver apache <<<'forbid_default_site = true'
  [ "$status" -eq 1 ]
  assert_finding fail "$APACHE_DIR/sites-enabled/000-default.conf:2" \
    "no default site enabled (forbid_default_site)" \
    "the distribution's default site ($APACHE_DIR/sites-enabled/000-default.conf)"
}

@test "webserver apache: a missing binary is an error (exit 2)" {
  apache_prepare
  check_webserver apache <<<'binary = "/nonexistent/apache2ctl"'
  [ "$status" -eq 2 ]
  [[ "$output" == *"apachectl -t: cannot run /nonexistent/apache2ctl"* ]]
}

@test "webserver apache: a DocumentRoot readygate itself may not look at is an error, not a fail" {
  SHARED_DIR=$(mktemp -d /tmp/readygate-webserver-XXXXXX)
  chmod 0755 "$SHARED_DIR"
  BATS_TEST_TMPDIR=$SHARED_DIR apache_prepare
  make_cert www DNS:www.example.com
  mkdir -p "$SHARED_DIR/private/public"
  chmod 0700 "$SHARED_DIR/private"
  cat >"$APACHE_SITE" <<EOF
Listen 127.0.0.1:$APACHE_PORT
<VirtualHost 127.0.0.1:$APACHE_PORT>
  ServerName localhost
  DocumentRoot $SHARED_DIR/private/public
</VirtualHost>
EOF
  # Debian's apache2ctl wants $APACHE_RUN_DIR/socks owned by the run user; as root it makes it.
  mkdir -p "$APACHE_DIR/run/socks"
  chown www-data "$APACHE_DIR/run/socks"
  chmod -R a+rX "$APACHE_DIR"
  webserver_config apache </dev/null >/dev/null
  cp "$BATS_TEST_TMPDIR/readygate.toml" "$SHARED_DIR/readygate.toml"
  chmod 0644 "$SHARED_DIR/readygate.toml"
  if [ "$(id -u)" -eq 0 ]; then
    run setpriv --reuid=65534 --regid=65534 --clear-groups \
      "$READYGATE" check --config "$SHARED_DIR/readygate.toml"
  else
    run "$READYGATE" check --config "$SHARED_DIR/readygate.toml"
  fi
  echo "$output"
  [ "$status" -eq 2 ]
  [[ "$output" == *"DocumentRoot $SHARED_DIR/private/public: could not look (Permission denied)"* ]]
}

# --- HAProxy ----------------------------------------------------------------------------------

# The config: an https frontend (a combined PEM), routing www.example.com to backend app.
write_haproxy_config() {
  TLS_PORT=${TLS_PORT:-$(free_port)}
  cat "$CERTS/${CERT:-www}.pem" "$CERTS/${KEY:-${CERT:-www}}.key" >"$CERTS/${CERT:-www}-combined.pem"
  cat >"$HAPROXY_CONF" <<EOF
global
  log stderr format raw local0 notice
  pidfile $HAPROXY_DIR/haproxy.pid
defaults
  mode http
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend web
  bind 127.0.0.1:$HAPROXY_PORT
  bind 127.0.0.1:$TLS_PORT ssl crt $CERTS/${CERT:-www}-combined.pem
  use_backend app if { hdr(host) -i www.example.com }
  default_backend app
backend app
  server app1 127.0.0.1:${APP_PORT:-9}
EOF
}

@test "webserver haproxy: a configuration that serves passes, probed through TLS with Host and SNI" {
  start_app
  haproxy_prepare "127.0.0.1:$APP_PORT"
  make_cert www DNS:www.example.com
  write_haproxy_config
  start_haproxy
  check_webserver haproxy <<EOF
require_server_names = "www.example.com"
[[check.probe]]
host = "www.example.com"
path = "/version"
ca_file = "$CERTS/ca.pem"
body_contains = '"version": "1.4.2"'
EOF
  [ "$status" -eq 0 ]
  [[ "$output" == *"haproxy: configuration accepted; 0 served paths, 1 certificate, 1 upstream, 1 probe as expected"* ]]
}

@test "webserver haproxy: a syntax error fails with haproxy's message at its file:line" {
  haproxy_prepare
  make_cert www DNS:www.example.com
  write_haproxy_config
  echo "  servr app2 127.0.0.1:1" >>"$HAPROXY_CONF"
  check_webserver haproxy </dev/null
  [ "$status" -eq 1 ]
  [[ "$output" == *"haproxy -c rejects the configuration (exit code 1): config : parsing [$HAPROXY_CONF:16] : unknown keyword 'servr'"* ]]
  [[ "$json" == *"\"subject\":\"$HAPROXY_CONF:16\""* ]]
}

@test "webserver haproxy: a backend server with nothing listening fails at its server line" {
  haproxy_prepare
  make_cert www DNS:www.example.com
  APP_PORT=$(free_port) # nothing listens there
  write_haproxy_config
  check_webserver haproxy </dev/null
  [ "$status" -eq 1 ]
  assert_finding fail "$HAPROXY_CONF:15" "upstream 127.0.0.1:$APP_PORT: accepts connections" \
    "127.0.0.1:$APP_PORT: connection refused"
}

@test "webserver haproxy: an expired certificate passes haproxy -c and fails here; a wrong key fails haproxy -c" {
  start_app
  haproxy_prepare
  make_cert expired DNS:www.example.com -1
  CERT=expired write_haproxy_config
  check_webserver haproxy </dev/null
  [ "$status" -eq 1 ]
  [[ "$output" == *"certificate $CERTS/expired-combined.pem expired on "*"($HAPROXY_CONF:11)"* ]]

  make_cert www DNS:www.example.com
  make_cert other DNS:other.example.com
  KEY=other CERT=www write_haproxy_config
  check_webserver haproxy </dev/null
  [ "$status" -eq 1 ]
  [[ "$output" == *"haproxy -c rejects the configuration"*"$HAPROXY_CONF:11"* ]]
}

@test "webserver haproxy: a crt PEM without its intermediate fails naming the issuer; with it the chain verifies" {
  start_app
  haproxy_prepare "127.0.0.1:$APP_PORT"
  make_ca ca
  make_ca intermediate 30 ca
  make_cert www DNS:www.example.com 30 intermediate
  write_haproxy_config # the leaf and its key
  NO_CA_FILE=1 check_webserver haproxy </dev/null
  [ "$status" -eq 1 ]
  assert_finding fail "$HAPROXY_CONF:11" \
    "certificate $CERTS/www-combined.pem: a chain to a trust anchor of the system store" \
    "no certificate of its issuer CN=readygate-test-intermediate (the issuer of CN=www) in the files or among the trust anchors"

  cat "$CERTS/www.pem" "$CERTS/intermediate.pem" >"$CERTS/www-chain.pem"
  CERT=www-chain KEY=www write_haproxy_config
  start_haproxy
  check_webserver haproxy <<EOF
[[check.probe]]
host = "www.example.com"
path = "/version"
ca_file = "$CERTS/ca.pem"
body_contains = '"version": "1.4.2"'
EOF
  [ "$status" -eq 0 ]
}

@test "webserver haproxy: a name the frontend routes on that no certificate covers fails" {
  start_app
  haproxy_prepare
  make_cert other DNS:other.example.com
  CERT=other write_haproxy_config
  check_webserver haproxy </dev/null
  [ "$status" -eq 1 ]
  assert_finding fail "$HAPROXY_CONF:9" "a certificate that covers www.example.com" \
    "none of $CERTS/other-combined.pem does"
}

@test "webserver haproxy: a missing binary is an error (exit 2)" {
  haproxy_prepare
  check_webserver haproxy <<<'binary = "/nonexistent/haproxy"'
  [ "$status" -eq 2 ]
  [[ "$output" == *"haproxy -c: cannot run /nonexistent/haproxy"* ]]
}

@test "webserver: a bad key in [[check.probe]] is a config error (exit 78) with its position" {
  nginx_prepare
  check_webserver nginx <<'EOF'
[[check.probe]]
path = "/"
stauts = 200
EOF
  [ "$status" -eq 78 ]
  [[ "$output" == *"readygate.toml:10:10: check \"web\" (webserver probe): unknown key \"stauts\" (did you mean \"status\"?)"* ]]
}
