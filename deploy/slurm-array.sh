#!/usr/bin/env bash
# Run the default stratbox grid as N shards of a Slurm job array, then merge.
#
#   sbatch deploy/slurm-array.sh                 # N = 4 shards, tasks 0..3
#   sbatch --dependency=afterok:<jobid> --wrap \
#     'stratbox merge results/shard-*.parquet --output results/results.parquet'
#
# stratbox reads the shard index K from SLURM_ARRAY_TASK_ID, so the array must run 0..N-1.
# A task that is requeued or rerun resumes from its checkpoint (results/shard-K.parquet.parts).
#SBATCH --job-name=stratbox
#SBATCH --array=0-3
#SBATCH --cpus-per-task=2
#SBATCH --mem=3G
#SBATCH --time=00:30:00
#SBATCH --output=results/slurm-%A_%a.out
set -euo pipefail
N=4
mkdir -p results
srun stratbox discover --shard "$N" --jobs "${SLURM_CPUS_PER_TASK:-2}" --progress lines \
  --output "results/shard-${SLURM_ARRAY_TASK_ID}.parquet"
