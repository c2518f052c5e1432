//! Which batches a run executes: its id range cut into `batch_size` pieces, numbered from 0, and
//! of those only one shard's when sharded.

use std::fmt;
use std::ops::Range;

use super::RunError;

/// Shard `k` of `n` of a run: batch `i` belongs to shard `i % n`, so every shard gets long and
/// short strategies alike. Valid by construction (`k < n`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    k: usize,
    n: usize,
}

impl Shard {
    pub fn new(k: usize, n: usize) -> Result<Shard, String> {
        if n == 0 || k >= n {
            return Err(format!("K must be in 0..N, got K = {k}, N = {n}"));
        }
        Ok(Shard { k, n })
    }

    /// `K/N`, or `N` alone with K from the job-array engine's environment (`env` looks up a
    /// variable): `JOB_COMPLETION_INDEX` (Kubernetes Indexed Job), else `SLURM_ARRAY_TASK_ID`.
    pub fn parse(spec: &str, env: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
        let number = |s: &str, what: &str| -> Result<usize, String> {
            s.trim()
                .parse()
                .map_err(|_| format!("--shard {spec}: {what} {s:?} is not a whole number"))
        };
        let (k, n) = match spec.split_once('/') {
            Some((k, n)) => (number(k, "K")?, number(n, "N")?),
            None => {
                let n = number(spec, "N")?;
                let (var, k) = ["JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID"]
                    .iter()
                    .find_map(|v| env(v).map(|k| (*v, k)))
                    .ok_or_else(|| {
                        format!(
                            "--shard {spec}: give K/N, or set JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID"
                        )
                    })?;
                (number(&k, var)?, n)
            }
        };
        Shard::new(k, n).map_err(|e| format!("--shard {spec}: {e}"))
    }

    pub fn k(&self) -> usize {
        self.k
    }

    pub fn n(&self) -> usize {
        self.n
    }

    /// Whether batch `index` belongs to this shard.
    pub fn owns(&self, index: usize) -> bool {
        index % self.n == self.k
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

/// The id ranges of `total` strategies: `[k*size, (k+1)*size)` clipped to the total.
pub fn batches(total: u64, batch_size: u64) -> Vec<Range<u64>> {
    assert!(batch_size > 0);
    (0..total.div_ceil(batch_size))
        .map(|k| k * batch_size..((k + 1) * batch_size).min(total))
        .collect()
}

/// The numbered batches of strategies `range` of a grid of `grid_size`, cut into `batch_size`
/// pieces, and of those only `shard`'s.
pub fn plan(
    grid_size: u64,
    range: Option<Range<u64>>,
    batch_size: u64,
    shard: Option<Shard>,
) -> Result<Vec<(usize, Range<u64>)>, RunError> {
    let range = range.unwrap_or(0..grid_size);
    if range.start >= range.end || range.end > grid_size {
        return Err(RunError::RangeOutsideGrid { range, grid_size });
    }
    Ok(batches(range.end - range.start, batch_size)
        .into_iter()
        .map(|r| r.start + range.start..r.end + range.start)
        .enumerate()
        .filter(|(i, _)| shard.is_none_or(|s| s.owns(*i)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn shard_specs() {
        assert_eq!(Shard::parse("1/3", env(&[])), Shard::new(1, 3));
        assert_eq!(
            Shard::parse(" 2 / 3 ", env(&[])).map(|s| s.to_string()),
            Ok("2/3".into())
        );
        assert_eq!(
            Shard::parse("4", env(&[("SLURM_ARRAY_TASK_ID", "3")])),
            Shard::new(3, 4)
        );
        // Kubernetes' index wins over Slurm's when both are set.
        assert_eq!(
            Shard::parse(
                "4",
                env(&[("SLURM_ARRAY_TASK_ID", "3"), ("JOB_COMPLETION_INDEX", "1")])
            ),
            Shard::new(1, 4)
        );
        assert_eq!(
            Shard::parse("3/3", env(&[])),
            Err("--shard 3/3: K must be in 0..N, got K = 3, N = 3".into())
        );
        assert_eq!(
            Shard::parse("0/0", env(&[])),
            Err("--shard 0/0: K must be in 0..N, got K = 0, N = 0".into())
        );
        assert_eq!(
            Shard::parse("a/3", env(&[])),
            Err("--shard a/3: K \"a\" is not a whole number".into())
        );
        assert!(
            Shard::parse("3", env(&[]))
                .unwrap_err()
                .contains("JOB_COMPLETION_INDEX")
        );
        assert_eq!(
            Shard::parse("3", env(&[("JOB_COMPLETION_INDEX", "x")])),
            Err("--shard 3: JOB_COMPLETION_INDEX \"x\" is not a whole number".into())
        );
    }

    #[test]
    fn batches_cover_the_range_once_and_shards_partition_them() {
        assert_eq!(batches(10, 4), vec![0..4, 4..8, 8..10]);
        assert_eq!(batches(8, 4), vec![0..4, 4..8]);
        let all = plan(4620, None, 500, None).unwrap();
        assert_eq!(all.len(), 10);
        assert_eq!(all[9], (9, 4500..4620));
        let mut seen: Vec<(usize, Range<u64>)> = (0..3)
            .flat_map(|k| plan(4620, None, 500, Some(Shard::new(k, 3).unwrap())).unwrap())
            .collect();
        seen.sort_by_key(|(i, _)| *i);
        assert_eq!(seen, all);
        assert_eq!(
            plan(4620, None, 500, Some(Shard::new(1, 3).unwrap()))
                .unwrap()
                .iter()
                .map(|(i, _)| *i)
                .collect::<Vec<_>>(),
            vec![1, 4, 7]
        );
        // A worker's range keeps the grid's ids.
        assert_eq!(
            plan(4620, Some(1000..1250), 100, None).unwrap()[2],
            (2, 1200..1250)
        );
        assert!(plan(4620, Some(10..10), 100, None).is_err());
        assert!(plan(4620, Some(4000..5000), 100, None).is_err());
    }
}
