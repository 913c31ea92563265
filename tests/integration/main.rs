//! The integration tests, one module per subject, in one test binary: one link instead of one
//! per file keeps `cargo test` quick to build. Run one module with
//! `cargo test --test integration MODULE::`. Helpers shared by all are in `tests/common/`.

#[path = "../common/mod.rs"]
mod common;

mod builtin_checks;
mod checkpoint_order;
mod cli;
#[cfg(feature = "cuda")]
mod cuda;
mod durable;
mod ensemble;
mod errors;
mod exchange;
mod explain;
mod golden;
mod hub;
mod kernel;
mod library;
mod limits;
mod load_errors;
mod model_options;
mod ngrams;
mod outputs;
mod pooling;
mod pretrain;
mod pretrain_golden;
mod readme;
mod report;
mod resource_limits;
mod saving;
mod scripting;
mod self_train;
#[cfg(feature = "serve")]
mod serve;
#[cfg(feature = "serve")]
mod serve_page;
mod stratified_split;
mod train_guards;
mod train_options;
mod train_preflight;
mod vectors;
mod word2vec;
mod zh_start;
