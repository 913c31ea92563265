//! `explain` and `Classifier::explain`: on models trained on planted data (one word or character
//! decides the label) the planted token carries the largest contribution, offsets slice the
//! text as written (Chinese, mixed case and full-width forms included), truncation and hashed
//! bigrams are respected, and the command prints text or JSON.

use crate::common::{args, bin, dir_with, labelled, success, trained, tsv, Lcg};
use lstm_sentiment::{Classifier, Explanation, TrainConfig, Truncation};
use std::io::Write;
use std::process::Stdio;

const FILLER: [&str; 12] = [
    "the", "a", "movie", "plot", "was", "it", "and", "actor", "scene", "story", "my", "day",
];
const ZH_FILLER: [&str; 10] = ["我", "们", "今", "天", "去", "公", "园", "看", "电", "影"];

/// Texts of filler with one planted word deciding the label: `superb` or `awful` in English,
/// 棒 or 糟 in Chinese, at a random place.
fn planted(n: usize, zh: bool) -> Vec<lstm_sentiment::Example> {
    let mut rng = Lcg(7);
    labelled(n, &["positive", "negative"], |i| {
        let (filler, cue, sep): (&[&str], _, _) = if zh {
            (&ZH_FILLER, ["棒", "糟"][i % 2], "")
        } else {
            (&FILLER, ["superb", "awful"][i % 2], " ")
        };
        let mut words: Vec<&str> = (0..5).map(|_| filler[rng.below(filler.len())]).collect();
        words.insert(rng.below(words.len() + 1), cue);
        words.join(sep)
    })
}

fn config(ngram_buckets: usize) -> TrainConfig {
    TrainConfig {
        embedding_dim: 16,
        hidden_size: 16,
        epochs: Some(6),
        lr: 0.01,
        dev_fraction: 0.0,
        ngram_buckets: Some(ngram_buckets),
        seed: 5,
        ..TrainConfig::default()
    }
}

fn planted_model(zh: bool, ngram_buckets: usize) -> Classifier {
    trained(&planted(400, zh), None, &config(ngram_buckets)).0
}

/// The token with the largest contribution.
fn strongest(e: &Explanation) -> &str {
    let top = e
        .tokens
        .iter()
        .max_by(|a, b| a.contribution.total_cmp(&b.contribution));
    &top.unwrap().token
}

/// Every token's offsets slice the text as written, and that slice reads as the token.
fn assert_offsets_slice_the_text(classifier: &Classifier, e: &Explanation) {
    for t in &e.tokens {
        let written: String = e.text.chars().skip(t.start).take(t.end - t.start).collect();
        assert_eq!(written, &e.text[t.bytes.clone()], "{t:?}");
        let read = classifier.tokenizer().tokens(&written).unwrap();
        assert_eq!(read, [t.token.as_str()], "{t:?} in {:?}", e.text);
    }
}

#[test]
fn the_planted_word_pushes_hardest_and_offsets_slice_the_text() {
    let classifier = planted_model(false, 0);
    let texts = [
        ("the movie was superb and my day", "positive", "superb"),
        ("It was AWFUL, the plot.", "negative", "awful"),
        ("Ｔｈｅ ｓｔｏｒｙ ＳＵＰＥＲＢ actor", "positive", "superb"),
        ("  scene  awful   a   story ", "negative", "awful"),
    ];
    for (text, label, cue) in texts {
        let e = classifier.explain(text).unwrap();
        assert_eq!((e.label.as_str(), strongest(&e)), (label, cue), "{e:?}");
        assert_offsets_slice_the_text(&classifier, &e);
        let p = classifier.predict(text).unwrap();
        assert_eq!(p.label, e.label);
        assert!(
            (p.score - e.score).abs() < 1e-5,
            "{} vs {}",
            p.score,
            e.score
        );
    }
    let e = classifier
        .explain("Ｔｈｅ ｓｔｏｒｙ ＳＵＰＥＲＢ actor")
        .unwrap();
    let cue = e.tokens.iter().find(|t| t.token == "superb").unwrap();
    assert_eq!((cue.start, cue.end), (10, 16));
}

#[test]
fn chinese_with_hashed_bigrams_finds_the_planted_character() {
    let classifier = planted_model(true, 1000);
    assert_eq!(classifier.config().ngram_buckets, 1000);
    for (text, label, cue) in [
        ("我们今天去公园，很棒！", "positive", "棒"),
        ("看电影 糟 我们", "negative", "糟"),
        ("ＯＫ今天糟", "negative", "糟"),
    ] {
        let e = classifier.explain(text).unwrap();
        assert_eq!((e.label.as_str(), strongest(&e)), (label, cue), "{e:?}");
        assert_offsets_slice_the_text(&classifier, &e);
    }
}

#[test]
fn only_the_tokens_the_model_reads_are_explained() {
    let mut config = config(0);
    config.max_length = 4;
    config.truncation = Truncation::HeadTail;
    let classifier = trained(&planted(200, false), None, &config).0;
    let e = classifier
        .explain("one two three four five six seven eight")
        .unwrap();
    let tokens: Vec<&str> = e.tokens.iter().map(|t| t.token.as_str()).collect();
    assert_eq!(tokens, ["one", "two", "seven", "eight"]);
    assert_eq!((e.tokens[2].start, e.tokens[2].end), (28, 33));
    // Words the model does not know are [UNK] already: occluding them changes nothing.
    assert!(e.tokens.iter().all(|t| t.contribution == 0.0), "{e:?}");
    let empty = classifier.explain("").unwrap();
    assert!(empty.tokens.is_empty());
    assert_eq!(empty.score, classifier.predict("").unwrap().score);
}

#[test]
fn the_command_prints_json_or_plain_text_per_text() {
    let tmp = dir_with(&[("train.tsv", &tsv(&planted(300, false)))]);
    let train = "train --train train.tsv --out m --epochs 6 --embedding-dim 16 --hidden 16 \
                 --lr 0.01 --dev-fraction 0 -q";
    let ok = bin()
        .current_dir(tmp.path())
        .args(args(train))
        .output()
        .unwrap();
    success(&ok);

    let line = args("explain --model m --json");
    let mut child = bin()
        .current_dir(tmp.path())
        .args(line)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let texts = "the plot was superb\nＡＷＦＵＬ 电影\n";
    child
        .stdin
        .take()
        .unwrap()
        .write_all(texts.as_bytes())
        .unwrap();
    let out = success(&child.wait_with_output().unwrap());
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["text"], "the plot was superb");
    assert_eq!(lines[0]["label"], "positive");
    let keys: Vec<&String> = lines[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["label", "score", "text", "tokens"]);
    let token = &lines[1]["tokens"][0];
    assert_eq!(token["token"], "awful");
    assert_eq!(
        (token["start"].as_u64(), token["end"].as_u64()),
        (Some(0), Some(5))
    );
    let keys: Vec<&String> = token.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["contribution", "end", "start", "token"]);

    // Not a terminal: plain text, no colour codes, NO_COLOR or not.
    let plain = bin()
        .current_dir(tmp.path())
        .args(["explain", "--model", "m", "a superb day"])
        .output()
        .unwrap();
    let plain = success(&plain);
    let mut lines = plain.lines();
    assert!(lines.next().unwrap().starts_with("positive\t0."), "{plain}");
    let superb = lines
        .find(|l| l.starts_with("\tsuperb\t+0."))
        .unwrap_or_default();
    assert!(!superb.is_empty(), "{plain}");
    assert!(!plain.contains('\x1b'), "{plain}");
}
