"""Classifier files that annotators can exchange: loading one never runs code from it.

A saved :class:`~labtools.pixel_classifier.PixelClassifier` is a ``skops``
file (a zip of JSON and numpy arrays; https://skops.readthedocs.io). Loading
lists the Python types the file would build *before* building any, and
refuses the file unless every one is on a short list: the numpy and
scikit-learn types of a random forest. A pickle ("joblib") file, which is how
labtools 0.1 saved classifiers, executes whatever its author wrote while it
is read, so it is opened only when the caller says it trusts the file
(``trust=True``, ``--trust`` on the command line); without that it is refused
from its first bytes.

Examples
--------
>>> import os, tempfile
>>> import numpy as np
>>> from labtools.pixel_classifier import PixelClassifier
>>> image = np.zeros((8, 8), np.float32); image[:, 4:] = 1
>>> scribbles = np.zeros((8, 8), np.uint8); scribbles[:, 0] = 1; scribbles[:, 7] = 2
>>> clf = PixelClassifier(sigmas=(1.0,), n_estimators=3).fit(image, scribbles)
>>> path = os.path.join(tempfile.mkdtemp(), "tissue.skops")
>>> save_classifier(clf, path)
>>> np.array_equal(load_classifier(path).predict(image), clf.predict(image))
True
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from labtools.errors import CorruptFileError, MissingFileError

__all__ = ["save_classifier", "load_classifier", "CLASSIFIER_SUFFIX", "TRUSTED_TYPES"]

CLASSIFIER_SUFFIX = ".skops"
FORMAT = "labtools-pixel-classifier"
FORMAT_VERSION = 4  # 4: skops; 1-3 were joblib pickles (labtools 0.1)
# The types a forest needs beyond skops' defaults (builtins, numpy, scikit-learn estimators).
TRUSTED_TYPES = ("sklearn.tree._tree.Tree",)
_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_PROTOCOL_MARK = b"\x80"


def save_classifier(classifier, path) -> None:
    """Write a fitted classifier (parameters, feature settings, forest) to `path`.

    The file loads without unpickling (:func:`load_classifier`); the
    ``.skops`` suffix is the convention, any name works.
    """
    import skops.io

    classifier._check_fitted()
    payload = {"format": FORMAT, "version": FORMAT_VERSION, "params": _plain(classifier.get_params()),
               "forest": classifier.forest_, "classes": np.asarray(classifier.classes_),
               "n_features": int(classifier.n_features_in_), "feature_names": list(classifier.feature_names_),
               "selected": np.asarray(classifier.selected_features_)}
    from labtools.io.atomic import atomic_replace

    with atomic_replace(Path(path), suffix=CLASSIFIER_SUFFIX) as temporary:
        skops.io.dump(payload, temporary)


def load_classifier(path, *, trust: bool = False):
    """Read a classifier file; refuse anything that would run code, before any of it runs.

    Parameters
    ----------
    path : str or pathlib.Path
        A file written by :func:`save_classifier` (or, with `trust`, by labtools 0.1).
    trust : bool
        Also read pickle files (labtools 0.1's ``.joblib``). Unpickling runs
        code the file's author chose: only for files you made or trust.

    Raises
    ------
    MissingFileError
        No such file.
    CorruptFileError
        Not a classifier file, a classifier from a newer labtools, a file
        that asks for types outside :data:`TRUSTED_TYPES` (named in the
        message), or a pickle without ``trust=True``.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: no such classifier file")
    with open(path, "rb") as file:
        head = file.read(4)
    if head == _ZIP_MAGIC:
        payload = _load_skops(path)
    elif head[:1] == _PICKLE_PROTOCOL_MARK or head[:1] in (b"x", b"\x1f", b"\x28"):  # pickle, zlib, gzip
        if not trust:
            raise CorruptFileError(
                f"{path}: a pickle file (labtools 0.1 saved classifiers so). Reading a pickle runs "
                "whatever code its author put in it, so it was not opened. If you made this file or "
                "trust its source, load it with PixelClassifier.load(path, trust=True) (labtools "
                "classify --trust) and save it again to get a safe .skops file.")
        payload = _load_pickle(path)
    else:
        raise CorruptFileError(f"{path}: not a labtools classifier file (neither .skops nor a "
                               "labtools 0.1 pickle)")
    return _classifier_from(payload, path)


def _load_skops(path: Path) -> dict:
    import skops.io
    from skops.io.exceptions import UntrustedTypesFoundException

    try:
        untrusted = skops.io.get_untrusted_types(file=path)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as err:
        raise CorruptFileError(f"{path}: not a readable classifier file ({type(err).__name__}: {err})") from err
    unexpected = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if unexpected:
        raise CorruptFileError(f"{path}: refused: the file asks for Python types a classifier does not "
                               f"use ({', '.join(unexpected)}); nothing of it was run.")
    try:
        return skops.io.load(path, trusted=list(TRUSTED_TYPES))
    except UntrustedTypesFoundException as err:
        raise CorruptFileError(f"{path}: refused: {err}") from err
    except Exception as err:  # a damaged zip member, a schema from another skops
        raise CorruptFileError(f"{path}: not a readable classifier file ({type(err).__name__}: {err})") from err


def _load_pickle(path: Path) -> dict:
    import joblib

    try:
        return joblib.load(path)
    except Exception as err:  # unpickling fails in many ways; all mean "not our file"
        raise CorruptFileError(f"{path}: not a labtools classifier file ({type(err).__name__}: {err})") from err


def _classifier_from(payload, path: Path):
    from labtools.pixel_classifier.estimator import PixelClassifier

    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CorruptFileError(f"{path}: not a labtools classifier file (written by something else)")
    if payload["version"] > FORMAT_VERSION:
        raise CorruptFileError(f"{path}: written by a newer labtools (format {payload['version']}); "
                               "upgrade labtools to read it")
    # Format 1 predates the options: its forests use every channel of the exact bank. Formats 1
    # and 2 have no prediction settings: they get this version's defaults.
    params = {"method": "exact", "n_features_to_select": None, **payload["params"]}
    params = {name: _tuples(value) for name, value in params.items()}
    classifier = PixelClassifier(**params)
    classifier.forest_, classifier.classes_ = payload["forest"], np.asarray(payload["classes"])
    classifier.n_features_in_ = int(payload["n_features"])
    classifier.feature_names_ = list(payload["feature_names"])
    classifier.selected_features_ = np.asarray(payload.get("selected", np.arange(payload["n_features"])))
    return classifier


def _plain(params: dict) -> dict:
    """Parameters as JSON-like values (tuples become lists; they are turned back on load)."""
    def plain(value):
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        return list(value) if isinstance(value, tuple) else value

    return {name: plain(value) for name, value in params.items()}


def _tuples(value):
    if isinstance(value, dict):
        return {key: _tuples(item) for key, item in value.items()}
    return tuple(value) if isinstance(value, list) else value
