//! README.md's examples, run against the real binary, and the documentation's links and paths.
//!
//! Blocks fenced as ```` ```console ```` are run. A line `$ lstm-sentiment ARGS` is a command
//! (run as the binary cargo built; arguments split as a shell would split plain words and quoted
//! strings, nothing more), and the lines after it, up to the next command or the fence, are what
//! it must print on stdout; it must also exit with 0. Expected lines match the output line by
//! line, where:
//! - `[..]` stands for any text within a line;
//! - a line `...` stands for any number of lines;
//! - a number with a decimal point stands for any such number: probabilities, losses and timings
//!   move with the machine, the thread count and the model, while labels, words and counts
//!   (integers) must be exactly as written.
//!
//! Each block runs in a fresh temporary directory; its commands share it, so a model one command
//! trains is there for the next. An argument naming a file of the repository (such as
//! `scripts/model/everyday_reviews.tsv`) finds a copy of it there at the same path.
//!
//! Blocks fenced otherwise (```` ```sh ````, ```` ```text ````, ...) are not run: they need data
//! from ../shared/data, files of the reader's own, a GPU build or the network, none of which
//! `cargo test` may rely on. ```` ```rust ```` blocks of README.md and docs/library.md run as
//! doctests (src/lib.rs includes them under `cfg(doctest)`).

use crate::common::{bin, repo};
use std::fs;
use std::path::{Path, PathBuf};

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A fenced code block: its language, the line its first content line is on (1-based), and its
/// lines.
struct Block {
    lang: String,
    line: usize,
    lines: Vec<String>,
}

fn blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in markdown.lines().enumerate() {
        match (open.take(), line.strip_prefix("```")) {
            (None, Some(lang)) => {
                open = Some(Block {
                    lang: lang.trim().to_string(),
                    line: i + 2,
                    lines: Vec::new(),
                })
            }
            (None, None) => {}
            (Some(block), Some("")) => blocks.push(block),
            (Some(mut block), _) => {
                block.lines.push(line.to_string());
                open = Some(block);
            }
        }
    }
    assert!(open.is_none(), "a code block is never closed");
    blocks
}

/// A command of a console block, the output it must print, and where it is written.
struct Example {
    line: usize,
    args: Vec<String>,
    expected: Vec<String>,
}

fn examples(block: &Block) -> Vec<Example> {
    let mut examples: Vec<Example> = Vec::new();
    for (i, line) in block.lines.iter().enumerate() {
        let line_no = block.line + i;
        if let Some(command) = line.strip_prefix("$ ") {
            let words = shell_words(command).unwrap_or_else(|e| panic!("README.md:{line_no}: {e}"));
            let (program, args) = words.split_first().expect("a command");
            assert_eq!(
                program, "lstm-sentiment",
                "README.md:{line_no}: console examples run lstm-sentiment only"
            );
            examples.push(Example {
                line: line_no,
                args: args.to_vec(),
                expected: Vec::new(),
            });
        } else {
            let example = examples.last_mut().unwrap_or_else(|| {
                panic!("README.md:{line_no}: output before the first `$ ` command")
            });
            example.expected.push(line.clone());
        }
    }
    examples
}

