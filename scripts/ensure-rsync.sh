#!/usr/bin/env bash
# Installs Debian's rsync when it is missing: the interop tests and the demo need a stock peer.
set -euo pipefail
if command -v rsync >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "rsync is missing and installing it needs root: apt-get install rsync" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq rsync >/dev/null
command -v rsync >/dev/null
