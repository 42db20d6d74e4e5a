"""Choosing metrics: Metrics Reloaded's questions about a problem, answered with labtools functions.

Metrics Reloaded (Maier-Hein et al., Nature Methods 2024) starts from a
*problem fingerprint*: what kind of task it is and what matters about it (small
structures, sizes that vary, boundaries, empty images, probabilities, ...), and
derives the metrics from it; its pitfalls paper (Reinke et al.) lists what goes
wrong otherwise. :func:`recommend` asks the same questions and returns the
metrics to report, each with the reason and the pitfalls to watch, as calls of
:mod:`labtools.metrics`. It is a teaching aid and a checklist, not a
replacement for reading the paper: the full framework has more questions
(e.g. on multi-class aggregation and on image-level classification).

Examples
--------
>>> advice = recommend("semantic", small_structures=True, empty_possible=True)
>>> [item.metric for item in advice][:3]
['dice', 'nsd', 'hd95']
"""

from __future__ import annotations

from dataclasses import dataclass, field

from labtools.errors import ParameterError

__all__ = ["recommend", "Advice", "Recommendation", "TASKS"]

TASKS = ("semantic", "detection", "instance")


@dataclass(frozen=True)
class Advice:
    """One recommended metric: the labtools call, why, and what to watch."""

    metric: str
    call: str
    reason: str
    pitfalls: tuple[str, ...] = ()


@dataclass(repr=False)
class Recommendation:
    """The metrics recommended for one problem fingerprint (iterate over it for the :class:`Advice`)."""

    task: str
    fingerprint: dict
    items: list[Advice] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def metrics(self) -> list[str]:
        """The metric names, e.g. for ``evaluate(..., metrics=advice.metrics)`` where they apply."""
        return [item.metric for item in self.items]

    def __str__(self) -> str:
        asked = ", ".join(k for k, v in self.fingerprint.items() if v) or "nothing special"
        article = "an" if self.task[0] in "aeiou" else "a"
        lines = [f"Metrics for {article} {self.task} task ({asked}):"]
        for number, item in enumerate(self.items, start=1):
            lines.append(f"{number}. {item.metric}: {item.call}")
            lines.append(f"   why: {item.reason}")
            lines += [f"   watch: {pitfall}" for pitfall in item.pitfalls]
        lines += [f"Note: {note}" for note in self.notes]
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_markdown_(self) -> str:
        rows = ["| metric | labtools | why | watch |", "|---|---|---|---|"]
        rows += [f"| {i.metric} | `{i.call}` | {i.reason} | {'<br>'.join(i.pitfalls)} |" for i in self.items]
        return "\n".join(rows + [""] + [f"*Note:* {note}" for note in self.notes])


def recommend(task: str = "semantic", *, small_structures: bool = False, size_variability: bool = False,
              unequal_class_sizes: bool = False, boundary_matters: bool = False, tubular: bool = False,
              empty_possible: bool = False, probabilities: bool = False, volume_matters: bool = False,
              costs_differ: bool = False, tolerance_mm: float | None = None) -> Recommendation:
    """Metrics to report for a segmentation problem, following Metrics Reloaded's decision rules.

    Parameters
    ----------
    task : {"semantic", "detection", "instance"}
        Semantic segmentation (every voxel a class), object detection (find and
        count objects, e.g. lesions), or instance segmentation (find each object
        and delineate it).
    small_structures : bool
        Targets a few voxels across (metastases, MS lesions): one voxel of
        error is a large fraction of the object.
    size_variability : bool
        Object sizes vary a lot between or within images.
    unequal_class_sizes : bool
        Foreground tiny against the background (class imbalance).
    boundary_matters : bool
        The exact outline is the point (radiotherapy planning, volumetry of
        organs at risk).
    tubular : bool
        Vessels, airways, neurites: connectivity matters more than width.
    empty_possible : bool
        Some images have no target at all (healthy scans), so reference or
        prediction may be empty.
    probabilities : bool
        The output's probabilities are used (calibration, thresholds chosen later).
    volume_matters : bool
        A volume is the clinical number (TMTV, tumour burden).
    costs_differ : bool
        A missed structure costs more than a false alarm (or the reverse).
    tolerance_mm : float, optional
        The inter-rater variability of the boundary in mm, for NSD's tolerance.

    Returns
    -------
    Recommendation
        Iterable of :class:`Advice`; ``str()`` prints it, notebooks show a table.

    Examples
    --------
    >>> print(recommend("detection", small_structures=True).metrics)
    ['lesion_detection', 'froc']
    """
    if task not in TASKS:
        raise ParameterError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    fingerprint = dict(small_structures=small_structures, size_variability=size_variability,
                       unequal_class_sizes=unequal_class_sizes, boundary_matters=boundary_matters,
                       tubular=tubular, empty_possible=empty_possible, probabilities=probabilities,
                       volume_matters=volume_matters, costs_differ=costs_differ)
    advice = Recommendation(task, fingerprint)
    tau = f"{tolerance_mm:g}" if tolerance_mm is not None else "TAU"
    if task in ("detection", "instance"):
        _detection(advice, small_structures, probabilities)
    if task in ("semantic", "instance"):
        _segmentation(advice, tau, small_structures, size_variability, unequal_class_sizes, boundary_matters,
                      tubular, empty_possible, costs_differ, per_instance=task == "instance")
    if volume_matters:
        advice.items.append(Advice(
            "volume_ml", "metrics.volume_ml(pred, spacing) vs metrics.volume_ml(ref, spacing); Bland-Altman",
            "a volume used as a biomarker must agree as a number, which overlap does not guarantee",
            ("errors of opposite sign cancel in a volume: look at FP and FN volumes too",)))
    if probabilities:
        advice.items.append(Advice(
            "expected_calibration_error", "metrics.expected_calibration_error(prob, ref, n_bins=10)",
            "probabilities that are used must mean what they say (Metrics Reloaded: calibration metrics)",
            ("the value depends on the binning: report n_bins", "pair it with a proper scoring rule: "
             "metrics.brier_score or metrics.log_score")))
    if tolerance_mm is None and any(item.metric == "nsd" for item in advice):
        advice.notes.append("choose NSD's tolerance TAU from the inter-rater variability of the boundary "
                            "(mm), not by convenience; pass tolerance_mm= to fill it in.")
    if empty_possible:
        advice.notes.append("decide and report what an empty reference or prediction scores (labtools: "
                            "both empty NaN and counted, one empty 0 or +inf), and how the summary treats it "
                            "(metrics.batch.summarize, inf_policy=).")
    advice.notes.append("aggregate per image first, then over images, and report the spread, not only the mean "
                        "(metrics.batch.summarize).")
    return advice


