"""Coarse-to-fine prediction: exact when nothing settles, exact classes on uniform regions, any shape."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone

from labtools.coarse_to_fine import coarse_to_fine
from labtools.datasets import phantom
from labtools.errors import ParameterError
from labtools.pixel_classifier import PixelClassifier

FAST = dict(sigmas=(0.7, 1.6, 3.5), n_estimators=25)


def sparse_scribbles(labels, step=5):
    scribbles = np.zeros(labels.shape, dtype=np.uint8)
    grid = tuple(slice(0, None, step) for _ in labels.shape)
    scribbles[grid] = labels[grid] + 1
    return scribbles


def table_predictor(proba):
    """A 'classifier' that looks probabilities up in a table, counting the voxels it is asked for."""
    flat = proba.reshape(len(proba), -1)
    asked = []

    def predict(indices):
        assert np.all(np.diff(indices) > 0)  # sorted, no voxel asked twice in one call
        asked.append(indices)
        return flat[:, indices]
    return predict, asked


@pytest.mark.parametrize("shape", [(9,), (8,), (7, 10), (6, 5), (5, 8, 3), (1, 6), (4, 1, 7), (11, 9, 6)])
def test_margin_one_gives_the_exact_probabilities(shape):
    proba = np.random.default_rng(0).dirichlet(np.ones(3), size=shape).astype(np.float32)
    proba = np.moveaxis(proba, -1, 0)
    predict, asked = table_predictor(proba)
    result, refined = coarse_to_fine(predict, shape, margin=1.0)
    np.testing.assert_array_equal(result, proba)
    counts = np.bincount(np.concatenate(asked), minlength=proba[0].size)
    assert counts.max() == 1 and counts.min() == 1  # every voxel predicted once, none twice
    assert refined.sum() == proba[0].size - len(asked[0])


@pytest.mark.parametrize("shape", [(40, 37), (23, 30, 17)])
def test_uniform_regions_are_settled_and_classes_exact(shape):
    # Two classes split by a plane; probabilities ramp with the distance to it (a linear function
    # that linear interpolation reproduces) and are certain far from it.
    coords = np.indices(shape)
    distance = (coords[0] - 0.4 * coords[1] - shape[0] / 3).astype(np.float32)
    p = np.clip(0.5 + distance / 6, 0, 1)
    proba = np.stack([p, 1 - p]).astype(np.float32)
    predict, asked = table_predictor(proba)
    result, refined = coarse_to_fine(predict, shape, margin=0.2)
    np.testing.assert_array_equal(result.argmax(0), proba.argmax(0))
    # Interpolation is exact where p is linear; at the clipping kinks its error is below slope x step.
    np.testing.assert_allclose(result, proba, atol=0.1)
    linear = (proba[0] > 0) & (proba[0] < 1)
    assert np.abs(result[0] - proba[0])[linear].mean() < 0.01
    assert refined.mean() < 0.25                       # most voxels were interpolated
    assert sum(map(len, asked)) < 0.5 * proba[0].size  # about 1/2^d of the grid + the boundary band


def test_unsettled_cells_are_predicted_exactly():
    # Random probabilities: the centre of a coarse cell is predicted exactly when and only when
    # the cell's four corners disagree on the class (margin 0 settles every agreeing cell).
    shape = (15, 13)
    proba = np.moveaxis(np.random.default_rng(1).dirichlet(np.ones(2), size=shape), -1, 0).astype(np.float32)
    predict, _ = table_predictor(proba)
    result, refined = coarse_to_fine(predict, shape, margin=0.0)
    np.testing.assert_array_equal(result[:, refined], proba[:, refined])
    corners = proba.argmax(0)[::2, ::2]
    first = corners[:-1, :-1]
    disagree = (first != corners[1:, :-1]) | (first != corners[:-1, 1:]) | (first != corners[1:, 1:])
    assert disagree.any() and not disagree.all()
    np.testing.assert_array_equal(refined[1::2, 1::2], disagree)


def test_bad_settings_are_refused():
    with pytest.raises(ParameterError, match="margin"):
        coarse_to_fine(lambda i: np.zeros((2, len(i)), np.float32), (4, 4), margin=1.5)
    with pytest.raises(ParameterError, match="step"):
        coarse_to_fine(lambda i: np.zeros((2, len(i)), np.float32), (4, 4), step=1)
    image, labels = phantom((24, 24), n_lesions=0, seed=0)
    with pytest.raises(ParameterError, match="prediction must be"):
        PixelClassifier(**FAST, prediction="coarse").fit(image, sparse_scribbles(labels))


@pytest.mark.parametrize("shape", [(71, 66), (45, 38, 21)])
def test_classifier_coarse_to_fine_matches_exact(shape):
    image, labels = phantom(shape, n_lesions=1, seed=0)
    scribbles = sparse_scribbles(labels)
    exact = PixelClassifier(**FAST, prediction="exact").fit(image, scribbles)
    fast = clone(exact).set_params(prediction="coarse_to_fine").fit(image, scribbles)
    reference = exact.predict_proba(image)
    # margin 1 settles nothing: the same forest gives the same probabilities bit for bit.
    np.testing.assert_array_equal(fast.set_params(settle_margin=1.0).fit(image, scribbles).predict_proba(image),
                                  reference)
    fast.set_params(settle_margin=0.2).fit(image, scribbles)
    assert not np.array_equal(fast.predict_proba(image), reference)  # some voxels were interpolated
    differ = np.mean(fast.predict(image) != exact.predict(image))
    assert differ < 0.005
    # A slice refresh (thinner than 4 voxels) is exact; a thick region is coarse-to-fine but close.
    roi = (slice(None),) * (len(shape) - 1) + (slice(3, 4),)
    np.testing.assert_array_equal(fast.predict_proba(image, roi=roi), reference[(slice(None), *roi)])
    slab = (slice(None),) * (len(shape) - 1) + (slice(2, 13),)
    part = fast.predict(image, roi=slab)
    assert part.shape == labels[slab].shape
    assert np.mean(part != exact.predict(image, roi=slab)) < 0.01


def test_prediction_settings_survive_clone_pickle_and_save(tmp_path):
    import joblib

    image, labels = phantom((40, 36), n_lesions=0, seed=2)
    scribbles = sparse_scribbles(labels)
    clf = PixelClassifier(**FAST, prediction="coarse_to_fine", settle_margin=0.35).fit(image, scribbles)
    assert clone(clf).get_params() == clf.get_params()
    restored = pickle.loads(pickle.dumps(clf))
    assert (restored.prediction, restored.settle_margin) == ("coarse_to_fine", 0.35)
    np.testing.assert_array_equal(restored.predict_proba(image), clf.predict_proba(image))
    clf.save(tmp_path / "c2f.skops")
    loaded = PixelClassifier.load(tmp_path / "c2f.skops")
    assert loaded.get_params() == clf.get_params()
    np.testing.assert_array_equal(loaded.predict_proba(image), clf.predict_proba(image))
    # A format-2 file (before these settings) loads with the defaults.
    params = {k: v for k, v in clf.get_params().items() if k not in ("prediction", "settle_margin")}
    joblib.dump({"format": "labtools-pixel-classifier", "version": 2, "params": params, "forest": clf.forest_,
                 "classes": clf.classes_, "n_features": clf.n_features_in_, "feature_names": clf.feature_names_,
                 "selected": clf.selected_features_}, tmp_path / "v2.joblib")
    old = PixelClassifier.load(tmp_path / "v2.joblib", trust=True)  # labtools 0.1's pickle
    defaults = PixelClassifier().get_params()
    assert (old.prediction, old.settle_margin) == (defaults["prediction"], defaults["settle_margin"])