/// Splits a command line into words: whitespace separates, '...' and "..." quote (with \" and
/// \\ inside double quotes), a backslash escapes the next character. Anything that needs a real
/// shell (pipes, redirections, variables, continued lines) is an error.
fn shell_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => words.extend(word.take()),
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err("unclosed '".into()),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => w.push(c),
                            Some(c) => w.extend(['\\', c]),
                            None => return Err("unclosed \"".into()),
                        },
                        Some(c @ ('$' | '`')) => return Err(format!("{c} needs a real shell")),
                        Some(c) => w.push(c),
                        None => return Err("unclosed \"".into()),
                    }
                }
            }
            '\\' => match chars.next() {
                Some(c) => word.get_or_insert_with(String::new).push(c),
                None => return Err("a continued line needs a real shell".into()),
            },
            '|' | '>' | '<' | ';' | '&' | '$' | '`' | '*' | '?' | '(' | ')' => {
                return Err(format!("{c} needs a real shell"))
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

/// A piece of an expected line.
#[derive(Debug)]
enum Piece {
    Text(String),
    /// `[..]`: any text.
    Any,
    /// A number with a decimal point: any such number.
    Decimal,
}

fn pieces(expected: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut rest = expected;
    while let Some(c) = rest.chars().next() {
        let after_word = text
            .chars()
            .last()
            .is_some_and(|p| p.is_alphanumeric() || p == '_');
        if let Some(r) = rest.strip_prefix("[..]") {
            pieces.push(Piece::Text(std::mem::take(&mut text)));
            pieces.push(Piece::Any);
            rest = r;
        } else if let Some(n) = decimal_len(rest).filter(|_| !after_word) {
            pieces.push(Piece::Text(std::mem::take(&mut text)));
            pieces.push(Piece::Decimal);
            rest = &rest[n..];
        } else {
            text.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    pieces.push(Piece::Text(text));
    pieces
}

/// The length of the number with a decimal point that `s` starts with, if it does:
/// `-?digits.digits`, with an optional exponent.
fn decimal_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let digits = |from: usize| b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let whole = digits(i);
    i += whole;
    if whole == 0 || b.get(i) != Some(&b'.') {
        return None;
    }
    let fraction = digits(i + 1);
    if fraction == 0 {
        return None;
    }
    i += 1 + fraction;
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(b.get(i + 1), Some(b'-' | b'+')));
        let exponent = digits(i + 1 + sign);
        if exponent > 0 {
            i += 1 + sign + exponent;
        }
    }
    Some(i)
}

fn line_matches(pieces: &[Piece], actual: &str) -> bool {
    match pieces.split_first() {
        None => actual.is_empty(),
        Some((Piece::Text(t), rest)) => actual
            .strip_prefix(t.as_str())
            .is_some_and(|a| line_matches(rest, a)),
        Some((Piece::Any, rest)) => (0..=actual.len())
            .filter(|&i| actual.is_char_boundary(i))
            .any(|i| line_matches(rest, &actual[i..])),
        Some((Piece::Decimal, rest)) => {
            decimal_len(actual).is_some_and(|n| line_matches(rest, &actual[n..]))
        }
    }
}

fn lines_match(expected: &[String], actual: &[&str]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((e, rest)) if e == "..." => {
            (0..=actual.len()).any(|i| lines_match(rest, &actual[i..]))
        }
        Some((e, rest)) => actual
            .split_first()
            .is_some_and(|(a, more)| line_matches(&pieces(e), a) && lines_match(rest, more)),
    }
}

fn trim_trailing_blank<T: AsRef<str>>(lines: &mut Vec<T>) {
    while lines.last().is_some_and(|l| l.as_ref().trim().is_empty()) {
        lines.pop();
    }
}

/// Copies the repository files that `args` name into `dir`, at the same relative paths.
fn copy_repository_files(args: &[String], dir: &Path) {
    for arg in args {
        let source = repo().join(arg);
        if !arg.starts_with('-') && arg.contains('/') && source.is_file() {
            let target = dir.join(arg);
            fs::create_dir_all(target.parent().unwrap()).unwrap();
            fs::copy(&source, &target).unwrap();
        }
    }
}