def _detection(advice: Recommendation, small_structures: bool, probabilities: bool) -> None:
    advice.items.append(Advice(
        "lesion_detection",
        "metrics.lesion_detection(pred, ref, spacing, overlap=...) -> tp, fn, fp, lesion-wise Dice",
        "counting found, missed and invented objects answers 'did we find them all?', which voxel "
        "metrics hide (a missed small lesion barely moves a global Dice)",
        ("state the localisation criterion (any overlap or a fraction: overlap=) and the connectivity",
         "report FP per image, not only sensitivity") + (
            ("for tiny objects, a 'found' criterion of any overlap is lenient: also report overlap=0.5",)
            if small_structures else ())))
    if probabilities:
        advice.items.append(Advice(
            "froc", "metrics.froc(fp_probs, tp_probs, num_targets, num_images)",
            "detection scores trade sensitivity against false positives per image; FROC shows the whole "
            "trade-off (AP when false positives are not counted per image)",
            ("the operating points (FPs per image) must be stated",)))
    else:
        advice.items.append(Advice(
            "froc", "metrics.froc(...) once the detector gives a score per candidate",
            "without scores, report sensitivity and FP per image at the one operating point",
            ("a single operating point cannot be compared with another method's at a different threshold",)))


def _segmentation(advice: Recommendation, tau: str, small: bool, sizes_vary: bool, imbalance: bool,
                  boundary: bool, tubular: bool, empty: bool, costs: bool, *, per_instance: bool) -> None:
    where = "per instance, " if per_instance else ""
    dice_pitfalls = ["Dice punishes the same one-voxel error far more on a small object than on a big one"
                     if small or sizes_vary else "Dice ignores where the errors are: pair it with a boundary metric"]
    if empty:
        dice_pitfalls.append("Dice is undefined (0/0) when both masks are empty: labtools returns NaN")
    advice.items.append(Advice(
        "dice", f"metrics.dice(pred, ref) ({where}or evaluate)",
        "the default overlap metric: robust, well known, insensitive to the huge background "
        "(Metrics Reloaded's first recommendation for semantic segmentation)", tuple(dice_pitfalls)))
    advice.items.append(Advice(
        "nsd", f"metrics.nsd(pred, ref, tolerance={tau}, spacing=spacing)",
        "a boundary metric that forgives errors within the raters' own disagreement; Metrics Reloaded "
        "prefers it to HD where the boundary matters" if boundary else
        "a boundary metric complements the overlap metric and is normalised to [0, 1]",
        ("the tolerance decides the result: report it",)))
    if boundary or small or sizes_vary:
        advice.items.append(Advice(
            "hd95", "metrics.hd95(pred, ref, spacing=spacing)",
            "the worst boundary errors in mm (robust to a few outlier voxels, unlike HD)",
            ("+inf when one mask is empty: choose a worst value for the mean (inf_policy)",
             "libraries differ (directed percentiles vs pooled): name the convention")))
    if tubular:
        advice.items.append(Advice(
            "centreline_dice", "metrics.centreline_dice(pred, ref)",
            "for tubular structures, connectivity matters more than width: clDice drops when a vessel is cut",
            ("skeletons of noisy masks have spurs: smooth or clean small components first",)))
        advice.items.append(Advice(
            "betti_errors", "metrics.betti_errors(pred, ref)",
            "counts broken pieces (b0) and false loops (b1), which no overlap metric sees", ()))
    if imbalance and not per_instance:
        advice.notes.append("with a tiny foreground, never report accuracy or specificity alone: they reward "
                            "predicting background everywhere (pitfalls paper, 'class imbalance').")
    if costs:
        advice.items.append(Advice(
            "fbeta", "metrics.fbeta(pred, ref, beta=2.0)  # beta > 1 weighs misses more",
            "when missing a structure costs more than a false alarm, weigh recall (or precision) explicitly",
            ("state beta and why",)))
