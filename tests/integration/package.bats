#!/usr/bin/env bats
# The .deb: built with CPack from the build tree under test, installed with dpkg -i on this
# machine (CI's is thrown away after the run; root only), then checked the way an operator would
# meet it: the binary, the man pages, the conffile, bash completion, and the systemd units verified
# by systemd-analyze (which works offline, without systemd as PID 1). The package is purged at the
# end unless it was installed before the test.

bats_require_minimum_version 1.5.0
load helpers

setup_file() {
  BUILD_DIR=$(cd "$(dirname "$READYGATE")/.." && pwd)
  export BUILD_DIR
  export PACKAGE_DIR="$BATS_FILE_TMPDIR/package"
  export PREVIOUSLY_INSTALLED=0
  if dpkg-query -W -f='${Status}' readygate 2>/dev/null | grep -q 'install ok installed'; then
    PREVIOUSLY_INSTALLED=1
  fi
}

teardown_file() {
  if [ "$PREVIOUSLY_INSTALLED" = 0 ]; then
    dpkg_locked --purge readygate >/dev/null 2>&1 || true
  fi
}

# Run dpkg with `args...`, waiting (up to 10 minutes) while another dpkg or apt holds its lock.
dpkg_locked() {
  local i
  for ((i = 0; i < 600; i++)); do
    if dpkg "$@" 2>"$BATS_FILE_TMPDIR/dpkg.err"; then
      return 0
    fi
    grep -q 'lock' "$BATS_FILE_TMPDIR/dpkg.err" || { cat "$BATS_FILE_TMPDIR/dpkg.err" >&2; return 1; }
    sleep 1
  done
  return 1
}

require_root_tools() {
  [ "$(id -u)" -eq 0 ] || { [ "${RG_REQUIRE_SERVERS:-0}" = 1 ] && return 1; skip "needs root to install the package"; }
  require_program cpack
  require_program dpkg-shlibdeps
  require_program man
  require_program systemd-analyze
}

@test "package: cpack builds a .deb with the binary, conffile, man pages, completion and units" {
  require_root_tools
  run cpack -G DEB -B "$PACKAGE_DIR" --config "$BUILD_DIR/CPackConfig.cmake"
  echo "$output"
  [ "$status" -eq 0 ]
  local deb
  deb=$(ls "$PACKAGE_DIR"/readygate_*.deb)
  run dpkg-deb --contents "$deb"
  for path in ./usr/bin/readygate ./etc/readygate/readygate.toml \
    ./usr/share/man/man1/readygate.1.gz ./usr/share/man/man5/readygate.toml.5.gz \
    ./usr/share/bash-completion/completions/readygate \
    ./usr/lib/systemd/system/readygate-check.service \
    ./usr/lib/systemd/system/readygate-serve.service \
    ./usr/lib/systemd/system/readygate-lifecycle.service \
    ./usr/share/doc/readygate/examples/cloud-init.yaml \
    ./usr/share/doc/readygate/examples/iam-policy.json; do
    [[ "$output" == *" $path"* ]] || { echo "missing $path" >&2; return 1; }
  done
  run dpkg-deb --info "$deb"
  [[ "$output" == *"Depends: "*"libcurl4"* ]]
  dpkg-deb -e "$deb" "$BATS_FILE_TMPDIR/control"
  [ "$(cat "$BATS_FILE_TMPDIR/control/conffiles")" = /etc/readygate/readygate.toml ]
}

@test "package: dpkg -i installs it; --version, man -w and the conffile work" {
  require_root_tools
  [ -n "$(ls "$PACKAGE_DIR"/readygate_*.deb 2>/dev/null)" ] || cpack -G DEB -B "$PACKAGE_DIR" --config "$BUILD_DIR/CPackConfig.cmake" >/dev/null
  dpkg_locked -i "$PACKAGE_DIR"/readygate_*.deb
  run /usr/bin/readygate --version
  [ "$status" -eq 0 ]
  [[ "$output" =~ ^readygate\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
  run man -w readygate
  [ "$status" -eq 0 ]
  [ "$output" = /usr/share/man/man1/readygate.1.gz ]
  run man -w 5 readygate.toml
  [ "$output" = /usr/share/man/man5/readygate.toml.5.gz ]
  # The man pages render without groff warnings.
  run bash -c 'MANWIDTH=80 man --warnings readygate 2>&1 >/dev/null'
  [ -z "$output" ]
  # The conffile is only an example: readygate refuses it (exit 78) until checks are written.
  run /usr/bin/readygate config validate
  [ "$status" -eq 78 ]
  [[ "$output" == *"/etc/readygate/readygate.toml: no [[check]] tables"* ]]
  # Uncommented, the example is a valid configuration.
  sed -E 's/^# //' /etc/readygate/readygate.toml >"$BATS_TEST_TMPDIR/example.toml"
  run /usr/bin/readygate config validate --config "$BATS_TEST_TMPDIR/example.toml"
  echo "$output"
  [ "$status" -eq 0 ]
  # Bash completion offers the commands, their options and option values.
  complete_line() {
    bash -c 'source /usr/share/bash-completion/bash_completion
      source /usr/share/bash-completion/completions/readygate
      COMP_LINE=$1; COMP_POINT=${#1}; read -r -a COMP_WORDS <<<"$1"
      [[ $1 == *" " ]] && COMP_WORDS+=("")
      COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _readygate; echo "${COMPREPLY[*]}"' _ "$1"
  }
  [ "$(complete_line 'readygate s')" = serve ]
  [ "$(complete_line 'readygate serve --')" = "--config --listen --help" ]
  [ "$(complete_line 'readygate check --format j')" = "json junit" ]
  [ "$(complete_line 'readygate config ')" = validate ]
}

@test "package: systemd-analyze verify accepts the installed units" {
  require_root_tools
  [ -x /usr/bin/readygate ] || skip "the package is not installed (the previous test failed)"
  run systemd-analyze verify /usr/lib/systemd/system/readygate-check.service \
    /usr/lib/systemd/system/readygate-serve.service /usr/lib/systemd/system/readygate-lifecycle.service
  echo "$output"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  # The endpoint's unit is hardened.
  run systemd-analyze security --offline=yes /usr/lib/systemd/system/readygate-serve.service
  [[ "$output" =~ Overall\ exposure\ level\ for\ readygate-serve.service:\ [0-4]\.[0-9]\  ]]
  grep -qx 'ProtectSystem=strict' /usr/lib/systemd/system/readygate-serve.service
  grep -qx 'NoNewPrivileges=yes' /usr/lib/systemd/system/readygate-serve.service
  grep -qx 'Type=oneshot' /usr/lib/systemd/system/readygate-lifecycle.service
  # A unit gated on the check, as the README shows, verifies too.
  cat >"$BATS_TEST_TMPDIR/lb-agent.service" <<'EOF'
[Unit]
Requires=readygate-check.service
After=readygate-check.service
[Service]
ExecStart=/bin/true
EOF
  run systemd-analyze verify "$BATS_TEST_TMPDIR/lb-agent.service"
  [ "$status" -eq 0 ]
}
