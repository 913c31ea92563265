//! Adversarial training on the word vectors (Miyato, Dai and Goodfellow, "Adversarial Training
//! Methods for Semi-Supervised Text Classification", ICLR 2017): each step also trains on its
//! batch with every text's word vectors moved a short distance in the direction that raises
//! its loss fastest. The classifier learns an answer that holds still around each training
//! text, which a network that can fit its training set exactly otherwise has no reason to do.
//!
//! A step with it costs about two plain ones: forward and backward at the texts, then at the
//! moved texts (the gradient at the texts gives the direction and is kept).

use super::config::LARGE_TOKENS;
use super::step_loss::StepLoss;
use crate::error::{Error, Result};
use candle_core::{Tensor, Var};

/// The move a run gets when the training data decide, are not large and are sentences of
/// words ([`auto_adversarial`]).
pub const AUTO_ADVERSARIAL: f64 = 0.5;

/// The move a run gets when the training data decide, are not large and are Chinese or long
/// texts ([`crate::ngram::long_or_ideographic`]): those take a longer move than sentences of
/// words, which a whole word vector's move turns into other sentences.
pub const AUTO_ADVERSARIAL_LONG: f64 = 1.0;

/// The adversarial move for training data of `tokens` tokens, `long_or_ideographic` as
/// [`crate::ngram::long_or_ideographic`] says: none above [`LARGE_TOKENS`], where a run is
/// already long, an adversarial step costs about two plain ones, and a large set needs the
/// regularization least; else [`AUTO_ADVERSARIAL_LONG`] for Chinese or long texts and
/// [`AUTO_ADVERSARIAL`] for the rest.
pub fn auto_adversarial(tokens: usize, long_or_ideographic: bool) -> f64 {
    if tokens > LARGE_TOKENS {
        0.0
    } else if long_or_ideographic {
        AUTO_ADVERSARIAL_LONG
    } else {
        AUTO_ADVERSARIAL
    }
}

/// An adversarial step's objective at `xs` (time, batch, dim), the batch's word vectors:
/// the loss at `xs` plus the loss at `xs` moved `eps` along its gradient ([`perturbation`]).
/// `loss_at` gives the loss and the logits at any vectors; the logits given back are those at
/// `xs`, the loss reported the loss there.
pub(crate) fn objective(
    xs: &Tensor,
    eps: f64,
    mut loss_at: impl FnMut(Tensor) -> Result<(Tensor, Tensor)>,
) -> Result<(StepLoss, Tensor)> {
    // The vectors as a leaf of their own, so that backward keeps their gradient.
    let leaf = Var::from_tensor(&xs.detach())?;
    let (loss, logits) = loss_at(leaf.as_tensor().clone())?;
    let grads = loss.backward()?;
    let grad = (grads.get(leaf.as_tensor()))
        .ok_or_else(|| Error::Config("the word vectors received no gradient".into()))?
        .clone();
    let moved = (xs + perturbation(&xs.detach(), &grad, eps)?)?;
    let (moved_loss, _) = loss_at(moved)?;
    // The loss at the texts reaches what made xs (the table rows) through xs: sum(xs * grad)
    // has exactly that gradient there, and `grads` holds the rest of it.
    let to_rows = (xs * &grad)?.sum_all()?;
    let objective = StepLoss {
        value: loss,
        differentiate: Some(((moved_loss + to_rows)?, grads)),
    };
    Ok((objective, logits))
}

