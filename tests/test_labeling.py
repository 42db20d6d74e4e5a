"""labtools.labeling.LabelingSession: strokes, undo/redo, autosave and restore, crash safety, prediction."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from labtools import datasets, io, metrics
from labtools.errors import (
    AffineMismatchError,
    CorruptFileError,
    FileFormatError,
    InvalidImageError,
    LabtoolsError,
    ParameterError,
    ShapeMismatchError,
)
from labtools.labeling import LabelingSession, scribbles_path_for
from labtools.labeling.autosave import read_saved_scribbles
from labtools.labeling.stroke_log import log_path_for

SHAPE = (12, 10, 8)
SPACING = (0.8, 1.2, 2.5)


def _tilted_image(shape=SHAPE) -> io.Image:
    """A small image with an oblique affine and an origin: geometry that must survive every write."""
    rng = np.random.default_rng(0)
    angle = np.deg2rad(12)
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    affine = np.eye(4)
    affine[:3, :3] = rotation @ np.diag(SPACING)
    affine[:3, 3] = (-40.5, 12.25, 7.0)
    return io.Image(rng.normal(size=shape).astype(np.float32), affine=affine)


@pytest.fixture
def image_file(tmp_path):
    return io.save(_tilted_image(), tmp_path / "t1.nii.gz")


def _on_disk(path, image):
    """What a crash now would leave: the snapshot with the stroke log replayed onto it."""
    return read_saved_scribbles(path, image if isinstance(image, io.Image) else io.Image(np.asarray(image)))


def _saved_bytes(path):
    """The autosave files' bytes (snapshot, log), to check that nothing was written."""
    return tuple(p.read_bytes() if p.exists() else None for p in (path, log_path_for(path)))


def _predict16(classifier, image):
    """The classifier's labels on the float16 feature bank a session keeps (scribble classes)."""
    return classifier.predict(image, features=classifier.transform(image, dtype=np.float16))


def _random_stroke(rng, shape):
    """A random box, as coordinate arrays, with a random label (0 erases)."""
    lo = [int(rng.integers(0, n)) for n in shape]
    hi = [min(n, a + int(rng.integers(1, 5))) for a, n in zip(lo, shape)]
    grid = np.meshgrid(*[np.arange(a, b) for a, b in zip(lo, hi)], indexing="ij")
    return tuple(g.ravel() for g in grid), int(rng.integers(0, 5))


# ---------------------------------------------------------------- strokes, undo, redo
def test_strokes_undo_redo_are_exact():
    session = LabelingSession(_tilted_image())
    rng = np.random.default_rng(1)
    expected = [np.zeros(SHAPE, np.uint8)]
    for _ in range(40):
        coords, label = _random_stroke(rng, SHAPE)
        state = expected[-1].copy()
        state[coords] = label
        changed = session.add_stroke(coords, label)
        assert changed == np.count_nonzero(state != expected[-1])
        if changed:
            expected.append(state)
        np.testing.assert_array_equal(session.scribbles, expected[-1])
    for state in reversed(expected[:-1]):
        assert session.undo()
        np.testing.assert_array_equal(session.scribbles, state)
    assert not session.undo() and not session.can_undo
    for state in expected[1:]:
        assert session.redo()
        np.testing.assert_array_equal(session.scribbles, state)
    assert not session.redo() and not session.can_redo
    counts = np.bincount(expected[-1].ravel(), minlength=256)
    assert session.class_counts() == {k: int(counts[k]) for k in range(1, 256) if counts[k]}


def test_new_stroke_clears_redo_and_noop_stroke_is_not_recorded():
    session = LabelingSession(np.zeros((6, 6)))
    session.add_stroke(np.s_[0, :], 1)
    session.add_stroke(np.s_[1, :], 2)
    assert session.undo() and session.can_redo
    assert session.add_stroke(np.s_[0, :], 1) == 0          # changes nothing: not recorded
    assert session.can_redo
    session.add_stroke(np.s_[2, :3], 3)
    assert not session.can_redo and not session.redo()
    expected = np.zeros((6, 6), np.uint8)
    expected[0], expected[2, :3] = 1, 3
    np.testing.assert_array_equal(session.scribbles, expected)


def test_every_index_form_paints_the_same_voxels():
    mask = np.zeros((7, 9), bool)
    mask[2:4, 3:6] = True
    forms = [mask, np.nonzero(mask), np.argwhere(mask), np.argwhere(mask).tolist(), np.s_[2:4, 3:6],
             (np.nonzero(mask)[0].astype(float), np.nonzero(mask)[1])]
    for index in forms:
        session = LabelingSession(np.zeros((7, 9)))
        assert session.add_stroke(index, 7) == 6
        np.testing.assert_array_equal(session.scribbles, mask * 7)


