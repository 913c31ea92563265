//! Calibration: whether a model's confidence (the probability of the label it predicts) matches
//! how often it is right. Measured over equal-width confidence bins, as in reliability diagrams
//! and the expected calibration error (Guo et al., "On Calibration of Modern Neural Networks",
//! 2017).

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// How many equal-width bins [`Calibration`] splits the confidences into.
pub const CALIBRATION_BINS: usize = 10;

/// The predictions whose confidence falls in `(lower, upper]` (the first bin also takes 0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationBin {
    pub lower: f64,
    pub upper: f64,
    /// How many predictions fall in the bin.
    pub count: usize,
    /// Their mean confidence (0 in an empty bin).
    pub confidence: f64,
    /// The fraction of them that are right (0 in an empty bin).
    pub accuracy: f64,
}

/// Confidence against accuracy over [`CALIBRATION_BINS`] bins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// The expected calibration error: over the bins, |accuracy - confidence| weighted by the
    /// bin's share of the predictions. 0 for a perfectly calibrated model (and for no
    /// predictions).
    pub ece: f64,
    pub bins: Vec<CalibrationBin>,
}

impl Calibration {
    /// Bins each prediction's `confidence` (in [0, 1]) by whether it was `correct`.
    pub fn from_predictions(confidence: &[f32], correct: &[bool]) -> Result<Self> {
        if confidence.len() != correct.len() {
            return Err(Error::Config(format!(
                "{} confidences but {} outcomes",
                confidence.len(),
                correct.len()
            )));
        }
        if let Some(i) = confidence.iter().position(|c| !(0.0..=1.0).contains(c)) {
            return Err(Error::Config(format!(
                "prediction {i}: confidence {} is not a probability",
                confidence[i]
            )));
        }
        let k = CALIBRATION_BINS;
        let (mut count, mut confidence_sum, mut right) =
            (vec![0usize; k], vec![0f64; k], vec![0; k]);
        for (&c, &ok) in confidence.iter().zip(correct) {
            // Bin b holds (b/k, (b+1)/k]: the ceiling, less one.
            let b = ((f64::from(c) * k as f64).ceil() as usize).clamp(1, k) - 1;
            count[b] += 1;
            confidence_sum[b] += f64::from(c);
            right[b] += usize::from(ok);
        }
        let n = confidence.len().max(1) as f64;
        let bins: Vec<CalibrationBin> = (0..k)
            .map(|b| {
                let mean = |sum: f64| {
                    if count[b] == 0 {
                        0.0
                    } else {
                        sum / count[b] as f64
                    }
                };
                CalibrationBin {
                    lower: b as f64 / k as f64,
                    upper: (b + 1) as f64 / k as f64,
                    count: count[b],
                    confidence: mean(confidence_sum[b]),
                    accuracy: mean(right[b] as f64),
                }
            })
            .collect();
        let ece = bins
            .iter()
            .map(|bin| bin.count as f64 / n * (bin.accuracy - bin.confidence).abs())
            .sum();
        Ok(Calibration { ece, bins })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ece_matches_a_hand_computation() {
        // Bin (0.5, 0.6]: 0.55 and 0.59, one right: |0.5 - 0.57| = 0.07, weight 2/5.
        // Bin (0.9, 1.0]: 0.95, 0.95 and 1.0, all right: |1 - 0.9667| = 0.0333, weight 3/5.
        let c = Calibration::from_predictions(
            &[0.55, 0.59, 0.95, 0.95, 1.0],
            &[true, false, true, true, true],
        )
        .unwrap();
        let want = 0.4 * 0.07 + 0.6 * (1.0 - 2.9 / 3.0);
        assert!((c.ece - want).abs() < 1e-6, "{}", c.ece);
        assert_eq!(c.bins.len(), CALIBRATION_BINS);
        assert_eq!(c.bins[5].count, 2);
        assert_eq!(c.bins[9].count, 3);
        assert_eq!(c.bins.iter().map(|b| b.count).sum::<usize>(), 5);
        assert!((c.bins[5].confidence - 0.57).abs() < 1e-6);
        assert_eq!(c.bins[5].accuracy, 0.5);
    }

    #[test]
    fn a_model_right_as_often_as_it_is_sure_has_no_error() {
        let confidence = [0.75f32; 4];
        let c = Calibration::from_predictions(&confidence, &[true, true, true, false]).unwrap();
        assert!(c.ece.abs() < 1e-7, "{}", c.ece);
        let none = Calibration::from_predictions(&[], &[]).unwrap();
        assert_eq!(none.ece, 0.0);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(Calibration::from_predictions(&[0.5], &[]).is_err());
        assert!(Calibration::from_predictions(&[1.5], &[true]).is_err());
        assert!(Calibration::from_predictions(&[f32::NAN], &[true]).is_err());
    }
}
