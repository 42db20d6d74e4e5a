"""`labtools classify MODEL IMAGE... --out DIR`: batch segmentation with a saved PixelClassifier."""

from __future__ import annotations

import numpy as np
import pytest

from labtools import cli, datasets, io
from labtools.commands.classify import output_name
from labtools.pixel_classifier import PixelClassifier


def _oblique(image: io.Image, shift: float) -> io.Image:
    affine = image.affine.copy()
    affine[:3, :3] = affine[:3, :3] @ np.array([[1, 0.1, 0], [0, 1, 0], [0, 0, 1]])
    affine[:3, 3] = (shift, -20.0, 5.5)
    return io.Image(image.array, affine=affine)


@pytest.fixture(scope="module")
def model_and_images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("classify")
    images = []
    for seed, name in ((0, "case_a.nii.gz"), (1, "case_b.nii")):
        image, labels = datasets.phantom((24, 24, 16), n_lesions=0, seed=seed)
        images.append((io.save(_oblique(image, 10.0 * seed), folder / name), labels))
    image, labels = datasets.phantom((24, 24, 16), n_lesions=0, seed=2)
    scribbles = np.zeros_like(labels)
    scribbles[::3, ::3, ::3] = labels[::3, ::3, ::3] + 1
    classifier = PixelClassifier(n_estimators=20, sigmas=(0.7, 1.6, 3.5)).fit(image, scribbles)
    model = folder / "model.joblib"
    classifier.save(model)
    return model, images


def test_writes_seg_files_with_the_inputs_geometry(model_and_images, tmp_path, capsys):
    model, images = model_and_images
    out = tmp_path / "out" / "nested"
    status = cli.main(["classify", str(model), *(str(p) for p, _ in images), "--out", str(out), "--quiet"])
    assert status == 0
    assert sorted(p.name for p in out.iterdir()) == ["case_a_seg.nii.gz", "case_b_seg.nii", "classify.journal.jsonl"]
    classifier = PixelClassifier.load(model)
    for path, labels in images:
        source = io.load(path)
        seg = io.load(out / output_name(path))
        io.check_pair(source, seg)
        np.testing.assert_allclose(seg.affine, source.affine, atol=1e-5)
        assert seg.array.dtype == np.uint8
        np.testing.assert_array_equal(seg.array, classifier.predict(source))
        assert np.mean(seg.array == labels + 1) > 0.8  # the model was trained on another seed
    assert "2 of 2 images segmented" in capsys.readouterr().out


def test_a_broken_image_is_reported_and_the_rest_goes_on(model_and_images, tmp_path, capsys):
    model, images = model_and_images
    broken = tmp_path / "broken.nii.gz"
    broken.write_bytes(b"\x1f\x8b\x08\x00 not really gzip")
    flat = io.save(np.zeros((24, 24), np.float32), tmp_path / "flat2d.nii.gz")  # 2D: wrong features
    out = tmp_path / "out"
    argv = ["classify", str(model), str(broken), str(images[0][0]), str(flat), str(images[1][0]),
            "--out", str(out), "--quiet"]
    assert cli.main(argv) == 1
    assert sorted(p.name for p in out.iterdir()) == ["case_a_seg.nii.gz", "case_b_seg.nii", "classify.journal.jsonl"]
    captured = capsys.readouterr()
    assert f"failed {broken}:" in captured.err and "flat2d.nii.gz" in captured.err
    assert "2 of 4 images segmented" in captured.out


def test_bad_model_or_clashing_outputs_stop_before_writing(model_and_images, tmp_path, capsys):
    model, images = model_and_images
    not_a_model = tmp_path / "model.joblib"
    not_a_model.write_bytes(b"nothing")
    out = tmp_path / "out"
    assert cli.main(["classify", str(not_a_model), str(images[0][0]), "--out", str(out)]) == 2
    assert "not a labtools classifier" in capsys.readouterr().err
    copy = tmp_path / "other" / "case_a.nii.gz"
    copy.parent.mkdir()
    copy.write_bytes(images[0][0].read_bytes())
    assert cli.main(["classify", str(model), str(images[0][0]), str(copy), "--out", str(out)]) == 2
    assert "would both be written" in capsys.readouterr().err
    assert not out.exists()


def test_output_names():
    assert output_name("a/b/sub-01_T1w.nii.gz") == "sub-01_T1w_seg.nii.gz"
    assert output_name("x.nii") == "x_seg.nii"
    assert output_name("slice.tif") == "slice_seg.tif"
    assert output_name("weird.mha") == "weird_seg.mha"


def test_help(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["classify", "--help"])
    assert info.value.code == 0
    assert "usage: labtools classify" in capsys.readouterr().out
