#!/usr/bin/env bash
# Local emulators for Herald: Azurite (Storage: blob/queue/table) and
# @vercel/cosmosdb-server (Cosmos DB), both from node_modules (run `npm ci` first).
#
# Usage: scripts/emulators.sh start|stop|status|wait|restart
#   start    start whatever is not already answering, then wait until both answer.
#            A service that already answers on its port (started by someone else,
#            or left over) is reused, not started again.
#   stop     stop only the processes this script started (pids in .local/pids/).
#   status   print what runs; exit 0 if both answer, 1 otherwise.
#   wait     wait until both answer (bounded); exit 1 with the log tail if not.
#
# Endpoints:
#   Azurite   blob http://127.0.0.1:10000, queue http://127.0.0.1:10001,
#             table http://127.0.0.1:10002 (account devstoreaccount1, well-known key)
#   Cosmos    https://localhost:8081 (self-signed, expired cert shipped in the
#             package: clients must skip TLS verification; any key is accepted)
#
# Environment (all optional):
#   EMULATORS_WAIT_TIMEOUT  seconds to wait for readiness (default 60)
#   EMULATORS_STOP_TIMEOUT  seconds between TERM and KILL on stop (default 10)
#   AZURITE_PERSIST=1       keep Azurite data on disk in .local/azurite/
#                           (default: in memory, lost on stop)
#   AZURITE_BLOB_PORT, AZURITE_QUEUE_PORT, AZURITE_TABLE_PORT, COSMOS_PORT
#
# Files: logs in .local/logs/, pid files in .local/pids/ (under the repo root).
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
LOCAL_DIR="$ROOT/.local"
LOG_DIR="$LOCAL_DIR/logs"
PID_DIR="$LOCAL_DIR/pids"
AZURITE_DIR="$LOCAL_DIR/azurite"
BIN_DIR="$ROOT/node_modules/.bin"
AZURITE_BIN="$BIN_DIR/azurite"
COSMOS_BIN="$BIN_DIR/cosmosdb-server"

AZURITE_BLOB_PORT="${AZURITE_BLOB_PORT:-10000}"
AZURITE_QUEUE_PORT="${AZURITE_QUEUE_PORT:-10001}"
AZURITE_TABLE_PORT="${AZURITE_TABLE_PORT:-10002}"
COSMOS_PORT="${COSMOS_PORT:-8081}"
WAIT_TIMEOUT="${EMULATORS_WAIT_TIMEOUT:-60}"
STOP_TIMEOUT="${EMULATORS_STOP_TIMEOUT:-10}"
AZURITE_PERSIST="${AZURITE_PERSIST:-0}"

SERVICES=(azurite cosmos)

die() { echo "emulators: $*" >&2; exit 1; }

# --- per-service settings -------------------------------------------------

svc_url() {  # the URL whose answer (any HTTP status) means "ready"
  case "$1" in
    azurite) echo "http://127.0.0.1:${AZURITE_QUEUE_PORT}/devstoreaccount1?comp=list" ;;
    cosmos) echo "https://127.0.0.1:${COSMOS_PORT}/" ;;
  esac
}
svc_desc() {
  case "$1" in
    azurite) echo "Azurite (blob :${AZURITE_BLOB_PORT}, queue :${AZURITE_QUEUE_PORT}, table :${AZURITE_TABLE_PORT})" ;;
    cosmos) echo "Cosmos DB server (https://localhost:${COSMOS_PORT})" ;;
  esac
}
svc_bin() {
  case "$1" in
    azurite) echo "$AZURITE_BIN" ;;
    cosmos) echo "$COSMOS_BIN" ;;
  esac
}
svc_pidfile() { echo "$PID_DIR/$1.pid"; }
svc_log() { echo "$LOG_DIR/$1.log"; }

svc_cmd() {  # prints nothing; fills the array CMD
  case "$1" in
    azurite)
      # --disableTelemetry: otherwise Azurite sends telemetry out and, with no
      # network, hangs on SIGTERM after closing its servers.
      CMD=("$AZURITE_BIN"
        --blobHost 127.0.0.1 --blobPort "$AZURITE_BLOB_PORT"
        --queueHost 127.0.0.1 --queuePort "$AZURITE_QUEUE_PORT"
        --tableHost 127.0.0.1 --tablePort "$AZURITE_TABLE_PORT"
        --loose --skipApiVersionCheck --silent --disableTelemetry)
      if [ "$AZURITE_PERSIST" = "1" ]; then
        CMD+=(--location "$AZURITE_DIR")
      else
        CMD+=(--inMemoryPersistence)
      fi
      ;;
    cosmos)
      # The package ships its own self-signed cert/key (CN=cosmosdb); the CLI has
      # no flag for another one. Bound to loopback only.
      CMD=("$COSMOS_BIN" --host 127.0.0.1 --port "$COSMOS_PORT" --keep-alive)
      ;;
  esac
}

