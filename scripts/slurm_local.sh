#!/usr/bin/env bash
# A real single-node Slurm for tests, started without systemd and stopped by PID.
#
#   scripts/slurm_local.sh install        # Debian's slurm-wlm and munge (apt), when missing
#   scripts/slurm_local.sh start DIR      # munged, slurmctld, slurmd; config and state in DIR
#   scripts/slurm_local.sh stop DIR
#
# After `start`, point Slurm's commands at the cluster with `export SLURM_CONF=DIR/slurm.conf`.
# Everything lives in DIR (config, state, logs, PIDs, munge's key and socket), so nothing of the
# machine's own Slurm or munge is touched.
set -euo pipefail

cmd=${1:?usage: slurm_local.sh install|start DIR|stop DIR}

if [ "$cmd" = install ]; then
    if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
    fi
    exit 0
fi

dir=${2:?usage: slurm_local.sh start|stop DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

stop_pid() { # PIDFILE
    if [ -f "$1" ]; then
        local pid
        pid=$(cat "$1")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
        rm -f "$1"
    fi
}

if [ "$cmd" = stop ]; then
    stop_pid "$dir/slurmd.pid"
    stop_pid "$dir/slurmctld.pid"
    stop_pid "$dir/munge/munged.pid"
    exit 0
fi

[ "$cmd" = start ] || { echo "slurm_local.sh: unknown command $cmd" >&2; exit 2; }

host=$(hostname -s)
cpus=$(nproc)
mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512 ))

# munge: its own key (munged refuses a key other users can read: mode 0400) and socket, run
# as the munge user (it refuses to run as root).
chmod 0755 "$dir" # munged runs as its own user
mkdir -p "$dir/munge"
if [ ! -f "$dir/munge/munge.key" ]; then
    head -c 1024 /dev/urandom > "$dir/munge/munge.key"
fi
chown -R munge:munge "$dir/munge"
chmod 0700 "$dir/munge"
chmod 0400 "$dir/munge/munge.key"
runuser -u munge -- munged --key-file="$dir/munge/munge.key" \
    --socket="$dir/munge/munge.socket" --pid-file="$dir/munge/munged.pid" \
    --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed" --force
# Slurm's daemons and commands (root) reach the socket through the folder.
chmod 0755 "$dir/munge"

mkdir -p "$dir/state" "$dir/spool"
cat > "$dir/slurm.conf" <<EOF
ClusterName=wildfer-test
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldPort=6917
SlurmdPort=6918
# No cgroups: nothing left behind in the machine's cgroup tree.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
# A job whose dependency can never be met (afterok on a failed job) is cancelled, not left
# pending forever.
DependencyParameters=kill_invalid_depend
# Finished jobs stay visible to scontrol long enough to check their state.
MinJobAge=600
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF

export SLURM_CONF="$dir/slurm.conf"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF" -N "$host"
for _ in $(seq 100); do
    if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
        exit 0
    fi
    sleep 0.2
done
echo "slurm_local.sh: the node did not come up; logs in $dir" >&2
tail -5 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
exit 1
