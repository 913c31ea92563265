//! Vector files: round trips in every format, gensim-made fixtures, malformed input, what a file
//! may hold (finite values, each word once, numbers where numbers belong: each violation an
//! error naming the word and the line or vector), queries and their commands, and the bridge to
//! a classifier's embedding table.

use crate::common::{failure, labelled, repo, run, stderr, stdout, tiny_train_config, trained};
use lstm_sentiment::tokenizer::{TextTokenizer, PAD_ID, UNK_ID};
use lstm_sentiment::vectors::{
    classifier_embeddings, detect_format, embedding_init, Embeddings, Utf8, VectorFormat,
};
use lstm_sentiment::{Classifier, Error, TokenizerConfig, TrainConfig};
use std::path::Path;

const FORMATS: [VectorFormat; 3] = [
    VectorFormat::Word2VecBinary,
    VectorFormat::Word2VecText,
    VectorFormat::Glove,
];

fn origin() -> &'static Path {
    Path::new("vectors.bin")
}

/// Words and values that are easy to get wrong: non-ASCII words and numbers at the edges of
/// f32 (tiny, subnormal, huge, negative zero, the largest finite values).
fn tricky() -> Embeddings {
    let words = ["the", "café", "这", "[UNK]", "don't", "naïve"];
    let values = [
        0.1f32,
        -0.0,
        1.0 / 3.0,
        1e-30,
        f32::MIN_POSITIVE / 8.0,
        3.0e38,
        -1.5e-7,
        f32::MIN,
        f32::from_bits(1),
        123_456.79,
        f32::MAX,
        -f32::MIN_POSITIVE,
    ];
    let dim = 4;
    let data = (0..words.len() * dim)
        .map(|i| values[i % values.len()] * if i % 5 == 0 { -1.0 } else { 1.0 })
        .collect();
    Embeddings::new(words.iter().map(|w| w.to_string()).collect(), dim, data).unwrap()
}

fn bits(vectors: &Embeddings) -> Vec<u32> {
    vectors.data().iter().map(|v| v.to_bits()).collect()
}

fn write(vectors: &Embeddings, format: VectorFormat) -> Vec<u8> {
    let mut bytes = Vec::new();
    vectors.write(&mut bytes, format).unwrap();
    bytes
}

fn read(bytes: &[u8], format: VectorFormat) -> lstm_sentiment::Result<Embeddings> {
    Embeddings::read(bytes, format, Utf8::Strict, origin())
}

/// The error reading `bytes` gives; panics with what was read if there is none.
fn read_err(bytes: &[u8], format: VectorFormat) -> String {
    match read(bytes, format) {
        Ok(v) => panic!(
            "{:?} was accepted: {:?}",
            String::from_utf8_lossy(bytes),
            v.words()
        ),
        Err(e) => e.to_string(),
    }
}

#[test]
fn every_format_round_trips_bit_for_bit() {
    let vectors = tricky();
    for format in FORMATS {
        let bytes = write(&vectors, format);
        let back = read(&bytes, format).unwrap();
        assert_eq!(back.words(), vectors.words(), "{format:?}");
        assert_eq!(back.dim(), vectors.dim());
        assert_eq!(bits(&back), bits(&vectors), "{format:?}");
        // Writing what was read gives the same bytes again.
        assert_eq!(write(&back, format), bytes, "{format:?}");
    }
}

#[test]
fn binary_reads_with_and_without_the_trailing_newline() {
    let vectors = tricky();
    for newline in [true, false] {
        let mut bytes = Vec::new();
        vectors.write_word2vec_binary(&mut bytes, newline).unwrap();
        let back = read(&bytes, VectorFormat::Word2VecBinary).unwrap();
        assert_eq!(back.words(), vectors.words());
        assert_eq!(bits(&back), bits(&vectors));
    }
}

#[test]
fn words_are_looked_up_by_their_row() {
    let vectors = tricky();
    assert_eq!(vectors.len(), 6);
    assert_eq!(vectors.index_of("the"), Some(0));
    assert_eq!(vectors.vector("naïve"), vectors.row(5));
    assert_eq!(vectors.vector("missing"), None);
}

