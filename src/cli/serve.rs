//! `serve`: the HTTP server of `lstm_sentiment::serve`, with its limits as flags, stopped by
//! SIGINT or SIGTERM after the requests in flight are answered.

use super::args::{ModelArg, Runtime};
use anyhow::{Context, Result};
use clap::Args;
use lstm_sentiment::serve::{Limits, Options, Server};
use std::net::{IpAddr, SocketAddr};

/// Read when --api-key is not given, so the key need not show in the process list.
const API_KEY_VAR: &str = "LSTM_SENTIMENT_API_KEY";

#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    model: ModelArg,
    /// Address to listen on; 0.0.0.0 or :: reach beyond this machine (then set --api-key).
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port to listen on; 0 picks a free one (the address is printed on stderr).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Requests the model routes handle at once; more are answered 429 at once.
    #[arg(long, default_value_t = Limits::default().max_concurrent_requests, value_name = "N")]
    max_concurrent_requests: usize,
    /// Texts in one request; more are answered 413.
    #[arg(long, default_value_t = Limits::default().max_client_batch_size, value_name = "N")]
    max_client_batch_size: usize,
    /// Bytes in one request body; more are answered 413.
    #[arg(long, default_value_t = Limits::default().max_body_bytes, value_name = "BYTES")]
    max_body_bytes: usize,
    /// Tokens in one batch of the model, all texts together (a larger request runs alone).
    #[arg(long, default_value_t = Limits::default().max_batch_tokens, value_name = "N")]
    max_batch_tokens: usize,
    /// Requests in one batch of the model.
    #[arg(long, default_value_t = Limits::default().max_batch_requests, value_name = "N")]
    max_batch_requests: usize,
    /// How long a batch waits for more requests while some are on their way in.
    #[arg(long, default_value_t = Limits::default().max_wait_ms, value_name = "MS")]
    max_wait_ms: u64,
    /// Requests taking longer are answered 503.
    #[arg(long, default_value_t = Limits::default().request_timeout_ms, value_name = "MS")]
    request_timeout_ms: u64,
    /// Every route but /, /health and /api-doc/openapi.json then wants the header
    /// `Authorization: Bearer KEY` (default: $LSTM_SENTIMENT_API_KEY, else none).
    #[arg(long, value_name = "KEY")]
    api_key: Option<String>,
}

impl ServeArgs {
    fn options(&self) -> Options {
        let api_key = (self.api_key.clone())
            .or_else(|| std::env::var(API_KEY_VAR).ok())
            .filter(|k| !k.is_empty());
        let model_id = match &self.model.model {
            Some(model) => model.display().to_string(),
            None => "builtin".to_string(),
        };
        Options {
            limits: Limits {
                max_concurrent_requests: self.max_concurrent_requests,
                max_client_batch_size: self.max_client_batch_size,
                max_body_bytes: self.max_body_bytes,
                max_batch_tokens: self.max_batch_tokens,
                max_batch_requests: self.max_batch_requests,
                max_wait_ms: self.max_wait_ms,
                request_timeout_ms: self.request_timeout_ms,
            },
            api_key,
            model_id,
        }
    }
}

pub fn run_serve(args: ServeArgs, runtime: &Runtime) -> Result<()> {
    let options = args.options();
    let addr = SocketAddr::new(args.host, args.port);
    if !args.host.is_loopback() && options.api_key.is_none() {
        eprintln!(
            "lstm-sentiment: warning: listening on {} without an API key: anyone who reaches \
             this machine can use the server (see --api-key)",
            args.host
        );
    }
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let (device, bf16) = (runtime.device, runtime.bf16);
    let model = args.model;
    tokio.block_on(async move {
        let server = Server::bind(addr, options).await?;
        eprintln!(
            "lstm-sentiment: listening on http://{}",
            server.local_addr()
        );
        let load = move || {
            let classifier = model.load_for(&Runtime { device, bf16 })?;
            eprintln!("lstm-sentiment: model loaded; ready");
            anyhow::Ok(classifier)
        };
        server.run(load, stop_signal()).await?;
        eprintln!("lstm-sentiment: stopped");
        anyhow::Ok(())
    })
}

/// SIGINT (Ctrl-C) or, on Unix, SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => drop(s.recv().await),
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    eprintln!("lstm-sentiment: stopping: answering the requests in flight");
}
