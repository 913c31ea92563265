//! What the bound on epochs and the average of the weights become when a config leaves them
//! to the run ([`TrainConfig::epochs`] and [`TrainConfig::ema`] `None`).
//!
//! Large training data ([`LARGE_TOKENS`]) train differently: an epoch there takes minutes, and
//! a moving average of the weights scores after two to four epochs at least what the weights
//! score after seven (docs/training.md), so such a run averages and stops sooner.
//!
//! [`TrainConfig::epochs`]: super::TrainConfig::epochs
//! [`TrainConfig::ema`]: super::TrainConfig::ema

use super::config::{BUILTIN_ENCODER_EPOCHS, EPOCHS, LARGE_EMA, LARGE_EPOCHS, LARGE_TOKENS};
use super::EncoderInit;

/// The average's decay for training data of `tokens` tokens (as read, after truncation):
/// [`LARGE_EMA`] above [`LARGE_TOKENS`], else none (0).
pub fn auto_ema(tokens: usize) -> f64 {
    if tokens > LARGE_TOKENS {
        LARGE_EMA
    } else {
        0.0
    }
}

/// The most epochs a run runs when the config leaves it open: [`BUILTIN_ENCODER_EPOCHS`] from
/// the built-in Chinese encoder, [`LARGE_EPOCHS`] on training data above [`LARGE_TOKENS`] whose
/// weights are averaged (`ema` above 0: without the average, late epochs still gain), else
/// [`EPOCHS`].
pub fn auto_epochs(encoder: &EncoderInit, tokens: usize, ema: f64) -> usize {
    if *encoder == EncoderInit::BuiltinChinese {
        BUILTIN_ENCODER_EPOCHS
    } else if tokens > LARGE_TOKENS && ema > 0.0 {
        LARGE_EPOCHS
    } else {
        EPOCHS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_large_data_average_their_weights() {
        assert_eq!(auto_ema(LARGE_TOKENS), 0.0);
        assert_eq!(auto_ema(LARGE_TOKENS + 1), LARGE_EMA);
    }

    #[test]
    fn the_builtin_encoder_and_averaged_large_data_shorten_the_epochs() {
        let small = LARGE_TOKENS;
        let large = LARGE_TOKENS + 1;
        let chinese = EncoderInit::BuiltinChinese;
        assert_eq!(auto_epochs(&chinese, small, 0.0), BUILTIN_ENCODER_EPOCHS);
        assert_eq!(
            auto_epochs(&chinese, large, LARGE_EMA),
            BUILTIN_ENCODER_EPOCHS
        );
        let dir = std::path::PathBuf::from("enc");
        for start in [EncoderInit::Random, EncoderInit::Pretrained { dir }] {
            assert_eq!(auto_epochs(&start, small, LARGE_EMA), EPOCHS);
            assert_eq!(auto_epochs(&start, large, LARGE_EMA), LARGE_EPOCHS);
            // Without the average, large data keep every epoch.
            assert_eq!(auto_epochs(&start, large, 0.0), EPOCHS);
        }
    }
}