def test_scribbles_are_read_only():
    session = LabelingSession(np.zeros((4, 4)))
    with pytest.raises(ValueError):
        session.scribbles[0, 0] = 1


@pytest.mark.parametrize("index, label, error", [
    (np.s_[1, 1], 256, InvalidImageError),
    (np.s_[1, 1], -1, InvalidImageError),
    (np.s_[1, 1], 1.5, InvalidImageError),
    (np.s_[1, 1], True, InvalidImageError),
    ((np.array([0, 5]), np.array([0, 0])), 1, InvalidImageError),   # row 5 of 5 rows
    ((np.array([0, -1]), np.array([0, 0])), 1, InvalidImageError),  # negative: no wrap-around
    (np.s_[-1, 2:4], 1, InvalidImageError),
    ((np.array([0.5]), np.array([0])), 1, InvalidImageError),
    (np.ones((5, 4), bool), 1, ShapeMismatchError),
    (np.array([[0, 0, 0]]), 1, InvalidImageError),                  # 3D points on a 2D image
    ((np.array([0, 1]), np.array([0, 1, 2])), 1, InvalidImageError),
    ("everything", 1, InvalidImageError),
])
def test_bad_stroke_is_refused_before_anything_changes(tmp_path, index, label, error):
    path = tmp_path / "s_scribbles.nii.gz"
    session = LabelingSession(np.zeros((5, 5)), autosave_path=path)
    session.add_stroke(np.s_[0, 0], 2)
    before, saved = session.scribbles.copy(), _saved_bytes(path)
    events = []
    session.on_change(events.append)
    with pytest.raises(error):
        session.add_stroke(index, label)
    np.testing.assert_array_equal(session.scribbles, before)
    assert _saved_bytes(path) == saved and events == []
    assert session.undo() and not session.undo()  # history untouched: only the first stroke


def test_change_events():
    session = LabelingSession(np.zeros((4, 4)))
    seen = []
    disconnect = session.on_change(seen.append)
    session.add_stroke(np.s_[0, 0], 1)
    session.undo(), session.redo(), session.undo(), session.undo()
    disconnect()
    session.redo()
    assert seen == ["stroke", "undo", "redo", "undo"]


# ---------------------------------------------------------------- autosave and restore
def test_autosave_after_every_change_and_restore_on_reopen(image_file):
    session = LabelingSession.open(image_file)
    path = image_file.with_name("t1_scribbles.nii.gz")
    assert session.autosave_path == path and session.restored_from is None and not path.exists()
    rng = np.random.default_rng(2)
    for step in range(6):
        coords, label = _random_stroke(rng, SHAPE)
        if session.add_stroke(coords, max(label, 1)):  # on disk at once: appended to the log
            np.testing.assert_array_equal(_on_disk(path, session.image), session.scribbles)
    for action in (session.undo, session.undo, session.redo):
        assert action()
        np.testing.assert_array_equal(_on_disk(path, session.image), session.scribbles)
    assert not path.exists()  # only the log so far; the snapshot is written on close
    session.close()
    saved = io.load(path)
    io.check_pair(session.image, saved)  # same grid: shape and the oblique affine
    assert saved.array.dtype == np.uint8
    reopened = LabelingSession.open(image_file)
    assert reopened.restored_from == path
    np.testing.assert_array_equal(reopened.scribbles, session.scribbles)
    assert reopened.class_counts() == session.class_counts()
    assert not reopened.can_undo  # the undo history is not persisted, only the scribbles


def test_restore_from_a_real_header(tmp_path):
    """nibabel's anatomical.nii: big-endian int16 with a tilted sform."""
    from nibabel.testing import data_path

    source = io.load(os.path.join(data_path, "anatomical.nii"))
    image_path = io.save(source, tmp_path / "anatomical.nii")
    session = LabelingSession.open(image_path)
    session.add_stroke(np.s_[10:14, 20, 5:9], 3)
    session.close()
    reopened = LabelingSession.open(image_path)
    np.testing.assert_array_equal(reopened.scribbles, session.scribbles)
    io.check_pair(reopened.image, io.load(session.autosave_path))


