//! The JSON that goes in and out, its OpenAPI description, and the error body every 4xx and
//! 5xx answer carries.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One text or a list of texts.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum Input {
    Single(String),
    Batch(Vec<String>),
}

impl Input {
    pub fn texts(&self) -> &[String] {
        match self {
            Input::Single(text) => std::slice::from_ref(text),
            Input::Batch(texts) => texts,
        }
    }

    pub fn is_batch(&self) -> bool {
        matches!(self, Input::Batch(_))
    }
}

/// By hand rather than `untagged`, whose error says only that no variant matched.
impl<'de> Deserialize<'de> for Input {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextOrList;
        impl<'de> Visitor<'de> for TextOrList {
            type Value = Input;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a text or a list of texts")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Input, E> {
                Ok(Input::Single(text.to_string()))
            }

            fn visit_string<E: de::Error>(self, text: String) -> Result<Input, E> {
                Ok(Input::Single(text))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Input, A::Error> {
                let mut texts = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
                while let Some(text) = seq.next_element::<String>()? {
                    texts.push(text);
                }
                Ok(Input::Batch(texts))
            }
        }
        deserializer.deserialize_any(TextOrList)
    }
}

fn yes() -> bool {
    true
}

/// `POST /predict`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PredictRequest {
    pub inputs: Input,
    /// Logits instead of probabilities.
    #[serde(default)]
    pub raw_scores: bool,
    /// Keep the tokens the model's truncation keeps of a text over its `max_input_tokens`
    /// (default); with `false` such a text is answered 422.
    #[serde(default = "yes")]
    pub truncate: bool,
}

/// `POST /embed` and `POST /explain`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TextsRequest {
    pub inputs: Input,
    /// As for `/predict`.
    #[serde(default = "yes")]
    pub truncate: bool,
}

/// The texts of a request, and whether to truncate them.
pub(crate) trait TextsOf {
    fn inputs(&self) -> &Input;
    fn truncate(&self) -> bool;
}

impl TextsOf for PredictRequest {
    fn inputs(&self) -> &Input {
        &self.inputs
    }

    fn truncate(&self) -> bool {
        self.truncate
    }
}

impl TextsOf for TextsRequest {
    fn inputs(&self) -> &Input {
        &self.inputs
    }

    fn truncate(&self) -> bool {
        self.truncate
    }
}

/// A label and its probability (or logit, with `raw_scores`).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LabelScore {
    pub label: String,
    pub score: f32,
}

/// Every label of one text, highest score first; a list of such lists for a list of texts.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum PredictResponse {
    Single(Vec<LabelScore>),
    Batch(Vec<Vec<LabelScore>>),
}

/// One explanation, or a list of them for a list of texts.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum ExplainResponse {
    Single(crate::Explanation),
    Batch(Vec<crate::Explanation>),
}

/// `GET /health`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Health {
    /// `ok`, `loading` or `draining`.
    pub status: &'static str,
}

/// `GET /info`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Info {
    pub model_id: String,
    pub labels: Vec<String>,
    /// `lstm`, `gru` or `rnn`.
    pub cell: String,
    pub layers: usize,
    pub hidden_size: usize,
    pub embedding_dim: usize,
    pub bidirectional: bool,
    pub vocab_size: usize,
    /// Tokens the model reads of a text; longer texts are truncated (or refused).
    pub max_input_tokens: usize,
    /// Which tokens a truncated text keeps: `head`, `tail` or `head_tail`.
    pub truncation: String,
    /// Length of each `/embed` vector.
    pub embedding_size: usize,
    pub limits: super::options::Limits,
    pub version: &'static str,
}

/// What kind of failure an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ErrorType {
    /// The body is not UTF-8 or not JSON (400).
    Malformed,
    /// The JSON does not fit the request, or breaks a limit (413, 422).
    Validation,
    /// Too many requests at once (429).
    Overloaded,
    /// No or a wrong API key (401).
    Unauthorized,
    /// The model is loading or the server is stopping (503).
    Unavailable,
    /// The request took longer than the server allows (503).
    Timeout,
    /// No such route (404), or not this method (405).
    NotFound,
    /// The model failed (500).
    Backend,
}

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ErrorBody {
    /// What went wrong, naming the field or limit.
    pub error: String,
    pub error_type: ErrorType,
}

/// An error answer: a status and an [`ErrorBody`].
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl ApiError {
    pub fn new(status: StatusCode, error_type: ErrorType, error: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody {
                error: error.into(),
                error_type,
            },
        }
    }

    pub fn validation(status: StatusCode, error: impl Into<String>) -> Self {
        Self::new(status, ErrorType::Validation, error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body)).into_response()
    }
}

/// Reads a request body as JSON: 400 for a body that is not UTF-8 or not JSON, 422 for JSON of
/// the wrong shape (the message names the field and what it should be).
pub(crate) fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorType::Malformed,
            format!(
                "the body is not UTF-8: invalid byte at offset {}",
                e.valid_up_to()
            ),
        )
    })?;
    serde_json::from_str(text).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => ApiError::validation(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("the request does not fit: {e}"),
        ),
        _ => ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorType::Malformed,
            format!("the body is not JSON: {e}"),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(body: &[u8]) -> (u16, String) {
        let e = parse::<PredictRequest>(body).unwrap_err();
        (e.status.as_u16(), e.body.error)
    }

    #[test]
    fn inputs_are_a_text_or_a_list_of_texts() {
        let one: PredictRequest = parse(br#"{"inputs": "good"}"#).unwrap();
        assert_eq!(one.inputs, Input::Single("good".into()));
        assert!(one.truncate && !one.raw_scores);
        let many: TextsRequest = parse(br#"{"inputs": ["a", "b"], "truncate": false}"#).unwrap();
        assert_eq!(many.inputs.texts(), ["a", "b"]);
        assert!(!many.truncate);
    }

    #[test]
    fn bad_bodies_are_named() {
        let (status, message) = error(b"{\"inputs\": \"caf\xe9\"}");
        assert_eq!(
            (status, message.as_str()),
            (400, "the body is not UTF-8: invalid byte at offset 15")
        );
        let (status, message) = error(br#"{"inputs": "a""#);
        assert_eq!(status, 400);
        assert!(
            message.starts_with("the body is not JSON: EOF"),
            "{message}"
        );
        let (status, message) = error(br#"{"inputs": 3}"#);
        assert_eq!(status, 422);
        assert!(
            message.contains("expected a text or a list of texts"),
            "{message}"
        );
        let (status, message) = error(br#"{"inputs": ["a", 3]}"#);
        assert_eq!(status, 422);
        assert!(message.contains("expected a string"), "{message}");
        let (status, message) = error(br#"{"input": "a"}"#);
        assert_eq!(status, 422);
        assert!(message.contains("unknown field `input`"), "{message}");
        let (status, message) = error(br#"{"inputs": "a", "raw_scores": "yes"}"#);
        assert_eq!(status, 422);
        assert!(message.contains("expected a boolean"), "{message}");
    }
}
