#!/usr/bin/env bash
# Installs what building and running the container image needs, when it is missing:
# podman with the runc runtime, mmdebstrap (the image's root filesystem is made from Debian's
# packages, no base image is pulled), what Native AOT links the executables with (clang and
# zlib's headers), and podman-compose when the distribution has it.
set -euo pipefail

missing=()
command -v podman >/dev/null 2>&1 || missing+=(podman)
command -v runc >/dev/null 2>&1 || missing+=(runc)
command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
command -v clang >/dev/null 2>&1 || missing+=(clang)
[ -e /usr/include/zlib.h ] || missing+=(zlib1g-dev)
# objcopy (binutils) moves the executables' debug symbols into files of their own.
command -v objcopy >/dev/null 2>&1 || missing+=(binutils)
want_compose=0
command -v podman-compose >/dev/null 2>&1 || want_compose=1

if [ ${#missing[@]} -eq 0 ] && [ $want_compose -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  if [ ${#missing[@]} -gt 0 ]; then
    echo "missing: ${missing[*]}; installing needs root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# podman-compose is optional: older releases do not package it.
if [ $want_compose -eq 1 ] && apt-cache show podman-compose >/dev/null 2>&1; then
  missing+=(podman-compose)
fi
if [ ${#missing[@]} -gt 0 ]; then
  # Recommends are left out: crun (refused by some kernels) and rootless helpers are not needed.
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
for tool in podman runc mmdebstrap objcopy clang; do
  command -v "$tool" >/dev/null 2>&1 || { echo "$tool is still missing after apt-get install" >&2; exit 1; }
done
