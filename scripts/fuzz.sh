#!/usr/bin/env bash
# Fuzzes the parsers that read peer or config input: bash scripts/fuzz.sh HARNESS|all [SECONDS]
# Installs afl++ (Debian) and the sharpfuzz tool when missing, builds fuzz/Rsync.Fuzz, instruments
# Rsync.Protocol.dll in a private copy of its output and runs afl-fuzz for SECONDS per harness
# (default 600), one harness at a time. Inputs with new coverage are kept in fuzz/corpus/HARNESS/,
# crashing inputs are copied to fuzz/crashes/HARNESS/, and a line of figures per run is appended
# to fuzz/work/runs.log. An input that makes a parser allocate more than FuzzHarnesses.AllocationBudget
# counts as a crash (the harness measures it; a GC heap limit could end the runtime instead).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
HARNESSES=(sumhead filelist tokens mux daemon-args greeting-server greeting-client config secrets)
WHICH="${1:-}"
SECONDS_EACH="${2:-600}"
MAX_CORPUS="${FUZZ_MAX_CORPUS:-40}" # files kept per harness

if [ -z "$WHICH" ]; then
  echo "usage: $0 {all|${HARNESSES[*]// /|}} [seconds-per-harness]" >&2
  exit 2
fi
if [ "$WHICH" = all ]; then
  SELECTED=("${HARNESSES[@]}")
else
  SELECTED=("$WHICH")
fi

WORK="$ROOT/fuzz/work"
TOOLS="$WORK/tools"
BIN="$WORK/bin"
mkdir -p "$WORK"

# afl-fuzz from Debian.
if ! command -v afl-fuzz >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "afl-fuzz is missing and installing it needs root: apt-get install afl++" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq afl++ >/dev/null
fi

# The instrumenter, pinned to the SharpFuzz library's version (Directory.Packages.props).
if [ ! -x "$TOOLS/sharpfuzz" ]; then
  dotnet tool install SharpFuzz.CommandLine --version 2.3.0 --tool-path "$TOOLS" >/dev/null
fi

# A private copy of the build, so instrumenting never touches artifacts/ that the tests use. The lock
# keeps another build started the same way (flock fuzz/work/build.lock dotnet build ...) from overlapping.
exec 9>"$WORK/build.lock"
flock 9
dotnet build "$ROOT/fuzz/Rsync.Fuzz/Rsync.Fuzz.csproj" -c Release -nologo -v q
# Seeds come from the uninstrumented build: instrumented code only runs under afl-fuzz.
rm -rf "$WORK/seeds"
dotnet "$ROOT/artifacts/bin/Rsync.Fuzz/release/Rsync.Fuzz.dll" --seeds "$WORK/seeds"
rm -rf "$BIN"
cp -r "$ROOT/artifacts/bin/Rsync.Fuzz/release" "$BIN"
"$TOOLS/sharpfuzz" "$BIN/Rsync.Protocol.dll"
flock -u 9

export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1
export AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export DOTNET_TieredPGO=0

for h in "${SELECTED[@]}"; do
  if [ ! -d "$WORK/seeds/$h" ]; then
    echo "unknown harness: $h" >&2
    exit 2
  fi
  corpus="$ROOT/fuzz/corpus/$h"
  crashes="$ROOT/fuzz/crashes/$h"
  in="$WORK/in/$h"
  out="$WORK/out/$h"
  mkdir -p "$corpus" "$crashes"
  rm -rf "$in" "$out" "$WORK/afl-$h.log"
  mkdir -p "$WORK/out"
  mkdir -p "$in"
  cp "$WORK/seeds/$h"/* "$in"/
  cp "$corpus"/* "$in"/ 2>/dev/null || true

  echo "fuzzing $h for ${SECONDS_EACH}s"
  # A timeout kills SharpFuzz's process, which is also the fork server, and afl-fuzz stops; such a
  # stop is counted and the session resumed from its queue for the time that is left.
  start=$(date +%s)
  execs=0
  aborts=0
  first=1
  while :; do
    left=$(( SECONDS_EACH - ($(date +%s) - start) ))
    [ "$left" -ge 5 ] || break
    input="$in"
    [ "$first" = 1 ] || input=-
    # -t 3000: generous for a managed target on shared cores.
    if ! nice -n 10 afl-fuzz -i "$input" -o "$out" -m none -t 3000 -V "$left" \
        -- dotnet "$BIN/Rsync.Fuzz.dll" "$h" >>"$WORK/afl-$h.log" 2>&1; then
      if [ ! -f "$out/default/fuzzer_stats" ] && [ "$first" = 1 ]; then
        echo "afl-fuzz failed to start for $h; see $WORK/afl-$h.log" >&2
        tail -20 "$WORK/afl-$h.log" >&2
        exit 1
      fi
      aborts=$((aborts + 1))
    fi
    first=0
    if [ -f "$out/default/fuzzer_stats" ]; then
      n=$(awk -F': *' '$1 ~ /^execs_done/ {print $2}' "$out/default/fuzzer_stats")
      execs=$((execs + n))
      mv "$out/default/fuzzer_stats" "$out/default/fuzzer_stats.$(date +%s%N)"
    fi
  done
  runtime=$(( $(date +%s) - start ))
  saved_crashes=$(find "$out/default/crashes" -name 'id:*' | wc -l)
  saved_hangs=$(find "$out/default/hangs" -name 'id:*' | wc -l)

  for f in "$out"/default/crashes/id:*; do
    [ -e "$f" ] || continue
    cp "$f" "$crashes/$(sha1sum "$f" | cut -c1-16)"
  done

  # The corpus keeps the queue's inputs that reached new edges ("+cov", and the starting inputs), the
  # smallest first, up to MAX_CORPUS. (afl-cmin cannot be used: afl-showmap sees no map from SharpFuzz.)
  rm -f "$corpus"/*
  find "$out/default/queue" -maxdepth 1 -type f \( -name '*+cov*' -o -name '*orig:*' \) -printf '%s %p\n' >"$WORK/queue-$h.txt"
  sort -n "$WORK/queue-$h.txt" >"$WORK/queue-$h.sorted"
  head -n "$MAX_CORPUS" "$WORK/queue-$h.sorted" | cut -d' ' -f2- >"$WORK/queue-$h.kept"
  while read -r f; do
    cp "$f" "$corpus/$(sha1sum "$f" | cut -c1-16)"
  done <"$WORK/queue-$h.kept"

  line="$(date -u +%FT%TZ) harness=$h seconds=$runtime execs=$execs crashes=$saved_crashes hangs=$saved_hangs restarts=$aborts corpus=$(ls "$corpus" | wc -l)"
  echo "$line" | tee -a "$WORK/runs.log"
done
