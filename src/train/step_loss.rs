//! What one training step's loss hands back to the optimizer step.

use candle_core::backprop::GradStore;
use candle_core::Tensor;

/// What a step's loss hands back: the loss reported and checked to be finite, and what the
/// step differentiates when that is something else.
pub(crate) struct StepLoss {
    pub value: Tensor,
    /// Differentiated in place of `value`; its gradients and `grads` add up to the step's.
    pub differentiate: Option<(Tensor, GradStore)>,
}

impl From<Tensor> for StepLoss {
    fn from(value: Tensor) -> Self {
        Self {
            value,
            differentiate: None,
        }
    }
}
