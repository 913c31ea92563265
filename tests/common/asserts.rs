//! Comparing numbers and messages.

/// Panics unless `a` and `b` have the same length and differ by at most `tolerance` everywhere;
/// the message starts with `what`.
pub fn assert_close(a: &[f32], b: &[f32], tolerance: f32, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths differ");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tolerance,
            "{what}: element {i} differs: {x} vs {y} (tolerance {tolerance})\n{a:?}\n{b:?}"
        );
    }
}

/// The largest absolute difference between `a` and `b` (float32 or float64 values, subtracted
/// exactly in float64), which must have the same length; NaN if any difference is NaN, so that
/// no tolerance accepts it.
pub fn max_diff<T: Copy + Into<f64>>(a: &[T], b: &[T]) -> f64 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    largest(a.iter().zip(b).map(|(&x, &y)| (x.into() - y.into()).abs()))
}

/// [`max_diff`] over rows, which must match in number and length.
pub fn max_diff_rows<T: Copy + Into<f64>>(a: &[Vec<T>], b: &[Vec<T>]) -> f64 {
    assert_eq!(a.len(), b.len(), "row counts differ");
    largest(a.iter().zip(b).map(|(x, y)| max_diff(x, y)))
}

/// The largest of `values` (0 for none), NaN if any is NaN: `f64::max` would drop it.
fn largest(values: impl Iterator<Item = f64>) -> f64 {
    values.fold(0.0, |m, v| {
        if m.is_nan() || v.is_nan() {
            f64::NAN
        } else {
            m.max(v)
        }
    })
}

/// Panics unless `message` contains every fragment; the message starts with `what`.
pub fn assert_mentions<S: AsRef<str>>(what: &str, message: &str, fragments: &[S]) {
    for fragment in fragments {
        let fragment = fragment.as_ref();
        assert!(
            message.contains(fragment),
            "{what}: expected `{fragment}` in the message\n  {message}"
        );
    }
}

/// Owned copies, for tables that mix literal fragments with formatted ones.
pub fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The error and its sources, as the CLI prints them.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// The message of an error that `result` must hold.
pub fn error_text<T>(result: lstm_sentiment::Result<T>) -> String {
    match result {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}