# --- helpers ---------------------------------------------------------------

check_prereqs() {
  command -v node >/dev/null 2>&1 || die "node is not on PATH (Node >= 20 is needed)"
  local b
  for b in "$AZURITE_BIN" "$COSMOS_BIN"; do
    [ -x "$b" ] || die "$b is missing: run \`npm ci\` in $ROOT first"
  done
}

# 0 if the URL gives any HTTP answer within 2 s (TLS certificate not checked).
answers() {
  node -e '
    const u = new URL(process.argv[1]);
    const m = require(u.protocol === "https:" ? "https" : "http");
    const req = m.get(u, { rejectUnauthorized: false, timeout: 2000 }, (res) => {
      res.resume(); process.exit(0);
    });
    req.on("timeout", () => { req.destroy(); process.exit(1); });
    req.on("error", () => process.exit(1));
  ' "$1" >/dev/null 2>&1
}

# 0 if pid is a live (non-zombie) process.
pid_alive() {
  local pid="$1" state=""
  kill -0 "$pid" 2>/dev/null || return 1
  if [ -r "/proc/$pid/stat" ]; then
    state="$(sed -e 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1 || true)"
  elif command -v ps >/dev/null 2>&1; then
    state="$(ps -o stat= -p "$pid" 2>/dev/null || true)"
  fi
  # A zombie has exited (it only waits to be reaped); no state known: alive.
  [ "${state#Z}" = "$state" ]
}

# 0 if pid is alive and its command line runs this service's binary (guards
# against a recycled pid).
pid_is_service() {
  local pid="$1" svc="$2" args
  pid_alive "$pid" || return 1
  if [ -r "/proc/$pid/cmdline" ]; then
    args="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
  else
    args="$(ps -o args= -p "$pid" 2>/dev/null || true)"
  fi
  case "$args" in *"$(svc_bin "$svc")"*) return 0 ;; *) return 1 ;; esac
}

# Prints the pid from the service's pid file if that process is ours and alive;
# removes a stale pid file. Returns 1 if there is no live process of ours.
our_pid() {
  local svc="$1" pf pid
  pf="$(svc_pidfile "$svc")"
  [ -f "$pf" ] || return 1
  pid="$(tr -dc '0-9' <"$pf" 2>/dev/null || true)"
  if [ -n "$pid" ] && pid_is_service "$pid" "$svc"; then
    echo "$pid"
    return 0
  fi
  rm -f "$pf"
  return 1
}

# Serialises concurrent start/stop runs (e.g. parallel make targets), where
# flock(1) exists; the lock is released when this script exits.
LOCKED=0
take_lock() {
  [ "$LOCKED" = 1 ] && return 0
  command -v flock >/dev/null 2>&1 || return 0
  mkdir -p "$LOCAL_DIR"
  exec 9>"$LOCAL_DIR/emulators.lock"
  flock -w 120 9 || die "another scripts/emulators.sh run holds $LOCAL_DIR/emulators.lock"
  LOCKED=1
}

show_log_tail() {
  local log
  log="$(svc_log "$1")"
  if [ -s "$log" ]; then
    echo "--- last lines of $log (last run started by this script) ---" >&2
    tail -n 30 "$log" >&2
    echo "---" >&2
  fi
}

# --- actions ---------------------------------------------------------------

