//! Large f32 buffers kept from one batch to the next.
//!
//! A layer call needs buffers of megabytes to hundreds of megabytes (every step's states and
//! activations, the parts' copies of their texts). Fresh ones come from the OS as pages it must
//! zero and map on first touch, a fifth of training time on IMDB-length texts when allocated
//! anew for every batch (perf, 2 vCPUs): allocators hand freed memory of that size back to the
//! OS. Kept here, the pages stay mapped.
//!
//! A buffer comes back holding whatever its last user left in it: every caller writes each
//! element it later reads. Debug builds fill taken buffers with NaN, so that a read of an
//! element nobody wrote shows up in the kernel tests' results.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Buffers smaller than this are left to the allocator, which reuses them well.
const MIN_KEPT: usize = 1 << 16;
/// At most this many floats are kept (512 MiB: more than one training step of LSTM 256 on
/// 64 texts of 512 tokens uses); the smallest buffers go first beyond it.
const MAX_KEPT: usize = 1 << 27;

static POOL: Mutex<Pool> = Mutex::new(Pool { bufs: Vec::new() });

fn pool() -> MutexGuard<'static, Pool> {
    // A panic elsewhere while the lock was held leaves the list valid.
    POOL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A buffer of `len` floats whose contents are unspecified.
pub fn take(len: usize) -> Vec<f32> {
    let mut buf = match pool().take(len) {
        Some(mut buf) => {
            // Within the capacity: at most the tail is written, and no page is new.
            buf.resize(len, 0.0);
            buf
        }
        None => vec![0.0; len],
    };
    if cfg!(debug_assertions) {
        buf.fill(f32::NAN);
    }
    buf
}

/// Keeps `buf` for a later [`take`].
pub fn give(buf: Vec<f32>) {
    pool().give(buf, MAX_KEPT);
}

/// The buffers kept.
struct Pool {
    bufs: Vec<Vec<f32>>,
}

impl Pool {
    /// The smallest kept buffer that holds `len` floats. When none does, the largest one is
    /// freed: as texts grow longer, buffers too small for them would otherwise pile up.
    fn take(&mut self, len: usize) -> Option<Vec<f32>> {
        if len < MIN_KEPT {
            return None;
        }
        let best = (self.bufs.iter().enumerate())
            .filter(|(_, b)| b.capacity() >= len)
            .min_by_key(|(_, b)| b.capacity())
            .map(|(i, _)| i);
        if best.is_none() {
            let largest = (self.bufs.iter().enumerate())
                .max_by_key(|(_, b)| b.capacity())
                .map(|(i, _)| i);
            if let Some(i) = largest {
                self.bufs.swap_remove(i);
            }
        }
        best.map(|i| self.bufs.swap_remove(i))
    }

    /// Keeps `buf`, then frees the smallest buffers while more than `max` floats are kept.
    fn give(&mut self, buf: Vec<f32>, max: usize) {
        if buf.capacity() < MIN_KEPT {
            return;
        }
        self.bufs.push(buf);
        let mut total: usize = self.bufs.iter().map(Vec::capacity).sum();
        while total > max {
            let smallest = (self.bufs.iter().enumerate())
                .min_by_key(|(_, b)| b.capacity())
                .map(|(i, _)| i)
                .expect("the total is over zero");
            total -= self.bufs.swap_remove(smallest).capacity();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_smallest_fitting_buffer_comes_back() {
        let mut pool = Pool { bufs: Vec::new() };
        let (big, small) = (vec![0.0; MIN_KEPT * 4], vec![0.0; MIN_KEPT * 2]);
        let (big_at, small_at) = (big.as_ptr(), small.as_ptr());
        pool.give(big, MAX_KEPT);
        pool.give(small, MAX_KEPT);
        let first = pool.take(MIN_KEPT * 2).unwrap();
        assert_eq!(first.as_ptr(), small_at);
        let second = pool.take(MIN_KEPT).unwrap();
        assert_eq!(second.as_ptr(), big_at);
        assert!(pool.take(MIN_KEPT).is_none());
    }

    #[test]
    fn a_miss_frees_the_largest_buffer() {
        let mut pool = Pool { bufs: Vec::new() };
        for n in [1, 3, 2] {
            pool.give(vec![0.0; MIN_KEPT * n], MAX_KEPT);
        }
        assert!(pool.take(MIN_KEPT * 4).is_none());
        let mut sizes: Vec<usize> = pool.bufs.iter().map(|b| b.len() / MIN_KEPT).collect();
        sizes.sort_unstable();
        assert_eq!(sizes, [1, 2]);
    }

    #[test]
    fn small_buffers_are_not_kept_and_the_total_is_bounded() {
        let mut pool = Pool { bufs: Vec::new() };
        pool.give(vec![0.0; MIN_KEPT - 1], MAX_KEPT);
        assert!(pool.bufs.is_empty());
        let max = MIN_KEPT * 5;
        for n in [2, 3, 1] {
            pool.give(vec![0.0; MIN_KEPT * n], max);
        }
        // 2 + 3 + 1 is over 5: the smallest (1) went, then 2 + 3 fits.
        let mut sizes: Vec<usize> = pool.bufs.iter().map(|b| b.len() / MIN_KEPT).collect();
        sizes.sort_unstable();
        assert_eq!(sizes, [2, 3]);
    }

    #[test]
    fn taken_buffers_have_the_asked_length() {
        let buf = take(MIN_KEPT * 2);
        assert_eq!(buf.len(), MIN_KEPT * 2);
        give(buf);
        assert_eq!(take(MIN_KEPT + 1).len(), MIN_KEPT + 1);
        assert_eq!(take(3).len(), 3);
    }
}
