//! The coverage-guided swarm: a hunt that gives more weight to the swarm options whose cases
//! reached new protocol coverage ([`crate::coverage`]).
//!
//! Guidance never changes how a seed becomes a scenario ([`swarm::generate`]); it chooses
//! which seeds the hunt runs, so every case still replays with `writeiter run --swarm SEED`.
//! Case `i` draws [`CANDIDATES`] seeds from its own ChaCha8 stream, reads each one's options
//! ([`swarm::options_of`]: the kinds switched on, the sector size, the mount flags,
//! `i_size`, the actor count) and picks one with probability proportional to the product of
//! the weights of its option values. A value's weight is how many new protocol points the
//! cases with that value brought per case, against the mean over all cases, smoothed
//! ([`PRIOR_CASES`]) and clamped to `1/FACTOR_MAX..=FACTOR_MAX` so that no option is ever
//! starved.
//!
//! **Deterministic per seed, whatever `--jobs`.** The hunt merges finished cases in case
//! order; a case's new points are those no lower case reached. The weights change only
//! between rounds of [`ROUND`] cases: round `r` uses the weights of every case of rounds
//! `0..r - LAG` ([`LAG`] rounds behind, so workers rarely wait), and a worker that takes a
//! case of a round whose weights are not ready waits for them. Rounds `0..=LAG` are
//! unguided: case `i` runs seed `seed + i`, as an unguided hunt does.
//!
//! The same selection can leave kinds out ([`Selection::without`]): candidates are drawn
//! until one has none of those kinds switched on.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::swarm::{self, DIMENSIONS, Kind, SwarmOptions, VALUES_MAX};

/// Cases a round holds: the weights change between rounds only.
pub const ROUND: u64 = 256;
/// Rounds between the cases that set weights and the round that uses them.
pub const LAG: u64 = 1;
/// Candidate seeds a guided case chooses among.
pub const CANDIDATES: usize = 8;
/// Candidate seeds a case draws at most looking for one without the excluded kinds (the
/// rarest allowed combination, all but one kind off, has odds 1 in 729).
pub const SELECT_TRIES: usize = 100_000;
/// Candidate seeds are drawn below this (it fits a TOML integer in a corpus file).
pub const SEED_SPACE: u64 = 1 << 48;
/// The most (and one over the least) a value's weight may be.
pub const FACTOR_MAX: f64 = 4.0;
/// Cases of the mean a value's score starts from before its own cases count.
pub const PRIOR_CASES: f64 = 32.0;
/// The ChaCha8 stream of case selection (apart from the swarm's and the schedules').
const SELECT_STREAM: u64 = 0x5e1e_c7ed;

/// How a hunt chooses its swarm cases.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// Weigh options by the new coverage they brought.
    pub guided: bool,
    /// Kinds no case may switch on.
    pub without: Vec<Kind>,
}

impl Selection {
    /// The kinds left out must leave a writer: a seed with no writer kind switches AIO on.
    pub fn check(&self) -> Result<(), String> {
        let writers = [Kind::Buffered, Kind::SyncDio, Kind::AioDio];
        if writers.iter().all(|k| self.without.contains(k)) {
            return Err(
                "every writer kind (buffered, sync-dio, aio-dio) is left out: a swarm case always has a writer"
                    .to_string(),
            );
        }
        Ok(())
    }

    /// Whether `options` switches none of the excluded kinds on.
    fn admits(&self, options: &SwarmOptions) -> bool {
        !options.kinds.iter().any(|k| self.without.contains(k))
    }

    /// The swarm seed of case `index` of a hunt from `base`, under `weights` (`None`: not
    /// guided yet).
    pub fn seed(&self, base: u64, index: u64, weights: Option<&Weights>) -> u64 {
        let first = base.wrapping_add(index);
        let weights = weights.filter(|_| self.guided);
        if weights.is_none() && self.admits(&swarm::options_of(first)) {
            return first;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(first);
        rng.set_stream(SELECT_STREAM);
        let wanted = if weights.is_some() { CANDIDATES } else { 1 };
        let mut candidates: Vec<(u64, f64)> = Vec::with_capacity(wanted);
        for tries in 0..SELECT_TRIES {
            let seed = if tries == 0 {
                first
            } else {
                rng.random_range(0..SEED_SPACE)
            };
            let options = swarm::options_of(seed);
            if self.admits(&options) {
                let weight = weights.map_or(1.0, |w| w.of(&options));
                candidates.push((seed, weight));
                if candidates.len() == wanted {
                    break;
                }
            }
        }
        let total: f64 = candidates.iter().map(|c| c.1).sum();
        let mut pick = rng.random::<f64>() * total;
        for &(seed, weight) in &candidates {
            if pick < weight {
                return seed;
            }
            pick -= weight;
        }
        candidates.last().map_or(first, |c| c.0)
    }
}

/// The weight of each value of each option dimension ([`swarm::dimensions`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Weights {
    factor: [[f64; VALUES_MAX]; DIMENSIONS],
}

