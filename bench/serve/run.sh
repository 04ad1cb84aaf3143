#!/usr/bin/env bash
# Benchmark `readygate serve`'s GET /healthz on loopback against two peers that can run here:
#   readygate serve        the demo host's files + command checks running every 10s in the background
#   nginx (static 200)     `return 200 "ok\n";` in a location: the floor of an HTTP/1.1 answer
#   python3 http.server    a minimal stdlib health endpoint (ThreadingHTTPServer answering 200,
#                          TCP_NODELAY), the kind of endpoint a team writes by hand
# goss (`goss serve`) is not in Debian 12 and is not measured here.
#
# Load: wrk (Debian's wrk 4.1.0), one thread, keep-alive, for $DURATION per row after a 2 s
# warm-up, two ways:
#   paced    $PACED_CONNECTIONS connections, each waiting $PACED_DELAY_MS ms after every answer
#            (wrk's Lua delay()): about PACED_CONNECTIONS * 1000 / PACED_DELAY_MS requests/s
#            offered (defaults 20 x 1 per 2 ms = 10,000/s), latency measured per request;
#   closed   $CONNECTIONS connections sending as fast as answers come: the most that
#            configuration sustains, and the latency at that rate.
# Server CPU is the user + system time all the server's processes (nginx's master and worker)
# spent during the measured run, per request answered: less sensitive than latency to what else
# the machine runs. RSS is the server's resident set after the run.
#
#   bench/serve/run.sh                       # defaults: CONNECTIONS="4 32" DURATION=10s
#   CONNECTIONS=4 DURATION=3s bench/serve/run.sh   # smoke run
#   NICE=-10 bench/serve/run.sh              # servers and wrk at a higher priority than a busy
#                                            # machine's other work (root only)
# Needs: READYGATE (default build/hook/readygate), wrk, nginx, python3. Prints a Markdown table.
# Traffic goes to 127.0.0.1 only; every server is stopped at the end.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
source_dir=$(cd "$here/../.." && pwd)
READYGATE=${READYGATE:-$source_dir/build/hook/readygate}
CONNECTIONS=${CONNECTIONS:-"4 32"}
PACED_CONNECTIONS=${PACED_CONNECTIONS:-20}
PACED_DELAY_MS=${PACED_DELAY_MS:-2}
DURATION=${DURATION:-10s}
NICE=${NICE:-0}
PEERS=${PEERS:-"readygate nginx python"}
PYTHON=$(command -v /usr/bin/python3 || command -v python3)

for program in "$READYGATE" wrk nginx "$PYTHON"; do
  if ! command -v "$program" >/dev/null 2>&1; then
    echo "run.sh: $program is not installed" >&2
    exit 1
  fi
done

work=$(mktemp -d)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_for_200() {
  local url=$1 i
  for ((i = 0; i < 200; i++)); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' --noproxy '*' "$url")" = 200 ] && return 0
    sleep 0.05
  done
  echo "run.sh: $url did not answer 200" >&2
  return 1
}

# Resident set of process group `pgid`, in MiB.
rss_mib() {
  local total=0 pid kb
  for pid in $(pgrep -g "$1"); do
    kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    total=$((total + ${kb:-0}))
  done
  awk -v kb="$total" 'BEGIN { printf "%.1f", kb / 1024 }'
}

start_readygate() {
  local port=$1
  cp -a "$source_dir/examples/demo/app" "$source_dir/examples/demo/release" "$work/"
  cat >"$work/readygate.toml" <<EOF
[serve]
interval = "10s"
max_age = "60s"

[[check]]
id = "app-files"
kind = "files"
root = "app"
manifest = "release/files.manifest"
ignore = ["owner"]

[[check]]
id = "release-config"
kind = "command"
argv = ["grep", "-qx", "release = 1.4.2", "app/config/app.ini"]
EOF
  setsid nice -n "$NICE" "$READYGATE" serve --config "$work/readygate.toml" --listen "127.0.0.1:$port" \
    >"$work/readygate.log" 2>&1 </dev/null &
  pids+=($!)
}

start_nginx() {
  local port=$1
  mkdir -p "$work/nginx/logs"
  cat >"$work/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$port;
    location = /healthz { default_type text/plain; return 200 "ok\n"; }
  }
}
EOF
  setsid nice -n "$NICE" nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' \
    >"$work/nginx.log" 2>&1 </dev/null &
  pids+=($!)
}

start_python() {
  local port=$1
  cat >"$work/health.py" <<'EOF'
import socket, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Health(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def setup(self):
        super().setup()
        # Headers and body are two writes: without this, Nagle + delayed ACK add 40 ms each.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    def do_GET(self):
        body = b"ok\n"
        self.send_response(200 if self.path == "/healthz" else 404)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Health).serve_forever()
EOF
  setsid nice -n "$NICE" "$PYTHON" "$work/health.py" "$port" >"$work/python.log" 2>&1 </dev/null &
  pids+=($!)
}

# CPU time (user + system) of process group `pgid` so far, in clock ticks.
cpu_ticks() {
  local total=0 pid fields
  for pid in $(pgrep -g "$1"); do
    fields=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
    total=$((total + $(awk '{ print $12 + $13 }' <<<"$fields")))
  done
  echo "$total"
}

# wrk's latency line "  99%  123.00us" -> milliseconds.
to_ms() {
  awk '{ v = $2; unit = v; sub(/[0-9.]+/, "", unit); sub(/[a-z]+$/, "", v);
         if (unit == "us") v /= 1000; else if (unit == "s") v *= 1000;
         printf "%.3f", v }'
}

printf 'function delay()\n  return %d\nend\n' "$PACED_DELAY_MS" >"$work/paced.lua"

# Run wrk with `args...` against the last started peer and print one table row labelled `load`.
measure() {
  local load=$1 out rps p50 p99 errors before after requests cpu_us
  shift
  nice -n "$NICE" wrk -t1 -d2s "$@" "$url" >/dev/null # warm-up
  before=$(cpu_ticks "${pids[-1]}")
  out=$(nice -n "$NICE" wrk -t1 -d"$DURATION" --latency "$@" "$url")
  after=$(cpu_ticks "${pids[-1]}")
  requests=$(awk '/ requests in / { print $1 }' <<<"$out")
  cpu_us=$(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$requests" \
    'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
  rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")
  p50=$(grep -E '^ +50% ' <<<"$out" | to_ms)
  p99=$(grep -E '^ +99% ' <<<"$out" | to_ms)
  errors=$(grep -E 'Non-2xx|Socket errors' <<<"$out" || true)
  [ -z "$errors" ] || echo "run.sh: $peer: $errors" >&2
  echo "| $peer | $load | $rps | $p50 | $p99 | $cpu_us | $(rss_mib "${pids[-1]}") |"
}

echo "| server | load | requests/s | p50 ms | p99 ms | server CPU µs/request | RSS MiB |"
echo "|---|---|---:|---:|---:|---:|---:|"
for peer in $PEERS; do
  port=$(free_port)
  "start_$peer" "$port"
  url="http://127.0.0.1:$port/healthz"
  wait_for_200 "$url"
  measure "paced, $PACED_CONNECTIONS conns x 1 per ${PACED_DELAY_MS} ms" \
    -c"$PACED_CONNECTIONS" -s "$work/paced.lua"
  for connections in $CONNECTIONS; do
    measure "closed loop, $connections conns" -c"$connections"
  done
  kill -TERM -- "-${pids[-1]}" 2>/dev/null || true
done
