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

/// Maps in every whole page of `buffer` now, in one call, rather than one page fault per 4 KiB
/// page as it is first written: for large buffers that are filled once, such as weights read
/// from a file. Where the kernel cannot (before Linux 5.14) the pages fault in as usual.
pub(crate) fn prefault<T>(buffer: &mut [std::mem::MaybeUninit<T>]) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const PAGE: usize = 4096;
        let start = buffer.as_mut_ptr() as usize;
        let end = start + std::mem::size_of_val(buffer);
        let (first, last) = (start.next_multiple_of(PAGE), end / PAGE * PAGE);
        if first < last {
            // SAFETY: the range lies inside memory this process owns; MADV_POPULATE_WRITE maps
            // it in (as writing to it would) and never changes its contents.
            unsafe {
                libc::madvise(
                    first as *mut libc::c_void,
                    last - first,
                    libc::MADV_POPULATE_WRITE,
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
