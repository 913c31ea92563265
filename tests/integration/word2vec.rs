//! word2vec on a corpus with planted structure, its reproducibility and controls, and the
//! `word2vec` / `similar` / `analogy` / `export-embeddings` commands end to end.

use crate::common::{args, failure, run, stderr, success, tiny_train_args, Lcg};
use lstm_sentiment::vectors::{Embeddings, Utf8, VectorFormat};
use lstm_sentiment::word2vec::{train, Architecture, Word2VecConfig, Word2VecEvent};
use lstm_sentiment::Error;
use std::ops::ControlFlow;
use std::path::Path;

/// Two groups of words that never share a sentence: "red green ..." and "cat dog ...".
const GROUPS: [[&str; 8]; 2] = [
    [
        "red", "green", "blue", "pink", "gray", "teal", "gold", "cyan",
    ],
    ["cat", "dog", "cow", "pig", "hen", "fox", "owl", "bat"],
];

fn corpus(sentences: usize) -> Vec<String> {
    let mut rng = Lcg(12345);
    (0..sentences)
        .map(|i| {
            let group = &GROUPS[i % 2];
            let words: Vec<&str> = (0..8).map(|_| group[rng.below(8)]).collect();
            // Mixed case and punctuation: the tokenizer lowercases and splits them off.
            let text = words.join(" ");
            if i % 7 == 0 {
                format!("{}!", text.to_uppercase())
            } else {
                text
            }
        })
        .collect()
}

fn config(architecture: Architecture) -> Word2VecConfig {
    Word2VecConfig {
        architecture,
        dim: 16,
        window: 3,
        min_count: 1,
        sample: 0.0,
        epochs: 5,
        threads: 1,
        seed: 7,
        ..Word2VecConfig::default()
    }
}

fn quiet(_: &Word2VecEvent) -> ControlFlow<()> {
    ControlFlow::Continue(())
}

/// Every group word's 3 nearest neighbours are from its own group.
fn assert_groups(vectors: &Embeddings, what: &str) {
    for (g, group) in GROUPS.iter().enumerate() {
        for word in group {
            let neighbours = vectors.similar(word, 3).unwrap();
            for n in &neighbours {
                assert!(
                    GROUPS[g].contains(&n.word.as_str()),
                    "{what}: {word} -> {neighbours:?}"
                );
            }
        }
    }
}

#[test]
fn planted_groups_are_recovered_by_every_variant() {
    let texts = corpus(400);
    let variants = [
        ("skip-gram", config(Architecture::SkipGram)),
        ("cbow", config(Architecture::Cbow)),
        (
            "hierarchical softmax",
            Word2VecConfig {
                negative: 0,
                hierarchical_softmax: true,
                ..config(Architecture::SkipGram)
            },
        ),
        (
            "two threads, sub-sampling",
            Word2VecConfig {
                threads: 2,
                sample: 1e-2,
                ..config(Architecture::SkipGram)
            },
        ),
    ];
    for (what, config) in variants {
        let vectors = train(&texts, &config, quiet).unwrap();
        // 16 group words and "!".
        assert_eq!(vectors.len(), 17, "{what}");
        assert_eq!(vectors.dim(), 16);
        assert_groups(&vectors, what);
    }
}

#[test]
fn one_thread_and_a_seed_give_the_same_vectors() {
    let texts = corpus(60);
    let config = Word2VecConfig {
        sample: 1e-2,
        ..config(Architecture::SkipGram)
    };
    let first = train(&texts, &config, quiet).unwrap();
    let second = train(&texts, &config, quiet).unwrap();
    assert_eq!(first, second);
    let other_seed = Word2VecConfig { seed: 8, ..config };
    assert_ne!(
        train(&texts, &other_seed, quiet).unwrap().data(),
        first.data()
    );
}

#[test]
fn vocabulary_is_counted_then_ordered_by_count() {
    let texts = ["b a c a", "c b a", "d"];
    let config = Word2VecConfig {
        min_count: 2,
        ..config(Architecture::Cbow)
    };
    let vectors = train(&texts, &config, quiet).unwrap();
    assert_eq!(vectors.words(), ["a", "b", "c"]);
}

