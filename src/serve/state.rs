//! What every handler shares: the options, the metrics, and the model once it has loaded.

use super::batcher::Batcher;
use super::metrics::Metrics;
use super::options::Options;
use crate::Classifier;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use tokio::sync::Semaphore;

/// The server's state; cloning shares it.
#[derive(Clone)]
pub(crate) struct App(Arc<Inner>);

pub(crate) struct Inner {
    pub options: Options,
    pub metrics: Arc<Metrics>,
    /// One permit per request the model routes may hold at once.
    pub permits: Arc<Semaphore>,
    model: OnceLock<Loaded>,
    draining: AtomicBool,
}

/// A loaded model and the batcher that runs it.
pub(crate) struct Loaded {
    pub classifier: Arc<Classifier>,
    pub batcher: Batcher,
}

/// Where the server is in its life, as `/health` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Loading,
    Ready,
    Draining,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Loading => "loading",
            Phase::Ready => "ok",
            Phase::Draining => "draining",
        }
    }
}

impl App {
    pub fn new(options: Options) -> Self {
        let permits = Arc::new(Semaphore::new(options.limits.max_concurrent_requests));
        Self(Arc::new(Inner {
            options,
            metrics: Arc::new(Metrics::new()),
            permits,
            model: OnceLock::new(),
            draining: AtomicBool::new(false),
        }))
    }

    /// Starts the batcher for `classifier` and lets the model routes use it. Call inside the
    /// tokio runtime.
    pub fn ready(&self, classifier: Classifier) {
        let classifier = Arc::new(classifier);
        let batcher = Batcher::start(
            classifier.clone(),
            &self.options.limits,
            self.metrics.clone(),
        );
        let _ = self.model.set(Loaded {
            classifier,
            batcher,
        });
    }

    /// From now on `/health` answers 503.
    pub fn drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn phase(&self) -> Phase {
        if self.draining.load(Ordering::SeqCst) {
            Phase::Draining
        } else if self.model.get().is_some() {
            Phase::Ready
        } else {
            Phase::Loading
        }
    }

    /// The model, once it has loaded.
    pub fn loaded(&self) -> Option<&Loaded> {
        self.model.get()
    }
}

impl std::ops::Deref for App {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}