impl Weights {
    /// The weight of a candidate: the product of its values' weights.
    pub fn of(&self, options: &SwarmOptions) -> f64 {
        swarm::option_values(options)
            .iter()
            .enumerate()
            .map(|(d, &v)| self.factor[d][v])
            .product()
    }

    /// Each dimension with its values' weights, for people.
    pub fn describe(&self) -> String {
        let words: Vec<String> = swarm::dimensions()
            .iter()
            .enumerate()
            .map(|(d, (name, values))| {
                let w: Vec<String> = self.factor[d][..*values]
                    .iter()
                    .map(|f| format!("{f:.2}"))
                    .collect();
                format!("{name} [{}]", w.join(" "))
            })
            .collect();
        words.join(", ")
    }
}

/// What the merged cases taught: per option value, the cases and the new protocol points
/// they brought.
#[derive(Clone, Debug, Default)]
pub struct Guide {
    cases: [[u64; VALUES_MAX]; DIMENSIONS],
    new: [[u64; VALUES_MAX]; DIMENSIONS],
}

impl Guide {
    /// Records a merged case (in case order): its seed and its new protocol points.
    pub fn record(&mut self, seed: u64, new_points: u64) {
        let values = swarm::option_values(&swarm::options_of(seed));
        for (d, &v) in values.iter().enumerate() {
            self.cases[d][v] += 1;
            self.new[d][v] += new_points;
        }
    }

    /// The weights so far.
    pub fn weights(&self) -> Weights {
        // Every case counts once in dimension 0: its totals are every dimension's.
        let cases: u64 = self.cases[0].iter().sum();
        let new: u64 = self.new[0].iter().sum();
        let mean = (new as f64 + 1.0) / (cases as f64 + 1.0);
        let factor = std::array::from_fn(|d| {
            std::array::from_fn(|v| {
                let score = (self.new[d][v] as f64 + PRIOR_CASES * mean)
                    / (self.cases[d][v] as f64 + PRIOR_CASES);
                (score / mean).clamp(1.0 / FACTOR_MAX, FACTOR_MAX)
            })
        });
        Weights { factor }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unguided_selection_runs_seed_plus_index() {
        let s = Selection::default();
        for i in 0..50 {
            assert_eq!(s.seed(7, i, None), 7 + i);
        }
    }

    #[test]
    fn excluded_kinds_never_appear() {
        let s = Selection {
            guided: false,
            without: vec![Kind::AioDio, Kind::Crash],
        };
        for i in 0..200 {
            let options = swarm::options_of(s.seed(0, i, None));
            assert!(!options.kinds.contains(&Kind::AioDio), "{options}");
            assert!(!options.kinds.contains(&Kind::Crash), "{options}");
        }
    }

    #[test]
    fn weights_favour_the_values_that_brought_new_points() {
        let mut guide = Guide::default();
        for seed in 0..400 {
            let errors = swarm::options_of(seed).mount.bio_errors;
            guide.record(seed, if errors { 10 } else { 1 });
        }
        let w = guide.weights();
        assert!(
            w.factor[10][1] > 1.5 && w.factor[10][0] < 1.0,
            "{}",
            w.describe()
        );
        let s = Selection {
            guided: true,
            without: Vec::new(),
        };
        let with_errors = (0..400)
            .filter(|&i| {
                swarm::options_of(s.seed(1_000, i, Some(&w)))
                    .mount
                    .bio_errors
            })
            .count();
        // Unguided, 1 seed in 8 has bio_errors.
        assert!(with_errors > 100, "{with_errors} of 400");
    }
}
