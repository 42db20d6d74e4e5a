"""Datasets: phantom determinism and anatomy, MNI152 offline, Decathlon on a tiny local folder."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage as ndi

from labtools import datasets, io
from labtools.errors import ChecksumError, CorruptFileError, DatasetNotFoundError, InvalidImageError

REPO = Path(__file__).resolve().parents[1]


# --- phantom -------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(48, 48, 40), (64, 64)])
def test_phantom_is_deterministic(shape):
    a_img, a_lab = datasets.phantom(shape, n_lesions=3, seed=7)
    b_img, b_lab = datasets.phantom(shape, n_lesions=3, seed=7)
    np.testing.assert_array_equal(a_img.array, b_img.array)
    np.testing.assert_array_equal(a_lab, b_lab)
    c_img, c_lab = datasets.phantom(shape, n_lesions=3, seed=8)
    assert not np.array_equal(a_lab, c_lab)


@pytest.mark.parametrize("shape", [(64, 64, 48), (96, 96)])
def test_phantom_has_all_tissues_in_brain_like_order(shape):
    image, labels = datasets.phantom(shape, n_lesions=2, seed=0)
    assert image.array.dtype == np.float32 and labels.dtype == np.uint8
    assert image.shape == labels.shape == shape
    assert set(np.unique(labels)) == set(datasets.PHANTOM_CLASSES)
    means = {c: image.array[labels == c].mean() for c in (0, 1, 2, 3)}
    assert means[0] < means[1] < means[2] < means[3]  # T1-like: background < CSF < GM < WM
    # White matter is enclosed: its dilation never reaches the background.
    grown = ndi.binary_dilation(labels == 3)
    assert not (grown & (labels == 0)).any()


@pytest.mark.parametrize("seed", range(5))
def test_phantom_lesions_vary_in_size_and_contrast(seed):
    image, labels = datasets.phantom((64, 64, 48), n_lesions=4, seed=seed)
    components, count = ndi.label(labels == 4)
    assert 1 <= count <= 4
    white_matter = image.array[labels == 3].mean()
    contrasts = [abs(image.array[components == i].mean() - white_matter) for i in range(1, count + 1)]
    assert min(contrasts) > 0.05  # every lesion is visible above the noise level
    if count >= 2:
        sizes = np.bincount(components.ravel())[1:]
        assert sizes.max() > sizes.min()


def test_phantom_without_lesions_has_none():
    _, labels = datasets.phantom((48, 48, 32), n_lesions=0, seed=0)
    assert not (labels == 4).any()


def test_phantom_noise_and_bias_are_applied():
    clean, labels = datasets.phantom((64, 64, 48), seed=0, noise=0.0, bias=0.0)
    noisy, _ = datasets.phantom((64, 64, 48), seed=0, noise=0.05, bias=0.0)
    deep_wm = ndi.binary_erosion(labels == 3, iterations=2)
    assert clean.array[deep_wm].std() < 1e-3  # without noise a tissue is flat ...
    assert noisy.array[deep_wm].std() == pytest.approx(0.05, rel=0.15)  # ... with it, std = noise
    biased, _ = datasets.phantom((64, 64, 48), seed=0, noise=0.0, bias=0.2)
    assert biased.array[deep_wm].std() > 0.01  # the bias field makes the same tissue vary


def test_phantom_anatomy_is_physical_not_voxel_based():
    """Halving the sampling along z (twice the spacing) keeps tissue volumes in ml."""
    fine, fine_lab = datasets.phantom((64, 64, 64), n_lesions=0, seed=0, spacing=(2.0, 2.0, 2.0))
    coarse, coarse_lab = datasets.phantom((64, 64, 32), n_lesions=0, seed=0, spacing=(2.0, 2.0, 4.0))
    assert coarse.spacing == (2.0, 2.0, 4.0)
    brain_fine = (fine_lab > 0).sum() * fine.voxel_volume_ml
    brain_coarse = (coarse_lab > 0).sum() * coarse.voxel_volume_ml
    assert brain_coarse == pytest.approx(brain_fine, rel=0.03)


def test_phantom_rejects_bad_arguments():
    with pytest.raises(InvalidImageError, match="shape"):
        datasets.phantom((8, 8, 8))
    with pytest.raises(InvalidImageError, match="spacing"):
        datasets.phantom((32, 32, 32), spacing=(1.0, 1.0))


# --- MNI152 --------------------------------------------------------------------------------

@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_mni152_2mm_offline(no_network):
    from nilearn.datasets import load_mni152_template

    image, labels = datasets.mni152(2)
    assert image.shape == labels.shape == (99, 117, 95)
    assert image.spacing == (2.0, 2.0, 2.0) and image.orientation == "RAS"
    assert sorted(np.unique(labels).tolist()) == [1, 2, 3, 4]
    np.testing.assert_array_equal(image.affine, load_mni152_template(resolution=2).affine)


def test_mni152_tissues_match_the_priors():
    from nilearn.datasets import load_mni152_gm_template, load_mni152_wm_template

    image, labels = datasets.mni152(2)
    grey = load_mni152_gm_template(resolution=2).get_fdata()
    white = load_mni152_wm_template(resolution=2).get_fdata()
    assert grey[labels == 3].mean() > 0.5 and white[labels == 4].mean() > 0.5
    # The T1 contrast of real tissue: white matter brighter than grey matter.
    assert image.array[labels == 4].mean() > image.array[labels == 3].mean()
    # An adult brain: 0.4-0.9 l of each tissue (2 mm voxels = 0.008 ml).
    for tissue in (3, 4):
        assert 400 < (labels == tissue).sum() * image.voxel_volume_ml < 1200


def test_mni152_rejects_other_resolutions():
    with pytest.raises(InvalidImageError, match="1 or 2"):
        datasets.mni152(3)


# --- Decathlon -----------------------------------------------------------------------------

def _write_tiny_task(root: Path, task="Task04_Hippocampus", n=3, channels=None) -> Path:
    folder = root / task
    (folder / "imagesTr").mkdir(parents=True)
    (folder / "labelsTr").mkdir()
    rng = np.random.default_rng(0)
    affine = np.diag([1.0, 1.0, 1.5, 1.0])
    training = []
    for i in range(n):
        shape = (10, 12, 8) + ((channels,) if channels else ())
        image = rng.normal(size=shape).astype(np.float32)
        labels = (rng.random((10, 12, 8)) > 0.8).astype(np.uint8) * (1 + i % 2)
        nib.save(nib.Nifti1Image(image, affine), folder / "imagesTr" / f"case_{i:03d}.nii.gz")
        nib.save(nib.Nifti1Image(labels, affine), folder / "labelsTr" / f"case_{i:03d}.nii.gz")
        training.append({"image": f"./imagesTr/case_{i:03d}.nii.gz",
                         "label": f"./labelsTr/case_{i:03d}.nii.gz"})
    meta = {"name": "Hippocampus", "modality": {"0": "MRI"},
            "labels": {"0": "background", "1": "Anterior", "2": "Posterior"},
            "training": training, "test": ["./imagesTs/case_100.nii.gz"]}
    (folder / "dataset.json").write_text(json.dumps(meta))
    return folder


def test_decathlon_reads_a_local_task(tmp_path):
    _write_tiny_task(tmp_path)
    task = datasets.decathlon("Task04", tmp_path)
    assert len(task) == 3 and task.name == "Hippocampus"
    assert task.labels == {0: "background", 1: "Anterior", 2: "Posterior"}
    image, labels = task[1]
    assert image.shape == labels.shape == (10, 12, 8) and image.spacing == (1.0, 1.0, 1.5)
    assert set(np.unique(labels)) <= {0, 2}
    reference = nib.load(str(tmp_path / "Task04_Hippocampus/labelsTr/case_001.nii.gz"))
    np.testing.assert_array_equal(labels, np.asanyarray(reference.dataobj))


def test_decathlon_multimodal_is_channels_first(tmp_path):
    _write_tiny_task(tmp_path, task="Task01_BrainTumour", n=1, channels=4)
    image, labels = datasets.decathlon("Task01_BrainTumour", tmp_path)[0]
    assert image.shape == (4, 10, 12, 8) and labels.shape == (10, 12, 8)


def test_decathlon_uses_labtools_data_by_default(tmp_path, monkeypatch):
    _write_tiny_task(tmp_path)
    monkeypatch.setenv("LABTOOLS_DATA", str(tmp_path))
    assert len(datasets.decathlon("Task04_Hippocampus")) == 3


def test_decathlon_missing_says_where_to_put_files(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        datasets.decathlon("Task04_Hippocampus", tmp_path)
    message = str(info.value)
    assert str(tmp_path / "Task04_Hippocampus" / "dataset.json") in message
    assert "download=True" in message and "LABTOOLS_DATA" in message


def test_decathlon_offline_download_fails_clearly(tmp_path, no_network):
    with pytest.raises(DatasetNotFoundError, match=r"download of .*Task04_Hippocampus.tar failed"):
        datasets.decathlon("Task04_Hippocampus", tmp_path, download=True)


@pytest.fixture
def local_archive(tmp_path, monkeypatch):
    """Serve a tiny Task04 archive from a file:// URL through MONAI's real downloader."""
    import hashlib
    import tarfile

    from monai.apps import DecathlonDataset

    source = _write_tiny_task(tmp_path / "source")
    archive = tmp_path / "Task04_Hippocampus.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(source, arcname="Task04_Hippocampus")
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    monkeypatch.setitem(DecathlonDataset.resource, "Task04_Hippocampus", archive.as_uri())
    monkeypatch.setitem(DecathlonDataset.md5, "Task04_Hippocampus", md5)
    return md5


