"""PixelClassifier: estimator contract, segmentation quality, roi, uncertainty, persistence, errors."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone

from labtools import metrics
from labtools.datasets import phantom
from labtools.errors import CorruptFileError, InvalidImageError, ParameterError, ShapeMismatchError
from labtools.pixel_classifier import PixelClassifier

FAST = dict(sigmas=(0.7, 1.6, 3.5), n_estimators=25)


def sparse_scribbles(labels, step=6, offset=0):
    """Clicks on a regular grid: labels + 1 (classes 1..K), 0 elsewhere."""
    scribbles = np.zeros(labels.shape, dtype=np.uint8)
    grid = tuple(slice(offset, None, step) for _ in labels.shape)
    scribbles[grid] = labels[grid] + 1
    return scribbles


@pytest.fixture(scope="module")
def case2d():
    image, labels = phantom((72, 72), n_lesions=2, seed=0)
    return image, labels, sparse_scribbles(labels)


def test_estimator_contract(case2d):
    image, labels, scribbles = case2d
    clf = PixelClassifier(**FAST)
    assert clf.get_params()["n_estimators"] == 25
    assert clf.fit(image, scribbles) is clf
    assert list(clf.classes_) == sorted(np.unique(scribbles[scribbles > 0]))
    assert clf.n_features_in_ == len(clf.feature_names_)
    fresh = clone(clf)
    assert not hasattr(fresh, "forest_") and fresh.get_params() == clf.get_params()
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict(image), clf.predict(image))
    with pytest.raises(ValueError, match="n_trees"):  # scikit-learn's own check
        clf.set_params(n_trees=3)
    assert repr(PixelClassifier(n_estimators=7)) == "PixelClassifier(n_estimators=7)"
    assert clf.score(image, scribbles) > 0.95  # ClassifierMixin: accuracy on the labelled voxels


@pytest.mark.parametrize("seed", range(3))
def test_segments_the_phantom_from_sparse_clicks(seed):
    image, labels = phantom((72, 72), n_lesions=2, seed=seed)
    clf = PixelClassifier(**FAST).fit(image, sparse_scribbles(labels))
    segmentation = clf.predict(image) - 1
    for tissue in (0, 2, 3):  # background, grey matter, white matter
        assert metrics.dice(segmentation == tissue, labels == tissue) > 0.85


def test_3d_and_roi_prediction_agree():
    image, labels = phantom((40, 40, 24), n_lesions=1, seed=0)
    clf = PixelClassifier(**FAST, prediction="exact").fit(image, sparse_scribbles(labels, step=5))
    full = clf.predict_proba(image)
    roi = np.s_[:, :, 10:11]
    np.testing.assert_array_equal(clf.predict_proba(image, roi=roi), full[(slice(None), *roi)])
    assert clf.predict(image).shape == labels.shape


def test_uncertainty_definitions(case2d):
    image, _, scribbles = case2d
    clf = PixelClassifier(**FAST).fit(image, scribbles)
    proba = clf.predict_proba(image)
    top = np.sort(proba, axis=0)
    np.testing.assert_allclose(clf.uncertainty(image), 1 - (top[-1] - top[-2]), atol=1e-6)
    entropy = clf.uncertainty(image, kind="entropy")
    assert entropy.min() >= 0 and entropy.max() <= 1 + 1e-6


def test_suggest_ranks_slices_by_uncertainty():
    image, labels = phantom((32, 32, 16), n_lesions=1, seed=2)
    scribbles = np.zeros_like(labels)
    scribbles[..., 8] = sparse_scribbles(labels[..., 8], step=3)  # one labelled slice
    clf = PixelClassifier(**FAST).fit(image, scribbles)
    ranked = clf.suggest(image, n=16, axis=-1, stride=1)
    assert sorted(ranked) == list(range(16))
    mean_uncertainty = clf.uncertainty(image).mean(axis=(0, 1))
    assert mean_uncertainty[ranked[0]] == pytest.approx(mean_uncertainty.max())


def test_training_sample_is_capped_and_balanced():
    image, labels = phantom((64, 64), n_lesions=0, seed=1)
    scribbles = labels.astype(np.uint8) + 1  # every pixel labelled: ~4000 voxels
    clf = PixelClassifier(sigmas=(1.0,), n_estimators=3, max_samples=400).fit(image, scribbles)
    tree = clf.forest_.estimators_[0]
    assert tree.tree_.n_node_samples[0] <= 400  # bootstrap of at most max_samples voxels


def test_save_and_load(case2d, tmp_path):
    image, _, scribbles = case2d
    clf = PixelClassifier(**FAST).fit(image, scribbles)
    clf.save(tmp_path / "model.skops")
    loaded = PixelClassifier.load(tmp_path / "model.skops")
    assert loaded.get_params() == clf.get_params()
    np.testing.assert_array_equal(loaded.predict(image), clf.predict(image))


def test_load_refuses_other_files(tmp_path):
    import joblib

    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(CorruptFileError, match="notes.txt"):
        PixelClassifier.load(tmp_path / "notes.txt")
    joblib.dump({"weights": [1, 2]}, tmp_path / "other.joblib")
    with pytest.raises(CorruptFileError, match="pickle"):
        PixelClassifier.load(tmp_path / "other.joblib")
    with pytest.raises(CorruptFileError, match="written by something else"):
        PixelClassifier.load(tmp_path / "other.joblib", trust=True)
    joblib.dump({"format": "labtools-pixel-classifier", "version": 99}, tmp_path / "future.joblib")
    with pytest.raises(CorruptFileError, match="newer labtools"):
        PixelClassifier.load(tmp_path / "future.joblib", trust=True)


def test_bad_input_gives_clear_errors(case2d):
    image, labels, scribbles = case2d
    clf = PixelClassifier(**FAST)
    with pytest.raises(ShapeMismatchError, match="scribbles have shape"):
        clf.fit(image, scribbles[:-1])
    with pytest.raises(InvalidImageError, match="only class 2"):
        clf.fit(image, np.where(scribbles > 0, 2, 0).astype(np.uint8))
    with pytest.raises(InvalidImageError, match="no scribbles"):
        clf.fit(image, np.zeros_like(scribbles))
    nan_image = image.array.copy()
    nan_image[3, 3] = np.nan
    with pytest.raises(InvalidImageError, match="NaN"):
        clf.fit(nan_image, scribbles)
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        PixelClassifier().predict(image)


def test_refit_oldest_trees_replaces_only_those(case2d):
    image, labels, _ = case2d
    clf = PixelClassifier(sigmas=(1.0, 3.5), n_estimators=8, refit_fraction=0.25)  # 2 trees per refit
    first = sparse_scribbles(labels, step=8)
    clf.fit(image, first)
    before = list(clf.forest_.estimators_)
    features = clf.transform(image).reshape(clf.n_features_in_, -1)
    more = sparse_scribbles(labels, step=5).ravel()
    labelled = np.flatnonzero(more)
    clf.refit_oldest_trees(features[:, labelled].T, more[labelled])
    after = clf.forest_.estimators_
    assert len(after) == 8
    assert after[:6] == before[2:]                    # 6 oldest-but-two kept, in order
    assert not set(map(id, after[6:])) & set(map(id, before))  # 2 new trees
    with pytest.raises(ParameterError, match="classes"):  # another class set needs a full fit
        clf.refit_oldest_trees(features[:, labelled].T, np.minimum(more[labelled], 2))


def test_probabilities_match_scikit_learns_forest(case2d):
    image, _, scribbles = case2d
    clf = PixelClassifier(**FAST, prediction="exact").fit(image, scribbles)
    features = clf.transform(image).reshape(clf.n_features_in_, -1)
    reference = clf.forest_.predict_proba(features.T.astype(np.float32)).T
    np.testing.assert_allclose(clf.predict_proba(image).reshape(reference.shape), reference, atol=1e-6)


def test_feature_selection_keeps_the_channels_a_forest_ranks_first(case2d):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.feature_selection import SelectFromModel

    image, labels, scribbles = case2d
    clf = PixelClassifier(**FAST, n_features_to_select=5).fit(image, scribbles)
    features = clf.transform(image).reshape(clf.n_features_in_, -1)
    flat = scribbles.ravel()
    labelled = np.concatenate([np.flatnonzero(flat == c) for c in clf.classes_])  # the fit's order: by class
    X, y = features[:, labelled].T.astype(np.float32), flat[labelled]
    ranking = RandomForestClassifier(n_estimators=25, n_jobs=-1, random_state=0)
    selector = SelectFromModel(ranking, max_features=5, threshold=-np.inf).fit(X, y)
    np.testing.assert_array_equal(clf.selected_features_, np.flatnonzero(selector.get_support()))
    assert clf.forest_.n_features_in_ == 5 and clf.n_features_in_ == len(clf.feature_names_)
    selected = clf.selected_features_.copy()
    clf.refit_oldest_trees(X, y)  # added strokes: the new trees use the same channels
    np.testing.assert_array_equal(clf.selected_features_, selected)
    assert metrics.dice(clf.predict(image) == 3, labels == 2) > 0.85
    with pytest.raises(ParameterError, match="n_features_to_select"):
        PixelClassifier(**FAST, n_features_to_select=0).fit(image, scribbles)


def test_pyramid_features_segment_as_well(case2d):
    image, labels = phantom((96, 96, 24), n_lesions=1, seed=0)
    scribbles = sparse_scribbles(labels, step=5)
    exact = PixelClassifier(sigmas=(1.0, 3.5, 10.0), n_estimators=25).fit(image, scribbles).predict(image)
    fast = PixelClassifier(sigmas=(1.0, 3.5, 10.0), n_estimators=25, method="pyramid",
                           prediction="exact").fit(image, scribbles)
    segmentation = fast.predict(image)
    for tissue in (0, 2, 3):
        assert metrics.dice(segmentation - 1 == tissue, labels == tissue) >= \
            metrics.dice(exact - 1 == tissue, labels == tissue) - 0.02
    roi = np.s_[:, :, 12:13]
    np.testing.assert_array_equal(fast.predict_proba(image, roi=roi), fast.predict_proba(image)[(slice(None), *roi)])


def test_save_and_load_keep_the_speed_settings(case2d, tmp_path):
    import joblib

    image, _, scribbles = case2d
    clf = PixelClassifier(**FAST, method="pyramid", n_features_to_select=4).fit(image, scribbles)
    clf.save(tmp_path / "fast.skops")
    loaded = PixelClassifier.load(tmp_path / "fast.skops")
    assert loaded.get_params() == clf.get_params()
    np.testing.assert_array_equal(loaded.selected_features_, clf.selected_features_)
    np.testing.assert_array_equal(loaded.predict(image), clf.predict(image))
    # A format-1 file (before these options) holds a forest on every channel of the exact bank.
    old = PixelClassifier(**FAST, method="exact").fit(image, scribbles)
    params = {k: v for k, v in old.get_params().items() if k not in ("method", "n_features_to_select")}
    joblib.dump({"format": "labtools-pixel-classifier", "version": 1, "params": params, "forest": old.forest_,
                 "classes": old.classes_, "n_features": old.n_features_in_, "feature_names": old.feature_names_},
                tmp_path / "v1.joblib")
    loaded = PixelClassifier.load(tmp_path / "v1.joblib", trust=True)
    assert loaded.method == "exact" and loaded.n_features_to_select is None
    np.testing.assert_array_equal(loaded.predict(image), old.predict(image))


class _Payload:
    """Unpickling this runs ``open(marker, "w")``: what a crafted classifier file could do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_crafted_pickle_named_like_a_classifier_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    for name in ("tissues.joblib", "tissues.skops"):
        with open(tmp_path / name, "wb") as file:
            pickle.dump({"format": "labtools-pixel-classifier", "payload": _Payload(marker)}, file)
        with pytest.raises(CorruptFileError, match="pickle"):
            PixelClassifier.load(tmp_path / name)
        assert not marker.exists()
    pickle.loads((tmp_path / "tissues.joblib").read_bytes())  # the payload is real: it does run
    assert marker.exists()


