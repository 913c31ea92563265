//! Loops over rows of floats, compiled for the widest vectors the CPU has.
//!
//! Besides its matrix product a recurrent step is gate math: plain loops that the compiler
//! vectorizes, 4 floats at a time for the baseline x86-64. A [`Job`] is compiled again with
//! AVX2 (8 floats) and AVX-512 (16), and [`run`] calls the version this CPU runs. Every version
//! does the same operations per element in the same order (Rust never fuses a multiply and an
//! add on its own), so all give the same results, bit for bit.

/// Work to compile once per vector width.
pub trait Job {
    type Output;
    /// Whether the AVX-512 version pays (else AVX2 is the widest used).
    const AVX512: bool;
    /// The work. Implementations are `#[inline(always)]`, so that the work is compiled into
    /// each version rather than called from it.
    fn run(self) -> Self::Output;
}

/// Runs `job` compiled for the widest vectors this CPU has.
pub fn run<J: Job>(job: J) -> J::Output {
    #[cfg(target_arch = "x86_64")]
    {
        if J::AVX512 && std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has just been checked for AVX-512F, all that `avx512` adds.
            return unsafe { avx512(job) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has just been checked for AVX2, all that `avx2` adds.
            return unsafe { avx2(job) };
        }
    }
    job.run()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn avx512<J: Job>(job: J) -> J::Output {
    job.run()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn avx2<J: Job>(job: J) -> J::Output {
    job.run()
}
