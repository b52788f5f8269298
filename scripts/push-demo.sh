#!/usr/bin/env bash
# The main job on a fresh machine: build netrsync, start a stock rsync daemon on loopback,
# push a folder to it, and let stock rsync confirm nothing is left to change.
# Usage: bash scripts/push-demo.sh [FOLDER]   (default: this repository's src/ folder)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-rsync.sh
dotnet build src/Rsync.Cli -c Release -nologo -v q
source_dir="${1:-src}"
work=$(mktemp -d /tmp/netrsync-demo.XXXXXX)
trap 'kill "$daemon" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir "$work/module"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 18730)
cat > "$work/rsyncd.conf" <<CONF
use chroot = no
munge symlinks = no
uid = 0
gid = 0
[demo]
path = $work/module
read only = no
CONF
rsync --daemon --no-detach --config="$work/rsyncd.conf" --port="$port" --address=127.0.0.1 &
daemon=$!
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.05
done
artifacts/bin/Rsync.Cli/release/netrsync -av "$source_dir/" "rsync://127.0.0.1:$port/demo/"
echo "stock rsync -ani (nothing listed means nothing left to change):"
rsync -ani "$source_dir/" "rsync://127.0.0.1:$port/demo/"
