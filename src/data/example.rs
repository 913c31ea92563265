//! One labelled example, and how a reader collects them: the checks applied to each, and the
//! lines a lenient read skips.

use crate::error::{Error, Result};
use std::path::Path;

/// How many skipped lines [`Skipped`] keeps the reasons of; the rest are only counted.
pub const SKIPPED_KEPT: usize = 100;

/// One labelled text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// The text to classify (trimmed; may be empty).
    pub text: String,
    /// Its gold label (trimmed; never empty).
    pub label: String,
}

/// Accepts a label, or says why not.
pub type LabelCheck<'a> = &'a dyn Fn(&str) -> std::result::Result<(), String>;

/// Checks applied to every example as it is read, and what to do with lines that fail.
#[derive(Clone, Copy, Default)]
pub struct LineChecks<'a> {
    /// Skip bad lines (they come back in [`Skipped`]) instead of failing on the first one.
    pub skip_invalid: bool,
    /// Accepts a label, or says why not (e.g. "unknown label `x`; the model knows a, b").
    pub label: Option<LabelCheck<'a>>,
}

/// The lines a lenient read skipped.
#[derive(Debug, Default)]
pub struct Skipped {
    /// How many lines (records, for CSV) were skipped.
    pub count: usize,
    /// Why, for the first [`SKIPPED_KEPT`] of them, in file order: each error names the file
    /// and the line.
    pub first: Vec<Error>,
}

impl Skipped {
    fn push(&mut self, error: Error) {
        self.count += 1;
        if self.first.len() < SKIPPED_KEPT {
            self.first.push(error);
        }
    }
}

/// Collects examples, applying the label check and the skip policy.
pub(super) struct Sink<'a, 'c> {
    path: &'a Path,
    checks: &'a LineChecks<'c>,
    examples: Vec<Example>,
    skipped: Skipped,
}

impl<'a, 'c> Sink<'a, 'c> {
    pub(super) fn new(path: &'a Path, checks: &'a LineChecks<'c>) -> Self {
        Self {
            path,
            checks,
            examples: Vec::new(),
            skipped: Skipped::default(),
        }
    }

    /// Keeps an example, or fails or skips with the message naming `line`.
    pub(super) fn accept(
        &mut self,
        line: usize,
        parsed: std::result::Result<Example, String>,
    ) -> Result<()> {
        let checked = parsed.and_then(|example| match self.checks.label {
            Some(check) => check(&example.label).map(|()| example),
            None => Ok(example),
        });
        match checked {
            Ok(example) => self.examples.push(example),
            Err(message) => {
                let error = Error::data(self.path, line, message);
                if !self.checks.skip_invalid {
                    return Err(error);
                }
                self.skipped.push(error);
            }
        }
        Ok(())
    }

    pub(super) fn finish(self) -> Result<(Vec<Example>, Skipped)> {
        if self.examples.is_empty() {
            let message = match self.skipped.first.first() {
                None => "no examples found".to_string(),
                Some(first) => format!(
                    "no examples found: all {} non-blank lines were invalid (the first: {first})",
                    self.skipped.count
                ),
            };
            return Err(Error::data(self.path, 0, message));
        }
        Ok((self.examples, self.skipped))
    }
}

/// An example from a label and a text as a file holds them, or why they are not one.
pub(super) fn example(label: &str, text: &str) -> std::result::Result<Example, String> {
    let label = label.trim();
    if label.is_empty() {
        return Err("empty label".to_string());
    }
    if label.contains(['\n', '\r']) {
        return Err("the label contains a line break".to_string());
    }
    Ok(Example {
        text: text.trim().to_string(),
        label: label.to_string(),
    })
}
