//! Arguments several subcommands share: where a model runs, which model, how a data file reads.

use anyhow::{Context, Result};
use clap::Args;
use lstm_sentiment::data::{read_examples_with, LineChecks};
use lstm_sentiment::{Classifier, DeviceSpec, Ensemble, Format, ReadOptions};
use std::path::{Path, PathBuf};

/// Where and how a model runs.
#[derive(Args)]
pub(super) struct Runtime {
    /// Where train, predict, eval and embed run: cpu, or cuda / cuda:N in builds with the
    /// `cuda` feature.
    #[arg(
        long,
        global = true,
        value_name = "cpu|cuda[:N]",
        default_value = "cpu"
    )]
    pub device: DeviceSpec,
    /// predict, eval and embed multiply in bfloat16 (CPUs with AVX512-BF16): faster, and
    /// probabilities move from float32's by about 1e-4 on average.
    #[arg(long, global = true)]
    pub bf16: bool,
}

/// Which model to use.
#[derive(Args)]
pub(super) struct ModelArg {
    /// Model directory (config.json, tokenizer.json, model.safetensors), or a Hugging Face Hub
    /// repository as hf:owner/name[@revision]; default: the built-in model.
    #[arg(long, short = 'm', value_name = "DIR|hf:REPO")]
    pub model: Option<PathBuf>,
    /// Use only the local Hub cache, never the network (also: HF_HUB_OFFLINE=1).
    #[arg(long)]
    offline: bool,
}

impl ModelArg {
    pub fn load(&self) -> Result<Classifier> {
        load_model(self.model.as_deref(), self.offline)
    }

    /// [`ModelArg::load`], then set up to run as `runtime` says.
    pub fn load_for(&self, runtime: &Runtime) -> Result<Classifier> {
        set_up(self.load()?, runtime)
    }
}

/// One model, or several that answer as one.
#[derive(Args)]
pub(super) struct ModelsArg {
    /// Model directory (config.json, tokenizer.json, model.safetensors), or a Hugging Face Hub
    /// repository as hf:owner/name[@revision]; default: the built-in model. Given more than
    /// once, the models answer as one: each text's probabilities are the mean of theirs (they
    /// must have the same labels).
    #[arg(long, short = 'm', value_name = "DIR|hf:REPO")]
    model: Vec<PathBuf>,
    /// Use only the local Hub cache, never the network (also: HF_HUB_OFFLINE=1).
    #[arg(long)]
    offline: bool,
}

impl ModelsArg {
    /// Loads every model, set up to run as `runtime` says.
    pub fn load_for(&self, runtime: &Runtime) -> Result<Ensemble> {
        let specs: Vec<Option<&Path>> = if self.model.is_empty() {
            vec![None] // the built-in model
        } else {
            self.model.iter().map(|m| Some(m.as_path())).collect()
        };
        let members = specs
            .into_iter()
            .map(|m| set_up(load_model(m, self.offline)?, runtime))
            .collect::<Result<Vec<_>>>()?;
        Ensemble::new(members).context("cannot use the models together")
    }
}

/// A model directory or Hub repository, or else the built-in model.
fn load_model(model: Option<&Path>, offline: bool) -> Result<Classifier> {
    match model {
        Some(dir) => {
            let offline = offline || lstm_sentiment::hub::offline_from_env();
            Classifier::load_any(&dir.to_string_lossy(), offline)
                .with_context(|| format!("cannot load the model {}", dir.display()))
        }
        None => Classifier::builtin().context("cannot load the built-in model"),
    }
}

fn set_up(classifier: Classifier, runtime: &Runtime) -> Result<Classifier> {
    let classifier = classifier.to_device(runtime.device)?;
    Ok(classifier.with_bf16(runtime.bf16)?)
}

/// How to read a labelled data file.
#[derive(Args)]
pub(super) struct DataFormatArgs {
    /// File format; by default guessed from the extension (.tsv .csv .jsonl .ft) or the first line.
    #[arg(long, value_enum)]
    format: Option<FormatName>,
    /// CSV: the column holding the text.
    #[arg(long, default_value = "text", value_name = "NAME")]
    text_column: String,
    /// CSV: the column holding the label.
    #[arg(long, default_value = "label", value_name = "NAME")]
    label_column: String,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum FormatName {
    /// label<TAB>text, no header
    Tsv,
    /// comma-separated with a header; see --text-column and --label-column
    Csv,
    /// one {"text": ..., "label": ...} object per line
    Jsonl,
    /// __label__X text
    Fasttext,
}

impl DataFormatArgs {
    fn options(&self) -> ReadOptions {
        let format = self.format.map(|f| match f {
            FormatName::Tsv => Format::Tsv,
            FormatName::Csv => Format::Csv {
                text_column: self.text_column.clone(),
                label_column: self.label_column.clone(),
            },
            FormatName::Jsonl => Format::Jsonl,
            FormatName::Fasttext => Format::FastText,
        });
        ReadOptions {
            format,
            text_column: self.text_column.clone(),
            label_column: self.label_column.clone(),
        }
    }

    /// Reads `path` with a label check; with `skip_invalid`, bad lines are skipped, counted and
    /// the first few shown on stderr.
    pub fn read(
        &self,
        path: &Path,
        skip_invalid: bool,
        label: Option<lstm_sentiment::data::LabelCheck>,
    ) -> Result<Vec<lstm_sentiment::Example>> {
        let checks = LineChecks {
            skip_invalid,
            label,
        };
        let (examples, skipped) = read_examples_with(path, &self.options(), &checks)?;
        if skipped.count > 0 {
            const SHOWN: usize = 5;
            eprintln!(
                "lstm-sentiment: skipped {} invalid line(s) of {}, kept {}:",
                skipped.count,
                path.display(),
                examples.len()
            );
            for error in skipped.first.iter().take(SHOWN) {
                eprintln!("  {error}");
            }
            if skipped.count > SHOWN {
                eprintln!("  ... and {} more", skipped.count - SHOWN);
            }
        }
        Ok(examples)
    }
}

/// Parses `0=negative,1=positive` into (from, to) pairs.
pub(super) fn parse_label_map(spec: &str) -> Result<Vec<(String, String)>> {
    spec.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|pair| {
            let (from, to) = pair
                .split_once('=')
                .with_context(|| format!("label map entry `{pair}` is not FROM=TO"))?;
            let (from, to) = (from.trim(), to.trim());
            anyhow::ensure!(
                !from.is_empty() && !to.is_empty(),
                "label map entry `{pair}` has an empty side"
            );
            Ok((from.to_string(), to.to_string()))
        })
        .collect()
}

/// Writes an output file as [`lstm_sentiment::write_output_file`] does (a regular file is
/// replaced atomically, a device or FIFO written in place), or to stdout for `-`.
pub(super) fn write_output(path: &Path, bytes: &[u8]) -> Result<()> {
    if path.as_os_str() == "-" {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        out.write_all(bytes)
            .and_then(|()| out.flush())
            .context("cannot write to standard output")?;
        return Ok(());
    }
    Ok(lstm_sentiment::write_output_file(path, bytes)?)
}
