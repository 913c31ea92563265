//! The AdamW update itself, shared by the dense optimizer and the row-trained tables.

use candle_core::{Result, Tensor};
use candle_nn::ParamsAdamW;

/// candle-nn's AdamW update for one step number, shared by the dense and the row-sparse
/// optimizers so the two cannot drift apart.
pub(super) struct AdamWStep {
    pub(super) b1: f32,
    pub(super) b2: f32,
    pub(super) scale_m: f32,
    pub(super) scale_v: f32,
    pub(super) lr: f32,
    pub(super) decay: f32,
    pub(super) eps: f32,
}

impl AdamWStep {
    pub(super) fn new(p: &ParamsAdamW, step: i32) -> Self {
        Self {
            b1: p.beta1 as f32,
            b2: p.beta2 as f32,
            scale_m: 1.0 / (1.0 - p.beta1.powi(step)) as f32,
            scale_v: 1.0 / (1.0 - p.beta2.powi(step)) as f32,
            lr: p.lr as f32,
            decay: (1.0 - p.lr * p.weight_decay) as f32,
            eps: p.eps as f32,
        }
    }

    /// [`apply`](Self::apply) as device ops, for a parameter on a GPU: the new weights, with
    /// `m` and `v` replaced by the new moments. Nothing is copied to the host.
    pub(super) fn apply_on_device(
        &self,
        w: &Tensor,
        (m, v): (&mut Tensor, &mut Tensor),
        g: &Tensor,
        scale: f32,
    ) -> Result<Tensor> {
        let f = |x: f32| f64::from(x);
        let g = g.affine(f(scale), 0.0)?;
        *m = (m.affine(f(self.b1), 0.0)? + g.affine(f(1.0 - self.b1), 0.0)?)?;
        *v = (v.affine(f(self.b2), 0.0)? + g.sqr()?.affine(f(1.0 - self.b2), 0.0)?)?;
        let denominator = v
            .affine(f(self.scale_v), 0.0)?
            .sqrt()?
            .affine(1.0, f(self.eps))?;
        let update = (m.affine(f(self.lr * self.scale_m), 0.0)? / denominator)?;
        w.detach().affine(f(self.decay), 0.0)? - update
    }

    /// Updates weights `w` and moments `m`, `v` in place from gradient `g` times `scale`.
    pub(super) fn apply(&self, w: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], scale: f32) {
        for j in 0..w.len() {
            let g = g[j] * scale;
            m[j] = self.b1 * m[j] + (1.0 - self.b1) * g;
            v[j] = self.b2 * v[j] + (1.0 - self.b2) * g * g;
            w[j] = w[j] * self.decay
                - self.lr * (m[j] * self.scale_m) / ((v[j] * self.scale_v).sqrt() + self.eps);
        }
    }
}
