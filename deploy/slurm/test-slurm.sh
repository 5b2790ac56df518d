#!/usr/bin/env bash
# Tests deploy/slurm/ on a real Slurm cluster made on this machine for the duration:
# Debian's slurm-wlm and munge (installed with apt-get when missing), a munge key, munged,
# one slurmctld and three slurmd daemons standing for three nodes (oni1 with a GPU entry,
# oni2, oni3) in a temporary directory, then
#   (a) oni-one-node.sbatch runs a short training run to the end: COMPLETED, exit 0, the env
#       step budget reached and the policy updated;
#   (b) oni-one-node.sbatch with CURVE is sent USR1 mid-run (what --signal=B:USR1@120 does
#       before a time limit): it stops oni run, requeues itself, resumes from its checkpoint,
#       goes on updating the policy and finishes;
#   (c) oni-hetjob.sbatch, three components on three nodes (llama-server and oni-annotator,
#       oni-learner, two oni-workers) with CURVE, is requeued the same way mid-run, resumes
#       and finishes; with the local LLM installed (deploy/setup-llm.sh) the requeue waits
#       for the first label, which the resumed learner keeps; without it (or with
#       ONI_TEST_HET_LLM=none) it runs without annotation.
# Every daemon it started is stopped on exit. Needs root (it installs packages and runs the
# daemons). About 4-5 minutes on 2 cores with a debug build, 2-3 with a release build.
#
#   ONI_BIN                directory of the oni executables (default: .build/debug)
#   ONI_TEST_KEEP=1        keep the temporary directory (kept anyway when a check fails)
#   ONI_TEST_HET_LLM       llama or none (default: llama when installed, else none)
#   ONI_TEST_SLURM_PORT    slurmctld's port; the slurmds take the next three (default 16817)
# No `set -e`: the checks below look at commands that may fail; setup steps check for themselves.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
repo=$PWD
started=$SECONDS

failures=0
pass() { echo "PASS: $*"; }
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}
note() { echo "test-slurm: $*"; }
die() {
  echo "FAIL: $*"
  exit 1
}

[[ $(id -u) == 0 ]] || die "run as root: it installs slurm-wlm and munge and starts their daemons"
bin=$(cd "${ONI_BIN:-.build/debug}" 2>/dev/null && pwd) || die "no directory ${ONI_BIN:-.build/debug}: build first (swift build), or set ONI_BIN"
for exe in oni oni-learner oni-worker oni-annotator; do
  [[ -x $bin/$exe ]] || die "no $bin/$exe: build first (swift build), or set ONI_BIN"
done

# --- Slurm and munge -------------------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null \
  || ! command -v munged >/dev/null; then
  note "installing slurm-wlm and munge with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt_log=$(mktemp)
  if ! { apt-get update -qq && apt-get install -y -qq slurm-wlm munge; } >"$apt_log" 2>&1; then
    tail -n 20 "$apt_log"
    die "apt-get install slurm-wlm munge failed"
  fi
  rm -f "$apt_log"
fi
note "$(dpkg-query -W -f '${Package} ${Version}' slurm-wlm 2>/dev/null) on $(. /etc/os-release && echo "$PRETTY_NAME"), $(nproc) cores"

work=$(mktemp -d /tmp/oni-slurm-test.XXXXXX) || die "mktemp failed"
chmod 755 "$work"
pids=()
munged_started=0

