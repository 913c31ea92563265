//! `lstm_sentiment._native`: the library's [`Classifier`] for Python. The Python package
//! (python/lstm_sentiment/) re-exports it; its stubs (`__init__.pyi`) document the API.
//!
//! Every call that runs the model lets go of the GIL, so Python threads sharing one classifier
//! run at once, and the work itself runs on the library's own thread pool (rayon's).

mod arrow;
mod classifier;

use pyo3::prelude::*;

pyo3::create_exception!(
    lstm_sentiment,
    Error,
    pyo3::exceptions::PyException,
    "An error of the lstm-sentiment library: a model that does not load, a text that cannot be \
     tokenized. The message is the library's, with its causes."
);

/// The library's error as a Python exception, with its cause chain as the CLI prints it.
pub(crate) fn to_py(e: lstm_sentiment::Error) -> PyErr {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    Error::new_err(message)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // Batches allocate megabytes each; glibc would hand them back to the OS and fault them in
    // again (the binary does the same, docs/performance.md#allocator).
    lstm_sentiment::keep_freed_memory();
    m.add_class::<classifier::Classifier>()?;
    m.add("Error", m.py().get_type::<Error>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
