//! Lock-free sharing of the weight matrices between training threads ("Hogwild!", Recht et al.
//! 2011), the one piece of `unsafe` in word2vec.
//!
//! word2vec.c, gensim and finalfrontier all let threads read and write the same rows at the
//! same time: updates are sparse (a few rows of a large table per step), so two threads rarely
//! touch one row, and when they do the worst outcome is a lost or stale update, which SGD
//! absorbs. Locks or atomics would cost more than they save: atomics in particular keep the
//! compiler from vectorizing the row arithmetic that is the whole of the work.
//!
//! What makes it acceptable here:
//! - Rows are never handed out: the methods below take a row index and a thread-local vector,
//!   do one arithmetic step, and let go, so no reference to shared memory outlives a call and
//!   a thread's own accesses never alias. Each row index is bounds-checked.
//! - The matrix outlives every thread: [`Hogwild`] holds its unique borrow, and training runs
//!   in scoped threads.
//! - Only `f32` values are shared. On the targets we build for, aligned 4-byte loads and stores
//!   are single instructions, so a racing reader sees an old or a new value, never a mix, and
//!   no invariant of ours rests on the values.
//! - With one thread there is no race at all, and a seed fixes the result exactly.
//!
//! It remains a data race in the letter of Rust's memory model, deliberately, as in the C and
//! Cython implementations.

use std::marker::PhantomData;

/// A row-major matrix that several threads may read and write at once.
pub(super) struct Hogwild<'a> {
    ptr: *mut f32,
    rows: usize,
    dim: usize,
    _borrow: PhantomData<&'a mut [f32]>,
}

// SAFETY: see the module documentation: sharing is the point, and the races it allows are on
// plain f32 values that no invariant depends on.
unsafe impl Send for Hogwild<'_> {}
unsafe impl Sync for Hogwild<'_> {}

impl<'a> Hogwild<'a> {
    /// Shares `data` as rows of `dim` values (a trailing partial row is not reachable).
    pub fn new(data: &'a mut [f32], dim: usize) -> Self {
        Hogwild {
            ptr: data.as_mut_ptr(),
            rows: data.len().checked_div(dim).unwrap_or(0),
            dim,
            _borrow: PhantomData,
        }
    }

    /// Row `i` for the length of one operation; other threads may be using it too.
    #[allow(clippy::mut_from_ref)] // The point of the type; see the module documentation.
    fn row(&self, i: usize) -> &mut [f32] {
        assert!(i < self.rows, "row {i} of {}", self.rows);
        // SAFETY: in bounds (just checked) and alive for 'a. The slice lives only inside one of
        // the methods below, none of which takes two rows, so this thread holds no other
        // reference to it; other threads' access is the documented Hogwild race.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(i * self.dim), self.dim) }
    }

    /// `v` = row `i`.
    pub fn copy_to(&self, i: usize, v: &mut [f32]) {
        v.copy_from_slice(self.row(i));
    }

    /// The dot product of row `i` and `v`.
    pub fn dot(&self, i: usize, v: &[f32]) -> f32 {
        dot(self.row(i), v)
    }

    /// Row `i` += `a` * `v`.
    pub fn add(&self, i: usize, a: f32, v: &[f32]) {
        axpy(a, v, self.row(i));
    }

    /// `v` += `a` * row `i`.
    pub fn add_to(&self, i: usize, a: f32, v: &mut [f32]) {
        axpy(a, self.row(i), v);
    }
}

/// Eight running sums, so that the compiler can keep them in vector registers (one sum would
/// force the additions into sequence).
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut sums = [0.0f32; 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a8
        .remainder()
        .iter()
        .zip(b8.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a8.zip(b8) {
        for k in 0..8 {
            sums[k] += x[k] * y[k];
        }
    }
    sums.iter().sum::<f32>() + tail
}

#[inline(always)]
fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}
