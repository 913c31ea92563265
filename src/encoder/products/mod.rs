//! The fused kernel's matrix products on slices, single-threaded (the kernel splits a batch
//! across threads itself): through `gemm` for most ([`matmul`]), over 64-column panels with an
//! AVX-512 loop for the recurrence's products of few rows ([`panels`]), and in bfloat16 for
//! prediction with `--bf16` ([`bf16`]). A [`Weight`] is a weight matrix laid out once for the
//! product that will read it.

pub mod bf16;
pub mod matmul;
pub mod panels;
pub mod view;
pub mod weight;

pub use panels::Panels;
pub use view::{View, ViewMut};
pub use weight::Weight;

#[cfg(test)]
pub mod testing;
