//! The AdamW update itself, shared by the dense optimizer and the row-trained tables.

use candle_nn::ParamsAdamW;

/// candle-nn's AdamW update for one step number, shared by the dense and the row-sparse
/// optimizers so the two cannot drift apart. In C layout: the GPU's kernels take it whole
/// (`adamw.cu`).
#[repr(C)]
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