cleanup() {
  local status=$?
  set +e
  if [[ -n ${SLURM_CONF:-} && -f ${SLURM_CONF:-} ]] && ((${#pids[@]})); then
    # Jobs first, so their processes end while slurmd still tracks them.
    scancel --user=root >/dev/null 2>&1
    for _ in $(seq 1 30); do
      [[ -z $(squeue -h -o %A 2>/dev/null) ]] && break
      sleep 1
    done
  fi
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  if ((munged_started)) && [[ -f /run/munge/munged.pid ]]; then
    kill -TERM "$(cat /run/munge/munged.pid)" 2>/dev/null
  fi
  if ((status != 0 || failures != 0)) || [[ ${ONI_TEST_KEEP:-0} == 1 ]]; then
    echo "test-slurm: kept $work (slurm.conf, daemon logs in log/, job output and run directories)"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

# A munge key (the package makes one; an image may come without) and munged, as the munge user.
if [[ ! -s /etc/munge/munge.key ]]; then
  note "creating /etc/munge/munge.key"
  mkdir -p /etc/munge
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none || die "cannot write /etc/munge/munge.key"
fi
chown munge:munge /etc/munge/munge.key
chmod 400 /etc/munge/munge.key
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  mkdir -p /run/munge /var/lib/munge /var/log/munge
  chown munge:munge /run/munge /var/lib/munge /var/log/munge
  chmod 755 /run/munge
  runuser -u munge -- munged || die "munged did not start"
  munged_started=1
  for _ in $(seq 1 20); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.5; done
  munge -n | unmunge >/dev/null || die "munged does not answer"
fi
pass "munge works"

# --- a three-node cluster on this machine ----------------------------------------------------
host=$(hostname -s)
ctld_port=${ONI_TEST_SLURM_PORT:-16817}
for port in "$ctld_port" $((ctld_port + 1)) $((ctld_port + 2)) $((ctld_port + 3)); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "port $port is taken (a Slurm left running?); set ONI_TEST_SLURM_PORT"
  fi
done
mkdir -p "$work/etc" "$work/state" "$work/log" "$work/spool/oni1" "$work/spool/oni2" "$work/spool/oni3"
export SLURM_CONF=$work/etc/slurm.conf
# Three slurmd daemons on one machine stand for three nodes: a heterogeneous job's components
# are placed by the backfill scheduler, which plans whole nodes, so they never share one.
# Each node claims 4 CPUs whatever the machine has (SlurmdParameters=config_overrides) and oni1
# a GPU entry with no device behind it, so the scripts' resource requests fit as written.
# The short cred_expire lets a requeued job start again after 10 s instead of 120 s, and
# sched_interval=2 lets the main scheduler notice within seconds.
cat >"$SLURM_CONF" <<EOF
ClusterName=onitest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=cred_expire=10
CredType=cred/munge
MailProg=/bin/true
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool/%n
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd-%n.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=1,sched_interval=2
MpiDefault=none
ReturnToService=2
MinJobAge=3600
KillWait=30
InactiveLimit=0
SlurmdParameters=config_overrides
GresTypes=gpu
NodeName=oni1 NodeHostname=$host NodeAddr=127.0.0.1 Port=$((ctld_port + 1)) CPUs=4 RealMemory=4000 Gres=gpu:1 State=UNKNOWN
NodeName=oni2 NodeHostname=$host NodeAddr=127.0.0.1 Port=$((ctld_port + 2)) CPUs=4 RealMemory=4000 State=UNKNOWN
NodeName=oni3 NodeHostname=$host NodeAddr=127.0.0.1 Port=$((ctld_port + 3)) CPUs=4 RealMemory=4000 State=UNKNOWN
PartitionName=debug Nodes=oni[1-3] Default=YES MaxTime=INFINITE State=UP
EOF
echo "NodeName=oni1 Name=gpu File=/dev/null" >"$work/etc/gres.conf"

slurmctld -D >"$work/log/slurmctld.out" 2>&1 &
pids+=($!)
for node in oni1 oni2 oni3; do
  slurmd -D -N "$node" >"$work/log/slurmd-$node.out" 2>&1 &
  pids+=($!)
done
for _ in $(seq 1 60); do
  [[ $(sinfo -h -N -o '%T' 2>/dev/null | grep -c '^idle$') == 3 ]] && break
  sleep 1
done
if [[ $(sinfo -h -N -o '%T' 2>/dev/null | grep -c '^idle$') != 3 ]]; then
  sinfo -N 2>&1 || true
  tail -5 "$work/log/slurmctld.out" "$work/log"/slurmd-*.out
  die "the nodes did not come up idle"
fi
pass "slurmctld and three slurmd up, nodes idle: $(sinfo -h -N -o '%N' | paste -sd, -) ($((SECONDS - started)) s)"

# --- helpers ---------------------------------------------------------------------------------
job_field() { scontrol show job "$1" 2>/dev/null | grep -o "\b$2=[^ ]*" | head -n 1 | cut -d= -f2; }
job_state() { job_field "$1" JobState; }
final_state() {
  case $1 in
    COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | PREEMPTED | BOOT_FAIL | DEADLINE) return 0 ;;
    *) return 1 ;;
  esac
}
# Waits for job $1 to end, at most $2 seconds; prints its last state.
# A requeued job may start again only cred_expire seconds after the requeue, and heterogeneous
# jobs are started by the backfill scheduler alone, which runs only after something changed
# (a job, node, partition or reservation): on this otherwise idle cluster a requeued hetjob
# would wait for the next event. A no-op update of the job is that event once it is eligible.
wait_job() {
  local id=$1 deadline=$((SECONDS + $2)) state eligible
  while ((SECONDS < deadline)); do
    state=$(job_state "$id")
    if final_state "$state"; then
      echo "$state"
      return 0
    fi
    if [[ $state == PENDING ]]; then
      eligible=$(date -d "$(job_field "$id" EligibleTime)" +%s 2>/dev/null || echo 0)
      if ((eligible > 0 && $(date +%s) > eligible + 2)); then
        scontrol update JobId="$id" Nice=0 >/dev/null 2>&1
      fi
    fi
    sleep 2
  done
  job_state "$id"
}
# The last metrics snapshot's value of $2 in run directory $1 (0 if none).
metric() {
  local value
  value=$(tail -n 1 "$1/metrics.jsonl" 2>/dev/null | grep -o "\"$2\":[0-9.e+-]*" | head -n 1 | cut -d: -f2)
  printf '%.0f\n' "${value:-0}"
}
env_steps() {
  local value
  value=$(tail -n 1 "$1/metrics.jsonl" 2>/dev/null | grep -o '"env_steps":[0-9]*' | cut -d: -f2)
  echo "${value:-0}"
}
# Waits until run directory $1 has $2 env steps (while job $3 runs), at most $4 seconds.
wait_steps() {
  local deadline=$((SECONDS + $4))
  while ((SECONDS < deadline)); do
    (($(env_steps "$1") >= $2)) && return 0
    final_state "$(job_state "$3")" && return 1
    sleep 1
  done
  return 1
}
# Waits until run directory $1's learner holds a label (while job $2 runs), at most $3 seconds.
wait_labelled() {
  local deadline=$((SECONDS + $3))
  while ((SECONDS < deadline)); do
    (($(metric "$1" messages/labelled) > 0)) && return 0
    final_state "$(job_state "$2")" && return 1
    sleep 1
  done
  return 1
}
show_failure() {
  local out=$1 run=$2
  echo "---- $out (last lines)"
  tail -n 25 "$out" 2>/dev/null
  for log in "$run"/logs/*.log; do
    [[ -f $log ]] || continue
    echo "---- $log (last lines)"
    tail -n 8 "$log"
  done
}
# Checks job $1 ended COMPLETED with exit 0, its run directory $2 reached $3 env steps and
# the policy was updated; $4 names the case.
check_finished() {
  local id=$1 run=$2 budget=$3 name=$4 state exit_code steps version
  state=$(job_state "$id")
  exit_code=$(job_field "$id" ExitCode)
  steps=$(env_steps "$run")
  version=$(metric "$run" learner/policy_version)
  if [[ $state == COMPLETED && $exit_code == 0:0 ]]; then
    pass "$name: job $id COMPLETED, exit code $exit_code"
  else
    fail "$name: job $id ended $state, exit code $exit_code"
  fi
  if ((steps >= budget && version > 0)); then
    pass "$name: trained to $steps env steps (budget $budget), policy version $version"
  else
    fail "$name: $steps env steps (budget $budget), policy version $version"
  fi
}
# The policy version the learner took back from its checkpoint on its last start ("resumed
# training ... version=N"), and whether it trained past it: a resumed run that only counted
# steps without updating the policy did not really continue.
check_trained_after_resume() {
  local run=$1 name=$2 resumed final
  resumed=$(grep 'resumed training' "$run/logs/learner.log" | grep -o 'version=[0-9]*' | tail -n 1 | cut -d= -f2)
  final=$(metric "$run" learner/policy_version)
  if [[ -n $resumed ]] && ((final > resumed)); then
    pass "$name: the policy went on from version $resumed (checkpoint) to $final after the resume"
  else
    fail "$name: no policy update after the resume (checkpoint version ${resumed:-none}, final $final; learner/rollouts_too_old $(metric "$run" learner/rollouts_too_old))"
  fi
}

curve=
if "$bin/oni" keys generate "$work/curve" >/dev/null 2>&1; then
  curve=$work/curve
else
  note "this build has no 'oni keys': CURVE not tested"
fi

# The runs are small so that a debug build finishes in time: one or two workers of 8 envs,
# rollouts of 16 steps, a small network. Jobs are submitted from $work, which is their
# SLURM_SUBMIT_DIR: output files and run directories go there.
small=(--envs-per-worker 8 --rollout-length 16 --hidden 32 --filters 4 --embedding 4)
submit() { (cd "$work" && sbatch --parsable "$@") | cut -d';' -f1; }

# --- (a) one node, to the end ----------------------------------------------------------------
budget_a=8000
t0=$SECONDS
job_a=$(ONI_BIN=$bin submit "$repo/deploy/slurm/oni-one-node.sbatch" \
  --env grid:keyroom --workers 1 "${small[@]}" --max-env-steps "$budget_a" --llm none)
note "(a) one-node job $job_a submitted: $budget_a env steps, no LLM"
state=$(wait_job "$job_a" 240)
out_a=$work/oni-$job_a.out
run_a=$work/runs/slurm-$job_a
check_finished "$job_a" "$run_a" "$budget_a" "(a) one node"
if [[ -f $out_a ]] && grep -q "oni run: stopped (learner finished)" "$out_a" \
  && [[ -s $run_a/logs/learner.log && -s $run_a/logs/worker-0.log ]]; then
  pass "(a) job output in oni-$job_a.out, role logs in runs/slurm-$job_a/logs ($((SECONDS - t0)) s)"
else
  fail "(a) expected oni-$job_a.out saying the learner finished and role logs in $run_a/logs"
fi
[[ $state == COMPLETED ]] || show_failure "$out_a" "$run_a"

# --- (b) one node, requeued mid-run and resumed ----------------------------------------------
# The requeue cases stop their run after a quarter of its budget; the budgets grow with the
# speed (a) measured so that a release build does not finish before the signal lands.
fps=$(metric "$run_a" env/fps)
budget_b=$((fps * 30 > 12000 ? fps * 30 / 1000 * 1000 : 12000))
mark_b=$((budget_b / 4))
t0=$SECONDS
job_b=$(ONI_BIN=$bin ONI_CURVE_DIR=$curve submit "$repo/deploy/slurm/oni-one-node.sbatch" \
  --env grid:keyroom --workers 1 "${small[@]}" --max-env-steps "$budget_b" --llm none)
out_b=$work/oni-$job_b.out
run_b=$work/runs/slurm-$job_b
note "(b) one-node job $job_b submitted: $budget_b env steps${curve:+, CURVE}; USR1 once it passes $mark_b"
if wait_steps "$run_b" "$mark_b" "$job_b" 180; then
  stopped_at=$(env_steps "$run_b")
  scancel --signal=USR1 --batch "$job_b"
  note "(b) sent USR1 to the batch script at $stopped_at env steps"
  state=$(wait_job "$job_b" 300)
  restarts=$(job_field "$job_b" Restarts)
  check_finished "$job_b" "$run_b" "$budget_b" "(b) requeue"
  resumed_steps=$(grep -o 'resumed_env_steps=[0-9]*' "$run_b/logs/learner.log" | tail -n 1 | cut -d= -f2)
  if [[ $restarts == 1 ]] && grep -q "requeueing job $job_b" "$out_b" && grep -q "resuming $run_b" "$out_b"; then
    pass "(b) job $job_b requeued itself after USR1 (Restarts=$restarts) and its second start resumed $run_b"
  else
    fail "(b) expected Restarts=1 (got '$restarts') and the requeue and resume lines in $out_b"
  fi
  if [[ $(grep -c 'learner started' "$run_b/logs/learner.log") == 2 ]] && ((${resumed_steps:-0} >= mark_b)); then
    pass "(b) the learner came back from its checkpoint at $resumed_steps env steps (stopped at ~$stopped_at) ($((SECONDS - t0)) s)"
  else
    fail "(b) expected two learner starts, the second resuming at >= $mark_b env steps (got ${resumed_steps:-none})"
  fi
  check_trained_after_resume "$run_b" "(b) requeue"
  [[ $state == COMPLETED ]] || show_failure "$out_b" "$run_b"
else
  fail "(b) job $job_b did not reach $mark_b env steps (state $(job_state "$job_b"))"
  show_failure "$out_b" "$run_b"
fi

# --- (c) heterogeneous job: LLM + annotator, learner, workers; requeued and resumed ---------
het_llm=${ONI_TEST_HET_LLM:-}
if [[ -z $het_llm ]]; then
  if [[ -x ${ONI_LLAMA_SERVER:-$HOME/.local/share/oni/llama-server-11434/llama-server} \
    && -f ${ONI_MODEL_DIR:-$HOME/.local/share/oni/models}/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf ]]; then
    het_llm=llama
  else
    het_llm=none
    note "(c) no local LLM (bash deploy/setup-llm.sh installs it): the hetjob runs without annotation"
  fi
fi
# The requeue waits for the LLM's first label, and the LLM server needs ~10 s to load and
# ~30 s to read the few-shot prefix on a core shared with training: the budget is 150 s at
# (a)'s speed, which (c), two workers beside the LLM, runs at 0.6-1x (2.5-4 minutes), so the
# first label (at ~50 s of (a)'s speed here) lands well before the end.
if [[ $het_llm != none ]]; then
  budget_c=$((fps * 150 > 32000 ? fps * 150 / 1000 * 1000 : 32000))
else
  budget_c=$((fps * 60 > 32000 ? fps * 60 / 1000 * 1000 : 32000))
fi
mark_c=$((budget_c / 8))
t0=$SECONDS
# Two workers (component 2's --ntasks after the second ':'); the GPU request stays as written.
job_c=$(ONI_BIN=$bin ONI_LLM=$het_llm ONI_LLM_THREADS=1 ONI_LLM_PORT=$((ctld_port + 40)) \
  ONI_BASE_PORT=$((ctld_port + 30)) ONI_CURVE_DIR=$curve ONI_MAX_ENV_STEPS=$budget_c \
  ONI_ENVS_PER_WORKER=8 ONI_WORKER_ARGS="--rollout-length 16" ONI_ANNOTATOR_ARGS="--annotation-cache $work/annotations.sqlite" \
  submit : : --ntasks=2 "$repo/deploy/slurm/oni-hetjob.sbatch" --hidden 32 --filters 4 --embedding 4)
out_c=$work/oni-het-$job_c.out
run_c=$work/runs/slurm-$job_c
note "(c) hetjob $job_c submitted: LLM $het_llm, 2 workers, $budget_c env steps${curve:+, CURVE}; USR1 once it passes $mark_c$([[ $het_llm == none ]] || echo " and holds a label")"
if wait_steps "$run_c" "$mark_c" "$job_c" 240 && { [[ $het_llm == none ]] || wait_labelled "$run_c" "$job_c" 300; }; then
  # A worker that dies (SIGKILL here) is started again by its task, as a new incarnation.
  if pkill -KILL -f "oni-worker --id worker-1 --run-id $(cat "$run_c/run-id")"; then
    for _ in $(seq 1 60); do grep -q 'restarting it (1 of 5)' "$run_c/logs/worker-1.log" && break; sleep 0.5; done
    if grep -q 'oni-worker worker-1 exited with status 137; restarting it (1 of 5)' "$run_c/logs/worker-1.log"; then
      pass "(c) worker-1, SIGKILLed, was started again by its task"
    else
      fail "(c) expected worker-1's task to restart it after SIGKILL (see $run_c/logs/worker-1.log)"
    fi
  else
    fail "(c) no oni-worker process of worker-1 to kill"
  fi
  placed=$(grep -m 1 -o 'annotator on [^ ]* .*' "$out_c")
  llm_node=$(sed -n 's/.*annotator on \([^ ]*\) .*/\1/p' <<<"$placed")
  learner_node=$(sed -n 's/.*learner on \([^ ]*\) .*/\1/p' <<<"$placed")
  workers_node=$(sed -n 's/.*workers on \([^ ]*\).*/\1/p' <<<"$placed")
  stopped_at=$(env_steps "$run_c")
  labelled_before=$(metric "$run_c" messages/labelled)
  scancel --signal=USR1 --batch "$job_c"
  note "(c) sent USR1 to the batch script at $stopped_at env steps"
  state=$(wait_job "$job_c" 600)
  restarts=$(job_field "$job_c" Restarts)
  check_finished "$job_c" "$run_c" "$budget_c" "(c) hetjob"
  if [[ $llm_node == oni1 && -n $learner_node && -n $workers_node && $learner_node != oni1 \
    && $workers_node != oni1 && $learner_node != "$workers_node" ]]; then
    pass "(c) one node per component: LLM and annotator on $llm_node (the GPU node), learner on $learner_node, workers on $workers_node"
  else
    fail "(c) expected the LLM and annotator on oni1 and the learner and workers on two other nodes: $placed"
  fi
  workers_seen=$(grep -o 'id=worker-[0-9]*' "$run_c/logs/learner.log" | sort -u | paste -sd' ' -)
  if [[ $workers_seen == "id=worker-0 id=worker-1" && -s $run_c/logs/worker-0.log && -s $run_c/logs/worker-1.log ]]; then
    pass "(c) the learner heard from worker-0 and worker-1 (logs worker-0.log, worker-1.log)"
  else
    fail "(c) expected worker-0 and worker-1 at the learner and their logs: $workers_seen"
  fi
  resumed_steps=$(grep -o 'resumed_env_steps=[0-9]*' "$run_c/logs/learner.log" | tail -n 1 | cut -d= -f2)
  if [[ $restarts == 1 && $(grep -c 'learner started' "$run_c/logs/learner.log") == 2 ]] \
    && ((${resumed_steps:-0} >= mark_c)) && grep -q "requeueing job $job_c" "$out_c"; then
    pass "(c) hetjob requeued itself after USR1 (Restarts=$restarts); the learner resumed at $resumed_steps env steps (stopped at ~$stopped_at)"
  else
    fail "(c) expected Restarts=1 (got '$restarts'), two learner starts, the second at >= $mark_c env steps (got ${resumed_steps:-none})"
  fi
  check_trained_after_resume "$run_c" "(c) hetjob"
  if [[ -n $curve ]]; then
    if grep -q "CURVE on" "$run_c/logs/learner.log" && grep -q "CURVE on" "$run_c/logs/worker-0.log"; then
      pass "(c) every role ran with --curve (ONI_CURVE_DIR)"
    else
      fail "(c) expected 'CURVE on' in the learner's and workers' logs"
    fi
  fi
  if [[ $het_llm != none ]]; then
    labelled=$(metric "$run_c" messages/labelled)
    if ((labelled >= labelled_before && labelled > 0)) && grep -q "LLM server ready" "$out_c"; then
      pass "(c) llama-server on oni1 labelled $labelled messages through oni-annotator, $labelled_before before the requeue and kept across it ($((SECONDS - t0)) s)"
    else
      fail "(c) expected the $labelled_before labels from before the requeue and more (messages/labelled = $labelled)"
    fi
  else
    pass "(c) ran without an LLM ($((SECONDS - t0)) s)"
  fi
  [[ $state == COMPLETED ]] || show_failure "$out_c" "$run_c"
else
  fail "(c) hetjob $job_c did not reach $mark_c env steps with a label from the LLM (at $(env_steps "$run_c") env steps, $(metric "$run_c" messages/labelled) labelled, state $(job_state "$job_c"))"
  show_failure "$out_c" "$run_c"
fi

echo "test-slurm: $((SECONDS - started)) s"
if ((failures)); then
  echo "FAIL: $failures check(s) failed"
  exit 1
fi
echo "PASS: deploy/slurm works on Slurm $(sinfo --version | cut -d' ' -f2)"