def test_decathlon_download_extracts_and_loads(tmp_path, local_archive):
    task = datasets.decathlon("Task04_Hippocampus", tmp_path / "data", download=True)
    assert len(task) == 3 and (tmp_path / "data/Task04_Hippocampus/dataset.json").is_file()
    assert not (tmp_path / "data/Task04_Hippocampus.tar").exists()  # extracted, then removed
    assert task[0][0].shape == (10, 12, 8)
    again = datasets.decathlon("Task04_Hippocampus", tmp_path / "data")  # now offline is fine
    assert again.cases == task.cases


def test_decathlon_download_checks_md5(tmp_path, local_archive, monkeypatch):
    from monai.apps import DecathlonDataset

    monkeypatch.setitem(DecathlonDataset.md5, "Task04_Hippocampus", "0" * 32)
    with pytest.raises(ChecksumError, match="MD5 differs"):
        datasets.decathlon("Task04_Hippocampus", tmp_path / "data", download=True)
    assert not (tmp_path / "data/Task04_Hippocampus").exists()
    assert not (tmp_path / "data/Task04_Hippocampus.tar").exists()


def test_decathlon_keep_archive(tmp_path, local_archive):
    datasets.decathlon("Task04_Hippocampus", tmp_path / "data", download=True, keep_archive=True)
    assert (tmp_path / "data/Task04_Hippocampus.tar").is_file()


