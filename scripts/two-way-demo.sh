#!/usr/bin/env bash
# Two-way sync on one machine, as the deployment runs it on two: node A and node B, each a netrsyncd
# receiving into its own tree and a netsersync pushing that tree's changes to the other node's daemon.
# The nodes use the deployment's own rsyncd.conf and confxml.xml (tests/fixtures/seed), with only
# paths, port, log file and secrets adjusted, and target_host=127.0.0.1:<the other node's port>.
#
# It builds, starts both nodes on 127.0.0.1, makes changes on each side (create, edit, rename,
# mkdir -p, names that are not UTF-8, and one write on both sides at once), shows each arriving on
# the other side with its latency, shows that the receiving side pushed nothing back (no echo),
# compares the two trees and stops both nodes with SIGTERM, reporting their exit codes.
#
# Usage: bash scripts/two-way-demo.sh [--containers | --no-containers] [--delete] [--keep]
#   The nodes run as processes; then once more as containers (image netrsync:latest, built by
#   scripts/image.sh, host network) when podman or docker is present, or always with --containers.
#   --delete         <delete start="true"/>: deletions and the old name of a rename propagate too
#                    (the deployment's confxml.xml has it off, as sersync's default)
#   --keep           keep the work directory (configs, trees, logs) afterwards
#   --window SECONDS how long the receiving side is watched for a push back after each arrival (1)
#   --image NAME     the image to build and run (netrsync:latest)
set -euo pipefail
export LC_ALL=C   # names are bytes; EPOCHREALTIME uses '.'
cd "$(dirname "$0")/.."
repo=$PWD

containers=auto
delete=false
keep=false
window=1
image=netrsync:latest
while [ $# -gt 0 ]; do
  case "$1" in
    --containers) containers=yes ;;
    --no-containers) containers=no ;;
    --delete) delete=true ;;
    --keep) keep=true ;;
    --window) window=$2; shift ;;
    --image) image=$2; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "two-way-demo: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

# As start.sh: a full push first. Not with deletions on: a full push with --delete from one node
# would remove whatever only the other node has.
full_sync_first=(-r)
[ "$delete" = true ] && full_sync_first=()

command -v dotnet >/dev/null || { echo "two-way-demo: the .NET SDK (dotnet) is needed" >&2; exit 1; }

seed="$repo/tests/fixtures/seed"
netrsyncd="$repo/artifacts/bin/Rsync.Daemon/release/netrsyncd"
netsersync="$repo/artifacts/bin/SerSync.Watch/release/netsersync"
work=$(mktemp -d /tmp/netrsync-two-way.XXXXXX)
mkfifo "$work/.nap"
exec {nap_fd}<>"$work/.nap"
failed=0

