#!/usr/bin/env bash
# Runs rsync 3.1.1's own testsuite with netrsync as the rsync under test; every invocation with
# --daemon among its arguments (a daemon started by a test, or over a remote shell) runs netrsyncd.
#
#   bash scripts/rsync-testsuite.sh                 # the whole suite
#   bash scripts/rsync-testsuite.sh 'daemon*'       # some tests (runtests.sh's whichtests pattern)
#
# The suite comes from RSYNC_TESTSUITE, by default ../shared/peers/rsync-3.1.1-testsuite.tgz; it
# missing is a failure. Exits 1 when a test named in tests/rsync-testsuite/passing does not pass
# there; the others are reported with what they print, so the list only grows.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
suite="${RSYNC_TESTSUITE:-$(cd .. && pwd)/shared/peers/rsync-3.1.1-testsuite.tgz}"
if [ ! -f "$suite" ]; then
  echo "rsync's testsuite is missing: $suite (set RSYNC_TESTSUITE)" >&2
  exit 1
fi
netrsync="$repo/artifacts/bin/Rsync.Cli/release/netrsync"
netrsyncd="$repo/artifacts/bin/Rsync.Daemon/release/netrsyncd"
if [ ! -x "$netrsync" ] || [ ! -x "$netrsyncd" ]; then
  dotnet build NetRsync.sln -c Release -nologo -v q || exit 1
fi

work=$(mktemp -d /tmp/rsync-testsuite.XXXXXX)
trap 'rm -rf "$work"' EXIT
tar xzf "$suite" -C "$work" || exit 1
wrapper="$work/rsync-under-test"
cat >"$wrapper" <<EOF
#!/bin/sh
for arg in "\$@"; do
  [ "\$arg" = --daemon ] && exec "$netrsyncd" "\$@"
done
exec "$netrsync" "\$@"
EOF
chmod +x "$wrapper"

log="$work/runtests.log"
(cd "$work" && rsync_bin="$wrapper" whichtests="${1:-*.test}" ./runtests.sh) >"$log" 2>&1
grep -E '^(PASS|FAIL|SKIP|XFAIL) ' "$log"
grep -E '^ *[0-9]+ (passed|failed|skipped)' "$log"

status=0
while read -r name; do
  case "$name" in ''|'#'*) continue ;; esac
  if [ -n "${1:-}" ] && ! case "$name.test" in $1) true ;; *) false ;; esac; then
    continue
  fi
  if ! grep -qx "PASS    $name" "$log"; then
    echo "rsync testsuite: $name no longer passes" >&2
    sed -n "/^----- $name log follows/,/^----- $name rsyncd.log ends/p" "$log" >&2
    status=1
  fi
done <"$repo/tests/rsync-testsuite/passing"
if [ "${RSYNC_TESTSUITE_LOG:-}" ]; then
  cp "$log" "$RSYNC_TESTSUITE_LOG"
fi
exit $status
