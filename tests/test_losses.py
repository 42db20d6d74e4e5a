"""labtools.losses: equal to MONAI on random inputs, differentiable, exact on hand-made cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from monai import losses as monai_losses

from labtools import losses
from labtools.errors import InvalidImageError, ShapeMismatchError

SEEDS = [0, 1, 2]
SPATIAL = {2: (6, 7), 3: (4, 5, 3)}


def random_case(seed: int, ndim: int, n_classes: int, batch: int = 2):
    """float64 logits (B, C, *spatial) and int64 labels (B, *spatial); the last class is absent
    from sample 0, so per-sample code paths for absent classes (GDL weights) are exercised."""
    gen = torch.Generator().manual_seed(seed)
    logits = 2.0 * torch.randn(batch, n_classes, *SPATIAL[ndim], generator=gen, dtype=torch.float64)
    labels = torch.randint(0, n_classes, (batch, *SPATIAL[ndim]), generator=gen)
    labels[0][labels[0] == n_classes - 1] = 0
    return logits, labels


# labtools call (keywords) and its MONAI twin: the defaults named in the docstrings, plus options.
TWINS = {
    "dice": (losses.dice_loss, {}, lambda: monai_losses.DiceLoss(softmax=True, to_onehot_y=True)),
    "dice_squared": (losses.dice_loss, {"squared": True},
                     lambda: monai_losses.DiceLoss(softmax=True, to_onehot_y=True, squared_pred=True)),
    "dice_nobg_batch": (losses.dice_loss, {"include_background": False, "batch": True},
                        lambda: monai_losses.DiceLoss(softmax=True, to_onehot_y=True,
                                                      include_background=False, batch=True)),
    "gdl": (losses.generalized_dice_loss, {},
            lambda: monai_losses.GeneralizedDiceLoss(softmax=True, to_onehot_y=True)),
    "gdl_batch_nobg": (losses.generalized_dice_loss, {"batch": True, "include_background": False},
                       lambda: monai_losses.GeneralizedDiceLoss(softmax=True, to_onehot_y=True,
                                                                batch=True, include_background=False)),
    "tversky": (losses.tversky_loss, {},
                lambda: monai_losses.TverskyLoss(softmax=True, to_onehot_y=True)),
    "tversky_0.3_0.7": (losses.tversky_loss, {"alpha": 0.3, "beta": 0.7},
                        lambda: monai_losses.TverskyLoss(softmax=True, to_onehot_y=True,
                                                         alpha=0.3, beta=0.7)),
    "focal": (losses.focal_loss, {}, lambda: monai_losses.FocalLoss(use_softmax=True, to_onehot_y=True)),
    "dice_ce": (losses.dice_ce_loss, {},
                lambda: monai_losses.DiceCELoss(softmax=True, to_onehot_y=True)),
    "dice_ce_nobg_batch": (losses.dice_ce_loss, {"include_background": False, "batch": True},
                           lambda: monai_losses.DiceCELoss(softmax=True, to_onehot_y=True,
                                                           include_background=False, batch=True)),
}


@pytest.mark.parametrize("n_classes", [2, 3, 5])
@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", sorted(TWINS))
def test_equals_monai_twin(name, seed, ndim, n_classes):
    ours, kwargs, make_twin = TWINS[name]
    logits, labels = random_case(seed, ndim, n_classes)
    expected = float(make_twin()(logits, labels[:, None]))  # MONAI wants (B, 1, *spatial)
    for target in (labels, labels[:, None]):  # both target layouts labtools accepts
        got = ours(logits, target, **kwargs)
        assert got.shape == () and got.dtype == torch.float64
        assert abs(float(got) - expected) < 1e-6, (tuple(target.shape), float(got), expected)


@pytest.mark.parametrize("n_classes", [2, 3, 5])
@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("seed", SEEDS)
def test_focal_gamma_and_alpha_equal_monai(seed, ndim, n_classes):
    logits, labels = random_case(seed, ndim, n_classes)
    alpha = torch.linspace(0.2, 0.8, n_classes).tolist()
    twin = monai_losses.FocalLoss(use_softmax=True, to_onehot_y=True, gamma=0.5, alpha=alpha)
    got = losses.focal_loss(logits, labels, gamma=0.5, alpha=alpha)
    assert abs(float(got) - float(twin(logits, labels[:, None]))) < 1e-6


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("name, ours, twin", [
    ("dice", losses.dice_loss, monai_losses.DiceLoss),
    ("tversky", losses.tversky_loss, monai_losses.TverskyLoss),
    ("gdl", losses.generalized_dice_loss, monai_losses.GeneralizedDiceLoss),
])
def test_unreduced_values_equal_monai(name, ours, twin, ndim):
    logits, labels = random_case(3, ndim, 4)
    expected = twin(softmax=True, to_onehot_y=True, reduction="none")(logits, labels[:, None])
    got = ours(logits, labels, reduction="none")
    assert got.shape == ((2,) if name == "gdl" else (2, 4))
    torch.testing.assert_close(got.flatten(), expected.flatten(), rtol=0, atol=1e-6)
    torch.testing.assert_close(ours(logits, labels, reduction="sum"), got.sum())


@pytest.mark.parametrize("ndim", [2, 3])
def test_cross_entropy_equals_torch(ndim):
    logits, labels = random_case(4, ndim, 3)
    torch.testing.assert_close(losses.cross_entropy(logits, labels), F.cross_entropy(logits, labels))
    torch.testing.assert_close(losses.cross_entropy(logits, labels[:, None], reduction="none"),
                               F.cross_entropy(logits, labels, reduction="none"))


def test_cross_entropy_is_stable_for_huge_logits():
    logits = torch.tensor([1000.0, -1000.0], dtype=torch.float64).view(1, 2, 1, 1).repeat(1, 1, 2, 2)
    labels = torch.ones(1, 2, 2, dtype=torch.long)
    assert float(losses.cross_entropy(logits, labels)) == pytest.approx(2000.0)


@pytest.mark.parametrize("ndim", [2, 3])
def test_weighted_cross_entropy_is_mean_over_voxels_of_w_times_ce(ndim):
    logits, labels = random_case(5, ndim, 3)
    weights = torch.rand(labels.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    per_voxel = F.cross_entropy(logits, labels, reduction="none")
    expected = (weights * per_voxel).sum() / labels.numel()  # documented: divide by voxel count
    torch.testing.assert_close(losses.weighted_cross_entropy(logits, labels, weights), expected)
    torch.testing.assert_close(losses.weighted_cross_entropy(logits, labels[:, None], weights[:, None],
                                                             reduction="none"), weights * per_voxel)
    ones = np.ones(tuple(labels.shape))  # a numpy map works too; all ones gives plain CE
    torch.testing.assert_close(losses.weighted_cross_entropy(logits, labels, ones),
                               F.cross_entropy(logits, labels))


def test_focal_loss_with_gamma_0_is_cross_entropy_over_c_and_sum_is_plain_sum():
    logits, labels = random_case(6, 2, 4)
    torch.testing.assert_close(losses.focal_loss(logits, labels, gamma=0.0),
                               F.cross_entropy(logits, labels) / 4)
    terms = losses.focal_loss(logits, labels, reduction="none")
    assert terms.shape == logits.shape
    torch.testing.assert_close(losses.focal_loss(logits, labels, reduction="sum"), terms.sum())


def test_dice_ce_without_background_batch_dice_is_nnunet_loss_plus_one():
    """nnU-Net v2 DC_and_CE_loss: CE - mean_c (2I + s) / max(sum g + sum p + s, 1e-8) over the
    foreground classes with batch Dice, s = 1e-5 (written out here from its definition)."""
    logits, labels = random_case(7, 3, 3)
    probs = torch.softmax(logits, 1)[:, 1:]
    onehot = F.one_hot(labels, 3).movedim(-1, 1)[:, 1:].to(logits.dtype)
    dims = [0, 2, 3, 4]
    soft_dice = (2 * (probs * onehot).sum(dims) + 1e-5) / torch.clip(
        onehot.sum(dims) + probs.sum(dims) + 1e-5, 1e-8)
    nnunet = F.cross_entropy(logits, labels) - soft_dice.mean()
    got = losses.dice_ce_loss(logits, labels, include_background=False, batch=True)
    assert abs(float(got) - (float(nnunet) + 1.0)) < 1e-12


def test_dice_ce_lambdas_weigh_the_two_terms():
    logits, labels = random_case(8, 2, 3)
    ce, dice = losses.cross_entropy(logits, labels), losses.dice_loss(logits, labels)
    got = losses.dice_ce_loss(logits, labels, lambda_ce=0.25, lambda_dice=2.0)
    torch.testing.assert_close(got, 0.25 * ce + 2.0 * dice)


# --- gradients -----------------------------------------------------------------------------

GRAD_CASES = {
    "cross_entropy": lambda z, t: losses.cross_entropy(z, t),
    "weighted_cross_entropy": lambda z, t: losses.weighted_cross_entropy(
        z, t, torch.linspace(0.5, 3.0, t.numel(), dtype=torch.float64).view(t.shape)),
    "dice": lambda z, t: losses.dice_loss(z, t),
    "dice_squared_nobg": lambda z, t: losses.dice_loss(z, t, squared=True, include_background=False),
    "generalized_dice": lambda z, t: losses.generalized_dice_loss(z, t),
    "focal": lambda z, t: losses.focal_loss(z, t),
    "tversky": lambda z, t: losses.tversky_loss(z, t, alpha=0.3, beta=0.7),
    "dice_ce": lambda z, t: losses.dice_ce_loss(z, t, batch=True),
}


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_gradcheck(name, ndim):
    gen = torch.Generator().manual_seed(9)
    spatial = (3, 4) if ndim == 2 else (2, 3, 2)
    logits = torch.randn(2, 3, *spatial, generator=gen, dtype=torch.float64, requires_grad=True)
    labels = torch.randint(0, 3, (2, *spatial), generator=gen)
    assert torch.autograd.gradcheck(lambda z: GRAD_CASES[name](z, labels), (logits,))


def squared_dice_gradient(p: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """The lecture's closed form for D = 2 sum p g / (sum p^2 + sum g^2):
    dD/dp_j = 2 [g_j (sum p^2 + sum g^2) - 2 p_j (sum p g)] / (sum p^2 + sum g^2)^2."""
    union = (p**2).sum() + (g**2).sum()
    return 2 * (g * union - 2 * p * (p * g).sum()) / union**2


def test_squared_dice_gradient_formula_equals_autograd():
    gen = torch.Generator().manual_seed(10)
    p = torch.rand(5, 6, generator=gen, dtype=torch.float64, requires_grad=True)
    g = (torch.rand(5, 6, generator=gen, dtype=torch.float64) > 0.5).to(torch.float64)
    dice = 2 * (p * g).sum() / ((p**2).sum() + (g**2).sum())
    (autograd,) = torch.autograd.grad(dice, p)
    torch.testing.assert_close(autograd, squared_dice_gradient(p.detach(), g), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("ndim", [2, 3])
def test_squared_dice_loss_gradient_is_the_closed_form_through_softmax(ndim):
    """dice_loss(squared=True, no smoothing) = 1 - mean_{b,c} D_bc(softmax(z)): its autograd
    gradient must be the closed form dD/dp chained through the softmax Jacobian."""
    logits, labels = random_case(11, ndim, 3)
    logits.requires_grad_(True)
    loss = losses.dice_loss(logits, labels, squared=True, smooth_nr=0.0, smooth_dr=0.0)
    (autograd,) = torch.autograd.grad(loss, logits)
    p = torch.softmax(logits.detach(), 1)
    g = F.one_hot(labels, 3).movedim(-1, 1).to(p.dtype)
    batch, n_classes = p.shape[:2]
    dloss_dp = torch.stack([torch.stack([-squared_dice_gradient(p[b, c], g[b, c])
                                         for c in range(n_classes)]) for b in range(batch)])
    dloss_dp = dloss_dp / (batch * n_classes)
    # softmax Jacobian: dp_c/dz_k = p_c (delta_ck - p_k)  =>  dL/dz_k = p_k (G_k - sum_c G_c p_c)
    expected = p * (dloss_dp - (dloss_dp * p).sum(1, keepdim=True))
    torch.testing.assert_close(autograd, expected, rtol=1e-9, atol=1e-12)


# --- bad inputs ----------------------------------------------------------------------------

ALL_LOSSES = {
    "cross_entropy": losses.cross_entropy,
    "weighted_cross_entropy": lambda z, t, **kw: losses.weighted_cross_entropy(
        z, t, torch.ones(2, 4, 4), **kw),
    "dice_loss": losses.dice_loss,
    "generalized_dice_loss": losses.generalized_dice_loss,
    "focal_loss": losses.focal_loss,
    "tversky_loss": losses.tversky_loss,
    "dice_ce_loss": losses.dice_ce_loss,
}


def _good():
    return torch.zeros(2, 3, 4, 4), torch.zeros(2, 4, 4, dtype=torch.long)


BAD_INPUTS = {
    "2 spatial dims missing": (lambda z, t: (z[:, :, 0], t), InvalidImageError, r"\(B, C, H, W\)"),
    "too many dims": (lambda z, t: (z[..., None, None], t), InvalidImageError, r"got \(2, 3, 4, 4, 1, 1\)"),
    "one channel": (lambda z, t: (z[:, :1], t), InvalidImageError, "C >= 2"),
    "target too large": (lambda z, t: (z, t + 3), InvalidImageError, r"\[0, 2\].*from 3 to 3"),
    "target negative": (lambda z, t: (z, t - 1), InvalidImageError, r"from -1 to -1"),
    "float target": (lambda z, t: (z, t.float()), InvalidImageError, "integer class indices"),
    "integer logits": (lambda z, t: (z.long(), t), InvalidImageError, "floating-point"),
    "numpy logits": (lambda z, t: (z.numpy(), t), InvalidImageError, "torch.Tensor"),
    "NaN logits": (lambda z, t: (z.index_put((torch.tensor([0]),), torch.tensor(float("nan"))), t),
                   InvalidImageError, r"48 NaN or infinite"),
    "inf logits": (lambda z, t: (torch.where(z == 0, torch.inf, z), t), InvalidImageError, "infinite"),
    "shape mismatch": (lambda z, t: (z, t[:, :3]), ShapeMismatchError,
                       r"\(2, 3, 4\).*expected \(2, 4, 4\) or \(2, 1, 4, 4\)"),
    "one-hot target": (lambda z, t: (z, F.one_hot(t, 3).movedim(-1, 1)), ShapeMismatchError,
                       r"target.argmax\(1\)"),
}


# The weighted CE wrapper carries a fixed (2, 4, 4) weight map, which cannot follow the
# inputs that change the number of axes; those two pairs are left out, not skipped.
BAD_INPUT_CASES = [
    (name, case) for name in sorted(ALL_LOSSES) for case in sorted(BAD_INPUTS)
    if not (name == "weighted_cross_entropy" and case in ("2 spatial dims missing", "too many dims"))
]


@pytest.mark.parametrize("name, case", BAD_INPUT_CASES)
def test_bad_inputs_raise_clear_errors(name, case):
    make, error, message = BAD_INPUTS[case]
    logits, target = make(*_good())
    with pytest.raises(error, match=message):
        ALL_LOSSES[name](logits, target)


def test_good_inputs_pass_the_checks_that_reject_bad_ones():
    """The inputs the bad cases are derived from are accepted, so each bad case tests one fault."""
    for loss in ALL_LOSSES.values():
        assert torch.isfinite(loss(*_good()))


@pytest.mark.parametrize("loss", [losses.dice_loss, losses.cross_entropy, losses.focal_loss])
def test_unknown_reduction_is_rejected(loss):
    with pytest.raises(InvalidImageError, match="'mean', 'sum' or 'none'"):
        loss(*_good(), reduction="avg")


@pytest.mark.parametrize("weights, message", [
    (torch.ones(2, 4, 5), r"expected \(2, 4, 4\)"),
    (-torch.ones(2, 4, 4), ">= 0"),
    (torch.full((2, 4, 4), float("nan")), "finite"),
])
def test_bad_weight_maps_are_rejected(weights, message):
    with pytest.raises(InvalidImageError, match=message):
        losses.weighted_cross_entropy(*_good(), weights)


def test_focal_alpha_needs_one_weight_per_class():
    with pytest.raises(InvalidImageError, match="one weight per class"):
        losses.focal_loss(*_good(), alpha=[0.5, 0.5])


# --- U-Net weight map ----------------------------------------------------------------------

def two_squares(gap: int, shape=(20, 30)) -> np.ndarray:
    """Squares on rows 5..14: columns 3..9 and 10 + gap..16 + gap; `gap` background columns between."""
    labels = np.zeros(shape, dtype=np.uint8)
    labels[5:15, 3:10] = 1
    labels[5:15, 10 + gap:17 + gap] = 1
    return labels


@pytest.mark.parametrize("gap", [1, 2, 5])
def test_weight_map_between_two_squares_matches_the_geometry(gap):
    w0, sigma = 10.0, 5.0
    w = losses.unet_weight_map(two_squares(gap), w0=w0, sigma=sigma, class_weights=None)
    assert w.dtype == np.float32 and w.shape == (20, 30)
    # A gap pixel in column 9 + j (1 <= j <= gap) is j columns from the left square and
    # gap + 1 - j from the right one: d1 + d2 = gap + 1 everywhere in the gap.
    expected_gap = 1.0 + w0 * math.exp(-((gap + 1) ** 2) / (2 * sigma**2))
    np.testing.assert_allclose(w[5:15, 10:10 + gap], expected_gap, rtol=1e-6)
    # Above the left square's last column (row 2, column 9): 3 pixels to (5, 9) and
    # sqrt(3^2 + (gap + 1)^2) to the right square's corner (5, 10 + gap).
    d1, d2 = 3.0, math.hypot(3.0, gap + 1)
    assert w[2, 9] == pytest.approx(1.0 + w0 * math.exp(-((d1 + d2) ** 2) / (2 * sigma**2)), rel=1e-6)
    np.testing.assert_array_equal(w[two_squares(gap) > 0], 1.0)  # no border term on objects


def test_weight_map_spacing_puts_distances_and_sigma_in_mm():
    spacing, gap, sigma = (2.0, 0.5), 3, 1.5
    w = losses.unet_weight_map(two_squares(gap), sigma=sigma, spacing=spacing, class_weights=None)
    d_sum = (gap + 1) * spacing[1]  # the gap runs along axis 1, 0.5 mm per column
    np.testing.assert_allclose(w[5:15, 10:10 + gap], 1.0 + 10.0 * math.exp(-d_sum**2 / (2 * sigma**2)),
                               rtol=1e-6)


def test_weight_map_3d_cubes_separated_along_the_first_axis():
    labels = np.zeros((12, 6, 6), dtype=np.int32)
    labels[1:4, 1:5, 1:5] = 2
    labels[8:11, 1:5, 1:5] = 2  # slices 4..7 are the gap: d1 + d2 = 5 slices = 12.5 mm
    w = losses.unet_weight_map(labels, w0=4.0, sigma=10.0, spacing=(2.5, 1.0, 1.0), class_weights=None)
    np.testing.assert_allclose(w[4:8, 1:5, 1:5], 1.0 + 4.0 * math.exp(-12.5**2 / 200.0), rtol=1e-6)


@pytest.mark.parametrize("labels", [
    np.pad(np.ones((4, 5), dtype=np.int64), 3),
    np.pad(np.eye(2, dtype=np.int64), 4),  # two squares touching at a corner: one 8-connected object
])
def test_single_object_has_only_balanced_class_weights(labels):
    w = losses.unet_weight_map(labels)
    n, n_fg = labels.size, int((labels > 0).sum())
    np.testing.assert_allclose(w[labels > 0], n / (2 * n_fg), rtol=1e-6)
    np.testing.assert_allclose(w[labels == 0], n / (2 * (n - n_fg)), rtol=1e-6)
    assert float(w.sum(dtype=np.float64)) == pytest.approx(n)  # balanced weights average to 1


def test_balanced_class_weights_sum_to_pixels_per_class_with_border_term_on_background_only():
    labels = two_squares(2)
    labels[0:3, 20:24] = 3
    plain = losses.unet_weight_map(labels, w0=0.0)
    for value in (0, 1, 3):  # each class carries N / K of the total weight
        assert float(plain[labels == value].sum(dtype=np.float64)) == pytest.approx(labels.size / 3)
    border = losses.unet_weight_map(labels) - plain
    assert (border[labels == 0] > 0).all() and (border[labels > 0] == 0).all()


def test_explicit_class_weights():
    labels = two_squares(2)
    w = losses.unet_weight_map(labels, w0=0.0, class_weights={0: 0.5, 1: 3.0})
    np.testing.assert_array_equal(w, np.where(labels > 0, 3.0, 0.5).astype(np.float32))
    with pytest.raises(InvalidImageError, match=r"no weight for labels \[1\]"):
        losses.unet_weight_map(labels, class_weights={0: 1.0})


@pytest.mark.parametrize("labels, kwargs, message", [
    (np.zeros((4, 4), dtype=float), {}, "integer label map"),
    (np.zeros((2, 2, 2, 2), dtype=int), {}, "2D or 3D"),
    (-np.ones((4, 4), dtype=int), {}, ">= 0"),
    (np.zeros((4, 4), dtype=int), {"spacing": (1.0, 1.0, 1.0)}, "2 positive voxel sizes"),
    (np.zeros((4, 4), dtype=int), {"spacing": (1.0, 0.0)}, "positive"),
    (np.zeros((4, 4), dtype=int), {"class_weights": "inverse"}, "'balanced', None or a dict"),
])
def test_weight_map_bad_inputs(labels, kwargs, message):
    with pytest.raises(InvalidImageError, match=message):
        losses.unet_weight_map(labels, **kwargs)


def test_weight_map_feeds_weighted_cross_entropy():
    labels = two_squares(2)
    w = losses.unet_weight_map(labels)
    logits = torch.zeros(1, 2, *labels.shape)
    loss = losses.weighted_cross_entropy(logits, torch.from_numpy(labels)[None], w[None])
    assert float(loss) == pytest.approx(math.log(2) * float(w.mean(dtype=np.float64)), rel=1e-5)


# --- sparse labels: ignore_index -----------------------------------------------------------

def sparse_case(seed: int, ndim: int, n_classes: int = 3):
    """A random case where about half the voxels are unlabelled (-1)."""
    logits, labels = random_case(seed, ndim, n_classes, batch=1)
    gen = torch.Generator().manual_seed(seed + 100)
    labels[torch.rand(labels.shape, generator=gen) < 0.5] = -1
    return logits, labels


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("ndim", [2, 3])
def test_cross_entropy_ignore_index_equals_torch(seed, ndim):
    logits, labels = sparse_case(seed, ndim)
    expected = F.cross_entropy(logits, labels, ignore_index=-1)
    assert torch.allclose(losses.cross_entropy(logits, labels, ignore_index=-1), expected, atol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", ["dice", "dice_ce"])
def test_overlap_losses_with_ignore_index_equal_the_loss_on_labelled_voxels_only(seed, name):
    # Reference: MONAI's loss on the labelled voxels alone, laid out as a (1, C, N, 1) image.
    logits, labels = sparse_case(seed, 3)
    labelled = labels[0] >= 0
    only_logits = logits[0][:, labelled][None, :, :, None]
    only_labels = labels[0][labelled][None, None, :, None]
    if name == "dice":
        ours = losses.dice_loss(logits, labels, ignore_index=-1)
        reference = monai_losses.DiceLoss(softmax=True, to_onehot_y=True)(only_logits, only_labels)
    else:
        ours = losses.dice_ce_loss(logits, labels, ignore_index=-1)
        reference = monai_losses.DiceCELoss(softmax=True, to_onehot_y=True)(only_logits, only_labels)
    assert torch.allclose(ours, reference.double(), atol=1e-6)


@pytest.mark.parametrize("loss", [losses.cross_entropy, losses.dice_loss, losses.dice_ce_loss])
def test_unlabelled_voxels_get_no_gradient(loss):
    logits, labels = sparse_case(0, 2)
    logits.requires_grad_(True)
    loss(logits, labels, ignore_index=-1).backward()
    unlabelled = (labels == -1).unsqueeze(1).expand_as(logits)
    assert torch.all(logits.grad[unlabelled] == 0)
    assert torch.all(logits.grad[~unlabelled].abs().sum() > 0)


def test_check_false_gives_the_same_loss_without_validating():
    logits, labels = sparse_case(1, 2)
    checked = losses.dice_ce_loss(logits, labels, ignore_index=-1)
    assert torch.equal(losses.dice_ce_loss(logits, labels, ignore_index=-1, check=False), checked)
    with pytest.raises(InvalidImageError, match="class indices"):
        losses.dice_ce_loss(logits, labels)  # -1 without ignore_index is an error


def test_every_voxel_ignored_gives_zero_not_nan():
    logits = torch.randn(1, 2, 3, 3, requires_grad=True)
    labels = torch.full((1, 3, 3), -1)
    value = losses.cross_entropy(logits, labels, ignore_index=-1)
    assert value.item() == 0.0
