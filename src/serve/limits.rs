//! What the server turns away, and with which status: too many requests at once (429), too
//! many texts or bytes (413), texts over the model's input length without truncation (422), a
//! missing API key (401), requests that take too long (503); and the record of every answer
//! in the metrics.

use super::api::{ApiError, ErrorType, Input};
use super::options::Limits;
use super::state::{App, Loaded};
use crate::Classifier;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Instant;

/// Admits a request to the model routes if a permit is free (429 at once otherwise, so the
/// queue stays bounded), and answers 503 if it runs past the request timeout. A request cut
/// off this way drops its answer channel, and the batcher skips it if it has not run yet.
pub(crate) async fn admit(State(app): State<App>, request: Request, next: Next) -> Response {
    let limits = &app.options.limits;
    let Ok(_permit) = app.permits.clone().try_acquire_owned() else {
        return ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorType::Overloaded,
            format!(
                "the server is handling its limit of {} requests (max_concurrent_requests); try \
                 again shortly",
                limits.max_concurrent_requests
            ),
        )
        .into_response();
    };
    match tokio::time::timeout(limits.request_timeout(), next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorType::Timeout,
            format!(
                "the request took longer than the server's limit of {} ms (request_timeout_ms)",
                limits.request_timeout_ms
            ),
        )
        .into_response(),
    }
}

/// With an API key set, lets through only requests that carry it as a Bearer token.
pub(crate) async fn authorize(State(app): State<App>, request: Request, next: Next) -> Response {
    let Some(key) = &app.options.api_key else {
        return next.run(request).await;
    };
    let given = (request.headers().get(header::AUTHORIZATION))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if given.is_some_and(|given| same_secret(given.trim().as_bytes(), key.as_bytes())) {
        return next.run(request).await;
    }
    let mut response = ApiError::new(
        StatusCode::UNAUTHORIZED,
        ErrorType::Unauthorized,
        "this server wants its API key as the header `Authorization: Bearer KEY`",
    )
    .into_response();
    let challenge = HeaderValue::from_static("Bearer");
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, challenge);
    response
}

/// Compares in time that depends on the lengths only, not on where the bytes differ.
fn same_secret(given: &[u8], key: &[u8]) -> bool {
    given.len() == key.len() && given.iter().zip(key).fold(0, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// Counts every answer by route and status, and times it.
pub(crate) async fn record(State(app): State<App>, request: Request, next: Next) -> Response {
    let route = (request.extensions().get::<MatchedPath>())
        .map_or("other", |m| m.as_str())
        .to_string();
    let start = Instant::now();
    let response = next.run(request).await;
    let metrics = &app.metrics;
    (metrics.requests)
        .with_label_values(&[route.as_str(), response.status().as_str()])
        .inc();
    (metrics.request_seconds)
        .with_label_values(&[route.as_str()])
        .observe(start.elapsed().as_secs_f64());
    response
}

/// The loaded model, or 503 while it loads.
pub(crate) fn loaded(app: &App) -> Result<&Loaded, ApiError> {
    app.loaded().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorType::Unavailable,
            "the model is still loading; GET /health answers 200 once it is ready",
        )
    })
}

/// The request body, or 413 past `max_body_bytes`.
pub(crate) fn body(
    body: Result<Bytes, BytesRejection>,
    limits: &Limits,
) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::validation(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the body is larger than the server's limit of {} bytes (max_body_bytes)",
                limits.max_body_bytes
            ),
        ),
        status => ApiError::new(status, ErrorType::Malformed, rejection.body_text()),
    })
}

/// The texts of a request: at least one, at most `max_client_batch_size` (413).
pub(crate) fn texts<'a>(inputs: &'a Input, limits: &Limits) -> Result<&'a [String], ApiError> {
    let texts = inputs.texts();
    if texts.is_empty() {
        return Err(ApiError::validation(
            StatusCode::UNPROCESSABLE_ENTITY,
            "`inputs` is an empty list; send at least one text",
        ));
    }
    if texts.len() > limits.max_client_batch_size {
        return Err(ApiError::validation(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "`inputs` holds {} texts, more than the server's limit of {} \
                 (max_client_batch_size)",
                texts.len(),
                limits.max_client_batch_size
            ),
        ));
    }
    Ok(texts)
}

/// Each text's token ids as the model reads them: truncated as the model truncates, or with
/// `truncate` false, 422 for a text over the model's input length.
pub(crate) fn token_ids(
    classifier: &Classifier,
    texts: &[String],
    truncate: bool,
) -> Result<Vec<Vec<u32>>, ApiError> {
    let config = classifier.config();
    let (max, tokenizer) = (config.max_length, classifier.tokenizer());
    let failed = |e: crate::Error| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorType::Backend,
            e.to_string(),
        )
    };
    let mut all = Vec::with_capacity(texts.len());
    for (i, text) in texts.iter().enumerate() {
        if truncate {
            all.push((tokenizer.encode_truncated(text, max, config.truncation)).map_err(failed)?);
            continue;
        }
        // One token past the limit tells whether the text is over it.
        let ids = tokenizer.encode(text, max + 1).map_err(failed)?;
        if ids.len() > max {
            return Err(ApiError::validation(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "text {i} of `inputs` has more than the model's {max} tokens \
                     (max_input_tokens); leave out `\"truncate\": false` to have it truncated"
                ),
            ));
        }
        all.push(ids);
    }
    Ok(all)
}

/// What explaining texts of these lengths costs of a batch's token budget: a text of n tokens
/// runs as n + 1 sequences of n tokens.
pub(crate) fn explain_cost(ids: &[Vec<u32>]) -> usize {
    ids.iter().map(|ids| ids.len() * (ids.len() + 1)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_match_only_whole() {
        assert!(same_secret(b"s3cret", b"s3cret"));
        assert!(!same_secret(b"s3cre", b"s3cret"));
        assert!(!same_secret(b"s3creT", b"s3cret"));
        assert!(!same_secret(b"", b"s3cret"));
    }

    #[test]
    fn inputs_count_between_one_and_the_limit() {
        let limits = Limits {
            max_client_batch_size: 2,
            ..Limits::default()
        };
        let texts = |n: usize| Input::Batch(vec!["a".to_string(); n]);
        assert_eq!(super::texts(&texts(2), &limits).unwrap().len(), 2);
        assert_eq!(super::texts(&texts(3), &limits).unwrap_err().status, 413);
        assert_eq!(super::texts(&texts(0), &limits).unwrap_err().status, 422);
    }
}