#[test]
fn formats_are_detected_from_the_first_bytes() {
    let vectors = tricky();
    for format in FORMATS {
        assert_eq!(detect_format(&write(&vectors, format)), Some(format));
    }
    // A cut-off head still decides.
    let text = write(&vectors, VectorFormat::Word2VecText);
    assert_eq!(detect_format(&text[..20]), Some(VectorFormat::Word2VecText));
    let glove = write(&vectors, VectorFormat::Glove);
    assert_eq!(detect_format(&glove[..8]), Some(VectorFormat::Glove));
    assert_eq!(detect_format(b"hello world\n"), None);
    assert_eq!(detect_format(b""), None);
    assert_eq!(detect_format(b"2 3\n"), Some(VectorFormat::Word2VecText));
}

/// A header may announce any dimension, the largest number included: detection judges the
/// line after it without overflowing (the fuzzer's find), and reading refuses the file.
#[test]
fn a_header_announcing_the_largest_dimension_is_judged_and_refused() {
    let max = usize::MAX;
    for head in [
        format!("3 {max}\nword 0.5 0.25\n"),
        format!("3 {max}\nword 0.5"),
    ] {
        // Two values cannot fill the line a text header promises: binary by the rule above,
        // unless the line is cut short.
        assert!(detect_format(head.as_bytes()).is_some(), "{head:?}");
        // (As GloVe the header is just a word, "3", with one value.)
        for format in [VectorFormat::Word2VecText, VectorFormat::Word2VecBinary] {
            assert!(
                read(head.as_bytes(), format).is_err(),
                "{format:?} {head:?}"
            );
        }
    }
}

#[test]
fn words_that_cannot_be_read_back_are_refused() {
    for word in ["two words", "", "tab\there", "new\nline"] {
        let vectors = Embeddings::new(vec![word.to_string()], 1, vec![1.0]).unwrap();
        for format in FORMATS {
            let err = vectors.write(&mut Vec::new(), format).unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{word:?}");
        }
    }
}

#[test]
fn new_checks_the_shape() {
    assert!(matches!(
        Embeddings::new(vec!["a".into()], 2, vec![1.0]),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        Embeddings::new(vec![], 0, vec![]),
        Err(Error::Config(_))
    ));
}

// ---- gensim ----

/// The values scripts/parity/gensim_fixtures.py puts in every fixture.
fn fixture_expected() -> (Vec<&'static str>, Vec<f32>) {
    let words = vec!["the", "good", "bad", "café", "这", "don't", "[UNK]", "odd"];
    let mut data: Vec<f32> = (0..words.len() * 5)
        .map(|k| (k as f32 - 17.0) / 8.0)
        .collect();
    data[35..40].copy_from_slice(&[1.0 / 3.0, 1e-7, -2.5e6, 65504.0, -0.0]);
    (words, data)
}

