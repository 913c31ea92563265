//! What a server is told: its limits, its API key, the name of its model.

use std::time::Duration;

/// How the server batches and what it turns away; `lstm-sentiment serve --help` describes each.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Limits {
    /// Requests handled at once on the model routes; one more is answered 429 at once.
    pub max_concurrent_requests: usize,
    /// Texts in one request; more is answered 413.
    pub max_client_batch_size: usize,
    /// Bytes in one request body; more is answered 413.
    pub max_body_bytes: usize,
    /// Tokens in one batch of the model (the texts' token counts added up). A request over
    /// this on its own still runs, as a batch of its own.
    pub max_batch_tokens: usize,
    /// Requests in one batch of the model.
    pub max_batch_requests: usize,
    /// How long the batcher waits for more requests once it holds one, in milliseconds; it
    /// waits only while other requests are on their way in.
    pub max_wait_ms: u64,
    /// A request taking longer is answered 503, in milliseconds.
    pub request_timeout_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_concurrent_requests: 512,
            max_client_batch_size: 32,
            max_body_bytes: 2_000_000,
            max_batch_tokens: 16_384,
            max_batch_requests: 256,
            max_wait_ms: 1,
            request_timeout_ms: 30_000,
        }
    }
}

impl Limits {
    pub(crate) fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    pub(crate) fn max_wait(&self) -> Duration {
        Duration::from_millis(self.max_wait_ms)
    }

    /// Refuses limits that would turn every request away.
    pub(crate) fn check(&self) -> Result<(), String> {
        let zero = [
            ("max_concurrent_requests", self.max_concurrent_requests),
            ("max_client_batch_size", self.max_client_batch_size),
            ("max_body_bytes", self.max_body_bytes),
            ("max_batch_tokens", self.max_batch_tokens),
            ("max_batch_requests", self.max_batch_requests),
            ("request_timeout_ms", self.request_timeout_ms as usize),
        ];
        match zero.iter().find(|(_, v)| *v == 0) {
            Some((name, _)) => Err(format!("{name} must be at least 1")),
            None => Ok(()),
        }
    }
}

/// Everything but the model.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub limits: Limits,
    /// With a key, every route but `/`, `/health` and `/api-doc/openapi.json` wants the header
    /// `Authorization: Bearer KEY` (401 without it).
    pub api_key: Option<String>,
    /// What `/info` calls the model (a directory, a Hub repository, "builtin").
    pub model_id: String,
}
