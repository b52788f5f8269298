#!/bin/bash
# The container's first process (what the seed's start.sh did): makes the credentials the seed's
# image carried when none are mounted, runs netrsyncd and netsersync in the foreground with their
# output on the container's, passes SIGTERM/SIGINT on to both and exits 0 once both stopped, or
# non-zero as soon as either stops on its own (so `restart: always` starts the pair again).
#
#   netrsync-entrypoint            run the pair
#   netrsync-entrypoint --health   exit 0 when the daemon answers with its @RSYNCD greeting
#   netrsync-entrypoint CMD ARGS   run CMD instead (netrsyncd --version, bash, ...)
#
# {target_host} and any other {NAME} in confxml.xml are filled from the environment by netsersync
# as it loads the file, so a mounted confxml.xml is read as it is and never rewritten.
set -uo pipefail

daemon_config=${NETRSYNC_DAEMON_CONFIG:-/etc/rsyncd.conf}
watch_config=${NETRSYNC_WATCH_CONFIG:-/app/local/sersync/confxml.xml}
daemon_secrets=/etc/rsync.pass
watch_password=/app/local/sersync/user.pass

say() { printf '%(%Y-%m-%d %H:%M:%S)T netrsync-entrypoint: %s\n' -1 "$*"; }

# Writes a credentials file readable by this user alone, unless one is there (mounted or made
# earlier). The path may be the image's link into /var/lib/netrsync.
make_secret() {
  local path=$1 content=$2
  [ -e "$path" ] && return 0
  if ! (umask 077 && printf '%s\n' "$content" > "$path") 2>/dev/null; then
    say "cannot create $path as uid $(id_of_self): mount the file (mode 600, owned by this user)"
    return 1
  fi
  say "created $path with the image's default credentials (mount your own file there to change them)"
}

id_of_self() { printf %s "$EUID"; }

if [ "${1:-}" = "--health" ]; then
  # Connects to the port (and address) rsyncd.conf gives and expects the @RSYNCD greeting.
  exec netrsyncd --health --config="$daemon_config"
fi
if [ $# -gt 0 ]; then
  exec "$@"
fi

say "starting as uid $(id_of_self)"
make_secret "$daemon_secrets" "rsync:rsync" || exit 1
make_secret "$watch_password" "rsync" || exit 1

netrsyncd --no-detach --config="$daemon_config" &
daemon=$!
netsersync -r --no-detach -o "$watch_config" &
watcher=$!
declare -A names=([$daemon]=netrsyncd [$watcher]=netsersync)

stopping=0
stop() {
  stopping=1
  say "$1: stopping netrsyncd and netsersync (netsersync pushes what is pending first)"
  kill -TERM "${!names[@]}" 2>/dev/null
}
trap 'stop SIGTERM' TERM
trap 'stop SIGINT' INT

status=0
while [ ${#names[@]} -gt 0 ]; do
  unset exited
  wait -n -p exited "${!names[@]}"
  rc=$?
  # A trapped signal ends the wait without a program having exited.
  [ -n "${exited:-}" ] || continue
  name=${names[$exited]}
  unset "names[$exited]"
  if [ $stopping -eq 1 ]; then
    say "$name stopped (exit code $rc)"
    [ $rc -eq 0 ] || [ $status -ne 0 ] || status=$rc
    continue
  fi
  # One stopped on its own: the pair is not working, so stop the other and fail.
  say "$name exited on its own (exit code $rc): stopping the container"
  status=$(( rc == 0 ? 1 : rc ))
  stopping=1
  [ ${#names[@]} -eq 0 ] || kill -TERM "${!names[@]}" 2>/dev/null
done
say "exit code $status"
exit $status
