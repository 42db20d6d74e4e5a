"""`labtools evaluate` and labtools.metrics.batch: pairing, spacing from headers, bad cases, summary."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from labtools import io, metrics
from labtools.cli import main
from labtools.metrics.batch import evaluate_files, pair_files, summarize

SPACING = (0.8, 1.2, 2.5)


def _case(seed, shape=(30, 28, 12)):
    rng = np.random.default_rng(seed)
    ref = np.zeros(shape, np.uint8)
    ref[5:20, 6:22, 3:9] = 1
    ref[22:27, 2:8, 2:6] = 2
    pred = np.roll(ref, rng.integers(1, 3), axis=0)
    return pred, ref


@pytest.fixture
def folders(tmp_path):
    pred_dir, ref_dir = tmp_path / "pred", tmp_path / "ref"
    pred_dir.mkdir(), ref_dir.mkdir()
    for i in range(3):
        pred, ref = _case(i)
        io.save(ref, ref_dir / f"case{i}.nii.gz", spacing=SPACING)
        io.save(pred, pred_dir / f"case{i}.nii.gz", spacing=SPACING)
    return pred_dir, ref_dir


def _read(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


def test_folder_evaluation_uses_header_spacing(folders, tmp_path, capsys):
    pred_dir, ref_dir = folders
    out = tmp_path / "scores.csv"
    assert main(["evaluate", str(pred_dir), str(ref_dir), "--out", str(out), "--quiet"]) == 0
    rows = _read(out)
    assert [(r["case"], r["label"]) for r in rows] == [(f"case{i}", str(l)) for i in range(3) for l in (1, 2)]
    for row in rows:
        pred, ref = _case(int(row["case"][-1]))
        label = int(row["label"])
        stored = io.load(ref_dir / f"{row['case']}.nii.gz").spacing  # float32 header values
        assert float(row["hd95"]) == pytest.approx(metrics.hd95(pred == label, ref == label, stored))
        assert float(row["dice"]) == pytest.approx(metrics.dice(pred == label, ref == label))
    summary = _read(tmp_path / "scores_summary.csv")
    dice_1 = next(s for s in summary if s["label"] == "1" and s["metric"] == "dice")
    values = [float(r["dice"]) for r in rows if r["label"] == "1"]
    assert float(dice_1["mean"]) == pytest.approx(np.mean(values))
    assert float(dice_1["std"]) == pytest.approx(np.std(values))
    assert float(dice_1["median"]) == pytest.approx(np.median(values))
    assert "3 cases, 0 failed" in capsys.readouterr().out


def test_explicit_spacing_and_labels(folders, tmp_path):
    pred_dir, ref_dir = folders
    out = tmp_path / "s.csv"
    main(["evaluate", str(pred_dir / "case0.nii.gz"), str(ref_dir / "case0.nii.gz"),
          "--spacing", "1,1,1", "--labels", "2", "--out", str(out), "--quiet"])
    (row,) = _read(out)
    pred, ref = _case(0)
    assert row["label"] == "2"
    assert float(row["hausdorff"]) == pytest.approx(metrics.hausdorff(pred == 2, ref == 2))


def test_bad_cases_are_reported_and_the_rest_goes_on(folders, tmp_path, capsys):
    pred_dir, ref_dir = folders
    (pred_dir / "broken.nii.gz").write_bytes(b"\x1f\x8b\x08\x00 not really gzip")
    io.save(np.zeros((4, 4, 4), np.uint8), ref_dir / "broken.nii.gz")
    io.save(np.zeros((30, 28, 12), np.uint8), pred_dir / "moved.nii.gz", spacing=SPACING)
    shifted = io.Image(np.zeros((30, 28, 12), np.uint8), spacing=SPACING)
    shifted.affine[0, 3] = 40.0
    io.save(shifted, ref_dir / "moved.nii.gz")
    io.save(np.zeros((5, 5, 5), np.uint8), pred_dir / "extra.nii.gz")
    out = tmp_path / "m.csv"
    status = main(["evaluate", str(pred_dir), str(ref_dir), "--out", str(out), "--quiet"])
    assert status == 1
    rows = {r["case"]: r for r in _read(out)}
    assert "broken.nii.gz" in rows["broken"]["error"]
    assert "affines" in rows["moved"]["error"]
    assert all(not rows[f"case{i}"]["error"] for i in range(3))
    captured = capsys.readouterr()
    assert "5 cases, 2 failed" in captured.out
    assert "no reference for extra.nii.gz" in captured.err


def test_summary_policy_counts_empty_cases():
    rows = [
        {"case": "a", "label": 1, "error": "", "diagonal_mm": 50.0, "dice": 0.9, "hd95": 2.0},
        {"case": "b", "label": 1, "error": "", "diagonal_mm": 70.0, "dice": 0.0, "hd95": math.inf},
        {"case": "c", "label": 1, "error": "", "diagonal_mm": 60.0, "dice": math.nan, "hd95": math.nan},
        {"case": "d", "label": "", "error": "unreadable"},
    ]
    hd = {s["metric"]: s for s in summarize(rows)}["hd95"]
    assert (hd["n"], hd["n_both_empty"], hd["n_one_empty"]) == (2, 1, 1)
    assert hd["mean"] == pytest.approx((2.0 + 70.0) / 2)  # inf -> that case's diagonal
    excluded = {s["metric"]: s for s in summarize(rows, inf_policy="exclude")}["hd95"]
    assert excluded["mean"] == 2.0 and excluded["n"] == 1
    fixed = {s["metric"]: s for s in summarize(rows, inf_policy=373.13)}["hd95"]
    assert fixed["mean"] == pytest.approx((2.0 + 373.13) / 2)


def test_empty_prediction_end_to_end(tmp_path):
    ref = np.zeros((20, 20, 8), np.uint8)
    ref[5:10, 5:10, 2:5] = 1
    for name, pred in (("p", np.zeros_like(ref)),):
        io.save(pred, tmp_path / f"{name}.nii.gz")
    io.save(ref, tmp_path / "r.nii.gz")
    pairs, _, _ = pair_files(tmp_path / "p.nii.gz", tmp_path / "r.nii.gz")
    (row,) = evaluate_files(pairs, labels=[1], progress=False)
    assert row["dice"] == 0.0 and row["hd95"] == math.inf and row["nsd"] == 0.0
    assert row["diagonal_mm"] == pytest.approx(np.linalg.norm([20, 20, 8]))


def test_pairing_needs_two_files_or_two_folders(folders):
    pred_dir, ref_dir = folders
    from labtools.errors import MissingFileError

    with pytest.raises(MissingFileError, match="both be files"):
        pair_files(pred_dir, ref_dir / "case0.nii.gz")


def test_bad_inf_policy_says_what_is_allowed(folders, tmp_path, capsys):
    pred_dir, ref_dir = folders
    assert main(["evaluate", str(pred_dir), str(ref_dir), "--inf-policy", "bogus", "--quiet"]) == 2
    assert "'diagonal', 'exclude' or a number" in capsys.readouterr().err


def test_grid_mismatch_names_prediction_and_reference(tmp_path):
    (tmp_path / "p").mkdir(), (tmp_path / "r").mkdir()
    io.save(np.zeros((6, 6, 5), np.uint8), tmp_path / "p" / "c.nii.gz")
    io.save(np.zeros((6, 6, 4), np.uint8), tmp_path / "r" / "c.nii.gz")
    pairs, _, _ = pair_files(tmp_path / "p", tmp_path / "r")
    (row,) = evaluate_files(pairs, progress=False)
    assert f"reference {tmp_path / 'r' / 'c.nii.gz'}" in row["error"]
    assert f"prediction {tmp_path / 'p' / 'c.nii.gz'}" in row["error"]
    assert "Resample the prediction onto the reference grid" in row["error"]


def test_metrics_option_selects_columns_and_all_adds_the_rates(folders, tmp_path, capsys):
    from sklearn.metrics import matthews_corrcoef

    pred_dir, ref_dir = folders
    out = tmp_path / "chosen.csv"
    assert main(["evaluate", str(pred_dir), str(ref_dir), "--metrics", "dice,matthews_correlation,hd95",
                 "--out", str(out), "--quiet"]) == 0
    rows = _read(out)
    assert list(rows[0]) == ["case", "label", "error", "diagonal_mm", "dice", "matthews_correlation", "hd95"]
    pred, ref = _case(0)
    assert float(rows[0]["matthews_correlation"]) == pytest.approx(
        matthews_corrcoef((ref == 1).ravel(), (pred == 1).ravel()))
    assert "matthews_correlation" in capsys.readouterr().out          # the report shows what was asked
    assert {s["metric"] for s in _read(tmp_path / "chosen_summary.csv")} == {"dice", "matthews_correlation", "hd95"}
    main(["evaluate", str(pred_dir), str(ref_dir), "--metrics", "all", "--out", str(out), "--quiet"])
    assert set(_read(out)[0]) >= set(metrics.AVAILABLE_METRICS)


def test_an_unknown_metric_is_named_with_the_choices(folders, tmp_path, capsys):
    pred_dir, ref_dir = folders
    assert main(["evaluate", str(pred_dir), str(ref_dir), "--metrics", "dice,dsc", "--out",
                 str(tmp_path / "x.csv"), "--quiet"]) != 0
    assert "unknown metric(s) ['dsc']" in capsys.readouterr().err


def test_evaluate_computes_only_what_was_asked(monkeypatch):
    import importlib

    module = importlib.import_module("labtools.metrics.evaluate")   # the module, not the function
    pred, ref = _case(1)
    def refuse(*args, **kwargs):
        raise AssertionError("no distances were asked for")
    monkeypatch.setattr(module, "surface_distances", refuse)
    scores = metrics.evaluate(pred == 1, ref == 1, metrics=["dice", "cohens_kappa"])
    assert list(scores) == ["dice", "cohens_kappa"]


def test_evaluate_offers_the_shape_and_object_metrics_by_name():
    pred, ref = _case(2)
    chosen = ["boundary_iou", "centreline_dice", "centre_of_mass_distance", "panoptic_quality", "detection_f1"]
    scores = metrics.evaluate(pred == 1, ref == 1, SPACING, metrics=chosen)
    assert scores["centre_of_mass_distance"] == pytest.approx(metrics.centre_of_mass_distance(pred == 1, ref == 1, SPACING))
    assert scores["boundary_iou"] == pytest.approx(metrics.boundary_iou(pred == 1, ref == 1, spacing=SPACING, width=0.8))
    assert scores["panoptic_quality"] == pytest.approx(metrics.panoptic_quality(pred == 1, ref == 1)["pq"])
    assert scores["detection_f1"] == 1.0 and 0 < scores["centreline_dice"] <= 1


def test_label_maps_are_scored_on_each_class_box_with_the_same_numbers_as_whole_masks():
    rng = np.random.default_rng(4)
    ref = np.zeros((40, 36, 20), np.uint16)
    ref[3:12, 4:14, 2:9] = 2
    ref[25:37, 20:33, 10:18] = 5
    ref[rng.random(ref.shape) < 0.001] = 7                               # scattered specks
    pred = np.roll(ref, 1, axis=0)
    pred[30:34, 2:6, 2:5] = 9                                            # a class only predicted
    labels = [0, 2, 5, 7, 9, 11]                                         # 0: background; 11: nowhere
    chosen = ["dice", "specificity", "accuracy", "tn", "hd95", "nsd", "lesions_fp", "matthews_correlation"]
    per_class = metrics.evaluate(pred.astype(float), ref, SPACING, labels=labels, metrics=chosen)
    for label in labels:
        whole = metrics.evaluate(pred == label, ref == label, SPACING, metrics=chosen)
        for name in chosen:
            assert per_class[label][name] == pytest.approx(whole[name], nan_ok=True), (label, name)
