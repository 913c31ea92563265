//! Which tokens of a text longer than the model's `max_length` it reads: the first ones, the last
//! ones, or both ends. Long reviews often give their verdict at the end.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Which tokens a text longer than the limit keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Truncation {
    /// The first tokens.
    #[default]
    Head,
    /// The last tokens.
    Tail,
    /// The first half of the limit (rounded up) from the start and the rest from the end.
    HeadTail,
}

impl Truncation {
    pub const ALL: [Truncation; 3] = [Truncation::Head, Truncation::Tail, Truncation::HeadTail];

    /// The name config.json and the `--truncate` flag use.
    pub fn name(self) -> &'static str {
        match self {
            Truncation::Head => "head",
            Truncation::Tail => "tail",
            Truncation::HeadTail => "head_tail",
        }
    }

    /// Which tokens are kept, in words.
    pub fn describe(self) -> &'static str {
        match self {
            Truncation::Head => "the first tokens",
            Truncation::Tail => "the last tokens",
            Truncation::HeadTail => "the first half from the start, the second from the end",
        }
    }

    /// How many of `max_len` tokens come from the start and how many from the end of a text
    /// longer than that.
    pub fn split(self, max_len: usize) -> (usize, usize) {
        match self {
            Truncation::Head => (max_len, 0),
            Truncation::Tail => (0, max_len),
            Truncation::HeadTail => (max_len.div_ceil(2), max_len / 2),
        }
    }

    /// What a text with these `ids` keeps of them.
    pub fn apply(self, ids: &[u32], max_len: usize) -> Vec<u32> {
        if ids.len() <= max_len {
            return ids.to_vec();
        }
        let (head, tail) = self.split(max_len);
        let mut kept = ids[..head].to_vec();
        kept.extend_from_slice(&ids[ids.len() - tail..]);
        kept
    }
}

impl std::str::FromStr for Truncation {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let found = Truncation::ALL.into_iter().find(|t| t.name() == s);
        found.ok_or_else(|| {
            Error::Config(format!(
                "unknown truncation `{s}` (expected head, tail or head_tail)"
            ))
        })
    }
}

impl std::fmt::Display for Truncation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_are_refused() {
        for t in Truncation::ALL {
            assert_eq!(t.name().parse::<Truncation>().unwrap(), t);
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.name()));
        }
        let err = "middle".parse::<Truncation>().unwrap_err().to_string();
        assert!(
            err.contains("`middle`") && err.contains("head_tail"),
            "{err}"
        );
    }

    #[test]
    fn each_side_keeps_its_ends() {
        let ids: Vec<u32> = (10..20).collect();
        assert_eq!(Truncation::Head.apply(&ids, 4), [10, 11, 12, 13]);
        assert_eq!(Truncation::Tail.apply(&ids, 4), [16, 17, 18, 19]);
        assert_eq!(Truncation::HeadTail.apply(&ids, 4), [10, 11, 18, 19]);
        // An odd limit gives the extra token to the start.
        assert_eq!(Truncation::HeadTail.apply(&ids, 5), [10, 11, 12, 18, 19]);
        assert_eq!(Truncation::HeadTail.apply(&ids, 1), [10]);
        for t in Truncation::ALL {
            assert_eq!(t.apply(&ids, 10), ids);
            assert_eq!(t.apply(&ids, 0), [] as [u32; 0]);
        }
    }
}
