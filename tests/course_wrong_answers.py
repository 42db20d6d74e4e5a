"""Plausible wrong answers to every exercise of the course, for tests/test_course_exercises.py.

Each wrong answer is the lesson's own solution with one typical mistake made
in it: ``(what the student got wrong, text of the solution, text the student
wrote instead)``. The test puts the mutated solution into the student
notebook in place of the stub, runs the check cell after it, and requires the
check to fail with a message that names what was checked and the student's
value. Exercises are keyed by the first function their cell defines.
"""

WRONG_ANSWERS = {
    "00-tour": {
        "structure_volume_ml": [
            ("mm³, not ml: no division by 1000", "* voxel_mm3 / 1000.0", "* voxel_mm3"),
            ("the spacing ignored", "voxel_mm3 = float(np.prod(spacing))", "voxel_mm3 = 1.0"),
            ("every labelled voxel counted, not those of `label`", "np.asarray(labels) == label",
             "np.asarray(labels) > 0"),
        ],
        "voxel_to_world": [
            ("the translation forgotten", " + np.asarray(affine)[:3, 3]", ""),
            ("the 3×3 block not transposed", "np.asarray(affine)[:3, :3].T", "np.asarray(affine)[:3, :3]"),
        ],
        "to_ras": [
            ("the affine left as it was", "return array, affine @ flip", "return array, affine"),
            ("the origin not moved", "flip[axis, 3] = array.shape[axis] - 1", "pass"),
            ("the array not flipped", "array = np.flip(array, axis=axis)", "pass"),
        ],
    },
    "01-upsampling": {
        "my_bed_of_nails": [
            ("the values in the bottom-right corner of each block", "out[:, :, ::factor, ::factor] = x",
             "out[:, :, factor - 1::factor, factor - 1::factor] = x"),
            ("nearest neighbour instead", "out[:, :, ::factor, ::factor] = x",
             "out = x.repeat(factor, axis=2).repeat(factor, axis=3)"),
            ("the dtype not kept", ", dtype=x.dtype)", ")"),
        ],
        "my_conv_matrix_1d": [
            ("the padding ignored", "column = r * stride + t - padding", "column = r * stride + t"),
            ("the kernel flipped (a true convolution)", "C[r, column] = kernel[t]", "C[r, column] = kernel[k - 1 - t]"),
            ("one row too few", "n_out = (n + 2 * padding - k) // stride + 1", "n_out = (n + 2 * padding - k) // stride"),
        ],
        "transposed_output_size": [
            ("the dilation ignored", "span = dilation * (k - 1) + 1", "span = k"),
            ("n·stride instead of (n - 1)·stride", "(n - 1) * stride", "n * stride"),
            ("the output padding forgotten", "+ span + output_padding", "+ span"),
        ],
        "my_receptive_field": [
            ("the strides ignored", "jump *= step", "pass"),
            ("the jump updated before the layer's taps are added",
             "field += (size - 1) * spread * jump   # this layer's extra taps, in input pixels\n        jump *= step",
             "jump *= step\n        field += (size - 1) * spread * jump"),
            ("the dilation ignored", "(size - 1) * spread * jump", "(size - 1) * jump"),
        ],
    },
    "02-losses": {
        "my_weight_map": [
            ("2σ instead of 2σ² in the exponent", "(2 * sigma**2)", "(2 * sigma)"),
            ("the nearest distance used twice", "(nearest + second)", "(nearest + nearest)"),
            ("the border term added on the objects too", "np.where(labels == 0, border, 0.0)", "border"),
            ("4-connected objects", "ndimage.label(labels > 0, structure=np.ones((3, 3)))",
             "ndimage.label(labels > 0)"),
        ],
        "vnet_dice": [
            ("sums instead of sums of squares (MONAI's default Dice, not V-Net's)",
             "((p * p).sum() + (g * g).sum())", "(p.sum() + g.sum())"),
            ("the gradient without its factor 2", "return 2 * (g * squares", "return (g * squares"),
            ("the gradient with Σpg counted once", "- 2 * p * (p * g).sum()", "- p * (p * g).sum()"),
        ],
        "my_focal_map": [
            ("the softmax over the wrong axis", "torch.log_softmax(logits, dim=1)", "torch.log_softmax(logits, dim=-1)"),
            ("the minus sign forgotten", "return -(1 - torch.exp(log_pt))", "return (1 - torch.exp(log_pt))"),
            ("log of the softmax: overflows at large logits", "log_probs = torch.log_softmax(logits, dim=1)",
             "log_probs = torch.log(torch.softmax(logits, dim=1))"),
            ("γ on p_t instead of 1 - p_t", "(1 - torch.exp(log_pt)) ** gamma", "torch.exp(log_pt) ** gamma"),
        ],
    },
    "03-metrics": {
        "scores_from_counts": [
            ("IoU as TP / (TP + FP)", '"iou": tp / (tp + fp + fn)', '"iou": tp / (tp + fp)'),
            ("precision and recall swapped", '"precision": prec,\n        "recall": rec,',
             '"precision": rec,\n        "recall": prec,'),
            ("specificity from TN and FN", '"specificity": tn / (tn + fp)', '"specificity": tn / (tn + fn)'),
        ],
        "hausdorff_from_maps": [
            ("distances in pixels, not mm", "sampling=spacing)[edge_p]", ")[edge_p]"),
            ("one direction only", "max(np.percentile(to_r, percentile), np.percentile(to_p, percentile))",
             "np.percentile(to_r, percentile)"),
            ("the mean of the two directions", "max(np.percentile(to_r, percentile), np.percentile(to_p, percentile))",
             "(np.percentile(to_r, percentile) + np.percentile(to_p, percentile)) / 2"),
            ("one percentile of both directions pooled",
             "max(np.percentile(to_r, percentile), np.percentile(to_p, percentile))",
             "np.percentile(np.concatenate([to_r, to_p]), percentile)"),
        ],
        "majority_vote": [
            ("half or more, not more than half", "votes * 2 > len(masks)", "votes * 2 >= len(masks)"),
            ("the vote counts returned", "return votes * 2 > len(masks)", "return votes"),
            ("the union of the masks", "return votes * 2 > len(masks)", "return votes > 0"),
        ],
    },
    "04-interactive-labeling": {
        "smoothing_and_gradient": [
            ("scipy's default truncation (4σ)", "ndi.gaussian_filter(data, sigma, truncate=3.5)",
             "ndi.gaussian_filter(data, sigma)"),
            ("the gradient of the unsmoothed slice", "gradient = ndi.gaussian_gradient_magnitude(data, sigma, truncate=3.5)",
             "gradient = np.hypot(*np.gradient(data))"),
            ("float64 returned", "return smoothed.astype(np.float32), gradient.astype(np.float32)",
             "return smoothed.astype(np.float64), gradient.astype(np.float64)"),
        ],
        "margin_and_entropy": [
            ("p1 - p2 instead of 1 - (p1 - p2)", "margin = 1.0 - (ordered[-1] - ordered[-2])",
             "margin = ordered[-1] - ordered[-2]"),
            ("the entropy not normalised", " / np.log(len(proba))", ""),
            ("sorted along the last axis", "np.sort(proba, axis=0)", "np.sort(proba, axis=-1)"),
        ],
        "most_uncertain_slices": [
            ("least uncertain first", "np.argsort(means)[::-1][:n]", "np.argsort(means)[:n]"),
            ("averaged over the wrong axes", ".mean(axis=(0, 1))", ".mean(axis=(1, 2))"),
        ],
    },
    "05-unet-lab": {
        "conv_block_parameters": [
            ("the biases forgotten", "first = kernel * n_in * n_out + n_out\n    second = kernel * n_out * n_out + n_out",
             "first = kernel * n_in * n_out\n    second = kernel * n_out * n_out"),
            ("the normalisation's parameters forgotten", "norms = 2 * (2 * n_out)", "norms = 0"),
            ("3·d instead of 3^d weights per kernel", "kernel = 3 ** spatial_dims", "kernel = 3 * spatial_dims"),
        ],
        "encoder_shapes": [
            ("halved once too often", "s // 2 ** level", "s // 2 ** (level + 1)"),
            ("the first level's features everywhere", "shapes.append((n, *", "shapes.append((features[0], *"),
            ("the channel axis left out", "shapes.append((n, *[s // 2 ** level for s in spatial]))",
             "shapes.append(tuple(s // 2 ** level for s in spatial))"),
        ],
        "dice_per_class": [
            ("0 when both masks are empty", 'float("nan") if total == 0', "0.0 if total == 0"),
            ("1 when both masks are empty", 'float("nan") if total == 0', "1.0 if total == 0"),
            ("IoU instead of Dice", "2.0 * float((p & t).sum()) / total",
             "float((p & t).sum()) / float((p | t).sum())"),
        ],
    },
    "06-evaluation-lab": {
        "tmtv_ml": [
            ("mm³, not ml", " / 1000.0", ""),
            ("the spacing ignored", " * float(np.prod(spacing))", ""),
            ("the label values summed instead of the voxels counted", "np.count_nonzero(mask)", "np.sum(mask)"),
        ],
        "lesion_counts": [
            ("6-connected components", "ndimage.label(ref, np.ones((3, 3, 3)))", "ndimage.label(ref)"),
            ("the counts in the order (tp, fp, fn)", "return found, n_ref - found, invented",
             "return found, invented, n_ref - found"),
            ("found voxels counted instead of lesions", "found = len(np.unique(ref_components[pred & (ref_components > 0)]))",
             "found = int((pred & (ref_components > 0)).sum())"),
        ],
        "better_method": [
            ("the mean instead of the median", 'frame["dice"].median()', 'frame["dice"].mean()'),
            ("the worse method", "max(medians, key=medians.get)", "min(medians, key=medians.get)"),
        ],
    },
    "07-few-labels": {
        "my_info_nce": [
            ("one direction only (view 1 to view 2)",
             "(F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2",
             "F.cross_entropy(logits, targets)"),
            ("dot products, not cosine similarities: rows not normalised",
             "z1, z2 = F.normalize(z1, dim=1), F.normalize(z2, dim=1)", "pass"),
            ("the similarities multiplied by the temperature", "logits = z1 @ z2.T / temperature",
             "logits = z1 @ z2.T * temperature"),
        ],
        "fewest_slices": [
            ("strictly above the target", "if value >= target:", "if value > target:"),
            ("the best setting, not the first that reaches the target", "zip(settings, dice):",
             "sorted(zip(settings, dice), key=lambda pair: -pair[1]):"),
            ("the last setting when none reaches the target", "return None", "return settings[-1]"),
        ],
        "self_paced_weights": [
            ("strictly below the threshold", "(losses <= threshold)", "(losses < threshold)"),
            ("no sample kept when all are above the threshold",
             "if not weights.any():\n        weights[np.argmin(losses)] = 1.0", "pass"),
            ("the hardest sample kept instead of the easiest", "np.argmin(losses)", "np.argmax(losses)"),
        ],
    },
}
