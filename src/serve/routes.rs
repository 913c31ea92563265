//! The routes and their handlers.

use super::api::{
    self, ApiError, ErrorBody, ErrorType, ExplainResponse, Health, Info, LabelScore,
    PredictRequest, PredictResponse, TextsOf, TextsRequest,
};
use super::batcher::{Arriving, Failure, Rows};
use super::limits;
use super::state::{App, Loaded, Phase};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use utoipa::OpenApi;

/// The page at `/`: one file, no external resources.
const PAGE: &str = include_str!("../../assets/serve.html");

pub(crate) fn router(app: App) -> Router {
    let limits = &app.options.limits;
    let model = Router::new()
        .route("/predict", post(predict))
        .route("/embed", post(embed))
        .route("/explain", post(explain))
        .route_layer(from_fn_with_state(app.clone(), limits::admit));
    let private = model
        .route("/info", get(info))
        .route("/metrics", get(metrics))
        .route_layer(from_fn_with_state(app.clone(), limits::authorize));
    Router::new()
        .merge(private)
        .route("/", get(page))
        .route("/health", get(health))
        .route("/api-doc/openapi.json", get(openapi))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(app.clone(), limits::record))
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .with_state(app)
}

/// The OpenAPI description served at `/api-doc/openapi.json`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "lstm-sentiment",
        description = "Text classification with recurrent encoders: predict, embed, explain"
    ),
    paths(predict, embed, explain, health, info, metrics),
    components(schemas(api::Input, LabelScore, ErrorType, crate::TokenContribution))
)]
pub struct ApiDoc;

type Answer<T> = Result<Json<T>, ApiError>;

/// A model route's request, read and checked.
struct Accepted<'a, R> {
    loaded: &'a Loaded,
    /// Its mark as on its way to the batcher.
    arriving: Arriving,
    request: R,
    /// Its texts' token ids, as the model reads them.
    ids: Vec<Vec<u32>>,
}

/// What every model route does first: 503 while the model loads, then the body read as `R`,
/// its texts counted, tokenized and held to the model's input length.
fn accept<R>(app: &App, body: Result<Bytes, BytesRejection>) -> Result<Accepted<'_, R>, ApiError>
where
    R: serde::de::DeserializeOwned + TextsOf,
{
    let loaded = limits::loaded(app)?;
    let arriving = loaded.batcher.arriving();
    let request: R = api::parse(&limits::body(body, &app.options.limits)?)?;
    let texts = limits::texts(request.inputs(), &app.options.limits)?;
    let ids = limits::token_ids(&loaded.classifier, texts, request.truncate())?;
    Ok(Accepted {
        loaded,
        arriving,
        request,
        ids,
    })
}

fn failed(failure: Failure) -> ApiError {
    match failure {
        Failure::Model(message) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorType::Backend,
            message,
        ),
        Failure::Unavailable => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorType::Unavailable,
            "the model could not take the request; try again",
        ),
    }
}

/// Classifies one text or a list: every label with its probability, highest first.
#[utoipa::path(post, path = "/predict", tag = "model", request_body = PredictRequest, responses(
    (status = 200, description = "Every label of each text, highest score first", body = PredictResponse),
    (status = 400, description = "The body is not UTF-8 or not JSON", body = ErrorBody),
    (status = 401, description = "No or a wrong API key", body = ErrorBody),
    (status = 413, description = "Too many texts, or a body too large", body = ErrorBody),
    (status = 422, description = "JSON of the wrong shape, or a text too long without truncation", body = ErrorBody),
    (status = 429, description = "Too many requests at once", body = ErrorBody),
    (status = 503, description = "Loading, stopping, or past the request timeout", body = ErrorBody),
))]
pub(crate) async fn predict(
    State(app): State<App>,
    body: Result<Bytes, BytesRejection>,
) -> Answer<PredictResponse> {
    let Accepted {
        loaded,
        arriving,
        request,
        ids,
    } = accept::<PredictRequest>(&app, body)?;
    let rows = if request.raw_scores {
        Rows::Logits
    } else {
        Rows::Probs
    };
    let rows = loaded
        .batcher
        .rows(rows, ids, arriving)
        .await
        .map_err(failed)?;
    let labels = loaded.classifier.labels();
    let mut ranked: Vec<Vec<LabelScore>> = rows.into_iter().map(|r| rank(labels, r)).collect();
    Ok(Json(if request.inputs.is_batch() {
        PredictResponse::Batch(ranked)
    } else {
        PredictResponse::Single(ranked.remove(0))
    }))
}

/// Every label with its score, highest first (the model's order on ties).
fn rank(labels: &[String], scores: Vec<f32>) -> Vec<LabelScore> {
    let mut ranked: Vec<LabelScore> = (labels.iter().cloned().zip(scores))
        .map(|(label, score)| LabelScore { label, score })
        .collect();
    ranked.sort_by(|a, b| b.score.total_cmp(&a.score));
    ranked
}

