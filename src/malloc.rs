//! Keeping freed memory in the process, for programs that train or predict in bulk.
//!
//! Each batch allocates tensors of megabytes. glibc's malloc serves blocks above its mmap
//! threshold (128 KiB at first, raised as such blocks are freed) straight from the OS and
//! unmaps them on free, and it trims the top of its heap past 128 KiB free, so the next batch
//! faults the same memory in again as fresh pages the kernel must zero.
//! `scripts/bench/allocator.sh` measures it (docs/performance.md, "Allocator"). The recurrent
//! kernel keeps its own largest buffers (`encoder::workspace`); this covers the rest.

/// The largest mmap threshold glibc accepts on 64-bit targets (32 MiB).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 32 << 20;
/// Free memory at the top of the heap kept before trimming.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_THRESHOLD: libc::c_int = 256 << 20;

/// Tells glibc's malloc to serve blocks up to 32 MiB from its heap and to keep up to 256 MiB of
/// freed memory before returning it to the OS. Process-wide, so left to the program: the
/// `lstm-sentiment` binary calls it first thing. Returns whether it applied (false where the
/// C library is not glibc, which it leaves alone).
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only sets malloc's tuning parameters; it takes malloc's own lock.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// Asks the kernel to back the whole 2 MiB pages inside `buffer` with huge pages when they are
/// first touched, which makes one page fault of 512. For large buffers filled once, such as
/// weights read from a file. Advice only: nothing changes where it is not taken.
pub(crate) fn advise_huge_pages<T>(buffer: &mut [std::mem::MaybeUninit<T>]) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const HUGE: usize = 2 << 20;
        let start = buffer.as_mut_ptr() as usize;
        let end = start + std::mem::size_of_val(buffer);
        let (first, last) = (start.next_multiple_of(HUGE), end / HUGE * HUGE);
        if first < last {
            // SAFETY: the range lies inside memory this process owns; MADV_HUGEPAGE changes
            // how it is backed, never its contents.
            unsafe {
                libc::madvise(
                    first as *mut libc::c_void,
                    last - first,
                    libc::MADV_HUGEPAGE,
                );
            }
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = buffer;
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_accepts_the_settings() {
        assert!(super::keep_freed_memory());
    }
}
