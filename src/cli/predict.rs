//! `predict` and `embed`: texts in, one line out per text, in input order.

use super::ModelArg;
use anyhow::{Context, Result};
use clap::Args;
use lstm_sentiment::Classifier;
use std::io::{BufRead, BufWriter, Read, Write};
use std::path::PathBuf;

/// Texts are read and classified this many at a time, so input of any length streams.
/// Longest input line accepted, as for data files.
const MAX_LINE_BYTES: usize = lstm_sentiment::data::MAX_LINE_BYTES;
const CHUNK: usize = 1024;

#[derive(Args)]
struct TextInput {
    /// Texts to classify; without them, texts are read one per line from --input or stdin.
    #[arg(value_name = "TEXT")]
    texts: Vec<String>,
    /// Read texts from this file, one per line (`-` for stdin).
    #[arg(long, short = 'i', value_name = "FILE", conflicts_with = "texts")]
    input: Option<PathBuf>,
}

#[derive(Args)]
pub struct PredictArgs {
    #[command(flatten)]
    model: ModelArg,
    #[command(flatten)]
    input: TextInput,
    /// Print one JSON object per line: {"text", "label", "score", "probs"}.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct EmbedArgs {
    #[command(flatten)]
    model: ModelArg,
    #[command(flatten)]
    input: TextInput,
}

pub fn run_predict(args: PredictArgs) -> Result<()> {
    let classifier = args.model.load()?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    for_each_chunk(&args.input, |texts| {
        for (text, p) in texts.iter().zip(classifier.predict_batch(texts)?) {
            if args.json {
                let probs: serde_json::Map<String, serde_json::Value> = p
                    .probs
                    .iter()
                    .map(|(l, v)| (l.clone(), serde_json::json!(v)))
                    .collect();
                let line = serde_json::json!({
                    "text": text, "label": p.label, "score": p.score, "probs": probs,
                });
                writeln!(out, "{line}")?;
            } else {
                writeln!(out, "{}\t{:.4}\t{}", p.label, p.score, text)?;
            }
        }
        Ok(())
    })?;
    out.flush()?;
    Ok(())
}

pub fn run_embed(args: EmbedArgs) -> Result<()> {
    let classifier: Classifier = args.model.load()?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    for_each_chunk(&args.input, |texts| {
        for (text, v) in texts.iter().zip(classifier.embed(texts)?) {
            writeln!(out, "{}", serde_json::json!({"text": text, "vector": v}))?;
        }
        Ok(())
    })?;
    out.flush()?;
    Ok(())
}

/// Feeds the texts to `f` in chunks: the arguments, or lines of a file or stdin.
fn for_each_chunk(input: &TextInput, mut f: impl FnMut(&[String]) -> Result<()>) -> Result<()> {
    if !input.texts.is_empty() {
        return f(&input.texts);
    }
    let (reader, name): (Box<dyn BufRead>, String) = match &input.input {
        Some(p) if p.as_os_str() != "-" => {
            let file =
                std::fs::File::open(p).with_context(|| format!("{}: cannot open", p.display()))?;
            (
                Box::new(std::io::BufReader::new(file)),
                p.display().to_string(),
            )
        }
        _ => (Box::new(std::io::stdin().lock()), "<stdin>".to_string()),
    };
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut reader = reader;
    let mut bytes = Vec::new();
    for n in 1.. {
        bytes.clear();
        // Bounded read: a line longer than the cap is an error, not an unbounded allocation.
        let read = (&mut reader)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut bytes)
            .with_context(|| format!("{name}:{n}: cannot read line"))?;
        if read == 0 {
            break;
        }
        anyhow::ensure!(
            bytes.len() <= MAX_LINE_BYTES,
            "{name}:{n}: line longer than {} MiB",
            MAX_LINE_BYTES >> 20
        );
        let line =
            std::str::from_utf8(&bytes).with_context(|| format!("{name}:{n}: not valid UTF-8"))?;
        let line = line.strip_suffix('\n').unwrap_or(line);
        let line = line.strip_suffix('\r').unwrap_or(line);
        let line = if n == 1 {
            line.trim_start_matches('\u{feff}')
        } else {
            line
        };
        chunk.push(line.to_string());
        if chunk.len() == CHUNK {
            f(&chunk)?;
            chunk.clear();
        }
    }
    if !chunk.is_empty() {
        f(&chunk)?;
    }
    Ok(())
}