def test_given_autosave_path_and_default_name(tmp_path, image_file):
    assert scribbles_path_for(image_file).name == "t1_scribbles.nii.gz"
    custom = tmp_path / "elsewhere" / "mine.nii"
    custom.parent.mkdir()
    session = LabelingSession.open(image_file, autosave_path=custom)
    session.add_stroke(np.s_[1, 1, 1], 9)
    assert log_path_for(custom).name == "mine.strokes" and not custom.exists()
    session.close()
    assert io.load(custom).array[1, 1, 1] == 9
    assert not image_file.with_name("t1_scribbles.nii.gz").exists()
    with pytest.raises(FileFormatError):
        LabelingSession.open(image_file, autosave_path=tmp_path / "s.npy")  # would lose the affine


KILL_CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    from labtools.labeling import LabelingSession

    def stroke(k, shape):
        rng = np.random.default_rng(k)
        lo = [int(rng.integers(0, n)) for n in shape]
        hi = [min(n, a + int(rng.integers(1, 6))) for a, n in zip(lo, shape)]
        grid = np.meshgrid(*[np.arange(a, b) for a, b in zip(lo, hi)], indexing="ij")
        return tuple(g.ravel() for g in grid), int(rng.integers(0, 6))

    if __name__ == "__main__":
        session = LabelingSession.open(sys.argv[1])
        for k in range(1_000_000):
            coords, label = stroke(k, session.scribbles.shape)
            session.add_stroke(coords, label)  # logged (flushed) before returning
            print(k, flush=True)
