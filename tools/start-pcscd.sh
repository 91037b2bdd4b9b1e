#!/usr/bin/env bash
# Make sure pcscd runs with vsmartcard's virtual reader (vpcd), for the hardware-in-the-loop
# tests (tests/hil) and `konbini` kiosks on a virtual card. Idempotent: a running pcscd is left
# alone. Exit 0 once pcscd answers and lists a "Virtual PCD" reader; non-zero, with the reason,
# otherwise.
#
# Works without systemd (containers, CI): pcscd is started in its own daemon mode. Set
# PCSCD_DEBUG_LOG=/path/to/file to run it in the foreground with debug logging (and APDUs) to
# that file instead. PYTHON (default .venv/bin/python) is used to ask pcscd for its readers
# through pyscard when it is installed there.
set -euo pipefail
cd "$(dirname "$0")/.."

PCSCD=${PCSCD:-/usr/sbin/pcscd}
PYTHON=${PYTHON:-.venv/bin/python}
VPCD_CONF=/etc/reader.conf.d/vpcd
VPCD_PORT=35963 # CHANNELID 0x8C7B in $VPCD_CONF; the second slot is 35964
PID_FILE=/run/pcscd/pcscd.pid
SOCKET=/run/pcscd/pcscd.comm
WAIT_S=${PCSCD_WAIT_S:-15}

fail() {
  echo "start-pcscd: $*" >&2
  exit 1
}

[ -x "$PCSCD" ] || fail "$PCSCD not found: install pcscd (bash tools/setup-system.sh)"
[ -f "$VPCD_CONF" ] || fail "$VPCD_CONF not found: install vsmartcard-vpcd (bash tools/setup-system.sh)"

daemon_pid() {
  tr -dc '0-9' 2>/dev/null <"$PID_FILE" # pcscd pads its pid file with a NUL
}

running() {
  local pid
  pid=$(daemon_pid) && [ -n "$pid" ] && [ -S "$SOCKET" ] && kill -0 "$pid" 2>/dev/null
}

live_pcscd_pids() {
  { ps -C pcscd -o pid=,stat= 2>/dev/null || true; } | awk '$2 !~ /^Z/ {print $1}' # not zombies
}

pyscard_here() {
  [ -x "$PYTHON" ] && "$PYTHON" -c "import smartcard.scard" 2>/dev/null
}

# "Answers": pcscd lists the vpcd reader through pyscard when we have it; otherwise its socket
# is up and vpcd listens. (Never probe vpcd's port by connecting: that inserts a card.)
answers() {
  if pyscard_here; then
    "$PYTHON" - <<'EOF' 2>/dev/null
import sys
from smartcard import scard
rc, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
if rc != scard.SCARD_S_SUCCESS:
    sys.exit(1)
rc, names = scard.SCardListReaders(ctx, [])
scard.SCardReleaseContext(ctx)
sys.exit(0 if rc == scard.SCARD_S_SUCCESS and any("Virtual PCD" in n for n in names) else 1)
EOF
  else
    running && ss -Hltn "sport = :$VPCD_PORT" 2>/dev/null | grep -q LISTEN
  fi
}

if running; then
  answers && { echo "pcscd already running (pid $(daemon_pid)) with the vpcd reader"; exit 0; }
  # Give a pcscd that is still starting a moment before judging it.
  for _ in $(seq 1 $((WAIT_S * 5))); do answers && exit 0; sleep 0.2; done
  fail "pcscd (pid $(daemon_pid)) runs but lists no \"Virtual PCD\" reader; it was probably \
started before vsmartcard-vpcd was installed: stop it and run this script again"
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || fail "pcscd is not running and starting it needs root"
  SUDO="sudo"
fi

pids=$(live_pcscd_pids)
if [ -n "$pids" ]; then
  fail "a pcscd runs (pid $(echo $pids)) without its socket $SOCKET or pid file: stop it first"
fi
# A pcscd that died leaves its pid file and socket behind, and a new one refuses to start.
$SUDO rm -f "$PID_FILE" "$SOCKET"

if [ -n "${PCSCD_DEBUG_LOG:-}" ]; then
  # setsid: the daemon must outlive this script's process group (CI job control).
  $SUDO setsid -f "$PCSCD" --foreground --debug --apdu >>"$PCSCD_DEBUG_LOG" 2>&1 </dev/null
else
  $SUDO "$PCSCD" # forks into the background and writes $PID_FILE
fi

for _ in $(seq 1 $((WAIT_S * 5))); do
  if answers; then
    echo "pcscd started (pid $(daemon_pid)) with the vpcd reader"
    exit 0
  fi
  sleep 0.2
done
fail "pcscd did not answer within ${WAIT_S}s (see syslog, or rerun with PCSCD_DEBUG_LOG=/tmp/pcscd.log)"