#[test]
fn progress_is_reported_and_can_stop_training() {
    let texts = corpus(40);
    let mut events = Vec::new();
    train(&texts, &config(Architecture::Cbow), |e| {
        events.push(e.clone());
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(
        events.first(),
        Some(&Word2VecEvent::Vocabulary {
            words: 17,
            tokens: 320 + 6
        })
    );
    match events.last() {
        Some(Word2VecEvent::Progress {
            fraction,
            lr,
            epoch,
            ..
        }) => {
            assert_eq!(*fraction, 1.0);
            assert_eq!(*epoch, 5);
            assert!((lr - 1e-4).abs() < 1e-7, "{lr}");
        }
        other => panic!("last event {other:?}"),
    }

    let result = train(&texts, &config(Architecture::Cbow), |_| {
        ControlFlow::Break(())
    });
    assert!(matches!(result, Err(Error::Cancelled)));
}

#[test]
fn bad_settings_are_refused() {
    let texts = corpus(4);
    let bad = [
        Word2VecConfig {
            dim: 0,
            ..config(Architecture::Cbow)
        },
        Word2VecConfig {
            threads: 0,
            ..config(Architecture::Cbow)
        },
        Word2VecConfig {
            negative: 0,
            ..config(Architecture::Cbow)
        },
        Word2VecConfig {
            lr: Some(f32::NAN),
            ..config(Architecture::Cbow)
        },
        Word2VecConfig {
            sample: -1.0,
            ..config(Architecture::Cbow)
        },
        Word2VecConfig {
            min_count: 1000,
            ..config(Architecture::Cbow)
        },
    ];
    for config in bad {
        let result = train(&texts, &config, quiet);
        assert!(matches!(result, Err(Error::Config(_))), "{config:?}");
    }
    let empty: [&str; 0] = [];
    assert!(train(&empty, &config(Architecture::Cbow), quiet).is_err());
}

// ---- the commands ----

#[test]
fn word2vec_similar_and_analogy_commands() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // Labelled data: the text column is the corpus.
    let tsv: String = corpus(400).iter().map(|t| format!("x\t{t}\n")).collect();
    std::fs::write(dir.join("corpus.tsv"), tsv).unwrap();
    let out = run(
        dir,
        &args(
            "word2vec --input corpus.tsv --out v.txt --sg --dim 16 --window 3 --min-count 1 \
             --sample 0 --threads 1 --seed 7",
        ),
    );
    success(&out);
    assert!(stderr(&out).contains("vocabulary: 17 words"));
    let bytes = std::fs::read(dir.join("v.txt")).unwrap();
    assert!(
        bytes.starts_with(b"17 16\n"),
        "text format from the extension"
    );
    let vectors = Embeddings::read(
        &bytes[..],
        VectorFormat::Word2VecText,
        Utf8::Strict,
        Path::new("v.txt"),
    )
    .unwrap();
    assert_groups(&vectors, "cli");

    let lines = success(&run(dir, &args("similar red --vectors v.txt -k 3")));
    assert_eq!(lines.lines().count(), 3);
    for line in lines.lines() {
        let (word, similarity) = line.split_once('\t').unwrap();
        assert!(GROUPS[0].contains(&word), "{line}");
        assert!(similarity.parse::<f32>().unwrap() <= 1.0);
    }

    let json = success(&run(
        dir,
        &args("analogy red green cat -v v.txt -k 2 --json"),
    ));
    let value: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(value["query"], serde_json::json!(["red", "green", "cat"]));
    assert_eq!(value["neighbours"].as_array().unwrap().len(), 2);

    let out = run(dir, &args("similar unicorn --vectors v.txt"));
    assert!(failure(&out, 1).contains("`unicorn` is not in the vocabulary"));
}

#[test]
fn export_embeddings_and_query_a_model_table() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // A small model trained here: the built-in model is not in every build.
    let data: String = (0..40)
        .map(|i| ["1\tgood film good plot\n", "0\tbad film bad plot\n"][i % 2])
        .collect();
    std::fs::write(dir.join("train.tsv"), data).unwrap();
    success(&run(dir, &tiny_train_args("model", "1", &["-q"])));
    success(&run(
        dir,
        &args("export-embeddings --model model --out model.bin"),
    ));
    let bytes = std::fs::read(dir.join("model.bin")).unwrap();
    let vectors = Embeddings::read(
        &bytes[..],
        VectorFormat::Word2VecBinary,
        Utf8::Strict,
        Path::new("model.bin"),
    )
    .unwrap();
    assert_eq!(vectors.words()[..2], ["[PAD]", "[UNK]"]);
    let mut words = vectors.words()[2..].to_vec();
    words.sort();
    assert_eq!(words, ["bad", "film", "good", "plot"]);
    assert_eq!(vectors.dim(), 8);

    // The model normalizes the query word as it normalizes text, and never shows its special
    // tokens; the exported file gives the same neighbours.
    let from_model = success(&run(dir, &args("similar GOOD --model model -k 3")));
    let from_file = success(&run(dir, &args("similar good --vectors model.bin -k 4")));
    let words = |out: &str| -> Vec<String> {
        out.lines()
            .map(|l| l.split('\t').next().unwrap().to_string())
            .filter(|w| w != "[UNK]")
            .take(3)
            .collect()
    };
    assert_eq!(words(&from_model), words(&from_file));
    assert_eq!(from_model.lines().count(), 3);
    assert!(!from_model.contains("[UNK]") && !from_model.contains("[PAD]"));
}