/// The move of `xs` (time, batch, dim) along `grad`, the loss's gradient there: for each text,
/// `grad` over all its steps scaled to the L2 length `eps` times the root-mean-square length
/// of the batch's word vectors, so that `eps` is in word vectors whatever the table's scale.
/// Padding steps carry no gradient and do not move.
pub(crate) fn perturbation(xs: &Tensor, grad: &Tensor, eps: f64) -> candle_core::Result<Tensor> {
    let dim = xs.dim(2)? as f64;
    let mean_square = f64::from(xs.sqr()?.mean_all()?.to_scalar::<f32>()?);
    let length = eps * (mean_square * dim).sqrt();
    // (1, batch, 1): each text's gradient length over its steps and dimensions.
    let norm = grad.sqr()?.sum_keepdim(2)?.sum_keepdim(0)?.sqrt()?;
    let unit = grad.broadcast_div(&(norm + 1e-12)?)?;
    unit.affine(length, 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    /// A small network's loss and logits at xs (time, batch, dim) with weights `w` (dim, 2).
    fn loss_at(w: &Tensor, xs: &Tensor) -> Result<(Tensor, Tensor)> {
        let logits = xs.tanh()?.sum(0)?.matmul(w)?;
        let targets = Tensor::new(&[0u32, 1], xs.device())?;
        Ok((candle_nn::loss::cross_entropy(&logits, &targets)?, logits))
    }

    #[test]
    fn the_objective_has_the_gradient_of_both_losses() {
        let d = Device::Cpu;
        let table = Var::randn(0f32, 1., (5, 3), &d).unwrap();
        let w = Var::randn(0f32, 1., (3, 2), &d).unwrap();
        let ids = Tensor::new(&[[0u32, 1], [2, 4], [3, 3]], &d).unwrap();
        let xs = candle_nn::Embedding::new(table.as_tensor().clone(), 3);
        let xs = candle_nn::Module::forward(&xs, &ids).unwrap();

        let (objective, _) = objective(&xs, 0.7, |x| loss_at(&w, &x)).unwrap();
        let (clean, _) = loss_at(&w, &xs).unwrap();
        let value = |t: &Tensor| t.to_dtype(DType::F64).unwrap().to_scalar::<f64>().unwrap();
        assert_eq!(value(&objective.value), value(&clean));
        let (other, earlier) = objective.differentiate.unwrap();
        let mut got = other.backward().unwrap();
        got.extend(earlier).unwrap();

        // The same by hand: the direction from a gradient of its own, then both losses.
        let leaf = Var::from_tensor(&xs.detach()).unwrap();
        let grads = loss_at(&w, leaf.as_tensor()).unwrap().0.backward().unwrap();
        let r = perturbation(&xs, grads.get(leaf.as_tensor()).unwrap(), 0.7).unwrap();
        let moved = loss_at(&w, &(&xs + r).unwrap()).unwrap().0;
        let want = (clean + moved).unwrap().backward().unwrap();

        for var in [&table, &w] {
            let g = |store: &candle_core::backprop::GradStore| {
                let t = store.get(var.as_tensor()).unwrap();
                t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
            };
            let (got, want) = (g(&got), g(&want));
            assert!(want.iter().any(|v| v.abs() > 1e-3));
            for (a, b) in got.iter().zip(&want) {
                assert!((a - b).abs() < 1e-5, "{got:?} against {want:?}");
            }
        }
    }

    #[test]
    fn data_of_up_to_three_million_tokens_train_adversarially() {
        assert_eq!(auto_adversarial(1, false), AUTO_ADVERSARIAL);
        assert_eq!(auto_adversarial(LARGE_TOKENS, false), AUTO_ADVERSARIAL);
        assert_eq!(auto_adversarial(LARGE_TOKENS + 1, false), 0.0);
        assert_eq!(auto_adversarial(1, true), AUTO_ADVERSARIAL_LONG);
        assert_eq!(auto_adversarial(LARGE_TOKENS, true), AUTO_ADVERSARIAL_LONG);
        assert_eq!(auto_adversarial(LARGE_TOKENS + 1, true), 0.0);
    }

    #[test]
    fn each_text_moves_eps_word_vectors_along_its_gradient() {
        let d = Device::Cpu;
        // Two steps, two texts, dim 2; every word vector has length 5.
        let xs = Tensor::new(&[[[3f32, 4.], [0., 5.]], [[5., 0.], [4., 3.]]], &d).unwrap();
        let grad = Tensor::new(&[[[1f32, 0.], [0., 0.]], [[0., 1.], [0., 2.]]], &d).unwrap();
        let r = perturbation(&xs, &grad, 0.5)
            .unwrap()
            .to_vec3::<f32>()
            .unwrap();
        // Text 0's gradient (1,0),(0,1) has length sqrt 2; text 1's (0,0),(0,2) length 2.
        let s = 2.5 / 2f32.sqrt();
        let want = [[[s, 0.], [0., 0.]], [[0., s], [0., 2.5]]];
        for (t, row) in want.iter().enumerate() {
            for (b, v) in row.iter().enumerate() {
                for (k, w) in v.iter().enumerate() {
                    assert!((r[t][b][k] - w).abs() < 1e-5, "{t} {b} {k}: {:?}", r);
                }
            }
        }
    }
}
