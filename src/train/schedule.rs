//! The learning rate of every step: an optional linear warmup from 0, then the rate held
//! constant, or falling linearly or along a half cosine towards 0 at the end of the planned
//! steps (epochs x steps per epoch).
//!
//! The rate depends only on the step's number in the run, so a resumed run gives every step the
//! rate an uninterrupted one would.

use crate::error::Error;
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// How the learning rate moves over a run after its warmup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LrSchedule {
    /// The rate stays at `lr`.
    #[default]
    Constant,
    /// From `lr` down in a straight line towards 0 at the last planned step.
    Linear,
    /// From `lr` down along a half cosine towards 0 at the last planned step: slow at first
    /// and at the end, fastest in the middle.
    Cosine,
}

impl LrSchedule {
    pub fn name(self) -> &'static str {
        match self {
            LrSchedule::Constant => "constant",
            LrSchedule::Linear => "linear",
            LrSchedule::Cosine => "cosine",
        }
    }
}

impl std::str::FromStr for LrSchedule {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.to_ascii_lowercase().as_str() {
            "constant" => Ok(LrSchedule::Constant),
            "linear" => Ok(LrSchedule::Linear),
            "cosine" => Ok(LrSchedule::Cosine),
            other => Err(Error::Config(format!(
                "unknown learning-rate schedule `{other}` (expected constant, linear or cosine)"
            ))),
        }
    }
}

impl std::fmt::Display for LrSchedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The rate of each step of one run.
#[derive(Debug, Clone)]
pub(crate) struct Schedule {
    lr: f64,
    kind: LrSchedule,
    steps_per_epoch: usize,
    warmup_steps: usize,
    total_steps: usize,
}

impl Schedule {
    /// A run of `epochs` x `steps_per_epoch` steps whose first `warmup` fraction (rounded to
    /// whole steps) warms up from 0 to `lr`.
    pub(crate) fn new(
        lr: f64,
        kind: LrSchedule,
        warmup: f64,
        epochs: usize,
        steps_per_epoch: usize,
    ) -> Self {
        let total_steps = epochs * steps_per_epoch;
        Self {
            lr,
            kind,
            steps_per_epoch,
            warmup_steps: (warmup * total_steps as f64).round() as usize,
            total_steps,
        }
    }

    /// The rate of step `step` of epoch `epoch`, both counted from 1.
    pub(crate) fn at(&self, epoch: usize, step: usize) -> f64 {
        self.lr(((epoch - 1) * self.steps_per_epoch + step).saturating_sub(1))
    }

    /// The rate of the last step of epoch `epoch`.
    pub(crate) fn end_of(&self, epoch: usize) -> f64 {
        self.at(epoch, self.steps_per_epoch)
    }

    /// The rate of step `step`, counted from 0 at the run's first step. Warmup steps climb
    /// in equal parts so that the last of them reaches `lr` (none is wasted at rate 0); the
    /// decay starts at `lr` and comes within one step's share of 0 at the last planned step.
    pub(super) fn lr(&self, step: usize) -> f64 {
        if step < self.warmup_steps {
            return self.lr * (step + 1) as f64 / self.warmup_steps as f64;
        }
        let decaying = (self.total_steps - self.warmup_steps.min(self.total_steps)).max(1);
        let progress = ((step - self.warmup_steps) as f64 / decaying as f64).min(1.0);
        let factor = match self.kind {
            LrSchedule::Constant => 1.0,
            LrSchedule::Linear => 1.0 - progress,
            LrSchedule::Cosine => 0.5 * (1.0 + (PI * progress).cos()),
        };
        self.lr * factor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn constant_without_warmup_is_exactly_the_base_rate() {
        let s = Schedule::new(2e-3, LrSchedule::Constant, 0.0, 1, 50);
        assert!((0..60).all(|t| s.lr(t) == 2e-3));
    }

    #[test]
    fn warmup_climbs_in_equal_parts_to_the_base_rate() {
        // 10% of 100 steps: 10 warmup steps, 0.1, 0.2, ... 1.0 of the rate.
        let s = Schedule::new(1.0, LrSchedule::Constant, 0.1, 1, 100);
        for t in 0..10 {
            assert!(
                close(s.lr(t), (t + 1) as f64 / 10.0),
                "step {t}: {}",
                s.lr(t)
            );
        }
        assert!((10..100).all(|t| s.lr(t) == 1.0));
    }

    #[test]
    fn linear_falls_in_a_straight_line_after_warmup() {
        // 4 warmup steps of 20, then 16 steps falling by 1/16 each.
        let s = Schedule::new(0.5, LrSchedule::Linear, 0.2, 1, 20);
        assert!(close(s.lr(0), 0.125));
        assert!(close(s.lr(3), 0.5));
        assert!(close(s.lr(4), 0.5));
        assert!(close(s.lr(12), 0.25));
        assert!(close(s.lr(19), 0.5 / 16.0));
    }

    #[test]
    fn cosine_is_half_way_at_mid_decay_and_flat_at_both_ends() {
        let s = Schedule::new(1.0, LrSchedule::Cosine, 0.0, 1, 100);
        assert_eq!(s.lr(0), 1.0);
        assert!(close(s.lr(50), 0.5));
        assert!(close(s.lr(25), 0.5 * (1.0 + (PI / 4.0).cos())));
        let last = s.lr(99);
        assert!(last > 0.0 && last < 1e-3, "{last}");
        // Slower near the ends than in the middle.
        assert!(s.lr(0) - s.lr(1) < s.lr(49) - s.lr(50));
        assert!(s.lr(98) - s.lr(99) < s.lr(49) - s.lr(50));
    }

    #[test]
    fn steps_past_the_plan_stay_at_the_end_of_the_decay() {
        let s = Schedule::new(1.0, LrSchedule::Linear, 0.0, 1, 10);
        assert_eq!(s.lr(10), 0.0);
        assert_eq!(s.lr(1000), 0.0);
        // Warmup as long as the whole plan: no division by zero.
        let s = Schedule::new(1.0, LrSchedule::Cosine, 0.99, 1, 1);
        assert!(close(s.lr(0), 1.0));
        assert!(s.lr(1).is_finite());
    }

    #[test]
    fn steps_count_on_across_epochs() {
        // 3 epochs of 4 steps: epoch 2's first step is step 4 of the run.
        let s = Schedule::new(1.0, LrSchedule::Linear, 0.0, 3, 4);
        assert_eq!(s.at(1, 1), 1.0);
        assert!(close(s.at(2, 1), 1.0 - 4.0 / 12.0));
        assert!(close(s.end_of(2), s.at(2, 4)));
        assert!(close(s.end_of(3), 1.0 / 12.0));
    }

    #[test]
    fn names_round_trip() {
        for kind in [LrSchedule::Constant, LrSchedule::Linear, LrSchedule::Cosine] {
            assert_eq!(kind.to_string().parse::<LrSchedule>().unwrap(), kind);
        }
        let err = "step".parse::<LrSchedule>().unwrap_err().to_string();
        assert!(err.contains("constant, linear or cosine"), "{err}");
    }
}
