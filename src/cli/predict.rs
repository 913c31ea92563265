//! `predict` and `embed`: texts in, one line out per text, in input order.

use super::args::{ModelArg, ModelsArg, Runtime};
use anyhow::{Context, Result};
use clap::Args;
use lstm_sentiment::Classifier;
use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Texts are read and classified this many at a time, so input of any length streams.
const CHUNK: usize = 1024;

#[derive(Args)]
pub(super) struct TextInput {
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
    models: ModelsArg,
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

pub fn run_predict(args: PredictArgs, runtime: &Runtime) -> Result<()> {
    let classifier = args.models.load_for(runtime)?;
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
    // The process ends next, and freeing a vocabulary word by word would add milliseconds to
    // every one-off `predict`.
    std::mem::forget(classifier);
    Ok(())
}

pub fn run_embed(args: EmbedArgs, runtime: &Runtime) -> Result<()> {
    let classifier: Classifier = args.model.load_for(runtime)?;
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
pub(super) fn for_each_chunk(
    input: &TextInput,
    mut f: impl FnMut(&[String]) -> Result<()>,
) -> Result<()> {
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
    lstm_sentiment::data::each_line(reader, Path::new(&name), |line| {
        chunk.push(line.to_string());
        if chunk.len() == CHUNK {
            f(&chunk)?;
            chunk.clear();
        }
        anyhow::Ok(())
    })?;
    if !chunk.is_empty() {
        f(&chunk)?;
    }
    Ok(())
}
