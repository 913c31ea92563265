//! The `Classifier` Python class: a shared handle on the library's classifier.

use crate::to_py;
use lstm_sentiment::Prediction;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyDict, PyList, PyString};
use std::path::PathBuf;
use std::sync::Arc;

/// A loaded text classifier. Load it once and share it: it is safe to call from many Python
/// threads at once, and each call releases the GIL while the model runs.
#[pyclass(frozen, module = "lstm_sentiment")]
pub struct Classifier {
    pub(crate) inner: Arc<lstm_sentiment::Classifier>,
}

#[pymethods]
impl Classifier {
    /// The sentiment model built into the package (labels "negative", "positive"; English and
    /// Chinese).
    #[staticmethod]
    fn builtin(py: Python<'_>) -> PyResult<Self> {
        Self::wrap(py.detach(lstm_sentiment::Classifier::builtin))
    }

    /// Loads a model directory (config.json, tokenizer.json, model.safetensors), or
    /// "hf:owner/name[@revision]" from the Hugging Face Hub through its local cache. With
    /// offline=True (or HF_HUB_OFFLINE=1) only the cache is read, never the network.
    #[staticmethod]
    #[pyo3(signature = (path, offline = false))]
    fn load(py: Python<'_>, path: PathBuf, offline: bool) -> PyResult<Self> {
        let spec = path.to_string_lossy().into_owned();
        let offline = offline || lstm_sentiment::hub::offline_from_env();
        Self::wrap(py.detach(|| lstm_sentiment::Classifier::load_any(&spec, offline)))
    }

    /// The labels, in the model's order.
    #[getter]
    fn labels(&self) -> Vec<String> {
        self.inner.labels().to_vec()
    }

    /// The model's config.json, as a dict.
    #[getter]
    fn config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let json = py.import("json")?;
        json.call_method1("loads", (self.inner.config().to_json(),))
    }

    /// Classifies a text, or a sequence of texts. A text gives a dict
    /// {"label": str, "score": float, "probs": {label: float}} (score is the label's
    /// probability; probs has every label, in model order); a sequence gives a list of them, in
    /// input order. The numbers are those of `lstm-sentiment predict --json`.
    fn predict<'py>(
        &self,
        py: Python<'py>,
        texts: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if let Ok(text) = texts.cast::<PyString>() {
            let text = text.to_cow()?.into_owned();
            let p = py.detach(|| self.inner.predict(&text)).map_err(to_py)?;
            return Ok(prediction_dict(py, &p)?.into_any());
        }
        let texts = text_list(texts)?;
        let predictions = py
            .detach(|| self.inner.predict_batch(&texts))
            .map_err(to_py)?;
        let dicts = predictions
            .iter()
            .map(|p| prediction_dict(py, p))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(PyList::new(py, dicts)?.into_any())
    }

    /// Classifies a pyarrow string, large_string or string_view array (any object with
    /// `__arrow_c_array__`), reading the texts where Arrow keeps them. Returns a
    /// pyarrow.StructArray of the same length with fields "label" (string), "score" (float32)
    /// and one float32 field per label, named after it, holding its probability. A null text
    /// gives a null row.
    fn predict_arrow<'py>(
        &self,
        py: Python<'py>,
        array: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let texts = crate::arrow::import_strings(array)?;
        let out = py.detach(|| crate::arrow::predict(&self.inner, texts.as_ref()))?;
        crate::arrow::export(py, out)
    }

    /// Sentence vectors, what the model's output layer reads of each text (by default the
    /// encoder's final hidden state, forward then backward): a float32 numpy.ndarray of shape
    /// (number of texts, hidden size x directions). A single text gives one row.
    fn embed<'py>(
        &self,
        py: Python<'py>,
        texts: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let texts = match texts.cast::<PyString>() {
            Ok(text) => vec![text.to_cow()?.into_owned()],
            Err(_) => text_list(texts)?,
        };
        let vectors = py.detach(|| self.inner.embed(&texts)).map_err(to_py)?;
        let width = self.inner.config().feature_size();
        let bytes = PyByteArray::new_with(py, vectors.len() * width * 4, |buf| {
            for (row, v) in buf.chunks_exact_mut(width * 4).zip(&vectors) {
                for (out, x) in row.chunks_exact_mut(4).zip(v) {
                    out.copy_from_slice(&x.to_ne_bytes());
                }
            }
            Ok(())
        })?;
        // numpy takes the bytearray's memory as it is (writable, no second copy).
        let numpy = py.import("numpy")?;
        numpy
            .call_method1("frombuffer", (bytes, "float32"))?
            .call_method1("reshape", ((vectors.len(), width),))
    }

    /// Writes the model as a directory (config.json, tokenizer.json, model.safetensors),
    /// replacing it as a whole.
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        py.detach(|| self.inner.save(&path)).map_err(to_py)
    }

    fn __repr__(&self) -> String {
        let c = self.inner.config();
        format!(
            "Classifier({} x{}, hidden {}, labels {:?})",
            c.cell.name(),
            c.num_layers,
            c.hidden_size,
            c.labels
        )
    }
}

impl Classifier {
    fn wrap(loaded: lstm_sentiment::Result<lstm_sentiment::Classifier>) -> PyResult<Self> {
        Ok(Self {
            inner: Arc::new(loaded.map_err(to_py)?),
        })
    }
}

/// The texts of any iterable of str (list, tuple, pandas Series, generator).
fn text_list(texts: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    let not_texts = || PyTypeError::new_err("expected a str or an iterable of str");
    if texts.is_instance_of::<pyo3::types::PyBytes>() {
        return Err(not_texts());
    }
    let items = texts.try_iter().map_err(|_| not_texts())?;
    items
        .enumerate()
        .map(|(i, item)| {
            let item = item?;
            item.cast::<PyString>()
                .map_err(|_| {
                    PyTypeError::new_err(format!(
                        "text {i} is a {}, not a str",
                        item.get_type().name().map_or("?".into(), |n| n.to_string())
                    ))
                })?
                .to_cow()
                .map(|s| s.into_owned())
        })
        .collect()
}

fn prediction_dict<'py>(py: Python<'py>, p: &Prediction) -> PyResult<Bound<'py, PyDict>> {
    let probs = PyDict::new(py);
    for (label, prob) in &p.probs {
        probs.set_item(label, *prob as f64)?;
    }
    let dict = PyDict::new(py);
    dict.set_item("label", &p.label)?;
    dict.set_item("score", p.score as f64)?;
    dict.set_item("probs", probs)?;
    Ok(dict)
}
