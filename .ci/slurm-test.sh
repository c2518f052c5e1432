#!/usr/bin/env bash
# CI: the Slurm recipe (deploy/slurm-array.sh) on a real one-node Slurm cluster, as the README
# documents it, from a fresh directory.
#
#   .ci/slurm-test.sh path/to/stratbox          # or STRATBOX=path/to/stratbox .ci/slurm-test.sh
#
# 1. deploy/slurm-local.sh starts the cluster (installing slurm-wlm and munge if missing).
# 2. The array and the merge are submitted exactly as documented; the merged file must be
#    byte-identical (cmp) to one `stratbox discover` of the same grid.
# 3. Again with smaller batches on one CPU per task (so a task runs long enough to be caught):
#    task K is cancelled (scancel) once it has saved 3 batches, the merge waiting on the
#    array must never run, then index K alone is submitted again; its log must say
#    "Resuming: M batches already done" with M > 0 and the merge must be byte-identical again.
# The daemons are stopped at the end, whatever happened. Every wait is bounded
# (SLURM_TEST_TIMEOUT seconds each, default 300). Run as root (it starts daemons).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-${STRATBOX:-}}
timeout=${SLURM_TEST_TIMEOUT:-300}
K=1 # the task that is cancelled and resubmitted

passed=0
failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
# The end of each task log in this directory, for a failure's reader.
show_logs() {
  local f
  for f in slurm-*.out; do
    [[ -e $f ]] || continue
    echo "--- $PWD/$f (end)"
    tail -5 "$f"
  done
}
# A failure after which nothing else can be checked.
abort() {
  fail "$*"
  show_logs
  exit 1
}
log() { echo "slurm-test: $*"; }

[[ -n $bin && -x $bin ]] || abort "give the stratbox binary: $0 path/to/stratbox (or STRATBOX=...)"
bin=$(realpath "$bin")
# The tasks find stratbox on the PATH, as the README says (sbatch passes the environment on).
PATH="$(dirname "$bin"):$PATH"
export PATH

work=$(mktemp -d /tmp/stratbox-slurm-test.XXXXXX)
# A cache of compiled components and parsed data of this test only, shared by its tasks.
export STRATBOX_CACHE_DIR="$work/cache"
jobs_submitted=()