/// Sentence vectors (what the model's output layer reads), one per text, always as a list.
#[utoipa::path(post, path = "/embed", tag = "model", request_body = TextsRequest, responses(
    (status = 200, description = "One vector per text", body = Vec<Vec<f32>>),
    (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
    (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
    (status = 429, body = ErrorBody), (status = 503, body = ErrorBody),
))]
pub(crate) async fn embed(
    State(app): State<App>,
    body: Result<Bytes, BytesRejection>,
) -> Answer<Vec<Vec<f32>>> {
    let Accepted {
        loaded,
        arriving,
        ids,
        ..
    } = accept::<TextsRequest>(&app, body)?;
    let rows = loaded.batcher.rows(Rows::Features, ids, arriving).await;
    Ok(Json(rows.map_err(failed)?))
}

/// Each token's contribution to the prediction: how much the predicted label's probability
/// falls when the token is made unknown; `start` and `end` are character offsets in the text.
#[utoipa::path(post, path = "/explain", tag = "model", request_body = TextsRequest, responses(
    (status = 200, description = "One explanation, or a list for a list of texts", body = ExplainResponse),
    (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
    (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
    (status = 429, body = ErrorBody), (status = 503, body = ErrorBody),
))]
pub(crate) async fn explain(
    State(app): State<App>,
    body: Result<Bytes, BytesRejection>,
) -> Answer<ExplainResponse> {
    let Accepted {
        loaded,
        arriving,
        request,
        ids,
    } = accept::<TextsRequest>(&app, body)?;
    let cost = limits::explain_cost(&ids);
    let texts = request.inputs.texts().to_vec();
    let explained = loaded.batcher.explain(texts, cost, arriving).await;
    let mut explained = explained.map_err(failed)?;
    Ok(Json(if request.inputs.is_batch() {
        ExplainResponse::Batch(explained)
    } else {
        ExplainResponse::Single(explained.remove(0))
    }))
}

/// 200 once the model has loaded; 503 while it loads and while the server stops.
#[utoipa::path(get, path = "/health", tag = "server", responses(
    (status = 200, description = "Ready", body = Health),
    (status = 503, description = "Loading or stopping", body = Health),
))]
pub(crate) async fn health(State(app): State<App>) -> (StatusCode, Json<Health>) {
    let phase = app.phase();
    let status = match phase {
        Phase::Ready => StatusCode::OK,
        Phase::Loading | Phase::Draining => StatusCode::SERVICE_UNAVAILABLE,
    };
    (
        status,
        Json(Health {
            status: phase.name(),
        }),
    )
}

/// The model and the server's limits.
#[utoipa::path(get, path = "/info", tag = "server", responses(
    (status = 200, body = Info), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody),
))]
pub(crate) async fn info(State(app): State<App>) -> Answer<Info> {
    let config = limits::loaded(&app)?.classifier.config();
    Ok(Json(Info {
        model_id: app.options.model_id.clone(),
        labels: config.labels.clone(),
        cell: config.cell.name().to_string(),
        layers: config.num_layers,
        hidden_size: config.hidden_size,
        embedding_dim: config.embedding_dim,
        bidirectional: config.bidirectional,
        vocab_size: config.vocab_size,
        max_input_tokens: config.max_length,
        truncation: config.truncation.to_string(),
        embedding_size: config.feature_size(),
        limits: app.options.limits.clone(),
        version: env!("CARGO_PKG_VERSION"),
    }))
}

/// Request counts by route and status; latency histograms of queue, inference and whole
/// requests; batch sizes; queue depth. Prometheus's text format.
#[utoipa::path(get, path = "/metrics", tag = "server", responses(
    (status = 200, description = "Prometheus text format", body = String, content_type = "text/plain"),
    (status = 401, body = ErrorBody),
))]
pub(crate) async fn metrics(State(app): State<App>) -> Response {
    let content_type = "text/plain; version=0.0.4; charset=utf-8";
    ([(header::CONTENT_TYPE, content_type)], app.metrics.render()).into_response()
}

async fn openapi() -> Response {
    let json = ApiDoc::openapi()
        .to_json()
        .expect("the OpenAPI description is JSON");
    ([(header::CONTENT_TYPE, "application/json")], json).into_response()
}

async fn page() -> Html<&'static str> {
    Html(PAGE)
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorType::NotFound,
        "no such route; GET /api-doc/openapi.json lists them",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorType::NotFound,
        "this route does not take that method; GET /api-doc/openapi.json lists them",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::options::Options;

    #[tokio::test]
    async fn health_is_503_while_loading_and_draining() {
        let app = App::new(Options::default());
        let status =
            |(status, Json(health)): (StatusCode, Json<Health>)| (status.as_u16(), health.status);
        assert_eq!(status(health(State(app.clone())).await), (503, "loading"));
        app.ready(crate::Classifier::builtin().unwrap());
        assert_eq!(status(health(State(app.clone())).await), (200, "ok"));
        app.drain();
        assert_eq!(status(health(State(app.clone())).await), (503, "draining"));
    }

    #[test]
    fn labels_rank_highest_first() {
        let labels = ["a", "b", "c"].map(String::from);
        let ranked = rank(&labels, vec![0.2, 0.5, 0.3]);
        let order: Vec<&str> = ranked.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(order, ["b", "c", "a"]);
    }

    #[test]
    fn the_openapi_description_names_every_route() {
        let json: serde_json::Value =
            serde_json::from_str(&ApiDoc::openapi().to_json().unwrap()).unwrap();
        for path in [
            "/predict", "/embed", "/explain", "/health", "/info", "/metrics",
        ] {
            assert!(json["paths"][path].is_object(), "{path}");
        }
    }
}
