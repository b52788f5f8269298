#!/usr/bin/env bash
# Container image figures: netrsync:latest's size and the time from `podman run` to the daemon
# serving (its @RSYNCD greeting read on its port), over several runs (min / median / max).
# With --compare (the default) the same is measured for an image of the same kind holding
# Debian's rsync instead: FROM scratch, Debian packages extracted by mmdebstrap (rsync and what it
# depends on except perl, plus bash), running `rsync --daemon --no-detach` on the same rsyncd.conf.
#
#   bench/image.sh [--runs N] [--no-compare] [--no-build]
# Goals: image under 60 MB, serving in under 1 s.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

runs=7
compare=1
build=1
while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --no-compare) compare=0; shift ;;
    --no-build) build=0; shift ;;
    *) echo "usage: bench/image.sh [--runs N] [--no-compare] [--no-build]" >&2; exit 2 ;;
  esac
done

podman_() { bash "$repo/scripts/podman.sh" "$@"; }
work=$(mktemp -d)
containers=()
cleanup() {
  for c in "${containers[@]}"; do podman rm -f "$c" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

if [ $build -eq 1 ]; then
  start=$EPOCHREALTIME
  bash scripts/image.sh >/dev/null 2>"$work/build.log" || { cat "$work/build.log" >&2; exit 1; }
  printf 'image build (scripts/image.sh, as found): %.1f s\n' "$(echo "$EPOCHREALTIME - $start" | bc)"
fi

# The comparison image: Debian's rsync on a root filesystem made the same way.
rsync_image=netrsync-bench/debian-rsync:latest
if [ $compare -eq 1 ]; then
  suite=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-bookworm}")
  ctx=$repo/artifacts/image/bench-debian-rsync
  if [ ! -s "$ctx/rootfs.tar" ] || [ "$(cat "$ctx/key" 2>/dev/null)" != "$(sha256sum < "$0")" ]; then
    mkdir -p "$ctx"
    rm -rf "$work/root"
    mmdebstrap --quiet --variant=extract --mode=chrootless --include=rsync,bash --skip=output/dev \
      --format=directory "$suite" "$work/root" "deb http://deb.debian.org/debian $suite main" >&2
    bash deploy/container/layout.sh "$work/root"
    # perl comes with rsync's dependencies (init-system-helpers) but the daemon never runs it.
    rm -rf "$work/root"/usr/share/perl* "$work/root"/usr/lib/*/perl* "$work/root"/usr/lib/*/libperl* "$work/root"/usr/bin/perl*
    tar --numeric-owner --sort=name -C "$work/root" -cf "$ctx/rootfs.tar" .
    sha256sum < "$0" > "$ctx/key"
  fi
  cat > "$ctx/Containerfile" <<'EOF'
FROM scratch
ADD rootfs.tar /
ENTRYPOINT ["/usr/bin/rsync", "--daemon", "--no-detach", "--config=/etc/rsyncd.conf"]
EOF
  podman_ build --format docker --pull=never -t "$rsync_image" -f "$ctx/Containerfile" "$ctx" >/dev/null
fi

free_port() {
  local port
  for _ in $(seq 50); do
    port=$(( 20000 + RANDOM % 20000 ))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
  done
  echo "no free port found" >&2; return 1
}

serving() {
  local port=$1 line
  { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
  IFS= read -r -t 2 line <&3 || { exec 3<&-; return 1; }
  exec 3<&-
  [[ $line == @RSYNCD:* ]]
}

# Seconds from `podman run` to the greeting, for one run of IMAGE with the seed's configs.
startup_once() {
  local image=$1 port name start deadline
  port=$(free_port)
  name=netrsync-bench-$$-$RANDOM
  mkdir -p "$work/$name/sync"
  { echo "port = $port"; echo "address = 127.0.0.1"; cat tests/fixtures/seed/rsyncd.conf; } > "$work/$name/rsyncd.conf"
  printf 'rsync:rsync\n' > "$work/$name/rsync.pass"
  chmod 600 "$work/$name/rsync.pass"
  containers+=("$name")
  start=$EPOCHREALTIME
  podman_ run -d --name "$name" --network host --no-healthcheck -e target_host=127.0.0.1:9 \
    -v "$work/$name/rsyncd.conf:/etc/rsyncd.conf:ro" -v "$work/$name/rsync.pass:/etc/rsync.pass:ro" \
    -v "$repo/tests/fixtures/seed/confxml.xml:/app/local/sersync/confxml.xml:ro" \
    -v "$work/$name/sync:/syncdir" "$image" >/dev/null
  deadline=$(( ${EPOCHREALTIME%.*} + 20 ))
  until serving "$port"; do
    [ "${EPOCHREALTIME%.*}" -lt $deadline ] || { echo "$image: not serving after 20 s" >&2; podman logs "$name" >&2; return 1; }
    sleep 0.01
  done
  echo "$EPOCHREALTIME - $start" | bc
  podman rm -f "$name" >/dev/null 2>&1
}

stats() { sort -n | awk '{ v[NR] = $1 } END { printf "min %.3f s, median %.3f s, max %.3f s (%d runs)", v[1], v[int((NR + 1) / 2)], v[NR], NR }'; }
size_mb() { echo "scale=1; $(podman image inspect --format '{{.Size}}' "$1") / 1000000" | bc; }

measure() {
  local image=$1 label=$2 times
  startup_once "$image" >/dev/null # the first run warms the page cache; not counted
  times=$(for _ in $(seq "$runs"); do startup_once "$image"; done | stats)
  printf '%-28s size %6s MB   run to serving: %s\n' "$label" "$(size_mb "$image")" "$times"
}

measure netrsync:latest "netrsync:latest"
if [ $compare -eq 1 ]; then
  measure "$rsync_image" "Debian rsync (daemon only)"
  printf 'size ratio netrsync / Debian rsync: %s\n' \
    "$(echo "scale=2; $(podman image inspect --format '{{.Size}}' netrsync:latest) / $(podman image inspect --format '{{.Size}}' "$rsync_image")" | bc)"
fi