def test_a_skops_file_asking_for_other_types_is_refused_before_it_is_built(case2d, tmp_path):
    import skops.io

    image, _, scribbles = case2d
    clf = PixelClassifier(**FAST).fit(image, scribbles)
    # A file that holds a function (os.system) next to the forest: skops would call into it.
    import os

    skops.io.dump({"format": "labtools-pixel-classifier", "version": 4, "hook": os.system,
                   "forest": clf.forest_}, tmp_path / "hooked.skops")
    with pytest.raises(CorruptFileError, match="posix.system|os.system|refused"):
        PixelClassifier.load(tmp_path / "hooked.skops")
    (tmp_path / "broken.skops").write_bytes(b"PK\x03\x04" + b"\0" * 40)
    with pytest.raises(CorruptFileError, match="broken.skops"):
        PixelClassifier.load(tmp_path / "broken.skops")


def test_a_saved_classifier_round_trips_exactly(case2d, tmp_path):
    image, _, scribbles = case2d
    clf = PixelClassifier(**FAST, n_features_to_select=6).fit(image, scribbles)
    clf.save(tmp_path / "model.skops")
    loaded = PixelClassifier.load(tmp_path / "model.skops")
    assert loaded.get_params() == clf.get_params()
    for name in ("classes_", "selected_features_"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(clf, name))
    assert loaded.feature_names_ == clf.feature_names_
    for mine, theirs in zip(loaded.forest_.estimators_, clf.forest_.estimators_):
        for field in ("children_left", "children_right", "feature", "threshold", "value"):
            np.testing.assert_array_equal(getattr(mine.tree_, field), getattr(theirs.tree_, field))
    np.testing.assert_array_equal(loaded.predict_proba(image), clf.predict_proba(image))


