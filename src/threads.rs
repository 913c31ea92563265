//! How many threads CPU work may use: what was asked for, capped at a multiple of the cores.
//!
//! Each thread of the recurrent kernel's pool takes a share of every batch, and candle keeps a
//! spinning worker per thread; far more threads than cores only add switching and waiting (at
//! 100,000 a single prediction takes minutes). The library caps and says what it decided
//! ([`ThreadCount`]); the command line prints a warning when the cap applies.

/// A pool gets at most this many threads per core.
pub const MAX_THREADS_PER_CORE: usize = 4;

/// A thread count as asked for and as used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadCount {
    /// What was asked for.
    pub requested: usize,
    /// What to use: `requested`, at least 1 and at most [`MAX_THREADS_PER_CORE`] per core.
    pub threads: usize,
    /// The cores the cap was worked out from.
    pub cores: usize,
}

impl ThreadCount {
    /// `requested` threads on this machine (its available parallelism counts as its cores).
    pub fn on_this_machine(requested: usize) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::for_cores(requested, cores)
    }

    /// `requested` threads on a machine of `cores` cores.
    pub fn for_cores(requested: usize, cores: usize) -> Self {
        let most = cores.max(1).saturating_mul(MAX_THREADS_PER_CORE);
        ThreadCount {
            requested,
            threads: requested.clamp(1, most),
            cores,
        }
    }

    /// True when fewer threads are used than were asked for.
    pub fn capped(&self) -> bool {
        self.threads < self.requested
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_at_a_multiple_of_the_cores() {
        let asked = |n| ThreadCount::for_cores(n, 2).threads;
        assert_eq!(
            [asked(0), asked(1), asked(8), asked(9), asked(100_000)],
            [1, 1, 8, 8, 8]
        );
        assert!(ThreadCount::for_cores(100_000, 2).capped());
        assert!(!ThreadCount::for_cores(8, 2).capped());
    }
}
