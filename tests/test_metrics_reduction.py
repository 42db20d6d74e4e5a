"""reduce_metric against MONAI 1.6's do_metric_reduction, NaN counting included."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.metrics.utils import do_metric_reduction

from labtools.errors import ParameterError
from labtools.metrics import REDUCTIONS, reduce_metric


def _tables():
    rng = np.random.default_rng(9)
    for shape in [(5, 3), (4, 2, 2), (1, 4)]:
        table = rng.random(shape)
        table[rng.random(shape) < 0.35] = np.nan
        yield table
    whole_case_missing = rng.random((4, 3))
    whole_case_missing[1] = np.nan                       # a case where no class has a value
    whole_case_missing[:, 2] = np.nan                    # and a class absent everywhere
    yield whole_case_missing


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_equals_monai_with_monais_value_for_empty_groups(reduction):
    for table in _tables():
        theirs, their_count = do_metric_reduction(torch.from_numpy(table.copy()), reduction)
        ours = reduce_metric(table, reduction, all_nan_value=0.0)
        np.testing.assert_allclose(ours.value, theirs.numpy(), rtol=1e-6, equal_nan=True)
        np.testing.assert_array_equal(ours.not_nan, their_count.numpy())


def test_an_empty_group_is_nan_by_default_not_a_perfect_zero():
    table = np.array([[0.5, np.nan], [0.7, np.nan]])
    value, count = reduce_metric(table, "mean_batch")
    assert value[0] == pytest.approx(0.6) and np.isnan(value[1]) and count.tolist() == [2, 0]
    with pytest.raises(ParameterError, match="reduction must be one of"):
        reduce_metric(table, "median")
    with pytest.raises(ParameterError, match="table"):
        reduce_metric([0.5, 0.7])
