//! Helpers shared by the tests: running the binary, talking HTTP to `serve`, making data,
//! training tiny models, editing model directories, comparing numbers and messages, and saying
//! what a machine cannot test.
//!
//! The integration suite (`tests/integration/`) and any test file of its own (`mod common;`)
//! use them through the flat names re-exported here.
// Each test crate uses its own subset of these.
#![allow(dead_code, unused_imports)]

mod asserts;
#[cfg(all(feature = "serve", target_os = "linux", target_env = "gnu"))]
mod browser;
mod cli;
mod data;
#[cfg(feature = "serve")]
mod http;
mod machine;
mod model_files;
mod training;

pub use asserts::*;
#[cfg(all(feature = "serve", target_os = "linux", target_env = "gnu"))]
pub use browser::*;
pub use cli::*;
pub use data::*;
#[cfg(feature = "serve")]
pub use http::*;
pub use machine::*;
pub use model_files::*;
pub use training::*;
