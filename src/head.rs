//! The output projection "V": sentence vector -> one logit per label.

use candle_core::{Result, Tensor};

/// PyTorch's `nn.Linear`: `weight` is (labels, features), so V = weight^T.
#[derive(Debug, Clone)]
pub struct Head {
    weight: Tensor,
    bias: Tensor,
}

impl Head {
    pub fn new(weight: Tensor, bias: Tensor) -> Self {
        Self { weight, bias }
    }

    /// features (batch, features) -> logits (batch, labels).
    pub fn forward(&self, features: &Tensor) -> Result<Tensor> {
        features
            .matmul(&self.weight.t()?)?
            .broadcast_add(&self.bias)
    }
}
