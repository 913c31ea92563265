//! What vector files may hold: finite values only, each word once, numbers where numbers
//! belong; each violation is an error naming the word and the line (or vector). And `-k 0` is a
//! usage error.

use crate::common::{failure, run, stderr, stdout};
use lstm_sentiment::vectors::{detect_format, Embeddings, Utf8, VectorFormat};
use std::path::Path;

fn read(bytes: &[u8], format: VectorFormat, utf8: Utf8) -> lstm_sentiment::Result<Embeddings> {
    Embeddings::read(bytes, format, utf8, Path::new("v.vec"))
}

fn read_err(bytes: &[u8], format: VectorFormat) -> String {
    match read(bytes, format, Utf8::Strict) {
        Ok(v) => panic!(
            "{:?} was accepted: {:?}",
            String::from_utf8_lossy(bytes),
            v.words()
        ),
        Err(e) => e.to_string(),
    }
}

/// word2vec binary bytes for `rows` of dimension 2.
fn binary(rows: &[(&str, [f32; 2])]) -> Vec<u8> {
    let mut bytes = format!("{} 2\n", rows.len()).into_bytes();
    for (word, values) in rows {
        bytes.extend_from_slice(word.as_bytes());
        bytes.push(b' ');
        for v in values {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        bytes.push(b'\n');
    }
    bytes
}

#[test]
fn non_finite_values_are_refused_naming_word_and_line() {
    for (value, shown) in [("nan", "NaN"), ("-inf", "-inf"), ("1e39", "inf")] {
        let text = format!("2 2\ngood 1 2\nbad 0.5 {value}\n");
        let err = read_err(text.as_bytes(), VectorFormat::Word2VecText);
        assert!(
            err.starts_with(&format!("v.vec:3: value 2 of `bad` is {shown}")),
            "{err}"
        );
        let glove = format!("good 1 2\nbad {value} 1\n");
        let err = read_err(glove.as_bytes(), VectorFormat::Glove);
        assert!(err.starts_with("v.vec:2: value 1 of `bad`"), "{err}");
    }
    let bytes = binary(&[("good", [1.0, 2.0]), ("bad", [f32::NAN, 1.0])]);
    let err = read_err(&bytes, VectorFormat::Word2VecBinary);
    assert!(err.contains("vector 2: value 1 of `bad` is NaN"), "{err}");
}

#[test]
fn a_repeated_word_is_refused_naming_both_places() {
    let err = read_err(b"3 2\na 1 2\nb 3 4\na 5 6\n", VectorFormat::Word2VecText);
    assert!(
        err.starts_with("v.vec:4: `a` repeats the word of line 2"),
        "{err}"
    );
    let err = read_err(b"a 1 2\na 3 4\n", VectorFormat::Glove);
    assert!(
        err.starts_with("v.vec:2: `a` repeats the word of line 1"),
        "{err}"
    );
    let bytes = binary(&[("a", [1.0, 2.0]), ("b", [3.0, 4.0]), ("a", [5.0, 6.0])]);
    let err = read_err(&bytes, VectorFormat::Word2VecBinary);
    assert!(
        err.contains("vector 3: `a` repeats the word of vector 1"),
        "{err}"
    );
    let err = Embeddings::new(vec!["a".into(), "a".into()], 1, vec![1.0, 2.0]).unwrap_err();
    assert!(err.to_string().contains("`a` is given twice"), "{err}");
}

#[test]
fn lossy_decoding_keeps_the_first_row_of_words_it_merges() {
    // Two different invalid bytes both decode to U+FFFD.
    let bytes = b"\xff 1 2\n\xfe 3 4\nok 5 6\n";
    let vectors = read(bytes, VectorFormat::Glove, Utf8::Lossy).unwrap();
    assert_eq!(vectors.words(), ["\u{fffd}", "ok"]);
    assert_eq!(vectors.vector("\u{fffd}"), Some(&[1.0, 2.0][..]));
}

#[test]
fn similar_refuses_a_file_that_repeats_a_word() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("v.txt"), "3 2\na 1 2\nb 1 3\na 1 4\n").unwrap();
    let out = run(tmp.path(), &["similar", "b", "-v", "v.txt"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stderr(&out).contains("v.txt:4: `a` repeats"));
}

#[test]
fn a_word_that_is_not_a_number_is_named_in_a_text_file() {
    // The first vector holds the bad value: the file is still recognized as text.
    let text = b"3 2\ngood 1 x\nbad 3 4\nfine 5 6\n";
    assert_eq!(detect_format(text), Some(VectorFormat::Word2VecText));
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("v.txt"), text).unwrap();
    let err = failure(&run(tmp.path(), &["similar", "bad", "-v", "v.txt"]), 1);
    assert!(
        err.contains("v.txt:2: value 2 of `good` is `x`, which is not a number"),
        "{err}"
    );
}

#[test]
fn k_zero_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    for args in [
        &["similar", "good", "-k", "0"][..],
        &["analogy", "good", "bad", "fine", "-k", "0"],
    ] {
        let out = run(tmp.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains("-k"), "{args:?}");
    }
}