fn run(example: &Example, dir: &Path) -> Result<(), String> {
    copy_repository_files(&example.args, dir);
    let output = bin()
        .args(&example.args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("cannot run the binary: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!("exited with {}; stderr:\n{stderr}", output.status));
    }
    let mut actual: Vec<&str> = stdout.lines().collect();
    trim_trailing_blank(&mut actual);
    let mut expected = example.expected.clone();
    trim_trailing_blank(&mut expected);
    if lines_match(&expected, &actual) {
        Ok(())
    } else {
        Err(format!(
            "expected:\n{}\nprinted:\n{stdout}stderr:\n{stderr}",
            expected.join("\n")
        ))
    }
}

#[test]
fn readme_console_examples_print_what_readme_says() {
    let blocks = blocks(&read(&repo().join("README.md")));
    let console: Vec<&Block> = blocks.iter().filter(|b| b.lang == "console").collect();
    assert!(!console.is_empty(), "README.md has no console example");
    let mut failures = Vec::new();
    for block in console {
        let dir = tempfile::tempdir().unwrap();
        for example in examples(block) {
            if let Err(why) = run(&example, dir.path()) {
                failures.push(format!(
                    "README.md:{}: lstm-sentiment {:?}\n{why}",
                    example.line, example.args
                ));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

/// A document's path relative to the repository, for messages.
fn shown(doc: &Path) -> String {
    doc.strip_prefix(repo())
        .unwrap_or(doc)
        .display()
        .to_string()
}

/// README.md and the files under docs/.
fn documents() -> Vec<PathBuf> {
    let mut docs: Vec<PathBuf> = fs::read_dir(repo().join("docs"))
        .expect("docs/")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    docs.insert(0, repo().join("README.md"));
    docs
}

/// GitHub's anchor for a heading: lowercase, spaces to hyphens, other punctuation dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(markdown: &str) -> Vec<String> {
    let mut in_code = false;
    let mut anchors = Vec::new();
    for line in markdown.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            anchors.push(anchor(line.trim_start_matches('#')));
        }
    }
    anchors
}

#[test]
fn documentation_links_reach_their_files_and_headings() {
    let mut broken = Vec::new();
    for doc in documents() {
        let text = read(&doc);
        for (i, line) in text.lines().enumerate() {
            for target in line.split("](").skip(1).filter_map(|s| s.split(')').next()) {
                if target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                let (path, fragment) = target.split_once('#').unwrap_or((target, ""));
                let file = if path.is_empty() {
                    doc.clone()
                } else {
                    doc.parent().unwrap().join(path)
                };
                let ok = file.exists()
                    && (fragment.is_empty() || anchors(&read(&file)).iter().any(|a| a == fragment));
                if !ok {
                    broken.push(format!("{}:{}: {target}", shown(&doc), i + 1));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn repository_paths_in_the_documentation_exist() {
    const ROOTS: [&str; 9] = [
        "scripts/",
        "src/",
        "tests/",
        "benches/",
        "examples/",
        "docs/",
        "assets/",
        "fuzz/",
        ".ci/",
    ];
    let in_path = |c: char| c.is_ascii_alphanumeric() || "_./-".contains(c);
    let mut missing = Vec::new();
    for doc in documents() {
        let text = read(&doc);
        for (i, line) in text.lines().enumerate() {
            for (at, _) in line.char_indices() {
                let rest = &line[at..];
                let starts_path = ROOTS.iter().any(|r| rest.starts_with(r));
                let after_path_char = line[..at].chars().last().is_some_and(in_path);
                if !starts_path || after_path_char {
                    continue;
                }
                let end = rest.find(|c: char| !in_path(c)).unwrap_or(rest.len());
                let path = rest[..end].trim_end_matches(['.', ',']);
                if !repo().join(path).exists() {
                    missing.push(format!("{}:{}: {path}", shown(&doc), i + 1));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "paths that do not exist:\n{}",
        missing.join("\n")
    );
}

#[test]
fn expected_output_matches_as_documented() {
    let expect = |e: &str, a: &str| line_matches(&pieces(e), a);
    assert!(expect(
        "positive\t0.9932\tI loved it",
        "positive\t0.5000\tI loved it"
    ));
    assert!(!expect(
        "positive\t0.9932\tI loved it",
        "negative\t0.9932\tI loved it"
    ));
    assert!(expect(
        "kept epoch [..]; saved to m",
        "kept epoch 2 (dev 0.5); saved to m"
    ));
    assert!(!expect("n = 40", "n = 41"));
    assert!(expect("{\"p\":-1.5e-3}", "{\"p\":0.25}"));
    assert!(!expect("0.5", "1"));
    let lines = |s: &[&str]| s.iter().map(|l| l.to_string()).collect::<Vec<_>>();
    assert!(lines_match(
        &lines(&["a", "...", "z"]),
        &["a", "b", "c", "z"]
    ));
    assert!(lines_match(&lines(&["a", "...", "z"]), &["a", "z"]));
    assert!(!lines_match(&lines(&["a", "z"]), &["a", "b", "z"]));
    assert_eq!(
        shell_words(r#"predict --json "it's \"fine\"" 'a b' c\ d"#).unwrap(),
        ["predict", "--json", "it's \"fine\"", "a b", "c d"]
    );
    assert!(shell_words("predict --input - < texts.txt").is_err());
}
