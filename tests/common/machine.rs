//! What this machine can test, and saying so where it cannot.

use std::collections::HashSet;
use std::io::Write;
use std::sync::Mutex;

/// Says on the test run's own stderr, which `cargo test` shows even for passing tests, that the
/// running test leaves `what` untested, and why; once per test and `what`.
pub fn skip(what: &str, why: &str) {
    static SAID: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    // The test harness names each test's thread after the test.
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    let line = format!("skipped in {test}: {what} ({why})\n");
    let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
    if !said.get_or_insert_with(HashSet::new).insert(line.clone()) {
        return;
    }
    // Not eprintln!: the test harness captures that and drops it for passing tests.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Whether this CPU runs the bfloat16 kernel (AVX512-BF16); where it does not, [`skip`] says
/// that the running test leaves `what` untested.
pub fn bf16_or_skip(what: &str) -> bool {
    let available = lstm_sentiment::encoder::bf16_available();
    if !available {
        skip(what, "this CPU lacks AVX512-BF16");
    }
    available
}

/// The machine's memory in bytes from /proc/meminfo, or `None` where it cannot be read.
pub fn mem_total() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