finish() {
  local status=$?
  trap - EXIT
  if ((${#jobs_submitted[@]})); then scancel "${jobs_submitted[@]}" 2>/dev/null || true; fi
  "$repo/deploy/slurm-local.sh" stop || true
  if ((failed)) || ((status)); then
    log "kept $work for a look (slurm-*.out are the tasks' logs; /var/log/slurm/ the daemons')"
  else
    rm -rf "$work"
  fi
  echo "slurm: $passed passed, $failed failed"
  ((failed == 0 && status == 0)) || exit 1
}
trap finish EXIT

# Every state of job ID's tasks, one a line ("" once Slurm has forgotten it).
states() { squeue -h --states=all -j "$1" -o %T 2>/dev/null || true; }
terminal() { [[ $1 =~ ^(COMPLETED|FAILED|CANCELLED|TIMEOUT|OUT_OF_MEMORY|NODE_FAIL|BOOT_FAIL|DEADLINE|PREEMPTED)$ ]]; }

# Waits until every task of job ID has ended; fails on any state but COMPLETED, and when a job
# waits on a dependency that can no longer be met.
wait_done() { # ID WHAT
  local deadline=$((SECONDS + timeout)) s all_done reason
  while ((SECONDS < deadline)); do
    all_done=1
    while read -r s; do
      [[ -n $s ]] || continue
      terminal "$s" || all_done=0
    done < <(states "$1")
    if ((all_done)) && [[ -n "$(states "$1")" ]]; then
      if states "$1" | grep -qv '^COMPLETED$'; then
        squeue -h --states=all -j "$1" -o '%i %T %r'
        return 1
      fi
      return 0
    fi
    reason=$(squeue -h -j "$1" -o %r 2>/dev/null | sort -u)
    if [[ $reason == *DependencyNeverSatisfied* ]]; then
      log "$2 ($1) waits on a dependency that failed"
      return 1
    fi
    sleep 1
  done
  log "$2 ($1) not done after ${timeout}s:"
  squeue -h --states=all -j "$1" -o '%i %T %r'
  return 1
}

# The commands of the README (with the script's path from anywhere); the job id goes to $job.
submit_array() { # [SBATCH-OPTIONS...] -- [STRATBOX-ARGS...]
  local opts=()
  while [[ $1 != -- ]]; do opts+=("$1"); shift; done
  shift
  job=$(sbatch --parsable "${opts[@]}" "$repo/deploy/slurm-array.sh" "$@") || return 1
  jobs_submitted+=("$job")
}
submit_merge() { # ARRAY-JOB-ID
  job=$(sbatch --parsable --dependency="afterok:$1" --wrap \
    'stratbox merge results/shard-*.parquet --output results/results.parquet') || return 1
  jobs_submitted+=("$job")
}

log "stratbox: $bin"
log "work directory: $work"
t0=$SECONDS
"$repo/deploy/slurm-local.sh" || abort "deploy/slurm-local.sh could not start the cluster"
pass "one-node cluster up in $((SECONDS - t0))s"

# The reference: one run of the whole grid, no Slurm.
t=$SECONDS
mkdir -p "$work/single"
(cd "$work/single" && stratbox discover --quiet --output reference.parquet >discover.log 2>&1) ||
  abort "the single run (stratbox discover) failed: $(tail -5 "$work/single/discover.log")"
ref="$work/single/reference.parquet"
log "single run: $((SECONDS - t))s"

# --- 1. As documented, from a fresh directory -------------------------------------------------
mkdir "$work/grid" && cd "$work/grid"
t=$SECONDS
submit_array -- || abort "sbatch refused the array"
array=$job
submit_merge "$array" || abort "sbatch refused the merge"
merge=$job
log "array $array, merge $merge"
if wait_done "$array" "the array" && wait_done "$merge" "the merge"; then
  pass "array of 4 shards and the merge completed in $((SECONDS - t))s"
  if cmp results/results.parquet "$ref"; then
    pass "merged file is byte-identical to the single run's"
  else
    fail "merged file differs from the single run's"
  fi
else
  fail "the array or the merge did not complete"
  show_logs
fi

# --- 2. A task cancelled mid-run and resubmitted resumes ---------------------------------------
mkdir "$work/resume" && cd "$work/resume"
slow=(--batch-size 50 --copy-columns)
t=$SECONDS
submit_array --cpus-per-task=1 -- "${slow[@]}" || abort "sbatch refused the array"
array=$job
submit_merge "$array" || abort "sbatch refused the merge"
merge=$job
log "array $array (--cpus-per-task=1 ${slow[*]}), merge $merge"
parts=results/shard-$K.parquet.parts
deadline=$((SECONDS + timeout))
caught=0
while ((SECONDS < deadline)); do
  state=$(states "${array}_$K")
  if [[ $state == RUNNING ]] && (($(compgen -G "$parts/batch-*.bin" | wc -l) >= 3)); then
    scancel "${array}_$K"
    caught=1
    break
  fi
  terminal "${state:-PENDING}" && break
  sleep 0.2
done
if ((!caught)); then
  [[ $state == COMPLETED ]] && state="COMPLETED: too fast, slow it down more"
  abort "task ${array}_$K was not caught running with 3 saved batches (it ended ${state:-?})"
fi
wait_done "${array}_$K" "task $K" >/dev/null || true
state=$(states "${array}_$K")
saved=$(compgen -G "$parts/batch-*.bin" | wc -l)
if [[ $state == CANCELLED && ! -e results/shard-$K.parquet ]] && ((saved > 0)); then
  pass "task ${array}_$K cancelled mid-run with $saved batches saved"
else
  abort "task ${array}_$K: state $state, $saved batches saved, shard file there: $([[ -e results/shard-$K.parquet ]] && echo yes || echo no)"
fi
wait_done "$array" "the rest of the array" >/dev/null || true
for k in 0 1 2 3; do
  [[ $k == "$K" ]] && continue
  [[ "$(states "${array}_$k")" == COMPLETED ]] || fail "task ${array}_$k did not complete"
done
# slurmctld marks the dependency as never satisfied on its next scheduling pass, which may come
# a few seconds after the cancelled task ends: wait for it (bounded).
for _ in $(seq 30); do
  reason=$(squeue -h -j "$merge" -o %r 2>/dev/null || true)
  [[ $reason == DependencyNeverSatisfied ]] && break
  sleep 1
done
if [[ ($reason == DependencyNeverSatisfied || $reason == Dependency) && ! -e results/results.parquet ]]; then
  pass "the merge waiting on the array does not run (${reason})"
  scancel "$merge"
else
  fail "the merge waiting on the cancelled array: reason '${reason}', results.parquet there: $([[ -e results/results.parquet ]] && echo yes || echo no)"
fi

submit_array --array=$K --cpus-per-task=1 -- "${slow[@]}" || abort "sbatch refused task $K"
again=$job
submit_merge "$again" || abort "sbatch refused the merge"
merge=$job
log "task $K again: job $again, merge $merge"
if wait_done "$again" "task $K again" && wait_done "$merge" "the merge"; then
  pass "task $K resubmitted and the merge completed in $((SECONDS - t))s (whole resume check)"
else
  abort "the resubmitted task or its merge did not complete"
fi
resumed=$(grep -o 'Resuming: [0-9]* batches already done.*' "slurm-${again}_$K.out" || true)
n=$(grep -o '[0-9]\+' <<<"$resumed" | head -1)
if [[ -n $n ]] && ((n > 0)); then
  pass "slurm-${again}_$K.out says \"$resumed\""
  ((n == saved)) || fail "it resumed $n batches, but $saved were saved"
else
  fail "slurm-${again}_$K.out does not say it resumed (\"Resuming: N batches already done\", N > 0)"
fi
if cmp results/results.parquet "$ref"; then
  pass "merged file after the resume is byte-identical to the single run's"
else
  fail "merged file after the resume differs from the single run's"
fi
log "total $((SECONDS - t0))s"
