#!/usr/bin/env bash
# The two-way soak: two nodes on loopback changed at random at once, then checked for identical
# trees, lost versions, conflict copies and echoes. NETRSYNC_SOAK_SECONDS (default 90) sets how long
# both sides change; NETRSYNC_SOAK_SEED repeats a run's choices; NETRSYNC_SOAK_KEEP=DIR keeps a failed
# run's trees and logs.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-rsync.sh || exit 1
dotnet build NetRsync.sln -c Release -nologo -v q || exit 1
exec dotnet test interop-tests/SerSync.Interop.Tests -c Release --no-build -nologo --filter "Category=Soak" --logger "console;verbosity=normal"