fn fixture(name: &str) -> Vec<u8> {
    let path = repo().join("tests/fixtures/vectors").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn gensim_files_load() {
    let (words, data) = fixture_expected();
    for (name, format) in [
        ("gensim.bin", VectorFormat::Word2VecBinary),
        ("word2vec-c.bin", VectorFormat::Word2VecBinary),
        ("gensim.txt", VectorFormat::Word2VecText),
        ("gensim-glove.txt", VectorFormat::Glove),
    ] {
        let bytes = fixture(name);
        assert_eq!(detect_format(&bytes), Some(format), "{name}");
        let vectors = read(&bytes, format).unwrap();
        assert_eq!(vectors.words(), words, "{name}");
        assert_eq!(vectors.dim(), 5);
        assert_eq!(
            vectors
                .data()
                .iter()
                .map(|v| v.to_bits())
                .collect::<Vec<_>>(),
            data.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            "{name}"
        );
        assert_eq!(
            vectors.vector("good"),
            Some(&[-1.5, -1.375, -1.25, -1.125, -1.0][..])
        );
    }
}

#[test]
fn gensim_binary_is_reproduced_byte_for_byte() {
    for (name, newline) in [("gensim.bin", false), ("word2vec-c.bin", true)] {
        let bytes = fixture(name);
        let vectors = read(&bytes, VectorFormat::Word2VecBinary).unwrap();
        let mut again = Vec::new();
        vectors.write_word2vec_binary(&mut again, newline).unwrap();
        assert_eq!(again, bytes, "{name}");
    }
}

// ---- malformed files ----

#[test]
fn binary_errors_give_the_byte_offset() {
    let vectors = Embeddings::new(vec!["ab".into(), "cd".into()], 2, vec![1.0; 4]).unwrap();
    let mut bytes = Vec::new();
    vectors.write_word2vec_binary(&mut bytes, false).unwrap();
    // "2 2\n" (4 bytes) + "ab " (3) + 8 + "cd " (3) + 8 = 26 bytes.
    assert_eq!(bytes.len(), 26);

    let err = read_err(&bytes[..20], VectorFormat::Word2VecBinary);
    assert!(err.contains("vectors.bin: byte 18: vector 2"), "{err}");
    assert!(err.contains("ends within its 2 values"), "{err}");

    let err = read_err(&bytes[..15], VectorFormat::Word2VecBinary);
    assert!(
        err.contains("byte 15: the header announces 2 vectors, the file ends after 1"),
        "{err}"
    );

    let mut extra = bytes.clone();
    extra.extend_from_slice(b"\nef ");
    let err = read_err(&extra, VectorFormat::Word2VecBinary);
    assert!(
        err.contains("byte 27: more data after the 2 vectors"),
        "{err}"
    );

    let err = read_err(b"2 two\nab ", VectorFormat::Word2VecBinary);
    assert!(err.starts_with("vectors.bin:1: expected a header"), "{err}");

    let err = read_err(b"1 2\n ", VectorFormat::Word2VecBinary);
    assert!(err.contains("byte 4: vector 1: empty word"), "{err}");
}

#[test]
fn invalid_utf8_is_an_error_unless_lossy() {
    let mut binary = b"1 1\nab\xffc ".to_vec();
    binary.extend_from_slice(&2.5f32.to_le_bytes());
    let err = read_err(&binary, VectorFormat::Word2VecBinary);
    assert!(
        err.contains("byte 6: vector 1: the word is not valid UTF-8"),
        "{err}"
    );
    let lossy = Embeddings::read(
        &binary[..],
        VectorFormat::Word2VecBinary,
        Utf8::Lossy,
        origin(),
    )
    .unwrap();
    assert_eq!(lossy.words(), ["ab\u{fffd}c"]);
    assert_eq!(lossy.data(), [2.5]);

    let text = b"1 1\nab\xffc 2.5\n";
    let err = read_err(text, VectorFormat::Word2VecText);
    assert!(
        err.starts_with("vectors.bin:2: invalid UTF-8 at byte 3"),
        "{err}"
    );
    let lossy =
        Embeddings::read(&text[..], VectorFormat::Word2VecText, Utf8::Lossy, origin()).unwrap();
    assert_eq!(lossy.words(), ["ab\u{fffd}c"]);
}

#[test]
fn text_errors_give_the_line() {
    let cases: [(&[u8], VectorFormat, &str); 9] = [
        (b"", VectorFormat::Word2VecText, ":1: expected a header"),
        (b"2\n", VectorFormat::Word2VecText, ":1: expected a header"),
        (
            b"1 0\n",
            VectorFormat::Word2VecText,
            ":1: expected a header",
        ),
        (
            b"2 2\na 1 2\nb 1\n",
            VectorFormat::Word2VecText,
            ":3: expected 2 values after the word `b`, found 1",
        ),
        (
            b"2 2\na 1 2\nb 1 x\n",
            VectorFormat::Word2VecText,
            ":3: value 2 of `b` is `x`, which is not a number",
        ),
        (
            b"2 2\na 1 2\n\n",
            VectorFormat::Word2VecText,
            ":3: the header announces 2 vectors, the file ends after 1",
        ),
        (
            b"1 2\na 1 2\nb 3 4\n",
            VectorFormat::Word2VecText,
            ":3: more vectors than the 1 the header announces",
        ),
        (
            b"a 1 2\nb 1 2 3\n",
            VectorFormat::Glove,
            ":2: expected 2 values after the word `b`, found 3",
        ),
        (b"a\n", VectorFormat::Glove, ":1: `a` has no values"),
    ];
    for (bytes, format, expected) in cases {
        let err = read_err(bytes, format);
        assert!(
            err.contains(expected),
            "{:?}: {err}",
            String::from_utf8_lossy(bytes)
        );
        assert!(err.starts_with("vectors.bin"), "{err}");
    }
    assert!(read_err(b"\n\n", VectorFormat::Glove).contains("no vectors found"));
}

#[test]
fn text_accepts_crlf_trailing_spaces_and_blank_lines() {
    // fastText's .vec ends each line with a space.
    let text = b"\xEF\xBB\xBF2 3\r\na 1 2 3 \r\n\r\nb 4 5 6 \r\n";
    let vectors = read(text, VectorFormat::Word2VecText).unwrap();
    assert_eq!(vectors.words(), ["a", "b"]);
    assert_eq!(vectors.data(), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    // A header of zero vectors is a valid (empty) file.
    assert!(read(b"0 3\n", VectorFormat::Word2VecText)
        .unwrap()
        .is_empty());
    assert!(read(b"0 3\n", VectorFormat::Word2VecBinary)
        .unwrap()
        .is_empty());
}

#[test]
fn huge_header_counts_do_not_allocate_up_front() {
    let err = read_err(b"999999999999 999999\n", VectorFormat::Word2VecBinary);
    assert!(err.contains("the file ends after 0"), "{err}");
    let err = read_err(
        b"18446744073709551615 18446744073709551615\n",
        VectorFormat::Word2VecBinary,
    );
    assert!(err.contains("too large"), "{err}");
}

// ---- what a file may hold: finite values, each word once, numbers where numbers belong ----

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
            err.starts_with(&format!("vectors.bin:3: value 2 of `bad` is {shown}")),
            "{err}"
        );
        let glove = format!("good 1 2\nbad {value} 1\n");
        let err = read_err(glove.as_bytes(), VectorFormat::Glove);
        assert!(err.starts_with("vectors.bin:2: value 1 of `bad`"), "{err}");
    }
    let bytes = binary(&[("good", [1.0, 2.0]), ("bad", [f32::NAN, 1.0])]);
    let err = read_err(&bytes, VectorFormat::Word2VecBinary);
    assert!(err.contains("vector 2: value 1 of `bad` is NaN"), "{err}");
}

