//! `serve`: each route's answer and its shape, the same numbers as `predict`, `embed` and
//! `explain`, concurrent requests batched together with the same answers, every limit's status
//! code, malformed bodies, and a graceful stop with requests in flight. Servers listen on a free
//! port of 127.0.0.1 and use the built-in model.

use crate::common::{bin, finish, get, post, request, serve, start, success, Reply, Served};
use serde_json::{json, Value};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const TEXTS: [&str; 6] = [
    "I loved it",
    "The food was cold and the waiter was rude.",
    "这家店的菜很好吃",
    "Not bad at all, though the ending dragged.",
    "",
    "MIXED case, full-width ＡＢＣ and émigré words",
];

/// The lines `lstm-sentiment ARGS TEXTS` prints, as JSON.
fn cli_json(args: &[&str], texts: &[&str]) -> Vec<Value> {
    let out = bin().args(args).args(texts).output().unwrap();
    success(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn assert_close(a: f64, b: f64, what: &str) {
    assert!((a - b).abs() <= 1e-6, "{what}: {a} vs {b}");
}

fn ok(reply: Reply) -> Value {
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()
}

/// An error answer: its status, and the JSON error body every error carries.
fn error(reply: &Reply) -> (u16, String, String) {
    let body = reply.json();
    let text = |key: &str| {
        body[key]
            .as_str()
            .unwrap_or_else(|| panic!("no {key}: {body}"))
            .to_string()
    };
    (reply.status, text("error_type"), text("error"))
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn routes_answer_in_their_shapes() {
    let served = serve(&[]);
    let addr = served.addr.as_str();
    assert_eq!(ok(get(addr, "/health")), json!({"status": "ok"}));
    let info = ok(get(addr, "/info"));
    assert_eq!(info["model_id"], "builtin");
    assert_eq!(info["labels"], json!(["negative", "positive"]));
    assert_eq!(info["limits"]["max_client_batch_size"], 32);
    let one = ok(post(addr, "/predict", r#"{"inputs": "I loved it"}"#));
    let labels: Vec<&str> = one
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["positive", "negative"]);
    assert_close(
        f(&one[0]["score"]) + f(&one[1]["score"]),
        1.0,
        "probabilities sum to 1",
    );
    assert!(f(&one[0]["score"]) >= f(&one[1]["score"]));
    let many = ok(post(
        addr,
        "/predict",
        r#"{"inputs": ["I loved it", "awful"], "raw_scores": true}"#,
    ));
    assert_eq!(many.as_array().unwrap().len(), 2);
    assert_eq!(many[1][0]["label"], "negative");
    let logits = f(&many[0][0]["score"]) + f(&many[0][1]["score"]);
    assert!(
        (logits - 1.0).abs() > 1e-3,
        "raw scores are logits, not probabilities"
    );
    let vectors = ok(post(addr, "/embed", r#"{"inputs": "I loved it"}"#));
    assert_eq!(vectors.as_array().unwrap().len(), 1);
    assert_eq!(
        vectors[0].as_array().unwrap().len() as u64,
        info["embedding_size"].as_u64().unwrap()
    );
    let explained = ok(post(addr, "/explain", r#"{"inputs": "I loved it"}"#));
    assert_eq!(explained["label"], "positive");
    let tokens: Vec<&str> = explained["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["token"].as_str().unwrap())
        .collect();
    assert_eq!(tokens, ["i", "loved", "it"]);
    assert_eq!(
        (
            &explained["tokens"][1]["start"],
            &explained["tokens"][1]["end"]
        ),
        (&json!(2), &json!(7))
    );
    let listed = ok(post(addr, "/explain", r#"{"inputs": ["good", "bad"]}"#));
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let openapi = ok(get(addr, "/api-doc/openapi.json"));
    for path in [
        "/predict", "/embed", "/explain", "/health", "/info", "/metrics",
    ] {
        assert!(openapi["paths"][path].is_object(), "{path} in {openapi}");
    }
    let page = get(addr, "/");
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    assert!(page.text().contains("<textarea"));
    let metrics = get(addr, "/metrics");
    assert!(metrics
        .header("content-type")
        .unwrap()
        .starts_with("text/plain"));
    let metrics = metrics.text();
    for line in [
        r#"lstm_sentiment_requests_total{route="/predict",status="200"} 2"#,
        r#"lstm_sentiment_requests_total{route="/explain",status="200"} 2"#,
        "lstm_sentiment_queue_depth 0",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "no `{line}` in\n{metrics}"
        );
    }
    for name in [
        "queue_duration_seconds",
        "inference_duration_seconds",
        "request_duration_seconds",
        "batch_texts",
        "batch_tokens",
    ] {
        assert!(
            metrics.contains(&format!("lstm_sentiment_{name}_count")),
            "{name}"
        );
    }
}

#[test]
fn answers_are_those_of_predict_embed_and_explain() {
    let served = serve(&[]);
    let addr = served.addr.as_str();
    let body = json!({ "inputs": TEXTS }).to_string();
    let served_predictions = ok(post(addr, "/predict", &body));
    for (line, served) in cli_json(&["predict", "--json"], &TEXTS)
        .iter()
        .zip(served_predictions.as_array().unwrap())
    {
        for score in served.as_array().unwrap() {
            let label = score["label"].as_str().unwrap();
            assert_close(
                f(&score["score"]),
                f(&line["probs"][label]),
                &format!("{line}"),
            );
        }
        assert_eq!(served[0]["label"], line["label"]);
    }
    let served_vectors = ok(post(addr, "/embed", &body));
    for (line, served) in cli_json(&["embed"], &TEXTS)
        .iter()
        .zip(served_vectors.as_array().unwrap())
    {
        let (cli, served) = (
            line["vector"].as_array().unwrap(),
            served.as_array().unwrap(),
        );
        assert_eq!(cli.len(), served.len());
        for (a, b) in cli.iter().zip(served) {
            assert_close(f(a), f(b), "vector");
        }
    }
    let served_explanations = ok(post(addr, "/explain", &body));
    for (line, served) in cli_json(&["explain", "--json"], &TEXTS)
        .iter()
        .zip(served_explanations.as_array().unwrap())
    {
        assert_eq!(
            (&line["text"], &line["label"]),
            (&served["text"], &served["label"])
        );
        let (cli, served) = (
            line["tokens"].as_array().unwrap(),
            served["tokens"].as_array().unwrap(),
        );
        assert_eq!(cli.len(), served.len());
        for (a, b) in cli.iter().zip(served) {
            assert_eq!(
                (&a["token"], &a["start"], &a["end"]),
                (&b["token"], &b["start"], &b["end"])
            );
            assert_close(f(&a["contribution"]), f(&b["contribution"]), "contribution");
        }
    }
}

/// Texts that differ from each other, made of the words of [`TEXTS`].
fn varied_texts(n: usize) -> Vec<String> {
    let words: Vec<&str> = TEXTS.iter().flat_map(|t| t.split_whitespace()).collect();
    (0..n)
        .map(|i| {
            (0..1 + i % 9)
                .map(|k| words[(i * 7 + k * 3) % words.len()])
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

#[test]
fn concurrent_requests_are_batched_with_the_answers_of_one_at_a_time() {
    let served = serve(&["--max-wait-ms", "20"]);
    let addr = served.addr.clone();
    let texts = varied_texts(200);
    let body = |text: &str| json!({ "inputs": text }).to_string();
    let alone: Vec<Value> = texts
        .iter()
        .map(|t| ok(post(&addr, "/predict", &body(t))))
        .collect();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(texts.len()));
    let threads: Vec<_> = texts
        .iter()
        .map(|text| {
            let (addr, body, barrier) = (addr.clone(), body(text), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                ok(post(&addr, "/predict", &body))
            })
        })
        .collect();
    for ((text, alone), thread) in texts.iter().zip(&alone).zip(threads) {
        let together = thread.join().unwrap();
        for (a, b) in alone
            .as_array()
            .unwrap()
            .iter()
            .zip(together.as_array().unwrap())
        {
            assert_eq!(a["label"], b["label"], "{text}");
            assert_close(f(&a["score"]), f(&b["score"]), text);
        }
    }
    let metrics = get(&addr, "/metrics").text();
    let value = |name: &str| -> f64 {
        let line = metrics
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    let batches = value("lstm_sentiment_batch_requests_count");
    let of_one = value(r#"lstm_sentiment_batch_requests_bucket{le="1"}"#);
    assert!(batches > of_one, "every batch held one request:\n{metrics}");
    assert_eq!(value("lstm_sentiment_batch_requests_sum"), 400.0);
}

#[test]
fn limits_answer_413_422_and_401() {
    let served = serve(&[
        "--max-client-batch-size",
        "2",
        "--max-body-bytes",
        "20000",
        "--api-key",
        "s3cret",
    ]);
    let addr = served.addr.as_str();
    let key = [("authorization", "Bearer s3cret")];
    let call = |path: &str, body: &str| request(addr, "POST", path, &key, body.as_bytes());
    let three = json!({ "inputs": ["a", "b", "c"] }).to_string();
    let (status, kind, message) = error(&call("/predict", &three));
    assert_eq!((status, kind.as_str()), (413, "validation"));
    assert!(
        message.contains("3 texts") && message.contains("max_client_batch_size"),
        "{message}"
    );
    let huge = json!({ "inputs": "word ".repeat(5000) }).to_string();
    let (status, _, message) = error(&call("/embed", &huge));
    assert_eq!(status, 413);
    assert!(message.contains("20000 bytes"), "{message}");
    // One word more than the built-in model reads.
    let max_length = lstm_sentiment::Classifier::builtin()
        .unwrap()
        .config()
        .max_length;
    let long = "good ".repeat(max_length + 1);
    let strict = json!({ "inputs": long, "truncate": false }).to_string();
    for path in ["/predict", "/embed", "/explain"] {
        let (status, kind, message) = error(&call(path, &strict));
        assert_eq!((status, kind.as_str()), (422, "validation"), "{path}");
        assert!(
            message.contains(&format!("{max_length} tokens")),
            "{message}"
        );
    }
    assert_eq!(
        call("/predict", &json!({ "inputs": long }).to_string()).status,
        200
    );
    // The key.
    for headers in [
        &[][..],
        &[("authorization", "Bearer wrong")],
        &[("authorization", "s3cret")],
    ] {
        for (method, path) in [("POST", "/predict"), ("GET", "/info"), ("GET", "/metrics")] {
            let reply = request(addr, method, path, headers, br#"{"inputs": "a"}"#);
            let (status, kind, _) = error(&reply);
            assert_eq!(
                (status, kind.as_str()),
                (401, "unauthorized"),
                "{path} {headers:?}"
            );
            assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
        }
    }
    assert_eq!(request(addr, "GET", "/info", &key, b"").status, 200);
    for path in ["/health", "/", "/api-doc/openapi.json"] {
        assert_eq!(get(addr, path).status, 200, "{path} is open to all");
    }
}

/// Starts a `/predict` of `text` whose body stops one byte short: the server has admitted it
/// and waits for the rest (see [`finish`]).
fn held(addr: &str, text: &str) -> (TcpStream, Vec<u8>) {
    let body = json!({ "inputs": text }).to_string().into_bytes();
    let stream = start(addr, "POST", "/predict", &[], &body, body.len() - 1);
    (stream, body[body.len() - 1..].to_vec())
}

/// Holds a `/predict` of each text open (see [`held`]) until all of them have been admitted:
/// one-text probes, sent one after another, are sent until one is answered 429, which with
/// `--max-concurrent-requests` equal to the number of texts means the held requests hold every
/// permit. A held request that came in while a probe held a permit was answered 429 itself: it
/// is sent again. Returns the held requests and the probe's 429.
fn hold_all(addr: &str, texts: &[&str]) -> (Vec<(TcpStream, Vec<u8>)>, Reply) {
    let mut holding: Vec<_> = texts.iter().map(|t| held(addr, t)).collect();
    let begin = Instant::now();
    loop {
        let reply = post(addr, "/predict", r#"{"inputs": "probe"}"#);
        if reply.status == 429 {
            return (holding, reply);
        }
        for (i, (stream, _)) in holding.iter_mut().enumerate() {
            if answered(stream) {
                *stream = held(addr, texts[i]).0;
            }
        }
        assert!(
            begin.elapsed() < Duration::from_secs(60),
            "never 429: {}",
            reply.text()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Whether the server has answered on `stream` already.
fn answered(stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let peeked = stream.peek(&mut [0u8; 1]);
    stream.set_nonblocking(false).unwrap();
    matches!(peeked, Ok(n) if n > 0)
}

#[test]
fn requests_over_the_concurrency_limit_get_429_at_once() {
    let served = serve(&["--max-concurrent-requests", "1"]);
    let addr = served.addr.as_str();
    let (mut holding, probe) = hold_all(addr, &["I loved it"]);
    let (stream, rest) = holding.remove(0);
    let (_, kind, message) = error(&probe);
    assert_eq!(kind, "overloaded");
    assert!(message.contains("max_concurrent_requests"), "{message}");
    // Health and metrics are not model routes: they answer all the same.
    assert_eq!(get(addr, "/health").status, 200);
    assert_eq!(finish(stream, &rest).json()[0]["label"], "positive");
    assert_eq!(post(addr, "/predict", r#"{"inputs": "again"}"#).status, 200);
    let metrics = get(addr, "/metrics").text();
    assert!(metrics.contains(r#"lstm_sentiment_requests_total{route="/predict",status="429"}"#));
}

#[test]
fn a_request_past_the_timeout_gets_503() {
    let served = serve(&["--request-timeout-ms", "200"]);
    let (stream, _) = held(&served.addr, "never finished");
    let reply = crate::common::read_reply(stream);
    let (status, kind, message) = error(&reply);
    assert_eq!((status, kind.as_str()), (503, "timeout"));
    assert!(message.contains("200 ms"), "{message}");
}

#[test]
fn malformed_bodies_get_4xx_with_a_json_error_naming_the_problem() {
    let served = serve(&[]);
    let addr = served.addr.as_str();
    let cases: [(&[u8], u16, &str, &str); 8] = [
        (b"{\"inputs\": \"caf\xc3\"}", 400, "malformed", "not UTF-8"),
        (b"{\"inputs\": \"good\"", 400, "malformed", "not JSON"),
        (b"", 400, "malformed", "not JSON"),
        (
            b"{\"inputs\": 5}",
            422,
            "validation",
            "expected a text or a list of texts",
        ),
        (
            b"{\"inputs\": [\"a\", null]}",
            422,
            "validation",
            "expected a string",
        ),
        (
            b"{\"text\": \"a\"}",
            422,
            "validation",
            "unknown field `text`",
        ),
        (b"{\"inputs\": []}", 422, "validation", "empty list"),
        (
            b"{\"inputs\": \"a\", \"truncate\": 1}",
            422,
            "validation",
            "expected a boolean",
        ),
    ];
    for (body, status, kind, words) in cases {
        for path in ["/predict", "/embed", "/explain"] {
            let reply = request(addr, "POST", path, &[], body);
            let (got_status, got_kind, message) = error(&reply);
            let shown = String::from_utf8_lossy(body);
            assert_eq!(
                (got_status, got_kind.as_str()),
                (status, kind),
                "{path} {shown}: {message}"
            );
            assert!(message.contains(words), "{path} {shown}: {message}");
        }
    }
    assert_eq!(error(&get(addr, "/nowhere")).0, 404);
    assert_eq!(error(&get(addr, "/predict")).0, 405);
    assert_eq!(get(addr, "/health").status, 200, "still serving");
}

#[test]
fn a_stop_signal_answers_the_requests_in_flight_and_exits_0() {
    let mut served: Served = serve(&["--max-concurrent-requests", "4"]);
    let addr = served.addr.clone();
    let texts = ["I loved it", "awful food", "这家店的菜很好吃", "fine"];
    let body = |text: &str| json!({ "inputs": text }).to_string();
    let expected: Vec<Value> = texts
        .iter()
        .map(|t| ok(post(&addr, "/predict", &body(t))))
        .collect();
    let (in_flight, _) = hold_all(&addr, &texts);
    served.terminate();
    // The listener closes while the four requests are still open.
    let begin = Instant::now();
    while TcpStream::connect(&addr).is_ok() {
        assert!(
            begin.elapsed() < Duration::from_secs(60),
            "still accepting: {}",
            served.stderr()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    for ((stream, rest), expected) in in_flight.into_iter().zip(expected) {
        assert_eq!(ok(finish(stream, &rest)), expected);
    }
    let status = served.wait();
    assert_eq!(status.code(), Some(0), "{}", served.stderr());
    assert!(
        served.stderr().contains("lstm-sentiment: stopped"),
        "{}",
        served.stderr()
    );
}

#[test]
fn a_model_that_does_not_load_stops_the_server_with_1() {
    let dir = tempfile::tempdir().unwrap();
    let out = crate::common::run(dir.path(), &["serve", "--port", "0", "--model", "missing"]);
    let err = crate::common::failure(&out, 1);
    assert!(err.contains("listening on http://127.0.0.1:"), "{err}");
    assert!(
        err.contains("cannot load the model missing: missing: not a model directory"),
        "{err}"
    );
}
