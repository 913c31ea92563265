"""Type stubs of the extension module; the package re-exports these names."""

import os
from typing import Any, Dict, Iterable, List, TypedDict, Union, overload

import numpy
import pyarrow

__version__: str

class Error(Exception):
    """An error of the lstm-sentiment library (a model that does not load, a text that cannot be
    tokenized), with the library's message and its causes."""

class Prediction(TypedDict):
    label: str
    """The most probable label."""
    score: float
    """Its probability."""
    probs: Dict[str, float]
    """Every label's probability, in the model's label order."""

class Classifier:
    """A loaded text classifier. Load it once and share it: it is safe to call from many Python
    threads at once, and each call releases the GIL while the model runs."""

    @staticmethod
    def builtin() -> Classifier:
        """The sentiment model built into the package (labels "negative", "positive"; English
        and Chinese)."""
    @staticmethod
    def load(path: Union[str, os.PathLike[str]], offline: bool = False) -> Classifier:
        """Loads a model directory, or "hf:owner/name[@revision]" from the Hugging Face Hub
        through its local cache (offline=True or HF_HUB_OFFLINE=1: only the cache)."""
    @property
    def labels(self) -> List[str]:
        """The labels, in the model's order."""
    @property
    def config(self) -> Dict[str, Any]:
        """The model's config.json."""
    @overload
    def predict(self, texts: str) -> Prediction: ...
    @overload
    def predict(self, texts: Iterable[str]) -> List[Prediction]:
        """A dict for a text, a list of them for an iterable of texts; the numbers of
        `lstm-sentiment predict --json`."""
    def predict_arrow(self, array: Union[pyarrow.Array, Any]) -> pyarrow.StructArray:
        """Classifies a string, large_string or string_view array (any object with
        __arrow_c_array__): a StructArray with "label" (string), "score" (float32) and one
        float32 field per label; a null text gives a null row."""
    def embed(self, texts: Union[str, Iterable[str]]) -> numpy.ndarray:
        """Sentence vectors: float32, shape (number of texts, hidden size x directions)."""
    def save(self, path: Union[str, os.PathLike[str]]) -> None:
        """Writes the model as a directory, replacing it as a whole."""