def test_a_classifier_on_a_feature_grid_fits_and_round_trips(case2d, tmp_path):
    image, _, scribbles = case2d
    grid = {"gaussian": (0.7, 3.5), "hessian": (1.6,)}
    clf = PixelClassifier(sigmas=(0.7, 1.6, 3.5), features=grid, n_estimators=10).fit(image, scribbles)
    assert clf.n_features_in_ == 4 and clf.feature_names_[-1] == "gaussian(3.5)"
    clf.save(tmp_path / "grid.skops")
    loaded = PixelClassifier.load(tmp_path / "grid.skops")
    assert loaded.features == grid
    np.testing.assert_array_equal(loaded.predict(image), clf.predict(image))


def test_a_classifier_with_in_plane_scales_fits_and_round_trips(tmp_path):
    image, labels = phantom((40, 40, 16), n_lesions=0, seed=3)
    scribbles = sparse_scribbles(labels, step=5)
    clf = PixelClassifier(sigmas=(1.0, 3.5), n_estimators=10, in_plane=(3.5,)).fit(image, scribbles)
    assert any(name.endswith(",2D)") or ",2D)[" in name for name in clf.feature_names_)
    clf.save(tmp_path / "planar.skops")
    loaded = PixelClassifier.load(tmp_path / "planar.skops")
    assert loaded.in_plane == (3.5,)
    np.testing.assert_array_equal(loaded.predict(image), clf.predict(image))