def test_decathlon_incomplete_folder(tmp_path):
    folder = _write_tiny_task(tmp_path)
    (folder / "labelsTr" / "case_002.nii.gz").unlink()
    with pytest.raises(DatasetNotFoundError, match="case_002.nii.gz"):
        datasets.decathlon("Task04_Hippocampus", tmp_path)


def test_decathlon_bad_json(tmp_path):
    folder = _write_tiny_task(tmp_path)
    (folder / "dataset.json").write_text("{not json")
    with pytest.raises(CorruptFileError, match="dataset.json"):
        datasets.decathlon("Task04_Hippocampus", tmp_path)


def test_decathlon_unknown_task(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="Task01_BrainTumour"):
        datasets.decathlon("Task99_Nothing", tmp_path)


# --- cards ---------------------------------------------------------------------------------

@pytest.mark.parametrize("info", datasets.REGISTRY, ids=lambda info: info.name)
def test_every_dataset_has_a_complete_card(info):
    card = REPO / info.card
    assert card.is_file(), f"missing dataset card {card}"
    text = card.read_text().lower()
    for section in ("what", "source", "license", "size", "checksum", "how to get"):
        assert f"## {section}" in text, f"{card.name} lacks a '{section}' section"


def test_no_card_without_registry_entry():
    cards = {p.name for p in (REPO / "datasets").glob("*.md")} - {"README.md"}
    assert cards == {Path(info.card).name for info in datasets.REGISTRY}


# --- ct_like: the generated CT for work bigger than memory ---------------------------------

def test_ct_like_is_lazy_its_classes_do_not_depend_on_blocks_and_match_its_card():
    import hashlib
    import re

    image, classes = datasets.ct_like((128, 128, 96), chunks=(64, 64, 64))
    assert image.is_lazy and image.array.dtype == np.int16
    _, other_blocks = datasets.ct_like((128, 128, 96), chunks=(40, 50, 96))
    np.testing.assert_array_equal(classes.compute(), other_blocks.compute())
    card = (REPO / "datasets" / "ct_like.md").read_text()
    image_sha, classes_sha = re.findall(r"`([0-9a-f]{64})`", card)
    assert hashlib.sha256(image.array.compute().tobytes()).hexdigest() == image_sha
    assert hashlib.sha256(classes.compute().tobytes()).hexdigest() == classes_sha
    values = classes.compute()
    for value, hu in ((0, -1000), (2, -850), (3, 700)):  # noise of 25 HU around each class's value
        assert abs(float(np.median(image.array.compute()[values == value])) - hu) < 5
