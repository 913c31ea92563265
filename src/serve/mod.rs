//! An HTTP server for a [`Classifier`], in the shape of Hugging Face's text-embeddings-inference:
//! `POST /predict`, `/embed` and `/explain`, `GET /health`, `/info`, `/metrics` (Prometheus text),
//! `/api-doc/openapi.json`, and a page at `/` that classifies and explains as you type.
//!
//! Requests from many clients meet in one queue; a [`batcher`] task cuts batches from it by a
//! token budget and a request count and runs the model on a blocking thread, so concurrent
//! clients share the network's batched speed. [`limits`] turns away what would overload the
//! server (429, 413, 422) before it costs anything. The model loads after the port is bound,
//! with `/health` answering 503 until it is ready, and again while the server drains on
//! shutdown.
//!
//! ```no_run
//! # async fn serve() -> Result<(), lstm_sentiment::serve::ServeError> {
//! use lstm_sentiment::serve::{Options, Server};
//! let server = Server::bind("127.0.0.1:8080".parse().unwrap(), Options::default()).await?;
//! server
//!     .run(lstm_sentiment::Classifier::builtin, async {
//!         let _ = tokio::signal::ctrl_c().await;
//!     })
//!     .await
//! # }
//! ```

mod api;
mod batcher;
mod limits;
mod metrics;
mod options;
mod routes;
mod state;

use crate::Classifier;
use state::App;
use std::future::Future;
use std::net::SocketAddr;

pub use options::{Limits, Options};
pub use routes::ApiDoc;

/// Why the server could not start or stopped with an error.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the server failed")]
    Serve(#[source] std::io::Error),
    /// The loader's error, as it was.
    #[error(transparent)]
    Load(Box<dyn std::error::Error + Send + Sync>),
    #[error("loading the model panicked")]
    LoadPanicked,
    #[error("invalid server options: {0}")]
    Options(String),
}

/// A bound listener, ready to serve.
pub struct Server {
    listener: tokio::net::TcpListener,
    app: App,
}

impl Server {
    /// Binds `addr` (port 0: any free port; see [`Server::local_addr`]). Call inside a tokio
    /// runtime.
    pub async fn bind(addr: SocketAddr, options: Options) -> Result<Self, ServeError> {
        options.limits.check().map_err(ServeError::Options)?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        Ok(Self {
            listener,
            app: App::new(options),
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound TCP listener has an address")
    }

    /// Serves until `shutdown` completes, then drains: `/health` answers 503, no new
    /// connections are accepted, and the requests in flight are answered before this returns.
    /// `load` runs on a blocking thread while the server already answers `/health` (503); if it
    /// fails, the server stops and this returns its error.
    pub async fn run<L, E, S>(self, load: L, shutdown: S) -> Result<(), ServeError>
    where
        L: FnOnce() -> Result<Classifier, E> + Send + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
        S: Future<Output = ()> + Send + 'static,
    {
        let app = self.app;
        let (failed_tx, failed_rx) = tokio::sync::oneshot::channel();
        let loading = app.clone();
        tokio::spawn(async move {
            let loaded = tokio::task::spawn_blocking(load).await;
            match loaded {
                Ok(Ok(classifier)) => loading.ready(classifier),
                Ok(Err(e)) => drop(failed_tx.send(ServeError::Load(e.into()))),
                Err(_) => drop(failed_tx.send(ServeError::LoadPanicked)),
            }
        });
        let failure = std::sync::Arc::new(std::sync::Mutex::new(None));
        let stop = {
            let (app, failure) = (app.clone(), failure.clone());
            async move {
                tokio::select! {
                    () = shutdown => {}
                    Ok(e) = failed_rx => *failure.lock().unwrap() = Some(e),
                }
                app.drain();
            }
        };
        axum::serve(self.listener, routes::router(app))
            .with_graceful_shutdown(stop)
            .await
            .map_err(ServeError::Serve)?;
        let failed = failure.lock().unwrap().take();
        failed.map_or(Ok(()), Err)
    }
}
