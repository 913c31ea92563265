//! `word2vec`, `similar`, `analogy` and `export-embeddings`: word vectors in and out.

use super::args::ModelArg;
use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use lstm_sentiment::tokenizer::{PAD, UNK};
use lstm_sentiment::vectors::{self, Embeddings, Neighbour, Utf8, VectorFormat};
use lstm_sentiment::word2vec::{self, Architecture, Word2VecConfig, Word2VecEvent};
use lstm_sentiment::{Format, ReadOptions};
use std::io::{BufRead, BufReader, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, ValueEnum)]
enum FormatName {
    /// word2vec binary
    Bin,
    /// word2vec text with a `COUNT DIM` header (fastText .vec)
    #[value(alias = "vec")]
    Text,
    /// GloVe text, no header
    Glove,
}

impl From<FormatName> for VectorFormat {
    fn from(name: FormatName) -> Self {
        match name {
            FormatName::Bin => VectorFormat::Word2VecBinary,
            FormatName::Text => VectorFormat::Word2VecText,
            FormatName::Glove => VectorFormat::Glove,
        }
    }
}

/// The format named, or one guessed from the extension: .txt/.vec/.text text, .glove GloVe,
/// anything else binary.
fn output_format(name: Option<FormatName>, path: &Path) -> VectorFormat {
    if let Some(name) = name {
        return name.into();
    }
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match ext.as_deref() {
        Some("txt" | "vec" | "text") => VectorFormat::Word2VecText,
        Some("glove") => VectorFormat::Glove,
        _ => VectorFormat::Word2VecBinary,
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub(super) enum CorpusFormat {
    /// one sentence or document per line
    Plain,
    /// label<TAB>text
    Tsv,
    /// CSV with a header; see --text-column
    Csv,
    /// {"text": ..., "label": ...} per line
    Jsonl,
    /// __label__X text
    Fasttext,
}

#[derive(Args)]
pub struct Word2VecArgs {
    /// The corpus: plain text (one sentence or document per line; `-` for stdin) or a labelled
    /// data file, of which the text column is used.
    #[arg(long, short = 'i', value_name = "FILE")]
    input: PathBuf,
    /// Corpus format; default: from the extension (.tsv .csv .jsonl .ndjson .ft), else plain.
    #[arg(long, value_enum)]
    input_format: Option<CorpusFormat>,
    /// CSV: the column holding the text.
    #[arg(long, default_value = "text", value_name = "NAME")]
    text_column: String,
    /// Where to write the vectors.
    #[arg(long, short = 'o', value_name = "FILE")]
    out: PathBuf,
    /// Vector file format; default: text for .txt/.vec, GloVe for .glove, else binary.
    #[arg(long, value_enum)]
    format: Option<FormatName>,
    /// Skip-gram: each word predicts its neighbours.
    #[arg(long, conflicts_with = "cbow")]
    sg: bool,
    /// CBOW: the neighbours predict the word (the default).
    #[arg(long)]
    cbow: bool,
    /// Add hierarchical softmax (use --negative 0 for it alone).
    #[arg(long)]
    hs: bool,
    #[arg(long, default_value_t = 100)]
    dim: usize,
    /// Largest distance to a context word (each position draws its own, up to this).
    #[arg(long, default_value_t = 5)]
    window: usize,
    /// Drop words seen fewer times.
    #[arg(long, default_value_t = 5)]
    min_count: u64,
    /// Negative samples per prediction.
    #[arg(long, default_value_t = 5)]
    negative: usize,
    /// Sub-sampling threshold for frequent words (0: off).
    #[arg(long, default_value_t = 1e-3)]
    sample: f64,
    /// Starting learning rate; default 0.025 for skip-gram, 0.05 for CBOW.
    #[arg(long)]
    lr: Option<f32>,
    /// Learning rate at the end; it falls linearly.
    #[arg(long, default_value_t = 1e-4)]
    min_lr: f32,
    #[arg(long, default_value_t = 5)]
    epochs: usize,
    /// Training threads; default: all cores.
    #[arg(long)]
    threads: Option<usize>,
    /// With --threads 1, the same seed gives the same vectors.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Keep case (the classifier's tokenizer lowercases by default).
    #[arg(long)]
    cased: bool,
    /// No progress bar or summary.
    #[arg(long, short = 'q')]
    quiet: bool,
}

pub fn run_word2vec(a: Word2VecArgs) -> Result<()> {
    let config = Word2VecConfig {
        architecture: if a.sg {
            Architecture::SkipGram
        } else {
            Architecture::Cbow
        },
        dim: a.dim,
        window: a.window,
        min_count: a.min_count,
        negative: a.negative,
        hierarchical_softmax: a.hs,
        sample: a.sample,
        lr: a.lr,
        min_lr: a.min_lr,
        epochs: a.epochs,
        // The same cap as the global --threads (this flag shares its name, so main has already
        // warned about it).
        threads: a.threads.map_or(Word2VecConfig::default().threads, |n| {
            lstm_sentiment::threads::ThreadCount::on_this_machine(n).threads
        }),
        seed: a.seed,
        lowercase: !a.cased,
    };
    config.validate()?;
    let format = output_format(a.format, &a.out);
    let texts = read_corpus(&a)?;

    let bar = if a.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(1000)
    };
    bar.set_style(
        ProgressStyle::with_template("[{bar:30}] {percent:>3}% {msg} ({elapsed}<{eta})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let mut speed = 0.0;
    let vectors = word2vec::train(&texts, &config, |event| {
        match event {
            Word2VecEvent::Vocabulary { words, tokens } => {
                let line = format!("vocabulary: {words} words, {tokens} tokens per epoch");
                // A hidden bar (stderr not a terminal) drops println; the line is still wanted.
                match (a.quiet, bar.is_hidden()) {
                    (true, _) => {}
                    (false, true) => eprintln!("{line}"),
                    (false, false) => bar.println(line),
                }
            }
            Word2VecEvent::Progress {
                fraction,
                words_per_second,
                lr,
                epoch,
            } => {
                speed = *words_per_second;
                bar.set_position((fraction * 1000.0) as u64);
                bar.set_message(format!(
                    "epoch {epoch}/{}  {:.0}k words/s  lr {lr:.6}",
                    config.epochs,
                    words_per_second / 1000.0
                ));
            }
        }
        ControlFlow::Continue(())
    })?;
    bar.finish_and_clear();
    save(&vectors, &a.out, format)?;
    if !a.quiet {
        eprintln!(
            "wrote {} vectors of dimension {} to {} ({:.0} words/s)",
            vectors.len(),
            vectors.dim(),
            output_name(&a.out),
            speed
        );
    }
    Ok(())
}

fn read_corpus(a: &Word2VecArgs) -> Result<Vec<String>> {
    read_texts(&a.input, a.input_format, &a.text_column)
}

/// The texts of `input`: its lines, or the text column of a labelled data file, in `format` or
/// the one its extension names.
pub(super) fn read_texts(
    input: &Path,
    format: Option<CorpusFormat>,
    text_column: &str,
) -> Result<Vec<String>> {
    let ext = input
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    let format = format.unwrap_or(match ext.as_deref() {
        Some("tsv") => CorpusFormat::Tsv,
        Some("csv") => CorpusFormat::Csv,
        Some("jsonl" | "ndjson") => CorpusFormat::Jsonl,
        Some("ft" | "fasttext") => CorpusFormat::Fasttext,
        _ => CorpusFormat::Plain,
    });
    let labelled = match format {
        CorpusFormat::Plain => {
            if input.as_os_str() == "-" {
                let mut texts = Vec::new();
                lstm_sentiment::data::each_line(
                    std::io::stdin().lock(),
                    Path::new("<stdin>"),
                    |line| {
                        texts.push(line.to_string());
                        lstm_sentiment::Result::Ok(())
                    },
                )?;
                return Ok(texts);
            }
            return Ok(lstm_sentiment::data::read_lines(input)?);
        }
        CorpusFormat::Tsv => Format::Tsv,
        CorpusFormat::Csv => Format::Csv {
            text_column: text_column.to_string(),
            // Only the text is used, but the reader wants a label column to exist.
            label_column: "label".to_string(),
        },
        CorpusFormat::Jsonl => Format::Jsonl,
        CorpusFormat::Fasttext => Format::FastText,
    };
    let options = ReadOptions {
        format: Some(labelled),
        ..ReadOptions::default()
    };
    let examples = lstm_sentiment::read_examples(input, &options)?;
    Ok(examples.into_iter().map(|e| e.text).collect())
}

/// Writes `vectors` to `path` (`-`: stdout) as [`super::args::write_output`] does.
fn save(vectors: &Embeddings, path: &Path, format: VectorFormat) -> Result<()> {
    let mut bytes = Vec::new();
    vectors
        .write(&mut bytes, format)
        .with_context(|| format!("cannot write {}", path.display()))?;
    super::args::write_output(path, &bytes)
}

/// How an output path is named in messages.
fn output_name(path: &Path) -> String {
    if path.as_os_str() == "-" {
        "standard output".to_string()
    } else {
        path.display().to_string()
    }
}

/// Where the vectors to query come from.
#[derive(Args)]
struct VectorSource {
    /// A vector file (word2vec binary or text, fastText .vec, GloVe); default: the embedding
    /// table of --model.
    #[arg(long, short = 'v', value_name = "FILE", conflicts_with = "model")]
    vectors: Option<PathBuf>,
    /// Format of --vectors; default: detected from its first bytes.
    #[arg(long, value_enum, requires = "vectors")]
    format: Option<FormatName>,
    /// Replace invalid UTF-8 in words instead of rejecting the file.
    #[arg(long, requires = "vectors")]
    lossy: bool,
    #[command(flatten)]
    model: ModelArg,
}

/// Loaded vectors, with how query words are spelled in them.
struct Table {
    vectors: Embeddings,
    /// A classifier's tokenizer: query words are normalized as the classifier would see them.
    tokenizer: Option<lstm_sentiment::tokenizer::TextTokenizer>,
}

impl VectorSource {
    fn load(&self) -> Result<Table> {
        if let Some(path) = &self.vectors {
            return Ok(Table {
                vectors: read_vectors(path, self.format.map(Into::into), self.lossy)?,
                tokenizer: None,
            });
        }
        let classifier = self.model.load()?;
        Ok(Table {
            vectors: vectors::classifier_embeddings(&classifier)?,
            tokenizer: Some(classifier.tokenizer().clone()),
        })
    }
}

impl Table {
    /// The table's spelling of `word`; fails if it has no vector.
    fn word(&self, word: &str) -> Result<String> {
        let spelled = match &self.tokenizer {
            None => word.to_string(),
            Some(tokenizer) => match tokenizer.tokens(word)?.as_slice() {
                [one] => one.clone(),
                tokens => bail!(
                    "`{word}` is {} tokens to the model: {tokens:?}",
                    tokens.len()
                ),
            },
        };
        if self.vectors.index_of(&spelled).is_none() {
            bail!("`{spelled}` is not in the vocabulary");
        }
        Ok(spelled)
    }

    /// Words never to show: the classifier's special tokens.
    fn hidden(&self) -> &'static [&'static str] {
        if self.tokenizer.is_some() {
            &[PAD, UNK]
        } else {
            &[]
        }
    }
}

fn read_vectors(path: &Path, format: Option<VectorFormat>, lossy: bool) -> Result<Embeddings> {
    let file =
        std::fs::File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let format = match format {
        Some(format) => format,
        None => {
            let head = reader
                .fill_buf()
                .with_context(|| format!("{}: cannot read", path.display()))?;
            vectors::detect_format(head).with_context(|| {
                format!(
                    "{}: not a word2vec (binary or text) or GloVe file; name one with --format",
                    path.display()
                )
            })?
        }
    };
    let utf8 = if lossy { Utf8::Lossy } else { Utf8::Strict };
    Ok(Embeddings::read(reader, format, utf8, path)?)
}

/// `-k 0` would ask for nothing and print nothing: a usage error instead.
fn at_least_one() -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::new().range(1..)
}

#[derive(Args)]
pub struct SimilarArgs {
    word: String,
    #[command(flatten)]
    source: VectorSource,
    /// How many neighbours (at least 1).
    #[arg(short, default_value_t = 10, value_parser = at_least_one())]
    k: usize,
    /// Print {"query": [...], "neighbours": [{"word", "similarity"}]}.
    #[arg(long)]
    json: bool,
}

pub fn run_similar(a: SimilarArgs) -> Result<()> {
    let table = a.source.load()?;
    let word = table.word(&a.word)?;
    let query = table.vectors.vector(&word).unwrap_or_default().to_vec();
    let mut exclude = vec![word.as_str()];
    exclude.extend(table.hidden());
    let neighbours = table.vectors.nearest(&query, a.k, &exclude);
    print(&[word.as_str()], &neighbours, a.json)
}

#[derive(Args)]
pub struct AnalogyArgs {
    /// A is to B as C is to ...: the words closest to B - A + C.
    a: String,
    b: String,
    c: String,
    #[command(flatten)]
    source: VectorSource,
    /// How many answers (at least 1).
    #[arg(short, default_value_t = 10, value_parser = at_least_one())]
    k: usize,
    /// Print {"query": [A, B, C], "neighbours": [{"word", "similarity"}]}.
    #[arg(long)]
    json: bool,
}

pub fn run_analogy(a: AnalogyArgs) -> Result<()> {
    let table = a.source.load()?;
    let words = [table.word(&a.a)?, table.word(&a.b)?, table.word(&a.c)?];
    let [x, y, z] = words.each_ref().map(String::as_str);
    // Ask for extra answers so that hidden words can be dropped without running short.
    let hidden = table.hidden();
    let neighbours: Vec<Neighbour> = table
        .vectors
        .analogy(x, y, z, a.k + hidden.len())
        .unwrap_or_default()
        .into_iter()
        .filter(|n| !hidden.contains(&n.word.as_str()))
        .take(a.k)
        .collect();
    print(&[x, y, z], &neighbours, a.json)
}

fn print(query: &[&str], neighbours: &[Neighbour], json: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        let line = serde_json::json!({"query": query, "neighbours": neighbours});
        writeln!(out, "{line}")?;
    } else {
        for n in neighbours {
            writeln!(out, "{}\t{:.4}", n.word, n.similarity)?;
        }
    }
    out.flush()?;
    Ok(())
}

#[derive(Args)]
pub struct ExportArgs {
    #[command(flatten)]
    model: ModelArg,
    /// Where to write the table; row i is token id i, [PAD] and [UNK] included.
    #[arg(long, short = 'o', value_name = "FILE")]
    out: PathBuf,
    /// Vector file format; default: text for .txt/.vec, GloVe for .glove, else binary.
    #[arg(long, value_enum)]
    format: Option<FormatName>,
}

pub fn run_export(a: ExportArgs) -> Result<()> {
    let classifier = a.model.load()?;
    let vectors = vectors::classifier_embeddings(&classifier)?;
    save(&vectors, &a.out, output_format(a.format, &a.out))?;
    eprintln!(
        "wrote {} vectors of dimension {} to {}",
        vectors.len(),
        vectors.dim(),
        output_name(&a.out)
    );
    Ok(())
}
