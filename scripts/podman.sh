#!/usr/bin/env bash
# podman as this project runs it: the runc runtime and cgroupfs (crun and the systemd cgroup
# manager fail on some kernels), and for run/create/build explicit open-file and process limits no
# higher than this shell's hard limits (podman's defaults can exceed them and then fail).
#   scripts/podman.sh SUBCOMMAND [ARGS...]
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: scripts/podman.sh SUBCOMMAND [ARGS...]" >&2; exit 2; }
limit() { local v; v=$("$@"); [ "$v" = unlimited ] && v=1048576; printf '%s' "$v"; }
files=$(limit ulimit -Hn)
procs=$(limit ulimit -Hu)
# podman itself runs with a hard process limit of 32768 (Debian's podman 4.3 sets it at start),
# and runc cannot give a container more than podman has.
[ "$procs" -le 32768 ] || procs=32768
sub=$1
shift
case $sub in
  run | create | build)
    exec podman --runtime runc --cgroup-manager=cgroupfs "$sub" --ulimit "nofile=$files:$files" --ulimit "nproc=$procs:$procs" "$@" ;;
  *)
    exec podman --runtime runc --cgroup-manager=cgroupfs "$sub" "$@" ;;
esac
