#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, to try deploy/slurm-array.sh without a real cluster
# (and for CI: .ci/slurm-test.sh). Debian or Ubuntu, as root.
#
#   deploy/slurm-local.sh          # install if missing, configure, start; wait until idle
#   deploy/slurm-local.sh stop     # stop slurmd, slurmctld and munged
#   deploy/slurm-local.sh status   # sinfo, or say it is not running
#
# Running it again is harmless: what is already there is kept, what runs is left running.
# What it does, in order (it is also the recipe for a test cluster by hand):
#   1. apt-get install slurm-wlm munge, unless slurmctld, slurmd and munged are there already;
#   2. /etc/slurm/slurm.conf: one node "localhost" with this machine's CPUs, one partition
#      "debug", no cgroups (proctrack/linuxproc, task/none), no accounting database;
#   3. a munge key (/etc/munge/munge.key) if there is none, and munged running as user munge;
#   4. slurmctld and slurmd started directly (no systemd needed: it also works in a container);
#   5. wait (at most SLURM_LOCAL_TIMEOUT seconds, default 60) until sinfo shows the node idle.
#
# A slurm.conf that this script did not write is not overwritten: the script stops with an error
# (set SLURM_LOCAL_FORCE=1 to replace it; the old one is kept as slurm.conf.bak).
# With no accounting database `sacct` says nothing; use `squeue --states=all` and
# `scontrol show job` (finished jobs are kept MinJobAge = 600 s) instead.
set -euo pipefail

CONF=/etc/slurm/slurm.conf
MARK="# Written by stratbox deploy/slurm-local.sh"
TIMEOUT=${SLURM_LOCAL_TIMEOUT:-60}
CTLD_PID=/run/slurmctld.pid
SLURMD_PID=/run/slurmd.pid
MUNGE_PID=/run/munge/munged.pid

say() { echo "slurm-local: $*"; }
die() { echo "slurm-local: error: $*" >&2; exit 1; }

# The pid in FILE if that process is alive.
alive() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

install() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then
    return
  fi
  command -v apt-get >/dev/null || die "slurm-wlm and munge are missing and there is no apt-get: install them with your package manager"
  say "installing slurm-wlm and munge"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge
}

start_munge() {
  if [[ ! -s /etc/munge/munge.key ]]; then
    say "creating /etc/munge/munge.key"
    mkdir -p /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
  fi
  chown munge:munge /etc/munge/munge.key
  chmod 400 /etc/munge/munge.key
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge
  if alive "$MUNGE_PID"; then
    return
  fi
  say "starting munged"
  runuser -u munge -- /usr/sbin/munged --force
  for _ in $(seq 50); do
    munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && return
    sleep 0.1
  done
  die "munged does not answer (see /var/log/munge/munged.log)"
}

write_conf() {
  local cpus mem
  cpus=$(nproc)
  # MiB the node offers to jobs: what the machine has, less 1 GiB for everything else.
  mem=$(awk '/^MemTotal:/ { m = int($2 / 1024) - 1024; print (m > 1024 ? m : 1024) }' /proc/meminfo)
  local want
  want=$(cat <<EOF
$MARK; it is rewritten each time it runs.
ClusterName=local
SlurmctldHost=localhost
SlurmUser=slurm
AuthType=auth/munge
MpiDefault=none
# No cgroups: processes are tracked through /proc, tasks are not confined.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# No accounting database (slurmdbd): sacct is empty, squeue --states=all and scontrol show job work.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=600
ReturnToService=2
# scancel: SIGTERM, then SIGKILL after KillWait seconds.
KillWait=5
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=localhost CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
)
  if [[ -e $CONF ]] && ! grep -qxF "$MARK; it is rewritten each time it runs." "$CONF"; then
    [[ ${SLURM_LOCAL_FORCE:-0} == 1 ]] || die "$CONF exists and was not written by this script (SLURM_LOCAL_FORCE=1 replaces it)"
    cp "$CONF" "$CONF.bak"
    say "replacing $CONF (the old one is $CONF.bak)"
  fi
  mkdir -p /etc/slurm
  if [[ ! -e $CONF ]] || [[ "$(cat "$CONF")" != "$want" ]]; then
    printf '%s\n' "$want" >"$CONF"
    say "wrote $CONF (localhost: $cpus CPUs, $mem MiB)"
    # Daemons that run read the old file: make them read this one.
    if alive "$CTLD_PID"; then scontrol reconfigure || true; fi
  fi
  mkdir -p /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
  chown slurm:slurm /var/spool/slurmctld /var/log/slurm
}

start_slurm() {
  if ! alive "$CTLD_PID"; then
    say "starting slurmctld"
    /usr/sbin/slurmctld
  fi
  if ! alive "$SLURMD_PID"; then
    say "starting slurmd"
    # -N: this node is "localhost" in slurm.conf whatever the machine's host name is.
    /usr/sbin/slurmd -N localhost
  fi
}

# The node's state as sinfo prints it (idle, mixed, down*, ...), or nothing yet.
node_state() { sinfo -h -n localhost -o %T 2>/dev/null || true; }

wait_idle() {
  local deadline=$((SECONDS + TIMEOUT)) state=""
  while ((SECONDS < deadline)); do
    state=$(node_state)
    case $state in
      idle | mixed | allocated) say "node localhost is $state"; sinfo; return ;;
      # A node that was down (for example after the machine restarted) is put back in service.
      down* | drain*) scontrol update nodename=localhost state=resume 2>/dev/null || true ;;
    esac
    sleep 1
  done
  die "the node is not idle after ${TIMEOUT}s (state: ${state:-none}); see /var/log/slurm/"
}

stop_one() { # NAME PIDFILE
  if alive "$2"; then
    local pid
    pid=$(cat "$2")
    say "stopping $1 (pid $pid)"
    kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    say "$1 (pid $pid) still runs after 10 s: SIGKILL"
    kill -9 "$pid" 2>/dev/null || true
  fi
}

case ${1:-start} in
  start)
    [[ $(id -u) == 0 ]] || die "run it as root (it installs packages and starts daemons)"
    install
    write_conf
    start_munge
    start_slurm
    wait_idle
    ;;
  stop)
    stop_one slurmd "$SLURMD_PID"
    stop_one slurmctld "$CTLD_PID"
    stop_one munged "$MUNGE_PID"
    ;;
  status)
    if alive "$CTLD_PID"; then sinfo; else say "not running"; exit 1; fi
    ;;
  *)
    echo "usage: $0 [start|stop|status]" >&2
    exit 2
    ;;
esac
