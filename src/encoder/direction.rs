//! The weights of one layer and direction, as PyTorch keeps them.

use candle_core::Tensor;

/// The four tensors PyTorch keeps per layer and direction. In the tutorial's notation
/// U = weight_ih^T (m x n per gate) and W = weight_hh^T (n x n per gate).
#[derive(Debug, Clone)]
pub struct DirectionWeights {
    pub weight_ih: Tensor,
    pub weight_hh: Tensor,
    pub bias_ih: Tensor,
    pub bias_hh: Tensor,
}
