#!/usr/bin/env bash
# Run a stratbox grid as N = 4 shards of a Slurm job array, then merge them. Submit it from the
# directory the results should go to, with `stratbox` on the PATH (sbatch passes the submitting
# shell's environment to the tasks):
#
#   jobid=$(sbatch --parsable deploy/slurm-array.sh)     # tasks 0..3 write results/shard-K.parquet
#   sbatch --dependency=afterok:$jobid --wrap \
#     'stratbox merge results/shard-*.parquet --output results/results.parquet'
#
# Arguments after the script's name go to `stratbox discover` (`--grid FILE`, `--data FILE...`,
# `--batch-size N`...; not --shard, --jobs or --output, which are set here); give every task of a
# run the same ones. A task runs --cpus-per-task batches at once (2 here; `sbatch
# --cpus-per-task=8 deploy/slurm-array.sh` for more).
#
# Task K's log is slurm-<jobid>_K.out in the submit directory: Slurm opens it before the script
# runs, so it cannot be in a folder that the script creates (results/ does not exist yet).
# stratbox reads K from SLURM_ARRAY_TASK_ID, so the array must be 0..N-1; to change N, change
# --array below and N together.
#
# A task that fails, is cancelled (scancel <jobid>_K) or is killed keeps the batches it finished
# in results/shard-K.parquet.parts/, and the merge waiting on the array never runs (squeue says
# DependencyNeverSatisfied; scancel it). Run that index again with the same arguments: it
# resumes from there ("Resuming: M batches already done by an earlier run" in its log). Then
# merge after it:
#
#   jobid=$(sbatch --parsable --array=K deploy/slurm-array.sh)
#   sbatch --dependency=afterok:$jobid --wrap \
#     'stratbox merge results/shard-*.parquet --output results/results.parquet'
#
# Checked on a one-node cluster (deploy/slurm-local.sh starts one): .ci/slurm-test.sh runs these
# commands and compares the merged file with a single run's, byte for byte.
#SBATCH --job-name=stratbox
#SBATCH --array=0-3
#SBATCH --cpus-per-task=2
#SBATCH --mem=3G
#SBATCH --time=00:30:00
#SBATCH --output=slurm-%A_%a.out
set -euo pipefail
N=4
mkdir -p results
srun stratbox discover --shard "$N" --jobs "${SLURM_CPUS_PER_TASK:-2}" --progress lines \
  --output "results/shard-${SLURM_ARRAY_TASK_ID}.parquet" "$@"
