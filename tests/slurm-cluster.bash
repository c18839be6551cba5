# A private single-node Slurm for tests/slurm.bats (../shared/SLURM-NOTES.md
# has the facts behind each setting): munged, slurmctld and slurmd in the
# foreground, children of the test, all their state under one fresh
# directory, on ports nobody listens on; stopped by PID.
#   slurm_start DIR   sets SLURM_CONF (exported) and SLURM_PIDS
#   slurm_stop DIR

# slurm_missing: why a Slurm cannot be had here, or nothing.
slurm_missing() {
	local c
	for c in munged slurmctld slurmd sbatch scontrol squeue sinfo; do
		command -v "$c" >/dev/null ||
			{ echo "$c is not installed (Debian: slurmctld slurmd slurm-client munge; tests/deps.sh)"; return; }
	done
	[ "$(id -u)" = 0 ] || echo "the Slurm daemons of the test run as root"
}

# A TCP port nobody listens on (/proc/net/tcp*: state 0A is LISTEN).
free_port() {
	local p used="" _n addr _r st _rest
	while read -r _n addr _r st _rest; do
		[ "$st" = 0A ] && used+="$((16#${addr##*:}))"$'\n'
	done < <(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null)
	for _ in $(seq 100); do
		p=$((20000 + RANDOM % 30000))
		grep -qx "$p" <<<"$used" || { echo "$p"; return; }
	done
	return 1
}

slurm_start() {
	local d=$1 host mem port1 port2 i
	host=$(hostname -s)
	mkdir -p "$d"/{munge,spool,state,log}
	chmod 755 "$d" "$d/munge"
	head -c 1024 /dev/urandom >"$d/munge/key"
	chmod 400 "$d/munge/key"
	port1=$(free_port) && port2=$(free_port) || return 1
	[ "$port1" != "$port2" ] || port2=$((port1 + 1))
	# Memory for jobs: what is free, less 1 GiB for everything else.
	mem=$(awk '/MemAvailable/ { m = int($2 / 1024) - 1024; print (m > 1024 ? m : 1024) }' /proc/meminfo)
	cat >"$d/slurm.conf" <<-EOF
	ClusterName=ckpttest
	SlurmctldHost=$host(127.0.0.1)
	SlurmctldPort=$port1
	SlurmdPort=$port2
	AuthType=auth/munge
	CredType=cred/munge
	AuthInfo=socket=$d/munge/socket,cred_expire=5
	SlurmUser=root
	SlurmdUser=root
	StateSaveLocation=$d/state
	SlurmdSpoolDir=$d/spool
	SlurmctldPidFile=$d/slurmctld.pid
	SlurmdPidFile=$d/slurmd.pid
	SlurmctldLogFile=$d/log/slurmctld.log
	SlurmdLogFile=$d/log/slurmd.log
	ProctrackType=proctrack/linuxproc
	TaskPlugin=task/none
	SelectType=select/cons_tres
	SchedulerType=sched/backfill
	SchedulerParameters=sched_interval=2,bf_interval=2
	MpiDefault=none
	SwitchType=switch/none
	AccountingStorageType=accounting_storage/none
	JobAcctGatherType=jobacct_gather/none
	JobCompType=jobcomp/none
	MailProg=/bin/true
	JobRequeue=1
	ReturnToService=2
	KillWait=10
	PreemptType=preempt/partition_prio
	PreemptMode=REQUEUE
	NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$mem State=UNKNOWN
	PartitionName=low Nodes=$host Default=YES PriorityTier=1 PreemptMode=REQUEUE GraceTime=0 MaxTime=INFINITE State=UP
	PartitionName=high Nodes=$host PriorityTier=10 PreemptMode=OFF MaxTime=INFINITE State=UP
	EOF
	export SLURM_CONF=$d/slurm.conf
	SLURM_PIDS=()
	munged -F --key-file="$d/munge/key" --socket="$d/munge/socket" --pid-file="$d/munge/pid" \
		--log-file="$d/log/munged.log" --seed-file="$d/munge/seed" </dev/null >>"$d/log/munged.out" 2>&1 &
	SLURM_PIDS+=($!)
	for i in $(seq 100); do [ -S "$d/munge/socket" ] && break; sleep 0.1; done
	slurmctld -D -f "$SLURM_CONF" </dev/null >>"$d/log/slurmctld.out" 2>&1 &
	SLURM_PIDS+=($!)
	slurmd -D -f "$SLURM_CONF" </dev/null >>"$d/log/slurmd.out" 2>&1 &
	SLURM_PIDS+=($!)
	echo "${SLURM_PIDS[*]}" >"$d/pids"
	for i in $(seq 300); do
		sinfo -h -o %T 2>/dev/null | grep -q '^idle' && return 0
		sleep 0.1
	done
	echo "the private Slurm did not come up; its logs:" >&2
	tail -n 20 "$d"/log/* >&2
	return 1
}

slurm_stop() {
	local d=$1 p i
	[ -r "$d/pids" ] || return 0
	# Jobs first (their processes are slurmstepd's, not ours), then the daemons.
	scancel --full -u root 2>/dev/null
	for i in $(seq 150); do
		[ -z "$(squeue -h 2>/dev/null)" ] && break
		sleep 0.1
	done
	for p in $(cat "$d/pids"); do kill -TERM "$p" 2>/dev/null; done
	for p in $(cat "$d/pids"); do
		for i in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -f "$d/pids"
}
