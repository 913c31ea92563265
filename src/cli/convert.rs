//! `convert`: rewrite a model directory with float32, float16 or bfloat16 weights.

use super::args::ModelArg;
use anyhow::{Context, Result};
use clap::Args;
use lstm_sentiment::WeightDtype;
use std::path::PathBuf;

#[derive(Args)]
pub struct ConvertArgs {
    #[command(flatten)]
    model: ModelArg,
    /// Where to write the converted model directory.
    #[arg(long, short = 'o', value_name = "DIR")]
    out: PathBuf,
    /// Weight type to store: f32, f16 or bf16.
    #[arg(long, value_name = "TYPE")]
    dtype: String,
}

pub fn run(args: ConvertArgs) -> Result<()> {
    let dtype: WeightDtype = args.dtype.parse()?;
    let classifier = args.model.load()?;
    classifier
        .save_as(&args.out, dtype)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    Ok(())
}
