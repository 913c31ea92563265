//! Memory estimates checked before large allocations: a size that cannot fit is refused with
//! the estimate and the machine's memory, instead of aborting in the allocator.
//!
//! The machine's memory is MemTotal of /proc/meminfo (Linux). Where that cannot be read, no
//! check is made. The estimates are lower bounds (what the named buffers take at least), so a
//! refusal means the work cannot fit, not merely that it might not.

use crate::error::{Error, Result};

/// The machine's physical memory in bytes, or `None` where it cannot be read.
pub fn machine_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_mem_total(&meminfo)
}

/// Refuses `what` (e.g. "training") when its estimate of `bytes` exceeds the machine's memory.
/// `because` says what the estimate counts.
pub fn check(what: &str, bytes: u64, because: &str) -> Result<()> {
    match machine_memory() {
        Some(total) if bytes > total => Err(Error::Config(format!(
            "{what} needs at least {} of memory ({because}), more than this machine's {}",
            human(bytes),
            human(total)
        ))),
        _ => Ok(()),
    }
}

/// Bytes of `count` float32 values, saturating rather than overflowing (a saturated estimate
/// is refused like any other that is too large).
pub fn f32_bytes(count: u128) -> u64 {
    u64::try_from(count.saturating_mul(4)).unwrap_or(u64::MAX)
}

/// `MemTotal:  24567890 kB` -> bytes.
fn parse_mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut fields = line["MemTotal:".len()..].split_whitespace();
    let value: u64 = fields.next()?.parse().ok()?;
    let unit = match fields.next() {
        Some("kB") => 1024,
        None => 1,
        Some(_) => return None,
    };
    value.checked_mul(unit)
}

/// Bytes in binary units with one decimal, e.g. `23.4 GiB`.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_total_is_read_in_bytes() {
        let meminfo = "MemTotal:       24567890 kB\nMemFree:         1000 kB\n";
        assert_eq!(parse_mem_total(meminfo), Some(24_567_890 * 1024));
        assert_eq!(parse_mem_total("MemFree: 1 kB\n"), None);
        assert_eq!(parse_mem_total("MemTotal: many kB\n"), None);
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human(512), "512 bytes");
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(160_000_000_000), "149.0 GiB");
        assert_eq!(f32_bytes(u128::MAX), u64::MAX);
    }
}
