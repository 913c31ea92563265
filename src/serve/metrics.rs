//! The server's Prometheus metrics, in a registry of its own (two servers in one process keep
//! their counts apart).

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// Latency buckets in seconds: 100 µs to 30 s.
const SECONDS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    10.0, 30.0,
];

pub(crate) struct Metrics {
    registry: Registry,
    /// Answers by route and status code.
    pub requests: IntCounterVec,
    /// From a request's arrival to its answer, by route.
    pub request_seconds: HistogramVec,
    /// From joining the queue to entering a batch.
    pub queue_seconds: Histogram,
    /// One batch through the model.
    pub inference_seconds: Histogram,
    /// Requests in one batch.
    pub batch_requests: Histogram,
    /// Texts in one batch.
    pub batch_texts: Histogram,
    /// Tokens in one batch.
    pub batch_tokens: Histogram,
    /// Requests waiting for a batch.
    pub queue_depth: IntGauge,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let powers = |upto: u32| (0..=upto).map(|k| f64::from(1u32 << k)).collect();
        let histogram = |name: &str, help: &str, buckets: Vec<f64>| {
            let h = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets))
                .expect("valid histogram");
            registry.register(Box::new(h.clone())).expect("new name");
            h
        };
        let requests = IntCounterVec::new(
            Opts::new(
                "lstm_sentiment_requests_total",
                "Answers by route and status code",
            ),
            &["route", "status"],
        )
        .expect("valid counter");
        let request_seconds = HistogramVec::new(
            HistogramOpts::new(
                "lstm_sentiment_request_duration_seconds",
                "From a request's arrival to its answer",
            )
            .buckets(SECONDS.to_vec()),
            &["route"],
        )
        .expect("valid histogram");
        let queue_depth =
            IntGauge::new("lstm_sentiment_queue_depth", "Requests waiting for a batch")
                .expect("valid gauge");
        registry
            .register(Box::new(requests.clone()))
            .expect("new name");
        registry
            .register(Box::new(request_seconds.clone()))
            .expect("new name");
        registry
            .register(Box::new(queue_depth.clone()))
            .expect("new name");
        Self {
            requests,
            request_seconds,
            queue_seconds: histogram(
                "lstm_sentiment_queue_duration_seconds",
                "From joining the queue to entering a batch",
                SECONDS.to_vec(),
            ),
            inference_seconds: histogram(
                "lstm_sentiment_inference_duration_seconds",
                "One batch through the model",
                SECONDS.to_vec(),
            ),
            batch_requests: histogram(
                "lstm_sentiment_batch_requests",
                "Requests in one batch",
                powers(10),
            ),
            batch_texts: histogram(
                "lstm_sentiment_batch_texts",
                "Texts in one batch",
                powers(14),
            ),
            batch_tokens: histogram(
                "lstm_sentiment_batch_tokens",
                "Tokens in one batch",
                powers(20),
            ),
            queue_depth,
            registry,
        }
    }

    /// Every metric in Prometheus's text format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("the text format writes to memory");
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_metric_by_name() {
        let metrics = Metrics::new();
        metrics
            .requests
            .with_label_values(&["/predict", "200"])
            .inc();
        metrics.batch_requests.observe(3.0);
        let text = metrics.render();
        assert!(text.contains("lstm_sentiment_requests_total{route=\"/predict\",status=\"200\"} 1"));
        assert!(text.contains("lstm_sentiment_batch_requests_bucket{le=\"2\"} 0"));
        assert!(text.contains("lstm_sentiment_batch_requests_bucket{le=\"4\"} 1"));
        for name in [
            "queue_duration_seconds",
            "inference_duration_seconds",
            "queue_depth",
        ] {
            assert!(text.contains(&format!("lstm_sentiment_{name}")), "{name}");
        }
    }
}
