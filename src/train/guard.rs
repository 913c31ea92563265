//! The guard against non-finite training: a run stops at the first NaN or infinite loss,
//! gradient norm, weight or dev loss, and says where.

use crate::error::Result;
use crate::model::Weights;

/// Why a step's loss or gradient is unusable, or `None` when both are finite.
pub(super) fn non_finite_step(loss: f64, gradient_norm: f64) -> Option<String> {
    if !loss.is_finite() {
        Some(format!("the loss is {loss}"))
    } else if !gradient_norm.is_finite() {
        Some(format!("the gradient norm is {gradient_norm}"))
    } else {
        None
    }
}

/// The first tensor holding a NaN or an infinity, as a message, or `None` when all are finite.
pub(crate) fn non_finite_weights(weights: &Weights) -> Result<Option<String>> {
    for (name, tensor) in weights {
        let values = tensor.flatten_all()?.to_vec1::<f32>()?;
        if let Some(v) = values.iter().find(|v| !v.is_finite()) {
            return Ok(Some(format!("tensor `{name}` holds {v}")));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    #[test]
    fn only_finite_numbers_pass() {
        assert_eq!(non_finite_step(0.7, 3.0), None);
        assert_eq!(
            non_finite_step(f64::NAN, 3.0).as_deref(),
            Some("the loss is NaN")
        );
        assert_eq!(
            non_finite_step(0.7, f64::INFINITY).as_deref(),
            Some("the gradient norm is inf")
        );
        let mut weights = Weights::new();
        let t = |v: f32| Tensor::new(&[0.5f32, v], &Device::Cpu).unwrap();
        weights.insert("a".into(), t(1.0));
        assert_eq!(non_finite_weights(&weights).unwrap(), None);
        weights.insert("b".into(), t(f32::NEG_INFINITY));
        assert_eq!(
            non_finite_weights(&weights).unwrap().as_deref(),
            Some("tensor `b` holds -inf")
        );
    }
}