#[test]
fn a_repeated_word_is_refused_naming_both_places() {
    let err = read_err(b"3 2\na 1 2\nb 3 4\na 5 6\n", VectorFormat::Word2VecText);
    assert!(
        err.starts_with("vectors.bin:4: `a` repeats the word of line 2"),
        "{err}"
    );
    let err = read_err(b"a 1 2\na 3 4\n", VectorFormat::Glove);
    assert!(
        err.starts_with("vectors.bin:2: `a` repeats the word of line 1"),
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
    let vectors = Embeddings::read(&bytes[..], VectorFormat::Glove, Utf8::Lossy, origin()).unwrap();
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

// ---- queries ----

fn toy() -> Embeddings {
    let rows: [(&str, [f32; 3]); 7] = [
        ("king", [0.9, 0.8, 0.1]),
        ("queen", [0.9, 0.1, 0.8]),
        ("man", [0.2, 0.9, 0.1]),
        ("woman", [0.2, 0.1, 0.9]),
        ("apple", [-0.9, 0.1, 0.1]),
        ("zero", [0.0, 0.0, 0.0]),
        ("pear", [-0.8, 0.2, 0.1]),
    ];
    Embeddings::new(
        rows.iter().map(|(w, _)| w.to_string()).collect(),
        3,
        rows.iter().flat_map(|(_, v)| *v).collect(),
    )
    .unwrap()
}

#[test]
fn similar_ranks_by_cosine_and_leaves_out_the_word() {
    let vectors = toy();
    let neighbours = vectors.similar("apple", 10).unwrap();
    assert_eq!(neighbours[0].word, "pear");
    assert!(neighbours
        .iter()
        .all(|n| n.word != "apple" && n.word != "zero"));
    assert_eq!(neighbours.len(), 5);
    assert!(neighbours
        .windows(2)
        .all(|w| w[0].similarity >= w[1].similarity));
    let expected = (0.72 + 0.02 + 0.01) / ((0.83f32).sqrt() * (0.69f32).sqrt());
    assert!((neighbours[0].similarity - expected).abs() < 1e-6);
    assert_eq!(vectors.similar("apple", 1).unwrap().len(), 1);
    assert!(vectors.similar("apple", 0).unwrap().is_empty());
    assert!(vectors.similar("nothing", 3).is_none());
}

#[test]
fn analogy_finds_b_minus_a_plus_c() {
    let vectors = toy();
    let answers = vectors.analogy("man", "king", "woman", 3).unwrap();
    assert_eq!(answers[0].word, "queen");
    assert!(answers
        .iter()
        .all(|n| !["man", "king", "woman"].contains(&n.word.as_str())));
    assert!(vectors.analogy("man", "king", "nobody", 3).is_none());
}

// ---- the classifier's table ----

fn tokenizer() -> TextTokenizer {
    TextTokenizer::build(
        ["good movie good film", "bad movie", "Café"],
        &TokenizerConfig::default(),
    )
    .unwrap()
}

#[test]
fn embedding_init_matches_normalized_words() {
    let tokenizer = tokenizer();
    let id = |w: &str| tokenizer.token_to_id(w).unwrap() as usize;
    // "GOOD" comes first but "good" is an exact spelling and wins; "CAFÉ" is found through
    // lowercasing; "[PAD]" must not fill the padding row; "movie!" is two tokens.
    let file = "6 2\nGOOD 9 9\ngood 1 2\nCAFÉ 3 4\n[PAD] 5 5\n[UNK] 7 8\nmovie! 6 6\n";
    let vectors = read(file.as_bytes(), VectorFormat::Word2VecText).unwrap();
    let vocab = tokenizer.vocab_size();
    let mut table = vec![-1.0f32; vocab * 2];
    let coverage = embedding_init(&tokenizer, &vectors, &mut table).unwrap();
    let row = |id: usize| &table[id * 2..id * 2 + 2];
    assert_eq!(row(id("good")), [1.0, 2.0]);
    assert_eq!(row(id("café")), [3.0, 4.0]);
    assert_eq!(row(PAD_ID as usize), [0.0, 0.0]);
    assert_eq!(row(UNK_ID as usize), [7.0, 8.0]);
    assert_eq!(row(id("movie")), [-1.0, -1.0]);
    assert_eq!(row(id("bad")), [-1.0, -1.0]);
    // good, café of: good movie film bad café.
    assert_eq!(coverage.matched, 2);
    assert_eq!(coverage.words, vocab - 2);
    assert!((coverage.fraction() - 0.4).abs() < 1e-12);
}

#[test]
fn embedding_init_checks_the_dimension() {
    let tokenizer = tokenizer();
    let vectors = read(b"1 3\ngood 1 2 3\n", VectorFormat::Word2VecText).unwrap();
    let mut table = vec![0.0f32; tokenizer.vocab_size() * 2];
    let err = embedding_init(&tokenizer, &vectors, &mut table).unwrap_err();
    assert!(matches!(err, Error::Config(_)));
    assert!(err.to_string().contains("dimension 3"), "{err}");
}

/// A small classifier trained here: the built-in model is not in every build.
fn small_classifier() -> Classifier {
    let examples = labelled(40, &["pos", "neg"], |i| {
        ["a good film", "a bad film", "Great café!", "awful 10/10"][i % 4].to_string()
    });
    let config = TrainConfig {
        embedding_dim: 6,
        ..tiny_train_config(TrainConfig::default().seed)
    };
    trained(&examples, None, &config).0
}

#[test]
fn a_classifier_table_survives_export_and_init() {
    let classifier = small_classifier();
    let exported = classifier_embeddings(&classifier).unwrap();
    let tokenizer = classifier.tokenizer();
    assert_eq!(exported.len(), tokenizer.vocab_size());
    assert_eq!(exported.dim(), 6);
    assert_eq!(exported.words()[..2], ["[PAD]", "[UNK]"]);
    assert!(exported.vector("café").is_some());
    for format in FORMATS {
        let back = read(&write(&exported, format), format).unwrap();
        let mut table = vec![f32::NAN; exported.data().len()];
        let coverage = embedding_init(tokenizer, &back, &mut table).unwrap();
        assert_eq!(coverage.matched, coverage.words, "{format:?}");
        assert_eq!(
            table.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            bits(&exported),
            "{format:?}"
        );
    }
}
