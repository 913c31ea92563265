//! Shared by the data-file targets: parse raw bytes strictly, leniently and with a label check.
//! Besides not panicking, a strict read that succeeds must equal a lenient read with nothing
//! skipped, and every example must keep the documented invariants.

use lstm_sentiment::data::{parse_examples, parse_examples_with, LineChecks};
use lstm_sentiment::Format;
use std::path::Path;

pub fn check(data: &[u8], format: Format) {
    let path = Path::new("fuzz.data");
    let strict = parse_examples(data, path, &format);
    let lenient = LineChecks {
        skip_invalid: true,
        label: None,
    };
    let skipping = parse_examples_with(data, path, &format, &lenient);
    match (&strict, &skipping) {
        (Ok(a), Ok((b, skipped))) => {
            assert_eq!(a, b);
            assert_eq!(skipped.count, 0);
        }
        (Ok(_), Err(e)) => panic!("a strict read succeeded where a lenient one failed: {e}"),
        (Err(e), _) => assert!(e.to_string().starts_with("fuzz.data"), "{e}"),
    }
    if let Ok((examples, skipped)) = &skipping {
        assert!(skipped.first.len() <= skipped.count);
        for e in examples {
            assert!(!e.label.is_empty());
            assert_eq!(e.label.trim(), e.label);
            assert_eq!(e.text.trim(), e.text);
        }
    }
    let even = |label: &str| {
        if label.len() % 2 == 0 {
            Ok(())
        } else {
            Err(format!("odd label `{label}`"))
        }
    };
    for skip_invalid in [false, true] {
        let checks = LineChecks {
            skip_invalid,
            label: Some(&even),
        };
        if let Ok((examples, _)) = parse_examples_with(data, path, &format, &checks) {
            assert!(examples.iter().all(|e| e.label.len() % 2 == 0));
        }
    }
}