start_one() {
  local svc="$1" url pf log pid
  url="$(svc_url "$svc")"; pf="$(svc_pidfile "$svc")"; log="$(svc_log "$svc")"
  if pid="$(our_pid "$svc")"; then
    echo "$svc: already started by this script (pid $pid)"
    return 0
  fi
  if answers "$url"; then
    echo "$svc: something already answers at $url; reusing it (not started by this script)"
    return 0
  fi
  mkdir -p "$LOG_DIR" "$PID_DIR" "$AZURITE_DIR"
  [ -f "$log" ] && mv -f "$log" "$log.prev"
  svc_cmd "$svc"
  rm -f "$pf"
  # New session (setsid) so a Ctrl-C or hangup of the caller does not reach it;
  # the inner shell records its own pid and execs the server, so the pid in the
  # pid file is the server's.
  (
    exec 9>&-  # do not hand the lock (see take_lock) to the server
    cd "$AZURITE_DIR"
    # shellcheck disable=SC2016  # $$, $0 and $@ are for the inner shell
    exec setsid bash -c 'echo $$ >"$0.tmp" && mv -f "$0.tmp" "$0" && exec nohup "$@"' \
      "$pf" "${CMD[@]}" </dev/null >>"$log" 2>&1
  ) &
  for _ in $(seq 1 50); do
    [ -s "$pf" ] && break
    sleep 0.1
  done
  [ -s "$pf" ] || { show_log_tail "$svc"; die "$svc: could not start (no pid file $pf)"; }
  echo "$svc: started $(svc_desc "$svc"), pid $(cat "$pf"), log $log"
}

# Waits until the service answers or the epoch second $2 passes; fails early
# if the process this script started died.
wait_one() {
  local svc="$1" deadline="$2" url pf
  url="$(svc_url "$svc")"
  while :; do
    if answers "$url"; then
      echo "$svc: ready at $url"
      return 0
    fi
    pf="$(svc_pidfile "$svc")"
    if [ -f "$pf" ] && ! our_pid "$svc" >/dev/null; then
      show_log_tail "$svc"
      echo "emulators: $svc exited before answering at $url (see $(svc_log "$svc"))" >&2
      return 1
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      show_log_tail "$svc"
      echo "emulators: $svc did not answer at $url within ${WAIT_TIMEOUT}s (see $(svc_log "$svc"); \`scripts/emulators.sh stop\` stops what this script started)" >&2
      return 1
    fi
    sleep 0.5
  done
}

stop_one() {
  local svc="$1" pf pid
  pf="$(svc_pidfile "$svc")"
  if ! pid="$(our_pid "$svc")"; then
    if answers "$(svc_url "$svc")"; then
      echo "$svc: not started by this script; leaving the one that answers at $(svc_url "$svc") alone"
    else
      echo "$svc: not running"
    fi
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 $(( STOP_TIMEOUT * 10 ))); do
    pid_alive "$pid" || break
    sleep 0.1
  done
  if pid_alive "$pid"; then
    echo "$svc: pid $pid still running ${STOP_TIMEOUT}s after TERM; sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      pid_alive "$pid" || break
      sleep 0.1
    done
    if pid_alive "$pid"; then
      die "$svc: pid $pid survived KILL"
    fi
  fi
  rm -f "$pf"
  echo "$svc: stopped (pid $pid)"
}

status_one() {
  local svc="$1" url pid up=1
  url="$(svc_url "$svc")"
  answers "$url" && up=0
  if pid="$(our_pid "$svc")"; then
    if [ $up -eq 0 ]; then
      echo "$svc: running, started by this script (pid $pid), answering at $url"
    else
      echo "$svc: started by this script (pid $pid) but not answering at $url (yet)"
    fi
  elif [ $up -eq 0 ]; then
    echo "$svc: answering at $url (not started by this script)"
  else
    echo "$svc: not running"
  fi
  return $up
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

main() {
  local action="${1:-}" svc deadline rc=0
  case "$action" in
    start)
      check_prereqs
      take_lock
      for svc in "${SERVICES[@]}"; do start_one "$svc"; done
      deadline=$(( $(date +%s) + WAIT_TIMEOUT ))
      for svc in "${SERVICES[@]}"; do wait_one "$svc" "$deadline" || rc=1; done
      ;;
    wait)
      check_prereqs
      deadline=$(( $(date +%s) + WAIT_TIMEOUT ))
      for svc in "${SERVICES[@]}"; do wait_one "$svc" "$deadline" || rc=1; done
      ;;
    stop)
      take_lock
      for svc in "${SERVICES[@]}"; do stop_one "$svc" || rc=1; done
      ;;
    restart)
      take_lock
      for svc in "${SERVICES[@]}"; do stop_one "$svc"; done
      main start
      return
      ;;
    status)
      check_prereqs
      for svc in "${SERVICES[@]}"; do status_one "$svc" || rc=1; done
      ;;
    -h|--help|help)
      usage
      ;;
    *)
      usage >&2
      exit 2
      ;;
  esac
  return $rc
}

main "$@"