""")


@pytest.mark.parametrize("delay", [0.0, 0.004])  # kill right after a save, or during a later one
def test_kill_9_loses_at_most_the_last_stroke(tmp_path, image_file, delay):
    script = tmp_path / "paint.py"
    script.write_text(KILL_CHILD)
    namespace = {}
    exec(KILL_CHILD, namespace)
    child = subprocess.Popen([sys.executable, str(script), str(image_file)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    n_read, deadline = 0, time.monotonic() + 20
    try:
        while n_read < 25 and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            n_read += 1
        time.sleep(delay)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        rest = child.stdout.read().split()
        child.wait()
    assert n_read == 25, child.stderr.read()
    last_printed = n_read - 1 + len(rest)  # stroke k printed -> strokes 0..k are on disk

    reopened = LabelingSession.open(image_file)
    states, state = [], np.zeros(SHAPE, np.uint8)
    for k in range(last_printed + 2):
        coords, label = namespace["stroke"](k, SHAPE)
        state = state.copy()
        state[coords] = label
        states.append(state)
    # On disk: every stroke up to the last one reported saved, and perhaps the one after
    # (saved, killed before it printed): never half a stroke, never anything else.
    matches = [k for k, s in enumerate(states) if np.array_equal(s, reopened.scribbles)]
    assert matches and max(matches) >= last_printed, (last_printed, matches)
    assert max(matches) >= n_read - 1
    reopened.add_stroke(np.s_[0, 0, 0], 1)  # and the session goes on autosaving
    assert _on_disk(reopened.autosave_path, reopened.image)[0, 0, 0] == 1
    reopened.close()
    assert io.load(reopened.autosave_path).array[0, 0, 0] == 1


def test_corrupt_autosave_is_never_overwritten(image_file):
    path = image_file.with_name("t1_scribbles.nii.gz")
    path.write_bytes(b"\x1f\x8b\x08\x00 half a file")
    with pytest.raises(CorruptFileError) as info:
        LabelingSession.open(image_file)
    assert str(path) in str(info.value) and "left as it is" in str(info.value)
    assert path.read_bytes() == b"\x1f\x8b\x08\x00 half a file"

    with pytest.warns(UserWarning, match="moved to"):
        session = LabelingSession.open(image_file, on_bad_autosave="backup")
    assert session.backup_path == path.with_name("t1_scribbles.nii.gz.bak")
    assert session.backup_path.read_bytes() == b"\x1f\x8b\x08\x00 half a file"
    session.add_stroke(np.s_[2, 2, 2], 4)
    session.close()
    assert io.load(path).array[2, 2, 2] == 4
    # A second bad file goes to the next free backup name, the first backup stays.
    path.write_bytes(b"garbage")
    with pytest.warns(UserWarning):
        again = LabelingSession.open(image_file, on_bad_autosave="backup")
    assert again.backup_path.name == "t1_scribbles.nii.gz.bak1"
    assert session.backup_path.read_bytes() == b"\x1f\x8b\x08\x00 half a file"


def test_autosave_of_another_grid_is_refused_and_kept(image_file):
    path = image_file.with_name("t1_scribbles.nii.gz")
    shifted = _tilted_image().with_array(np.ones(SHAPE, np.uint8))
    shifted.affine[0, 3] += 30
    cases = [(io.Image(np.ones((5, 5, 5), np.uint8)), ShapeMismatchError, "differ in shape"),
             (shifted, AffineMismatchError, "different affines"),
             (_tilted_image().with_array(np.full(SHAPE, 300, np.int16)), InvalidImageError, "0..255")]
    for bad, error, message in cases:
        io.save(bad, path)
        saved = path.read_bytes()
        with pytest.raises(error, match=message) as info:
            LabelingSession.open(image_file)
        assert str(path) in str(info.value)
        assert path.read_bytes() == saved


def test_autosave_changed_by_someone_else_is_not_overwritten(image_file):
    session = LabelingSession.open(image_file)
    session.add_stroke(np.s_[0, 0, 0], 1)
    other = LabelingSession.open(image_file)  # a second window on the same image
    other.add_stroke(np.s_[5, 5, 5], 2)
    theirs = _saved_bytes(session.autosave_path)
    with pytest.raises(CorruptFileError, match="another session"):
        session.add_stroke(np.s_[1, 1, 1], 3)   # the log grew behind this session's back
    assert _saved_bytes(session.autosave_path) == theirs
    assert session.scribbles[1, 1, 1] == 3  # kept in memory, and can be saved elsewhere
    elsewhere = session.save_scribbles(image_file.with_name("mine_scribbles.nii.gz"))
    assert io.load(elsewhere).array[1, 1, 1] == 3
    # A snapshot another program rewrote (ITK-SNAP, a script) is not overwritten either.
    other.save_scribbles()
    io.save(other.image.with_array(np.full(SHAPE, 7, np.uint8)), other.autosave_path)
    written = other.autosave_path.read_bytes()
    with pytest.raises(CorruptFileError, match="another program"):
        other.save_scribbles()
    assert other.autosave_path.read_bytes() == written


def test_given_scribbles_do_not_replace_an_existing_autosave(tmp_path):
    path = tmp_path / "a_scribbles.nii.gz"
    first = LabelingSession(np.zeros((4, 4)), autosave_path=path)
    first.add_stroke(np.s_[0, 0], 1)
    with pytest.raises(InvalidImageError, match="not replaced"):
        LabelingSession(np.zeros((4, 4)), scribbles=np.full((4, 4), 2), autosave_path=path)
    assert _on_disk(path, first.image)[0, 0] == 1
    same = LabelingSession(np.zeros((4, 4)), scribbles=first.scribbles, autosave_path=path)
    np.testing.assert_array_equal(same.scribbles, first.scribbles)


# ---------------------------------------------------------------- bad input
def test_bad_inputs_raise_labtools_errors():
    image = np.zeros((6, 6), np.float32)
    nan_image = image.copy()
    nan_image[2, 3] = np.nan
    with pytest.raises(InvalidImageError, match="NaN"):
        LabelingSession(nan_image)
    with pytest.raises(ShapeMismatchError):
        LabelingSession(image, scribbles=np.zeros((6, 7), np.uint8))
    with pytest.raises(InvalidImageError, match="0..255"):
        LabelingSession(image, scribbles=np.full((6, 6), 256))
    with pytest.raises(InvalidImageError, match="non-integer"):
        LabelingSession(image, scribbles=np.full((6, 6), 0.5))
    session = LabelingSession(image)
    with pytest.raises(InvalidImageError, match="no scribbles yet"):
        session.update()
    session.add_stroke(np.s_[0, :], 2)
    with pytest.raises(InvalidImageError, match="only class 2"):
        session.update()
    with pytest.raises(ParameterError, match="on_bad_autosave"):
        LabelingSession(image, on_bad_autosave="ignore")


# ---------------------------------------------------------------- prediction and export
def _phantom_session(**kwargs):
    from labtools.pixel_classifier import PixelClassifier

    image, truth = datasets.phantom((64, 64), seed=0)
    session = LabelingSession(image, classifier=PixelClassifier(n_estimators=30), **kwargs)
    rng = np.random.default_rng(0)
    for label in range(5):  # phantom class c is scribble class c + 1, exported as c (the default table)
        rows, cols = np.nonzero(truth == label)
        pick = rng.choice(len(rows), 20, replace=False)
        for start in range(0, 20, 5):
            session.add_stroke((rows[pick[start:start + 5]], cols[pick[start:start + 5]]), label + 1)
    return session, image, truth


@pytest.fixture(scope="module")
def phantom_session():
    return _phantom_session()


def test_update_segments_the_phantom(phantom_session):
    session, image, truth = phantom_session
    prediction, uncertainty = session.update()
    assert prediction.shape == uncertainty.shape == (64, 64)
    assert prediction.dtype == np.uint8 and uncertainty.dtype == np.float32
    assert session.prediction is prediction and session.uncertainty is uncertainty
    for label, name in ((0, "background"), (1, "CSF"), (2, "grey matter"), (3, "white matter")):
        assert metrics.dice(prediction == label, truth == label) > 0.85, name
    np.testing.assert_array_equal(prediction, _predict16(session.classifier, image) - 1)
    features = session.classifier.transform(image, dtype=np.float16)
    np.testing.assert_allclose(uncertainty, session.classifier.uncertainty(image, features=features), atol=1e-6)
    assert 0 <= uncertainty.min() and uncertainty.max() <= 1


def test_update_refits_only_after_a_change_and_predicts_the_roi(phantom_session, monkeypatch):
    session, image, _ = phantom_session
    session.update()
    fits = []
    for name in ("fit", "fit_samples", "refit_oldest_trees"):
        original = getattr(type(session.classifier), name)
        monkeypatch.setattr(type(session.classifier), name,
                            lambda self, *a, _original=original, **k: fits.append(1) or _original(self, *a, **k))
    events = []
    disconnect = session.on_change(events.append)
    full, _ = session.update()
    assert fits == [] and events == ["update"]
    rows, _ = session.update(np.s_[10:13])
    assert rows.shape == (3, 64) and session.prediction_roi == (slice(10, 13), slice(0, 64))
    np.testing.assert_array_equal(rows, full[10:13])
    column, _ = session.update((slice(None), 40))  # an int keeps its axis
    np.testing.assert_array_equal(column, full[:, 40:41])
    session.add_stroke(np.s_[0, 0], 1)
    assert session.needs_fit
    session.update(np.s_[0:1])
    assert fits == [1] and not session.needs_fit
    session.undo()
    disconnect()
    with pytest.raises(InvalidImageError):
        session.update(np.s_[70:80])


def test_predict_volume_in_slabs_and_cancel(phantom_session):
    session, image, _ = phantom_session
    session.update()
    expected = _predict16(session.classifier, image) - 1
    calls = []
    segmentation = session.predict_volume(progress=False, slab=7,
                                          callback=lambda done, total: calls.append((done, total)))
    np.testing.assert_array_equal(segmentation, expected)
    assert calls[-1] == (64, 64) and len(calls) == 10
    assert session.segmentation is segmentation
    cancelled = session.predict_volume(progress=False, slab=8, callback=lambda done, total: done < 16)
    assert cancelled is None and session.segmentation is segmentation


def test_export_keeps_the_affine(tmp_path):
    from labtools.pixel_classifier import PixelClassifier

    image = _tilted_image((16, 14, 10))
    image.array[:, 7:] += 4  # two regions that a classifier separates
    session = LabelingSession(image, classifier=PixelClassifier(n_estimators=10, sigmas=(1.0,)))
    session.add_stroke(np.s_[2:5, 1:4, 3], 1)
    session.add_stroke(np.s_[2:5, 10:13, 3], 2)
    out = session.export(tmp_path / "seg.nii.gz")
    exported = io.load(out)
    io.check_pair(image, exported)
    np.testing.assert_allclose(exported.affine, image.affine, atol=1e-5)
    np.testing.assert_array_equal(exported.array, _predict16(session.classifier, image) - 1)
    assert exported.array.dtype == np.uint8 and set(np.unique(exported.array)) == {0, 1}  # 0 = background
    from labtools.labeling import ClassTable

    assert ClassTable.read(tmp_path / "seg_labels.txt") == session.classes


def test_export_refuses_to_overwrite_the_session_files(image_file):
    session = LabelingSession.open(image_file)
    session.add_stroke(np.s_[0, 0, 0], 1)
    session.save_scribbles()
    for target in (image_file, session.autosave_path):
        before = target.read_bytes()
        with pytest.raises(InvalidImageError, match="export elsewhere"):
            session.export(target)
        assert target.read_bytes() == before


def test_saved_classifier_is_used_until_the_first_change(tmp_path, phantom_session):
    session, image, _ = phantom_session
    session.update()
    model = tmp_path / "model.skops"
    session.classifier.save(model)
    fresh = LabelingSession(image, classifier=model)  # a path loads it
    assert not fresh.class_counts() and not fresh.needs_fit
    prediction, _ = fresh.update()
    np.testing.assert_array_equal(prediction, _predict16(session.classifier, image) - 1)
    np.testing.assert_array_equal(fresh.predict_volume(progress=False), prediction)
    fresh.add_stroke(np.s_[0, 0], 1)
    with pytest.raises(LabtoolsError, match="only class 1"):
        fresh.update()


def test_set_classifier_keeps_scribbles_and_history_and_refits():
    from labtools.pixel_classifier import PixelClassifier

    image, truth = datasets.phantom((32, 32), n_lesions=0, seed=0)
    session = LabelingSession(image)
    session.add_stroke(truth == 0, 1)
    session.add_stroke(np.argwhere(truth == 3)[:20], 2)
    session.update()
    assert not session.needs_fit
    session.set_classifier(PixelClassifier(sigmas=(1.0,), n_estimators=10))
    assert session.needs_fit and session.prediction is None
    assert session.can_undo and session.class_counts() == {1: int((truth == 0).sum()), 2: 20}
    session.update()
    assert session.classifier.sigmas == (1.0,) and session.classifier.n_features_in_ > 0
    assert session.undo() and session.class_counts() == {1: int((truth == 0).sum())}


# ---------------------------------------------------------------- one owner, O(stroke) work
def test_strokes_allocate_no_volume_sized_array(tmp_path):
    """10 strokes (logged to disk) through the in-place path napari uses: no whole-volume copy."""
    import tracemalloc

    image = io.Image(np.zeros((96, 96, 64), np.float32))
    session = LabelingSession(image, autosave_path=tmp_path / "big_scribbles.nii.gz")
    session.add_stroke(np.s_[1, 1, 1], 1)  # the log exists: its first record is written
    volume_bytes = session.scribbles.nbytes
    rng = np.random.default_rng(0)
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        buffer = session.scribbles_buffer
        for k in range(10):
            z = int(rng.integers(0, 64))
            coords = (rng.integers(0, 96, 200), rng.integers(0, 96, 200), np.full(200, z))
            previous = buffer[coords].copy()
            buffer[coords] = k % 3 + 1            # what napari does: paint in place ...
            session.add_stroke(coords, k % 3 + 1, previous=previous)  # ... then report it
        session.undo()
        session.redo()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak - before < volume_bytes / 4, (peak - before, volume_bytes)
    assert len(session.class_counts()) == 3
    np.testing.assert_array_equal(_on_disk(session.autosave_path, image), session.scribbles)


def test_in_place_strokes_undo_to_the_values_they_overwrote():
    session = LabelingSession(np.zeros((4, 4)))
    session.add_stroke(np.s_[0, :], 2)
    buffer = session.scribbles_buffer
    coords = (np.array([0, 0, 1]), np.array([0, 1, 1]))
    previous = buffer[coords].copy()
    buffer[coords] = 5
    assert session.add_stroke(coords, 5, previous=previous) == 3
    assert session.class_counts() == {2: 2, 5: 3}
    session.undo()
    assert session.scribbles[0].tolist() == [2, 2, 2, 2] and session.scribbles[1, 1] == 0


def test_refits_after_added_strokes_replace_only_the_oldest_trees():
    from labtools.pixel_classifier import PixelClassifier

    image, truth = datasets.phantom((48, 48), n_lesions=0, seed=0)
    session = LabelingSession(image, classifier=PixelClassifier(sigmas=(1.0, 3.5), n_estimators=8,
                                                                refit_fraction=0.25))
    session.add_stroke(np.argwhere(truth == 0)[::40], 1)
    session.add_stroke(np.argwhere(truth == 3)[::40], 2)
    session.update()
    before = list(session.classifier.forest_.estimators_)
    session.add_stroke(np.argwhere(truth == 3)[5::40], 2)  # only adds voxels
    session.update()
    after = session.classifier.forest_.estimators_
    assert after[:6] == before[2:] and not set(map(id, after[6:])) & set(map(id, before))
    session.undo()                                            # removes voxels: every tree retrained
    session.update()
    assert not set(map(id, session.classifier.forest_.estimators_)) & set(map(id, after))


def test_the_first_stroke_computes_only_its_region_of_the_features():
    from labtools.pixel_classifier import PixelClassifier

    image, truth = datasets.phantom((48, 48, 40), n_lesions=0, seed=0)
    session = LabelingSession(image, classifier=PixelClassifier(sigmas=(1.0, 3.5), n_estimators=10))
    regions = []
    original = session.classifier.transform
    session.classifier.transform = lambda img, roi=None, dtype=np.float32: regions.append(roi) or original(
        img, roi=roi, dtype=dtype)
    plane = truth[:, :, 20]
    for value in (0, 1, 2, 3):
        rows, cols = np.nonzero(plane == value)
        session.add_stroke((rows[::10], cols[::10], np.full(rows[::10].shape, 20)), value + 1)
    prediction, _ = session.update(np.s_[:, :, 20])
    assert all(roi is not None and roi[2].stop - roi[2].start == 1 for roi in regions), regions
    assert metrics.dice(prediction[..., 0] == 3, plane == 3) > 0.8
    whole = session.predict_volume(progress=False)            # now the whole bank, once
    assert any(roi[2] != slice(20, 21) for roi in regions)
    np.testing.assert_array_equal(whole[:, :, 20:21], prediction)


# ---------------------------------------------------------------- classes and label maps
def test_class_table_names_values_and_label_file(tmp_path):
    from labtools.labeling import ClassTable

    table = ClassTable.default(["background", "liver", "tumour"])
    assert table.names() == {0: "background", 1: "liver", 2: "tumour"}
    assert table.to_values(np.array([0, 1, 2, 3], np.uint8)).tolist() == [0, 0, 1, 2]  # 0: unlabelled → 0
    path = table.write(tmp_path / "seg_labels.txt")
    text = path.read_text()
    assert '"liver"' in text and "ITK-SnAP Label Description File" in text
    assert ClassTable.read(path) == table
    with pytest.raises(ParameterError, match="used twice"):
        ClassTable([*table, table.by_scribble(2).__class__(4, 1, "again", (1, 2, 3))])


def test_importing_a_label_map_keeps_its_values(tmp_path):
    from labtools.pixel_classifier import PixelClassifier

    image, truth = datasets.phantom((40, 40), n_lesions=0, seed=0)
    sparse = np.zeros_like(truth, dtype=np.uint16)
    grid = truth[::4, ::4].astype(np.uint16)
    sparse[::4, ::4] = np.where(grid == 0, 10, grid * 100)  # another tool's values
    session = LabelingSession(image, classifier=PixelClassifier(n_estimators=20, sigmas=(1.0, 3.5)))
    assert session.import_scribbles(sparse) == int((sparse > 0).sum())
    assert {c.value for c in session.classes} >= {10, 100, 200, 300}
    prediction, _ = session.update()
    assert set(np.unique(prediction)) <= {10, 100, 200, 300} and prediction.dtype == np.uint16
    assert metrics.dice(prediction == 300, truth == 3) > 0.8
    session.undo()  # the import is one undoable stroke per value
    assert len(session.class_counts()) == 3


# ---------------------------------------------------------------- objects (ilastik's object workflow)
def test_object_table_matches_scikit_image_regionprops(tmp_path):
    from skimage.measure import label as sk_label
    from skimage.measure import regionprops

    from labtools.labeling.objects import object_table, write_object_table

    rng = np.random.default_rng(3)
    segmentation = np.zeros((30, 28, 12), np.uint8)
    for _ in range(6):  # blobs of class 2, some touching
        x, y, z = rng.integers(3, 25), rng.integers(3, 23), rng.integers(2, 10)
        segmentation[x - 2:x + 3, y - 2:y + 2, z - 1:z + 2] = 2
    segmentation[0:3, 0:3, 0:2] = 1
    intensity = rng.random(segmentation.shape)
    uncertainty = rng.random(segmentation.shape).astype(np.float32)
    spacing = (0.8, 0.8, 2.5)
    rows = object_table(segmentation, 2, image=intensity, uncertainty=uncertainty, spacing=spacing)
    reference = regionprops(sk_label(segmentation == 2, connectivity=1), intensity_image=intensity)
    assert len(rows) == len(reference) > 1
    for row, region in zip(rows, reference):
        assert row["voxels"] == region.area
        assert row["volume_ml"] == pytest.approx(region.area * np.prod(spacing) / 1000, abs=1e-6)
        assert row["bbox_min"] == region.bbox[:3] and row["bbox_max"] == tuple(b - 1 for b in region.bbox[3:])
        np.testing.assert_allclose(row["centroid_voxel"], region.centroid, atol=1e-3)
        assert row["mean_intensity"] == pytest.approx(region.intensity_mean)
        assert row["max_uncertainty"] == pytest.approx(uncertainty[tuple(region.coords.T)].max())
    path = write_object_table(rows, tmp_path / "objects.csv")
    lines = path.read_text().splitlines()
    assert lines[0].startswith("value,name,object,voxels,volume_ml") and len(lines) == len(rows) + 1


def test_session_exports_objects_with_class_names(tmp_path):
    from labtools.pixel_classifier import PixelClassifier

    image = np.zeros((24, 24, 6), np.float32)
    image[3:8, 3:8] = image[14:20, 12:18] = 1.0
    session = LabelingSession(image, classifier=PixelClassifier(sigmas=(0.7, 1.6), n_estimators=10),
                              classes=["background", "lesion"])
    session.add_stroke(image == 0, 1)
    session.add_stroke(image == 1, 2)
    path = session.export_objects(tmp_path / "lesions.csv")
    rows = path.read_text().splitlines()[1:]
    assert len(rows) == 2 and all(",lesion," in row for row in rows)
    assert sorted(int(r.split(",")[3]) for r in rows) == [5 * 5 * 6, 6 * 6 * 6]


def test_slice_votes_after_a_partial_refit_equal_a_full_prediction():
    from labtools.labeling.votes import SliceVotes
    from labtools.pixel_classifier import PixelClassifier

    image, truth = datasets.phantom((48, 48), n_lesions=0, seed=2)
    clf = PixelClassifier(sigmas=(1.0, 3.5), n_estimators=12, refit_fraction=0.25, prediction="exact")
    features = clf.transform(image, dtype=np.float16)
    flat = features.reshape(features.shape[0], -1).T.astype(np.float32)
    labelled = np.flatnonzero(truth.ravel() >= 0)[::23]
    y = truth.ravel()[labelled] + 1
    clf.fit_samples(flat[labelled], y, ndim=2)
    votes = SliceVotes()
    np.testing.assert_array_equal(votes.proba(clf, features, "slice"), clf.predict_proba(image, features=features))
    leaves_before = {tree_id: leaves for tree_id, (_, leaves) in votes._trees.items()}
    more = np.flatnonzero(truth.ravel() >= 0)[5::17]
    clf.refit_oldest_trees(flat[more], truth.ravel()[more] + 1)  # 3 of 12 trees replaced
    again = votes.proba(clf, features, "slice")
    np.testing.assert_allclose(again, clf.predict_proba(image, features=features), atol=1e-6)
    assert set(votes._trees) == {id(tree) for tree in clf.forest_.estimators_}
    kept = [tree_id for tree_id in votes._trees if tree_id in leaves_before]
    assert len(kept) == 9 and all(votes._trees[t][1] is leaves_before[t] for t in kept)  # not walked again


def test_a_background_that_is_not_zero_is_transparent_and_survives_the_label_file(tmp_path):
    """MNI152's tissue map calls 1 the background: overlays leave it out, as ITK-SNAP's VIS column says."""
    from labtools.labeling import ClassTable
    from labtools.widgets.scribble import ScribbleCanvas

    table = ClassTable.from_values([1, 2, 3, 4], names=datasets.MNI152_CLASSES, background=1)
    assert table.hidden_values() == {0, 1} and table.names()[1] == "background"
    assert ClassTable.from_values([0, 1, 2]).hidden_values() == {0}
    path = table.write(tmp_path / "mni_labels.txt")
    line = next(row for row in path.read_text().splitlines() if row.strip().startswith("1 "))
    assert line.split()[4:6] == ["0", "0"]                       # alpha 0, not visible
    assert ClassTable.read(path) == table
    # The notebook canvas draws a prediction of the background class as the bare image.
    image = datasets.phantom((16, 16, 16), n_lesions=0, seed=0)[0]
    session = LabelingSession(image, classes=table)
    canvas = ScribbleCanvas(session, axis=2, index=1)
    canvas._prediction = np.ones(canvas.rgb().shape[:2], np.uint16)      # everything "background"
    grey_only = ScribbleCanvas(session, axis=2, index=1).rgb()
    np.testing.assert_array_equal(canvas.prediction_rgb(), grey_only)


@pytest.mark.parametrize("scale", [1.0, 1000.0])
def test_raw_intensities_fit_and_predict_without_float16_overflow(scale):
    """CT in HU or raw 12-bit MRI: squared gradients overflow float16 (65504); the bank switches type."""
    from labtools.pixel_classifier import PixelClassifier

    image, truth = datasets.phantom((48, 48, 24), n_lesions=0, seed=5)
    image = image.with_array(image.array * scale)
    session = LabelingSession(image, classifier=PixelClassifier(n_estimators=10, sigmas=(0.7, 1.6, 3.5)))
    for value in np.unique(truth):
        mask = np.zeros(truth.shape, bool)
        mask[::3, ::3, 12] = truth[::3, ::3, 12] == value
        session.add_stroke(mask, int(value) + 1)
    prediction, _ = session.update(np.s_[:, :, 8])
    assert session.features.dtype == (np.float16 if scale == 1.0 else np.float32)
    whole = session.predict_volume(progress=False)
    assert np.isfinite(session.features.whole().astype(np.float32)).all()
    assert metrics.dice(whole == 3, truth == 3) > 0.8  # white matter
    np.testing.assert_array_equal(prediction, whole[:, :, 8:9])
