"""Training segmentation networks: :func:`fit`, its live curves, checkpoints and data handling.

``plan`` reads a dataset and chooses how to train on it (nnU-Net's rules,
``labtools/training/planning.py``); ``fit`` is one explicit loop
(``labtools/training/loop.py``); ``fit_iter`` yields its per-epoch records for GUIs. Every run writes ``history.csv``,
``curves.png``, ``last.pt`` and ``best.pt`` into its output folder.
``pretrain`` teaches a network's architecture on unlabelled images (masked
reconstruction or contrastive InfoNCE); ``fit(..., init=)`` starts from it.

Examples
--------
>>> from labtools.training import UNLABELLED, labels_from_scribbles
>>> labels_from_scribbles([0, 3]).tolist(), UNLABELLED
([-1, 2], -1)
"""

from labtools.training.callbacks import Callback, CSVLogger, CurvesFile, NotebookCurves, TerminalProgress
from labtools.training.checkpoint import load_checkpoint
from labtools.training.curriculum import Curriculum, PredefinedCurriculum, SelfPaced, SmoothingCurriculum
from labtools.training.data import UNLABELLED, labels_from_scribbles, normalize_intensity
from labtools.training.devices import describe_device, seed_everything, select_device
from labtools.training.history import History
from labtools.training.iterate import fit_iter
from labtools.training.live import LiveCurves
from labtools.training.loop import LOSSES, fit
from labtools.training.planning import Plan, load_plan, plan
from labtools.training.predict import load_model, predict, segment
from labtools.training.pretrain import PRETRAIN_METHODS, pretrain
from labtools.training.sparse import training_pair_from_session
from labtools.training.split import split_one_image

__all__ = [
    "fit", "fit_iter", "History", "LOSSES", "UNLABELLED", "labels_from_scribbles", "normalize_intensity",
    "training_pair_from_session", "split_one_image", "predict", "segment", "load_model", "load_checkpoint", "seed_everything",
    "select_device", "describe_device", "Callback", "CSVLogger", "CurvesFile", "NotebookCurves", "TerminalProgress",
    "LiveCurves", "plan", "Plan", "load_plan", "pretrain", "PRETRAIN_METHODS",
    "Curriculum", "PredefinedCurriculum", "SelfPaced", "SmoothingCurriculum",
]
