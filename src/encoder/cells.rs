//! One text at one step of each cell, forward and backward, over rows of `hidden` floats.
//!
//! A gate's pre-activation is the sum of three rows, `pre`: gi = x_t W_ih^T, gh = h_{t-1} W_hh^T
//! and the biases that add onto it. The backward functions take `dh`, the gradient reaching h_t,
//! and leave in it the part that reaches h_{t-1} without passing through W_hh.
//!
//! Every loop runs over equally sliced rows, so that it compiles to SIMD code without bounds
//! checks; everything is `inline(always)` so that it is compiled again inside the recurrence's
//! AVX2 version.

use super::activation::{sigmoid, tanh};

/// Activations an LSTM step keeps for backward: i, f, g, o and tanh(c).
pub const LSTM_SAVED: usize = 5;
/// Activations a GRU step keeps for backward: r, z, n and W_hn h + b_hn.
pub const GRU_SAVED: usize = 4;

/// LSTM (gates i, f, g, o): c = f c_prev + i g, h = o tanh(c).
#[inline(always)]
pub fn lstm(pre: [&[f32]; 3], c_prev: &[f32], acts: &mut [f32], c: &mut [f32], h: &mut [f32]) {
    let n = h.len();
    let (gates, tanh_c) = acts[..5 * n].split_at_mut(4 * n);
    sum3(gates, pre);
    let (i_f, g_o) = gates.split_at_mut(2 * n);
    let (g, o) = g_o.split_at_mut(n);
    i_f.iter_mut().for_each(|a| *a = sigmoid(*a));
    g.iter_mut().for_each(|a| *a = tanh(*a));
    o.iter_mut().for_each(|a| *a = sigmoid(*a));
    let (i, f) = i_f.split_at(n);
    let (c_prev, c, tanh_c) = (&c_prev[..n], &mut c[..n], &mut tanh_c[..n]);
    for j in 0..n {
        c[j] = f[j] * c_prev[j] + i[j] * g[j];
        tanh_c[j] = tanh(c[j]);
        h[j] = o[j] * tanh_c[j];
    }
}

/// Backward through [`lstm`]; `dc` carries the gradient reaching c_t in and c_{t-1} out.
#[inline(always)]
pub fn lstm_back(acts: &[f32], c_prev: &[f32], dh: &mut [f32], dc: &mut [f32], dgi: &mut [f32]) {
    let n = dh.len();
    let (acts, dgi) = (&acts[..5 * n], &mut dgi[..4 * n]);
    let (c_prev, dc) = (&c_prev[..n], &mut dc[..n]);
    let (i, rest) = acts.split_at(n);
    let (f, rest) = rest.split_at(n);
    let (g, rest) = rest.split_at(n);
    let (o, tc) = rest.split_at(n);
    let (di, rest) = dgi.split_at_mut(n);
    let (df, rest) = rest.split_at_mut(n);
    let (dg, d_o) = rest.split_at_mut(n);
    for j in 0..n {
        let dcj = dc[j] + dh[j] * o[j] * (1.0 - tc[j] * tc[j]);
        d_o[j] = dh[j] * tc[j] * o[j] * (1.0 - o[j]);
        di[j] = dcj * g[j] * i[j] * (1.0 - i[j]);
        df[j] = dcj * c_prev[j] * f[j] * (1.0 - f[j]);
        dg[j] = dcj * i[j] * (1.0 - g[j] * g[j]);
        dc[j] = dcj * f[j];
        dh[j] = 0.0;
    }
}

/// GRU (gates r, z, n): n = tanh(gi_n + b_in + r (W_hn h_prev + b_hn)), h = (1 - z) n + z h_prev.
/// Here `b` holds b_ir + b_hr, b_iz + b_hz and b_in; b_hn sits inside r * (...) and comes apart.
#[inline(always)]
pub fn gru(
    [gi, gh, b]: [&[f32]; 3],
    b_hn: &[f32],
    h_prev: &[f32],
    acts: &mut [f32],
    h: &mut [f32],
) {
    let n = h.len();
    let (gi, gh, b) = (&gi[..3 * n], &gh[..3 * n], &b[..3 * n]);
    let (r_z, rest) = acts[..4 * n].split_at_mut(2 * n);
    let (nn, hn) = rest.split_at_mut(n);
    sum3(r_z, [gi, gh, b]);
    r_z.iter_mut().for_each(|a| *a = sigmoid(*a));
    let (r, z) = r_z.split_at(n);
    let (gi_n, gh_n, b_n) = (&gi[2 * n..], &gh[2 * n..], &b[2 * n..]);
    let (b_hn, h_prev) = (&b_hn[..n], &h_prev[..n]);
    for j in 0..n {
        hn[j] = gh_n[j] + b_hn[j];
        nn[j] = tanh(gi_n[j] + b_n[j] + r[j] * hn[j]);
        h[j] = nn[j] + z[j] * (h_prev[j] - nn[j]);
    }
}

/// Backward through [`gru`]. The hidden side differs from the input side only at n, where
/// W_hn h sits inside r * (...): `dgh` gets that gate's gradient times r.
#[inline(always)]
pub fn gru_back(acts: &[f32], h_prev: &[f32], dh: &mut [f32], dgi: &mut [f32], dgh: &mut [f32]) {
    let n = dh.len();
    let (acts, h_prev) = (&acts[..4 * n], &h_prev[..n]);
    let (dgi, dgh) = (&mut dgi[..3 * n], &mut dgh[..3 * n]);
    let (r, rest) = acts.split_at(n);
    let (z, rest) = rest.split_at(n);
    let (nn, hn) = rest.split_at(n);
    let (dr, rest) = dgi.split_at_mut(n);
    let (dz, dn) = rest.split_at_mut(n);
    let (dhr, rest) = dgh.split_at_mut(n);
    let (dhz, dhn) = rest.split_at_mut(n);
    for j in 0..n {
        let d = dh[j];
        let dn_pre = d * (1.0 - z[j]) * (1.0 - nn[j] * nn[j]);
        dn[j] = dn_pre;
        dhn[j] = dn_pre * r[j];
        dr[j] = dn_pre * hn[j] * r[j] * (1.0 - r[j]);
        dz[j] = d * (h_prev[j] - nn[j]) * z[j] * (1.0 - z[j]);
        dhr[j] = dr[j];
        dhz[j] = dz[j];
        dh[j] = d * z[j];
    }
}

/// The plain RNN: h = tanh(gi + gh + b).
#[inline(always)]
pub fn rnn(pre: [&[f32]; 3], h: &mut [f32]) {
    sum3(h, pre);
    h.iter_mut().for_each(|a| *a = tanh(*a));
}

/// Backward through [`rnn`], from its output h.
#[inline(always)]
pub fn rnn_back(h: &[f32], dh: &mut [f32], dgi: &mut [f32]) {
    let n = dh.len();
    for (d, (dh, h)) in dgi[..n].iter_mut().zip(dh.iter_mut().zip(&h[..n])) {
        *d = *dh * (1.0 - h * h);
        *dh = 0.0;
    }
}

/// out = x + y + z, element by element, over out's length.
#[inline(always)]
fn sum3(out: &mut [f32], [x, y, z]: [&[f32]; 3]) {
    let n = out.len();
    let (x, y, z) = (&x[..n], &y[..n], &z[..n]);
    for j in 0..n {
        out[j] = x[j] + y[j] + z[j];
    }
}
