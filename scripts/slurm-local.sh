#!/usr/bin/env bash
# A single-node Slurm (Debian's slurm-wlm + munge) for the cluster tests, started as root without systemd.
#   bash scripts/slurm-local.sh start DIR   # munged, slurmctld, slurmd under DIR; prints SLURM_CONF=…
#   bash scripts/slurm-local.sh stop DIR    # stops exactly the daemons it started (by their PIDs)
# Pitfalls it handles: munged refuses a socket folder without o+x; clients need SLURM_CONF.
set -euo pipefail
cmd=${1:?start or stop}; D=${2:?state folder}
D=$(mkdir -p "$D" && cd "$D" && pwd)
stop() {
  for p in slurmd slurmctld; do
    [ -s "$D/$p.pid" ] && kill "$(cat "$D/$p.pid")" 2>/dev/null || true
  done
  [ -s "$D/munge/munged.pid" ] && kill "$(cat "$D/munge/munged.pid")" 2>/dev/null || true
  for p in slurmd slurmctld munge/munged; do
    for _ in $(seq 1 50); do
      { [ -s "$D/$p.pid" ] && kill -0 "$(cat "$D/$p.pid")" 2>/dev/null; } || break
      sleep 0.1
    done
    [ -s "$D/$p.pid" ] && kill -9 "$(cat "$D/$p.pid")" 2>/dev/null || true
    rm -f "$D/$p.pid"
  done
}
if [ "$cmd" = stop ]; then stop; exit 0; fi
# Daemons must not inherit the caller's descriptors: a parent that watches a pipe or socket for its child's exit
# (Foundation's Process does) would wait for the daemons too.
for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null; done
[ "$(id -u)" -eq 0 ] || { echo "slurm-local: needs root (slurmd runs jobs as their user)" >&2; exit 3; }
for b in munged slurmctld slurmd sbatch; do
  command -v "$b" >/dev/null || { echo "slurm-local: $b missing (apt-get install slurm-wlm munge)" >&2; exit 3; }
done
mkdir -p "$D"/{munge,state,spool,log}
chown munge:munge "$D/munge"; chmod 0755 "$D/munge"
[ -s /etc/munge/munge.key ] || mungekey --create
cat > "$D/slurm.conf" <<CONF
ClusterName=ablatetest
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$D/munge/munge.socket.2
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
KillWait=10
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$D/slurm.conf
runuser -u munge -- munged --socket="$D/munge/munge.socket.2" --pid-file="$D/munge/munged.pid" \
  --log-file="$D/munge/munged.log" --seed-file="$D/munge/munged.seed" < /dev/null > /dev/null 2>&1
setsid slurmctld -D -f "$SLURM_CONF" > "$D/log/ctld.out" 2>&1 < /dev/null &
setsid slurmd -D -N localhost -f "$SLURM_CONF" > "$D/log/d.out" 2>&1 < /dev/null &
for _ in $(seq 1 60); do sinfo -h -o %T 2>/dev/null | grep -q idle && break; sleep 0.5; done
sinfo -h -o %T | grep -q idle || { echo "slurm-local: the node did not come up; see $D/log" >&2; stop; exit 1; }
echo "SLURM_CONF=$SLURM_CONF"
