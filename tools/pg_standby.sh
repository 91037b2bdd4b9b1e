#!/usr/bin/env bash
# A PostgreSQL standby fed by streaming replication, for the east/west pair (docs/operations.md).
#
# Run as the operating-system user that owns the data directories (postgres). Commands:
#
#   pg_standby.sh clone --primary HOST:PORT --datadir DIR --port PORT [--name west] [--user postgres]
#       Copy the primary with pg_basebackup (WAL streamed, a physical replication slot named
#       after the standby so the primary keeps the WAL it still needs), write the standby
#       settings (-R: standby.signal and primary_conninfo with application_name=NAME), give it
#       its own port, and start it.
#   pg_standby.sh require-sync --primary HOST:PORT --name west [--user postgres]
#       Make the primary wait for this standby at every commit (synchronous_standby_names), then
#       wait until it reports sync_state = sync. Without this, a commit the kiosk saw can be
#       lost when the primary dies before the WAL reached the standby.
#   pg_standby.sh status --primary HOST:PORT [--user postgres]
#       The primary's view of its standbys (pg_stat_replication).
#   pg_standby.sh promote --datadir DIR
#       Make the standby the primary (after the old primary is known dead or fenced).
#
# PG_BIN selects the PostgreSQL binaries; by default those of `pg_config --bindir`, else the
# newest /usr/lib/postgresql/*/bin.
set -euo pipefail

die() { echo "pg_standby.sh: $*" >&2; exit 2; }

pg_bin() {
  if [[ -n "${PG_BIN:-}" ]]; then echo "$PG_BIN"; return; fi
  if command -v pg_config >/dev/null 2>&1 && [[ -x "$(pg_config --bindir)/pg_ctl" ]]; then
    pg_config --bindir; return
  fi
  local newest
  newest=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
  [[ -n "$newest" ]] || die "no PostgreSQL binaries found; set PG_BIN"
  echo "$newest"
}

command=${1:-}
[[ -n "$command" ]] || die "usage: pg_standby.sh clone|require-sync|status|promote [options]"
shift
primary="" datadir="" port="" name="west" user="postgres"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --primary) primary=$2; shift 2 ;;
    --datadir) datadir=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --name) name=$2; shift 2 ;;
    --user) user=$2; shift 2 ;;
    *) die "unknown option $1" ;;
  esac
done
[[ "$name" =~ ^[a-z][a-z0-9_]{0,62}$ ]] || die "--name must be a lower-case identifier"
BIN=$(pg_bin)

split_primary() {
  [[ "$primary" == *:* ]] || die "--primary needs HOST:PORT"
  phost=${primary%:*}
  pport=${primary##*:}
}

sql() {  # one statement on the primary, unaligned output
  "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -At -h "$phost" -p "$pport" -U "$user" -d postgres -c "$1"
}

case "$command" in
  clone)
    split_primary
    [[ -n "$datadir" && -n "$port" ]] || die "clone needs --datadir and --port"
    [[ ! -e "$datadir" || -z "$(ls -A "$datadir")" ]] || die "$datadir is not empty"
    "$BIN/pg_basebackup" -d "host=$phost port=$pport user=$user application_name=$name" \
      -D "$datadir" -X stream -R -c fast -C -S "$name" --no-password
    # postgresql.auto.conf is read last: these win over the primary's copied settings.
    echo "port = $port" >>"$datadir/postgresql.auto.conf"
    echo "cluster_name = '$name'" >>"$datadir/postgresql.auto.conf"
    "$BIN/pg_ctl" -D "$datadir" -l "$datadir/standby.log" -w -t 60 start >/dev/null
    echo "standby $name streaming from $primary on port $port"
    ;;
  require-sync)
    split_primary
    sql "ALTER SYSTEM SET synchronous_standby_names = '$name'" >/dev/null
    sql "SELECT pg_reload_conf()" >/dev/null
    for _ in $(seq 1 120); do
      state=$(sql "SELECT sync_state FROM pg_stat_replication WHERE application_name = '$name'")
      if [[ "$state" == "sync" ]]; then echo "$name is a synchronous standby"; exit 0; fi
      sleep 0.25
    done
    die "$name did not become a synchronous standby (state: ${state:-not connected})"
    ;;
  status)
    split_primary
    sql "SELECT application_name, state, sync_state, replay_lsn FROM pg_stat_replication"
    ;;
  promote)
    [[ -n "$datadir" ]] || die "promote needs --datadir"
    "$BIN/pg_ctl" -D "$datadir" -w -t 60 promote >/dev/null
    echo "standby in $datadir promoted"
    ;;
  *)
    die "unknown command $command"
    ;;
esac
