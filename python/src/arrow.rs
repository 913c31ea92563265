//! `predict_arrow`'s Arrow in and out, through the Arrow PyCapsule interface: the producer
//! (pyarrow, or any Arrow library) hands over its C data interface structs in two capsules,
//! and the texts are read where its buffers keep them.

use crate::to_py;
use arrow_array::cast::AsArray;
use arrow_array::ffi::{from_ffi, to_ffi, FFI_ArrowArray, FFI_ArrowSchema};
use arrow_array::{make_array, Array, ArrayRef, Float32Array, StringArray, StructArray};
use arrow_schema::{ArrowError, DataType, Field};
use lstm_sentiment::{Classifier, Prediction};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyCapsule;
use std::sync::Arc;

/// Field names of the result besides one per label.
const LABEL: &str = "label";
const SCORE: &str = "score";

fn arrow_err(e: ArrowError) -> PyErr {
    PyValueError::new_err(format!("Arrow: {e}"))
}

/// Takes a string, large_string or string_view array from any object with `__arrow_c_array__`.
pub(crate) fn import_strings(obj: &Bound<'_, PyAny>) -> PyResult<ArrayRef> {
    if !obj.hasattr("__arrow_c_array__")? {
        return Err(PyTypeError::new_err(format!(
            "predict_arrow takes a pyarrow string array (or another object with \
             __arrow_c_array__), not a {}",
            obj.get_type().name()?
        )));
    }
    let (schema, array): (Bound<'_, PyCapsule>, Bound<'_, PyCapsule>) =
        obj.call_method0("__arrow_c_array__")?.extract()?;
    let schema = schema.pointer_checked(Some(c"arrow_schema"))?;
    let array = array.pointer_checked(Some(c"arrow_array"))?;
    // SAFETY: the capsules are named as the PyCapsule interface names its C data interface
    // structs, which their producer keeps alive while the capsules live (they do, in this
    // frame). `from_raw` moves the array out and leaves it marked released, so the capsule's
    // destructor does not release it again; the schema is only read.
    let data = unsafe {
        let array = FFI_ArrowArray::from_raw(array.cast::<FFI_ArrowArray>().as_ptr());
        from_ffi(array, schema.cast::<FFI_ArrowSchema>().as_ref())
    }
    .map_err(arrow_err)?;
    let array = make_array(data);
    match array.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Ok(array),
        other => Err(PyTypeError::new_err(format!(
            "predict_arrow takes an array of strings (string, large_string or string_view), \
             not {other}"
        ))),
    }
}

/// The texts of a string array checked by [`import_strings`], None where null.
fn texts(array: &dyn Array) -> Vec<Option<&str>> {
    match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().iter().collect(),
        DataType::LargeUtf8 => array.as_string::<i64>().iter().collect(),
        _ => array.as_string_view().iter().collect(),
    }
}

/// Classifies the non-null texts as one batch; the struct has a null row where the text is null.
pub(crate) fn predict(classifier: &Classifier, array: &dyn Array) -> PyResult<StructArray> {
    let labels = classifier.labels();
    if let Some(clash) = labels.iter().find(|l| *l == LABEL || *l == SCORE) {
        return Err(PyValueError::new_err(format!(
            "the model has a label named `{clash}`, which predict_arrow's result uses for \
             another field"
        )));
    }
    let texts = texts(array);
    let present: Vec<&str> = texts.iter().flatten().copied().collect();
    let mut predictions = classifier
        .predict_batch(&present)
        .map_err(to_py)?
        .into_iter();
    let rows: Vec<Option<Prediction>> = texts
        .iter()
        .map(|t| t.and_then(|_| predictions.next()))
        .collect();

    let mut fields = vec![
        Field::new(LABEL, DataType::Utf8, true),
        Field::new(SCORE, DataType::Float32, true),
    ];
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(
            rows.iter()
                .map(|r| r.as_ref().map(|p| p.label.as_str()))
                .collect::<StringArray>(),
        ),
        Arc::new(
            rows.iter()
                .map(|r| r.as_ref().map(|p| p.score))
                .collect::<Float32Array>(),
        ),
    ];
    for (j, label) in labels.iter().enumerate() {
        fields.push(Field::new(label, DataType::Float32, true));
        columns.push(Arc::new(
            rows.iter()
                .map(|r| r.as_ref().map(|p| p.probs[j].1))
                .collect::<Float32Array>(),
        ));
    }
    StructArray::try_new(fields.into(), columns, array.logical_nulls()).map_err(arrow_err)
}

/// Hands the result to pyarrow as a `pyarrow.StructArray`.
pub(crate) fn export<'py>(py: Python<'py>, out: StructArray) -> PyResult<Bound<'py, PyAny>> {
    let (array, schema) = to_ffi(&out.into_data()).map_err(arrow_err)?;
    let schema = PyCapsule::new_with_value(py, schema, c"arrow_schema")?;
    let array = PyCapsule::new_with_value(py, array, c"arrow_array")?;
    py.import("pyarrow")?
        .getattr("Array")?
        .call_method1("_import_from_c_capsule", (schema, array))
}
