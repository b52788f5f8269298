#!/usr/bin/env bash
# Installs Debian's OpenSSH server and client when missing: the remote-shell interop tests start
# their own sshd on a loopback port.
set -euo pipefail
if [ -x /usr/sbin/sshd ] && command -v ssh >/dev/null 2>&1 && command -v ssh-keygen >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "sshd is missing and installing it needs root: apt-get install openssh-server openssh-client" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends openssh-server openssh-client >/dev/null
[ -x /usr/sbin/sshd ]