pids=()
containers_started=()
cleanup() {
  local pid name
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for name in "${containers_started[@]}"; do ctr rm -f "$name" >/dev/null 2>&1 || true; done
  if [ "$keep" = true ] || [ "$failed" -ne 0 ]; then
    echo "work directory kept: $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

# ---------------------------------------------------------------- helpers

# A short pause between polls, without starting a process (a read that times out on an idle fifo).
nap() { read -r -t "$1" -u "$nap_fd" _ || true; }

now_us() { now=${EPOCHREALTIME/./}; }

# wait_for SECONDS WHAT COMMAND...: polls COMMAND every 5 ms until it succeeds; fails after SECONDS,
# or at once when COMMAND returns 3 (what it waits for can no longer happen).
wait_for() {
  local limit=$1 what=$2 deadline rc
  shift 2
  now_us
  deadline=$(( now + limit * 1000000 ))
  while :; do
    rc=0; "$@" || rc=$?
    (( rc == 0 )) && return 0
    if (( rc == 3 )); then
      echo "FAILED: no $what (the process ended)" >&2
      return 1
    fi
    now_us
    if (( now > deadline )); then
      echo "FAILED: no $what within ${limit}s" >&2
      return 1
    fi
    nap 0.005
  done
}

# has_content FILE TEXT: FILE is a regular file holding exactly TEXT (read without starting a process).
has_content() {
  [[ -f $1 ]] || return 1
  local got=
  IFS= read -r -d '' got <"$1" || true
  [[ $got == "$2" ]]
}

# A name as rsync shows it: bytes that are not printable ASCII as \#ooo.
show() {
  local s=$1 out= i c
  for (( i = 0; i < ${#s}; i++ )); do
    c=${s:i:1}
    if [[ $c == [[:print:]] ]]; then out+=$c; else printf -v c '\\#%03o' "'$c"; out+=$c; fi
  done
  printf '%s' "$out"
}

port_in_use() {
  local hex
  printf -v hex '%04X' "$1"
  grep -q ":$hex " /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

pick_port() {
  local p
  while :; do
    p=$(( 20000 + RANDOM % 40000 ))
    [ "$p" != "${1:-}" ] && ! port_in_use "$p" && { echo "$p"; return; }
  done
}

# Greets like an rsync daemon on 127.0.0.1:PORT?
daemon_greets() {
  local fd line=
  { exec {fd}<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
  read -r -t 2 -u "$fd" line || true
  exec {fd}>&-
  [[ $line == "@RSYNCD: "* ]]
}

# ---------------------------------------------------------------- configuration

# node_configs NODE PORT OTHER_PORT ROOT: writes NODE's rsyncd.conf, confxml.xml and secrets.
# ROOT is where the node's files are as the node sees them: the node's directory for processes,
# "" for a container (which sees the deployment's own paths: /syncdir, /etc/rsync.pass, ...).
node_configs() {
  local node=$1 port=$2 root=$4 dir=$work/$1
  local user=root group=root
  if [ "$(id -u)" -ne 0 ] && [ -n "$root" ]; then user=$(id -un); group=$(id -gn); fi
  mkdir -p "$dir/syncdir" "$dir/run" "$dir/log"
  {
    echo "# The deployment's rsyncd.conf for node $node; this block and the adjusted paths are the only changes."
    echo "port = $port"
    echo "address = 127.0.0.1"
    sed -e "s|^uid=root|uid=$user|" -e "s|^gid=root|gid=$group|" \
        -e "s|^log file=/var/log/rsyncd.log|log file=${root:-/var/log}/${root:+log/}rsyncd.log|" \
        -e "s|^secrets file = /etc/rsync.pass|secrets file = ${root:-/etc}/rsync.pass|" \
        -e "s|^path=/syncdir|path=${root:-}/syncdir|" "$seed/rsyncd.conf"
  } >"$dir/rsyncd.conf"
  local delete_line='<delete start="false"/>'
  [ "$delete" = true ] && delete_line='<delete start="true"/>'
  sed -e "s|\"/syncdir\"|\"${root:-}/syncdir\"|" \
      -e "s|/app/local/sersync/user.pass|${root:-/app/local/sersync}/user.pass|" \
      -e "s|/tmp/rsync_fail_log.sh|${root:-/tmp}/${root:+log/}rsync_fail_log.sh|" \
      -e "s|<delete start=\"false\"/>|$delete_line|" "$seed/confxml.xml" >"$dir/confxml.xml"
  # As the seed's Dockerfile makes them: the daemon's user list and the watcher's password, mode 600.
  (umask 077; echo "rsync:rsync" >"$dir/rsync.pass"; echo "rsync" >"$dir/user.pass")
}

# ---------------------------------------------------------------- nodes as processes

declare -A port daemon_pid watcher_pid tree

start_process_node() {
  local node=$1 other_port=$2 dir=$work/$1 attempt
  for attempt in 1 2 3 4 5; do
    node_configs "$node" "${port[$node]}" "$other_port" "$dir"
    NETRSYNC_RUN_DIR="$dir/run" "$netrsyncd" --no-detach --config="$dir/rsyncd.conf" >"$dir/netrsyncd.out" 2>&1 &
    daemon_pid[$node]=$!
    pids+=("$!")
    if wait_for 30 "greeting from node $node's netrsyncd" daemon_alive_and_greeting "$node"; then
      return 0
    fi
    if grep -q "in use" "$dir/netrsyncd.out"; then
      port[$node]=$(pick_port "$other_port")
      continue
    fi
    cat "$dir/netrsyncd.out" >&2
    return 1
  done
  return 1
}

daemon_alive_and_greeting() {
  kill -0 "${daemon_pid[$1]}" 2>/dev/null || return 3
  daemon_greets "${port[$1]}"
}

start_process_watcher() {
  local node=$1 other_port=$2 dir=$work/$1
  NETRSYNC_RUN_DIR="$dir/run" target_host="127.0.0.1:$other_port" \
    "$netsersync" "${full_sync_first[@]}" -o "$dir/confxml.xml" --no-detach >"$dir/netsersync.log" 2>&1 &
  watcher_pid[$node]=$!
  pids+=("$!")
  wait_for 30 "\"netsersync ready\" from node $node" watcher_ready "$node" \
    || { cat "$dir/netsersync.log" >&2; return 1; }
}

watcher_ready() {
  kill -0 "${watcher_pid[$1]}" 2>/dev/null || return 3
  grep -q "netsersync ready" "$work/$1/netsersync.log"
}

# ---------------------------------------------------------------- nodes as containers

engine=
container_name() { echo "netrsync-two-way-$1-$$"; }

# The engine as this project runs it: scripts/podman.sh gives podman runc, cgroupfs and explicit
# limits; docker as it is.
ctr() {
  if [ "$engine" = podman ]; then bash "$repo/scripts/podman.sh" "$@"; else "$engine" "$@"; fi
}

start_container_node() {
  local node=$1 other_port=$2 dir=$work/$1 name
  name=$(container_name "$node")
  node_configs "$node" "${port[$node]}" "$other_port" ""
  # As the deployment's docker-compose.yml: host network, the two config files and /syncdir mounted,
  # target_host in the environment; the logs and the secrets mounted too, to read and to match.
  ctr run -d --name "$name" --network host \
    -v "$dir/rsyncd.conf:/etc/rsyncd.conf:ro" \
    -v "$dir/confxml.xml:/app/local/sersync/confxml.xml:ro" \
    -v "$dir/rsync.pass:/etc/rsync.pass:ro" \
    -v "$dir/user.pass:/app/local/sersync/user.pass:ro" \
    -v "$dir/syncdir:/syncdir" \
    -v "$dir/log:/var/log" \
    -e "target_host=127.0.0.1:$other_port" \
    "$image" >/dev/null 2>>"$work/engine.log" || { cat "$work/engine.log" >&2; return 1; }
  containers_started+=("$name")
  wait_for 60 "greeting from node $node's container" daemon_greets "${port[$node]}" \
    || { ctr logs "$name" >&2; return 1; }
}

container_ready() { ctr logs "$(container_name "$1")" 2>&1 | grep -q "netsersync ready"; }

# ---------------------------------------------------------------- what both modes share

mode=
watcher_log() {
  if [ "$mode" = processes ]; then cat "$work/$1/netsersync.log"; else ctr logs "$(container_name "$1")" 2>&1; fi
}
# Push sessions a watcher ran (one line each, done or failed; "... failed; N path(s) queued" follows a failure).
push_lines() { watcher_log "$1" | grep -a -E ': push [^ ]+ -> [^ ]+ \(' || true; }
pushes() { push_lines "$1" | grep -c . || true; }
events_seen() { watcher_log "$1" | grep -c 'debug: event ' || true; }
other() { [ "$1" = A ] && echo B || echo A; }

total_changes=0
echo_pushes=0
latencies=()

# step SIDE WHAT CHECK OP...: runs OP on SIDE's tree, then polls CHECK (run in the other tree) until it
# holds, and prints the latency. The other side must not push anything from before the change until
# WINDOW seconds after its arrival: any push there would be the arrival sent back.
step() {
  local side=$1 what=$2 check=$3 receiver pushes_before events_before t0 t1 ms
  shift 3
  receiver=$(other "$side")
  pushes_before=$(pushes "$receiver")
  events_before=$(events_seen "$receiver")
  (cd "${tree[$side]}" && "$@")
  now_us; t0=$now
  (cd "${tree[$receiver]}" && wait_for 60 "arrival of \"$what\" on $receiver" "$check") || return 1
  now_us; t1=$now
  ms=$(( (t1 - t0) / 1000 ))
  latencies+=("$ms")
  total_changes=$(( total_changes + 1 ))
  # The receiver saw the daemon's writes (the seed's confxml.xml has <debug start="true"/>, so each
  # inotify event is logged), and then pushed nothing within the window.
  wait_for 10 "inotify event on $receiver for \"$what\"" events_grew "$receiver" "$events_before" || return 1
  local deadline=$(( t1 + window * 1000000 )) extra=0
  while now_us; (( now < deadline )); do
    extra=$(( $(pushes "$receiver") - pushes_before ))
    (( extra > 0 )) && break
    nap 0.05
  done
  if (( extra > 0 )); then
    echo_pushes=$(( echo_pushes + extra ))
    printf '  %s -> %s  %-44s %5d ms   ECHO: %s pushed it back\n' "$side" "$receiver" "$what" "$ms" "$receiver"
    push_lines "$receiver" | tail -n "$extra" | sed 's/^/      /'
  else
    printf '  %s -> %s  %-44s %5d ms   no push back\n' "$side" "$receiver" "$what" "$ms"
  fi
}
# After the start: the first arrivals (shared.txt on B, before-b.txt on A) must not come back. A push
# names its paths ("[a, b]"). A node's first push that went through is its -r (the whole tree as it
# was then, so it may hold an arrival); for WINDOW seconds any later push of the other node's file
# is an echo.
later_pushes() { push_lines "$1" | grep -a ' info: push ' | tail -n +2; }
startup_echo_check() {
  local deadline echoes=
  now_us; deadline=$(( now + window * 1000000 ))
  while now_us; (( now < deadline )); do
    echoes=$( { later_pushes A | grep -a -E '[[, ]before-b\.txt[],]' | sed 's/^/      A: /'
                later_pushes B | grep -a -E '[[, ]shared\.txt[],]' | sed 's/^/      B: /'; } || true)
    [ -n "$echoes" ] && break
    nap 0.05
  done
  if [ -n "$echoes" ]; then
    echo_pushes=$(( echo_pushes + $(grep -c . <<<"$echoes") ))
    echo "   ECHO at start-up: a node pushed what it had just received"
    echo "$echoes"
  else
    echo "   no push back of the start-up arrivals"
  fi
}

events_grew() { (( $(events_seen "$1") > $2 )); }

# The changes. Each check runs in the receiving tree.
make_a_new() { printf 'written on A\n' >a-new.txt; }
has_a_new() { has_content a-new.txt $'written on A\n'; }
make_b_new() { printf 'written on B\n' >b-new.txt; }
has_b_new() { has_content b-new.txt $'written on B\n'; }
edit_on_a() { printf 'edited on A\n' >>shared.txt; }
has_edit_a() { has_content shared.txt $'the same file on both nodes\nedited on A\n'; }
edit_on_b() { printf 'edited on B\n' >>shared.txt; }
has_edit_b() { has_content shared.txt $'the same file on both nodes\nedited on A\nedited on B\n'; }
rename_on_a() { mv a-new.txt a-renamed.txt; }
has_rename_a() { has_content a-renamed.txt $'written on A\n' && { [ "$delete" = false ] || [[ ! -e a-new.txt ]]; }; }
rename_on_b() { mv b-new.txt b-renamed.txt; }
has_rename_b() { has_content b-renamed.txt $'written on B\n' && { [ "$delete" = false ] || [[ ! -e b-new.txt ]]; }; }
mkdir_on_a() { mkdir -p deep/from-a/x/y && printf 'leaf\n' >deep/from-a/x/y/leaf.txt; }
has_mkdir_a() { has_content deep/from-a/x/y/leaf.txt $'leaf\n'; }
mkdir_on_b() { mkdir -p deep/from-b/x/y/z; }
has_mkdir_b() { [[ -d deep/from-b/x/y/z ]]; }
latin1=$'caf\xe9.txt'
gbk=$'\xd6\xd0\xce\xc4.txt'
bytes_on_a() { printf 'Latin-1 name\n' >"$latin1"; }
has_bytes_a() { has_content "$latin1" $'Latin-1 name\n'; }
bytes_on_b() { printf 'GBK name\n' >"$gbk"; }
has_bytes_b() { has_content "$gbk" $'GBK name\n'; }

# Both nodes write notes.txt before either hears of the other's write: B's is newer, so it wins on
# both nodes, and A's is kept beside it as notes.txt.conflict-HOST-TIME on both.
conflict_step() {
  local t0 t1 ms a_time b_time
  printf 'older, from A\n' >"${tree[A]}/notes.txt"
  a_time=$(stat -c %.9Y "${tree[A]}/notes.txt")
  # The file system's clock ticks every few milliseconds: write again until B's is strictly newer.
  while :; do
    printf 'newer, from B: wins on both nodes\n' >"${tree[B]}/notes.txt"
    b_time=$(stat -c %.9Y "${tree[B]}/notes.txt")
    [[ $b_time > $a_time ]] && break
  done
  now_us; t0=$now
  wait_for 60 "B's notes.txt on both nodes with A's kept as a conflict copy on both" conflict_settled || return 1
  now_us; t1=$now
  ms=$(( (t1 - t0) / 1000 ))
  printf '  A <> B  %-44s %5d ms   newer (B) wins on both; A'"'"'s is kept\n' "notes.txt written on both at once" "$ms"
  copies_on A | sed 's/^/          on both nodes: /'
}
copies_on() { local f; for f in "${tree[$1]}"/notes.txt.conflict-*; do [[ -e $f ]] && printf '%s\n' "${f##*/}"; done; }
conflict_settled() {
  local side f found
  # Each node's copy (if it made one) has reached the other.
  [[ $(copies_on A) == "$(copies_on B)" ]] || return 1
  for side in A B; do
    has_content "${tree[$side]}/notes.txt" $'newer, from B: wins on both nodes\n' || return 1
    found=0
    for f in "${tree[$side]}"/notes.txt.conflict-*; do
      has_content "$f" $'older, from A\n' && found=1
    done
    (( found )) || return 1
  done
}

# The trees, entry by entry: type, mode, mtime (ns), size and bytes of files.
listing() {
  (cd "$1" && find . -mindepth 1 \( -type f -printf '%P\t%y %m %T@ %s\n' \) -o -printf '%P\t%y %m %T@\n' | sort)
}

compare_trees() {
  local only differ=0 expected=()
  if [ "$delete" = false ]; then
    # With deletions off the old names of the renames stay on the side that received them.
    expected=("a-new.txt" "b-new.txt")
  fi
  diff <(listing "${tree[A]}") <(listing "${tree[B]}") >"$work/tree.diff" || true
  local name unexpected=0
  while IFS= read -r line; do
    case "$line" in
      '<'*|'>'*)
        name=${line:2}; name=${name%%$'\t'*}
        if [[ " ${expected[*]} " == *" $name "* ]]; then
          [ "${line:0:1}" = '<' ] && only=A || only=B
          echo "  only on $only: $name (the old name of a rename: <delete start=\"false\"/> leaves it there, as sersync did)"
        else
          echo "  differs: $line"
          unexpected=1
        fi ;;
    esac
  done <"$work/tree.diff"
  while IFS= read -r -d '' f; do
    if [[ -f ${tree[B]}/$f ]] && ! cmp -s "${tree[A]}/$f" "${tree[B]}/$f"; then
      echo "  content differs: $(show "$f")"
      differ=1
    fi
  done < <(cd "${tree[A]}" && find . -type f -printf '%P\0')
  if (( unexpected || differ )); then
    echo "  FAILED: the trees differ beyond that"
    return 1
  fi
  local count
  count=$(listing "${tree[A]}" | wc -l)
  echo "  otherwise identical: $count entries with the same type, mode, mtime (ns), size and bytes"
}

stop_processes() {
  local node code status=0
  for node in A B; do kill -TERM "${watcher_pid[$node]}"; done
  for node in A B; do
    code=0; wait "${watcher_pid[$node]}" || code=$?
    echo "  node $node netsersync (pid ${watcher_pid[$node]}): SIGTERM, exit code $code"
    (( code == 0 )) || status=1
  done
  for node in A B; do kill -TERM "${daemon_pid[$node]}"; done
  for node in A B; do
    code=0; wait "${daemon_pid[$node]}" || code=$?
    echo "  node $node netrsyncd  (pid ${daemon_pid[$node]}): SIGTERM, exit code $code"
    (( code == 0 )) || status=1
  done
  pids=()
  return $status
}

stop_containers() {
  local node name code status=0 dir
  for node in A B; do
    name=$(container_name "$node")
    dir=$work/$node
    ctr stop -t 30 "$name" >/dev/null 2>>"$work/engine.log"
    code=$(ctr inspect -f '{{.State.ExitCode}}' "$name" 2>>"$work/engine.log")
    ctr logs "$name" >"$dir/container.log" 2>&1 || true
    grep -a 'status:' "$dir/container.log" | tail -n 1 | sed "s/^.*status: /  node $node netsersync at exit: status: /"
    echo "  node $node container $name: SIGTERM (stop), exit code $code"
    (( code == 0 )) || status=1
    ctr rm "$name" >/dev/null 2>>"$work/engine.log"
  done
  containers_started=()
  return $status
}

status_line() { watcher_log "$1" | grep 'status:' | tail -n 1 | sed 's/^.*status: /status: /'; }

run_demo() {
  mode=$1
  total_changes=0; echo_pushes=0; latencies=()
  port[A]=$(pick_port)
  port[B]=$(pick_port "${port[A]}")
  tree[A]=$work/A/syncdir
  tree[B]=$work/B/syncdir
  rm -rf "$work/A" "$work/B"
  mkdir -p "${tree[A]}" "${tree[B]}"
  # Something on each side before the start: -r (as in start.sh) brings it across.
  if [ "$delete" = false ]; then
    printf 'the same file on both nodes\n' >"${tree[A]}/shared.txt"
    printf 'there on B before the start\n' >"${tree[B]}/before-b.txt"
  fi

  echo
  echo "== two-way sync, nodes as $mode: A on 127.0.0.1:${port[A]}, B on 127.0.0.1:${port[B]}"
  if [ "$mode" = processes ]; then
    start_process_node A "${port[B]}" || return 1
    start_process_node B "${port[A]}" || return 1
    start_process_watcher A "${port[B]}" || return 1
    start_process_watcher B "${port[A]}" || return 1
  else
    start_container_node A "${port[B]}" || return 1
    start_container_node B "${port[A]}" || return 1
    wait_for 60 "\"netsersync ready\" in node A's container" container_ready A || return 1
    wait_for 60 "\"netsersync ready\" in node B's container" container_ready B || return 1
  fi
  echo "   trees: ${tree[A]} and ${tree[B]}; configs, logs: $work/{A,B}/"
  if [ "$delete" = true ]; then
    # No -r with deletions on: a node's full push with --delete would remove what only the other has.
    printf 'the same file on both nodes\n' >"${tree[A]}/shared.txt"
    printf 'there on B before the start\n' >"${tree[B]}/before-b.txt"
  fi
  wait_for 60 "shared.txt from A on B" has_content "${tree[B]}/shared.txt" $'the same file on both nodes\n' || return 1
  wait_for 60 "before-b.txt from B on A" has_content "${tree[A]}/before-b.txt" $'there on B before the start\n' || return 1
  echo "   ${full_sync_first[*]:+start-up pushes (-r) done: }shared.txt is on B, before-b.txt is on A"
  startup_echo_check || return 1
  echo
  printf '  %-7s %-44s %8s\n' "from" "change" "latency"
  step A "create a-new.txt" has_a_new make_a_new || return 1
  step B "create b-new.txt" has_b_new make_b_new || return 1
  step A "edit shared.txt (append)" has_edit_a edit_on_a || return 1
  step B "edit shared.txt again (append)" has_edit_b edit_on_b || return 1
  step A "rename a-new.txt -> a-renamed.txt" has_rename_a rename_on_a || return 1
  step B "rename b-new.txt -> b-renamed.txt" has_rename_b rename_on_b || return 1
  step A "mkdir -p deep/from-a/x/y + leaf.txt" has_mkdir_a mkdir_on_a || return 1
  step B "mkdir -p deep/from-b/x/y/z" has_mkdir_b mkdir_on_b || return 1
  step A "create $(show "$latin1") (Latin-1 name)" has_bytes_a bytes_on_a || return 1
  step B "create $(show "$gbk") (GBK name)" has_bytes_b bytes_on_b || return 1
  conflict_step || return 1
  local sorted p50 p99
  sorted=($(printf '%s\n' "${latencies[@]}" | sort -n))
  p50=${sorted[$(( (${#sorted[@]} - 1) / 2 ))]}
  echo
  echo "  ${total_changes} one-sided changes: latency median ${p50} ms, max ${sorted[-1]} ms (poll every 5 ms)"
  if (( echo_pushes == 0 )); then
    echo "  no echo: after every arrival the receiving side pushed nothing back within ${window}s"
  else
    echo "  FAILED: ${echo_pushes} push(es) sent an arrival straight back (echo)"
  fi
  echo
  echo "  the trees:"
  local trees_ok=0
  compare_trees || trees_ok=1
  if [ "$mode" = processes ]; then
    local before_a before_b
    before_a=$(watcher_log A | grep -c 'status:' || true)
    before_b=$(watcher_log B | grep -c 'status:' || true)
    kill -USR1 "${watcher_pid[A]}" "${watcher_pid[B]}"
    wait_for 10 "status lines" status_lines_after "$before_a" "$before_b"
    for node in A B; do echo "  node $node netsersync $(status_line "$node")"; done
  fi
  echo
  echo "  stopping:"
  local stopped=0
  if [ "$mode" = processes ]; then stop_processes || stopped=1; else stop_containers || stopped=1; fi
  (( echo_pushes == 0 && trees_ok == 0 && stopped == 0 ))
}

status_lines_after() {
  (( $(watcher_log A | grep -c 'status:' || true) > $1 && $(watcher_log B | grep -c 'status:' || true) > $2 ))
}

# ---------------------------------------------------------------- main

echo "building netrsyncd and netsersync (Release)..."
dotnet build src/Rsync.Daemon -c Release -nologo -v q >"$work/build.log" 2>&1 || { cat "$work/build.log"; failed=1; exit 1; }
dotnet build src/SerSync.Watch -c Release -nologo -v q >>"$work/build.log" 2>&1 || { cat "$work/build.log"; failed=1; exit 1; }

run_demo processes || failed=1

if [ "$containers" != no ]; then
  if command -v podman >/dev/null 2>&1; then
    engine=podman
  elif command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    engine=docker
  fi
  if [ -z "$engine" ]; then
    if [ "$containers" = yes ]; then
      echo "two-way-demo: --containers needs podman or docker" >&2
      failed=1
    else
      echo
      echo "(no podman or docker here: the container run is left out; --containers asks for it)"
    fi
  elif [ ! -f scripts/image.sh ] || { [ "$engine" = podman ] && [ ! -f scripts/podman.sh ]; }; then
    echo "two-way-demo: the container run needs scripts/image.sh (it builds netrsync:latest) and scripts/podman.sh" >&2
    failed=1
  else
    echo
    echo "building the image $image (scripts/image.sh)..."
    bash scripts/image.sh --tag "$image" >"$work/image.log" 2>&1 || { tail -n 40 "$work/image.log"; failed=1; exit 1; }
    run_demo containers || failed=1
  fi
fi

echo
if [ "$failed" -eq 0 ]; then echo "two-way demo: OK"; else echo "two-way demo: FAILED"; fi
exit "$failed"
