//! `eval` and `info`: figures on labelled data, and what a model holds.

use super::args::{parse_label_map, DataFormatArgs, ModelArg, ModelsArg, Runtime};
use anyhow::{Context, Result};
use clap::Args;
use lstm_sentiment::data::label_list;
use std::io::Write;
use std::path::PathBuf;

#[derive(Args)]
pub struct EvalArgs {
    #[command(flatten)]
    models: ModelsArg,
    /// Labelled data (TSV, CSV, JSONL or fastText).
    #[arg(long, short = 'd', value_name = "FILE")]
    data: PathBuf,
    #[command(flatten)]
    format: DataFormatArgs,
    /// Read the data's labels as the model's, e.g. `0=negative,1=positive` (adds to the model's own aliases).
    #[arg(long, value_name = "MAP")]
    label_map: Option<String>,
    /// Print one JSON object with accuracy, macro_f1, n, per-label figures, the confusion matrix
    /// (empty above 200 labels), the most frequent mistakes and the calibration (the expected
    /// calibration error `ece` and its 10 confidence bins).
    #[arg(long)]
    json: bool,
    /// Also draw the confusion matrix and a reliability diagram (accuracy against confidence)
    /// into this SVG file.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
    /// Skip data lines that cannot be used (bad format, empty label, a label the model does not
    /// know) instead of stopping; they are counted and the first few shown.
    #[arg(long)]
    skip_invalid: bool,
}

pub fn run_eval(args: EvalArgs, runtime: &Runtime) -> Result<()> {
    let mut classifier = args.models.load_for(runtime)?;
    if let Some(spec) = &args.label_map {
        let mut aliases = classifier.members()[0].config().label_aliases.clone();
        aliases.extend(parse_label_map(spec)?);
        classifier.set_label_aliases(aliases)?;
    }
    let known = |label: &str| match classifier.label_index(label) {
        Some(_) => Ok(()),
        None => {
            let config = classifier.members()[0].config();
            let aliases: Vec<&str> = config.label_aliases.keys().map(String::as_str).collect();
            Err(format!(
                "unknown label `{label}`: the model's labels are {}{}",
                label_list(&config.labels),
                if aliases.is_empty() {
                    String::new()
                } else {
                    format!(" (aliases: {})", label_list(&aliases))
                }
            ))
        }
    };
    let examples = args
        .format
        .read(&args.data, args.skip_invalid, Some(&known))?;
    let evaluation = classifier
        .evaluate(&examples)
        .with_context(|| format!("cannot evaluate on {}", args.data.display()))?;
    if let Some(path) = &args.plot {
        let svg = lstm_sentiment::report::evaluation_svg(&evaluation)?;
        super::args::write_output(path, svg.as_bytes())
            .with_context(|| format!("cannot write the plot to {}", path.display()))?;
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string(&evaluation)?)?;
    } else {
        write!(out, "{}", evaluation.to_table())?;
    }
    Ok(())
}

#[derive(Args)]
pub struct InfoArgs {
    #[command(flatten)]
    model: ModelArg,
    /// Print the model's config.json instead.
    #[arg(long)]
    json: bool,
}

pub fn run_info(args: InfoArgs) -> Result<()> {
    let classifier = args.model.load()?;
    let c = classifier.config();
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", c.to_json())?;
        return Ok(());
    }
    let source = match &args.model.model {
        Some(dir) => dir.display().to_string(),
        None => "built-in".to_string(),
    };
    writeln!(out, "model:          {source}")?;
    writeln!(out, "format version: {}", c.format_version)?;
    writeln!(
        out,
        "encoder:        {} x{} layer(s), hidden {}{}",
        c.cell,
        c.num_layers,
        c.hidden_size,
        if c.bidirectional {
            ", bidirectional"
        } else {
            ""
        }
    )?;
    writeln!(
        out,
        "embedding:      {} x {}",
        c.vocab_size, c.embedding_dim
    )?;
    if c.ngram_buckets > 0 {
        writeln!(
            out,
            "bigrams:        {} hashed buckets x {}, added to the word vectors",
            c.ngram_buckets, c.embedding_dim
        )?;
    }
    writeln!(out, "labels:         {}", c.labels.join(", "))?;
    if !c.label_aliases.is_empty() {
        let aliases: Vec<String> = c
            .label_aliases
            .iter()
            .map(|(a, l)| format!("{a}={l}"))
            .collect();
        writeln!(out, "label aliases:  {}", aliases.join(", "))?;
    }
    writeln!(
        out,
        "max length:     {} tokens; a longer text keeps {} ({})",
        c.max_length,
        c.truncation.describe(),
        c.truncation
    )?;
    writeln!(
        out,
        "pooling:        {} ({})",
        c.pooling.describe(),
        c.pooling
    )?;
    writeln!(out, "lowercase:      {}", c.tokenizer.lowercase)?;
    writeln!(out, "parameters:     {}", c.parameter_count())?;
    if let Some(t) = &c.training {
        let f = |k: &str| t.get(k).cloned().unwrap_or_default();
        writeln!(
            out,
            "training:       {} train / {} dev examples, best epoch {} of {}, {:.1} s",
            f("train_examples"),
            f("dev_examples"),
            f("best_epoch"),
            t.get("epochs")
                .and_then(|e| e.as_array())
                .map_or(0, Vec::len),
            f("seconds").as_f64().unwrap_or(0.0)
        )?;
        writeln!(
            out,
            "dev figures:    accuracy {:.4}, macro-F1 {:.4}",
            f("dev_accuracy").as_f64().unwrap_or(0.0),
            f("dev_macro_f1").as_f64().unwrap_or(0.0)
        )?;
        if let Some(domains) = t.get("domains").and_then(|d| d.as_array()) {
            write_domains(&mut out, domains)?;
        }
    }
    Ok(())
}

/// The training data by domain and each domain's dev figures, as a recipe that trained on
/// several data sets records them (`training.domains` in config.json).
fn write_domains(out: &mut dyn Write, domains: &[serde_json::Value]) -> std::io::Result<()> {
    writeln!(
        out,
        "training data:  domain, train examples, dev examples, dev accuracy, macro-F1"
    )?;
    for d in domains {
        let text = |k: &str| d.get(k).and_then(|v| v.as_str()).unwrap_or("?").to_string();
        let count = |k: &str| d.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
        let figure = |k: &str| {
            d.get(k)
                .and_then(|v| v.as_f64())
                .map_or("-".to_string(), |x| format!("{x:.4}"))
        };
        writeln!(
            out,
            "                {:<16} {:>7} {:>5}  {:>6}  {:>6}",
            text("name"),
            count("train_examples"),
            count("dev_examples"),
            figure("dev_accuracy"),
            figure("dev_macro_f1")
        )?;
    }
    Ok(())
}
