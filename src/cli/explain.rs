//! `explain`: each token's push on the prediction, coloured on a terminal, as text or JSON
//! otherwise.

use super::args::{ModelArg, Runtime};
use super::predict::{for_each_chunk, TextInput};
use anyhow::Result;
use clap::Args;
use lstm_sentiment::Explanation;
use std::io::{BufWriter, IsTerminal, Write};

#[derive(Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    model: ModelArg,
    #[command(flatten)]
    input: TextInput,
    /// Print one JSON object per text: {"text", "label", "score", "tokens": [{"token", "start",
    /// "end", "contribution"}]}, with start and end in characters of the text.
    #[arg(long)]
    json: bool,
}

pub fn run_explain(args: ExplainArgs, runtime: &Runtime) -> Result<()> {
    let classifier = args.model.load_for(runtime)?;
    let stdout = std::io::stdout();
    let colour = !args.json && stdout.is_terminal() && !no_color();
    let mut out = BufWriter::new(stdout.lock());
    for_each_chunk(&args.input, |texts| {
        for text in texts {
            let e = classifier.explain(text)?;
            if args.json {
                writeln!(out, "{}", serde_json::to_string(&e)?)?;
            } else if colour {
                write_coloured(&mut out, &e)?;
            } else {
                write_plain(&mut out, &e)?;
            }
        }
        Ok(())
    })?;
    out.flush()?;
    Ok(())
}

/// NO_COLOR set to anything but the empty string (no-color.org).
pub(super) fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// `label<TAB>score<TAB>text`, as `predict` prints it, then each token with its contribution on a
/// line of its own, indented.
fn write_plain(out: &mut impl Write, e: &Explanation) -> std::io::Result<()> {
    writeln!(out, "{}\t{:.4}\t{}", e.label, e.score, e.text)?;
    for t in &e.tokens {
        writeln!(out, "\t{}\t{:+.4}", t.token, t.contribution)?;
    }
    Ok(())
}

/// The label and score, then the text as written, each token on a background whose hue says
/// whether it pushed toward the label (green) or away from it (red), and whose depth says how
/// hard, relative to the text's strongest token.
fn write_coloured(out: &mut impl Write, e: &Explanation) -> std::io::Result<()> {
    writeln!(
        out,
        "{} {:.4}  (green: toward {}, red: away from it)",
        e.label, e.score, e.label
    )?;
    let strongest = (e.tokens.iter())
        .map(|t| t.contribution.abs())
        .fold(0f32, f32::max);
    let mut at = 0;
    for t in &e.tokens {
        write!(out, "{}", &e.text[at..t.bytes.start])?;
        let written = &e.text[t.bytes.clone()];
        match shade(t.contribution, strongest) {
            Some(colour) => write!(out, "\x1b[30;48;5;{colour}m{written}\x1b[0m")?,
            None => write!(out, "{written}")?,
        }
        at = t.bytes.end;
    }
    writeln!(out, "{}", &e.text[at..])
}

/// Backgrounds of the 256-colour palette, light to deep.
const GREENS: [u8; 4] = [194, 157, 120, 83];
const REDS: [u8; 4] = [224, 217, 210, 203];

/// The background for `contribution`; none for one under a tenth of the strongest.
fn shade(contribution: f32, strongest: f32) -> Option<u8> {
    let share = if strongest > 0.0 {
        contribution.abs() / strongest
    } else {
        0.0
    };
    if share < 0.1 {
        return None;
    }
    let level = ((share * 4.0).ceil() as usize).clamp(1, 4) - 1;
    Some(if contribution > 0.0 {
        GREENS[level]
    } else {
        REDS[level]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shades_deepen_with_the_share_of_the_strongest() {
        assert_eq!(shade(0.0, 0.0), None);
        assert_eq!(shade(0.05, 1.0), None);
        assert_eq!(shade(0.2, 1.0), Some(GREENS[0]));
        assert_eq!(shade(1.0, 1.0), Some(GREENS[3]));
        assert_eq!(shade(-0.6, 1.0), Some(REDS[2]));
    }
}