#[test]
fn train_with_word2vec_gives_ids_to_frequent_words_of_the_unlabelled_text() {
    let tmp = crate::common::train_dir(40);
    let dir = tmp.path();
    // Words the training texts lack: juniper four times, kelp three, larch once.
    let more = "juniper kelp juniper\njuniper kelp larch\njuniper kelp good film\n";
    std::fs::write(dir.join("more.txt"), more).unwrap();
    let vocabulary = |out: &str, extra: &[&str]| {
        let mut flags = vec!["--pretrain-word2vec", "--unlabeled", "more.txt"];
        flags.extend_from_slice(&["--min-count", "2", "-q"]);
        flags.extend_from_slice(extra);
        success(&run(dir, &tiny_train_args(out, "1", &flags)));
        let model = lstm_sentiment::Classifier::load(dir.join(out)).unwrap();
        model.tokenizer().clone()
    };
    let labelled = vocabulary("plain", &[]);
    assert_eq!(labelled.token_to_id("juniper"), None);

    let one = vocabulary("one", &["--unlabeled-words", "1"]);
    assert_eq!(one.vocab_size(), labelled.vocab_size() + 1);
    assert_eq!(
        one.token_to_id("juniper"),
        Some(labelled.vocab_size() as u32)
    );
    assert_eq!(one.token_to_id("kelp"), None);

    // Only words seen --min-count times count; the labelled words keep their ids.
    let all = vocabulary("all", &["--unlabeled-words", "10"]);
    assert_eq!(all.vocab_size(), labelled.vocab_size() + 2);
    assert_eq!(
        all.token_to_id("kelp"),
        Some(labelled.vocab_size() as u32 + 1)
    );
    assert_eq!(all.token_to_id("larch"), None);
    assert_eq!(all.token_to_id("good"), labelled.token_to_id("good"));
}

#[test]
fn unlabelled_words_need_word2vec_and_an_unlabelled_file() {
    let tmp = crate::common::train_dir(20);
    for extra in [
        &["--unlabeled-words", "5", "--pretrain-word2vec"][..],
        &[
            "--unlabeled-words",
            "5",
            "--pretrain-lm",
            "--unlabeled",
            "train.tsv",
        ][..],
    ] {
        let err = failure(&run(tmp.path(), &tiny_train_args("m", "1", extra)), 2);
        assert!(err.contains("--unlabeled-words"), "{err}");
    }
}
