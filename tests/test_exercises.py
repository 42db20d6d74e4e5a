"""labtools.exercises: the check helper every lesson's exercise uses.

Analytic cases: the student's value and the expected value are known here, so
the test can require the message to show exactly them, and never the whole
expected array.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from labtools import exercises
from labtools.exercises import ExerciseFailed
from labtools.exercises.describe import first_difference, show


def _failure(compare, *args, **kwargs) -> ExerciseFailed:
    with pytest.raises(ExerciseFailed) as caught:
        with exercises.check(7, "the test exercise") as check:
            getattr(check, compare)(*args, **kwargs)
    return caught.value


def test_a_right_answer_is_reported_correct(capsys):
    with exercises.check(1, "sums") as check:
        check.equal("sum([1, 2])", sum([1, 2]), 3)
        check.close("0.1 + 0.2", 0.1 + 0.2, 0.3)
        check.close("an array", np.linspace(0, 1, 5), np.array([0, 0.25, 0.5, 0.75, 1.0]))
    assert capsys.readouterr().out == "Exercise 1 (sums): correct.\n"
    assert exercises.results()[1] == ("sums", "correct")


def test_a_stub_is_not_done_and_lets_the_notebook_go_on(capsys):
    def stub(x):
        raise NotImplementedError("replace this line with your code")

    with exercises.check(2, "a stub") as check:
        check.equal("stub(1)", stub(1), 2)
        raise AssertionError("never reached: the stub stops the block")   # pragma: no cover
    assert "Exercise 2 (a stub) is not done yet" in capsys.readouterr().out
    assert exercises.results()[2] == ("a stub", "not done yet")


def test_an_ellipsis_answer_is_not_done(capsys):
    answer = ...
    with exercises.check(3, "a value") as check:
        check.equal("answer", answer, 42)
    assert "not done yet" in capsys.readouterr().out


def test_a_wrong_number_names_both_values_and_the_hint():
    error = _failure("close", "volume_ml(mask)", 1500.0, 1.5, hint="divide by 1000")
    assert error.yours == "1500" and error.expected == "1.5"
    assert str(error) == ("Exercise 7 (the test exercise) is not right yet.\n"
                          "volume_ml(mask): yours is 1500, expected 1.5.\nHint: divide by 1000")
    assert isinstance(error, AssertionError)


def test_a_wrong_array_shows_the_first_difference_only():
    expected = np.arange(1000.0).reshape(10, 100)
    yours = expected.copy()
    yours[3, 7] = -1.0
    yours[8, 2] = 5.0
    error = _failure("close", "f(x)", yours, expected)
    assert error.quantity == "f(x) at index (3, 7)"
    assert (error.yours, error.expected) == ("-1", "307")
    assert "2 of 1000 values differ, by up to 797" in str(error)   # |5 - 802|
    assert "array(" not in str(error) and "999" not in str(error)


def test_a_wrong_shape_is_named():
    error = _failure("close", "g(x)", np.zeros((3, 4)), np.zeros((4, 3)))
    assert (error.yours, error.expected) == ("an array of shape (3, 4)", "shape (4, 3)")


def test_none_gets_the_missing_return_hint():
    error = _failure("close", "h(x)", None, np.zeros(3), hint="the formula")
    assert error.yours == "None" and "forget the `return`" in error.hint


def test_a_known_mistake_is_named_in_the_hint():
    error = _failure("equal", "better(t)", "b", "a", hint="generic", mistakes={"the mean instead of the median": "b"})
    assert error.hint == "this is what the mean instead of the median gives."


def test_nan_matches_nan_and_not_a_number():
    with exercises.check(4, "nan") as check:
        check.close("dice of two empty masks", float("nan"), np.nan)
    error = _failure("close", "dice of two empty masks", 0.0, float("nan"))
    assert (error.yours, error.expected) == ("0", "nan")


def test_dicts_are_compared_key_by_key():
    error = _failure("close", "scores", {"dice": 0.5, "iou": 0.5}, {"dice": 0.5, "iou": 1 / 3})
    assert error.yours == "0.5 for 'iou'" and error.expected == "0.333333 for 'iou'"
    error = _failure("close", "scores", {"dice": 0.5}, {"dice": 0.5, "iou": 1 / 3})
    assert "without the key 'iou'" in error.yours


def test_torch_tensors_and_short_tuples():
    with exercises.check(5, "tensors") as check:
        check.close("a tensor", torch.tensor([1.0, 2.0]), np.array([1.0, 2.0]))
    error = _failure("equal", "counts", (3, 1, 2), (3, 1, 1))
    assert error.quantity == "counts at index (2,)" and (error.yours, error.expected) == ("2", "1")


def test_a_property_that_fails_says_what_was_expected():
    error = _failure("that", "loss", False, yours=math.inf, expected="a finite number", hint="use log_softmax")
    assert str(error).splitlines()[1] == "loss: yours is inf, expected a finite number."


def test_errors_of_the_students_code_propagate_unchanged():
    with pytest.raises(ZeroDivisionError), exercises.check(6, "division") as check:
        check.equal("1 / 0", 1 / 0, 0)
    assert exercises.results()[6] == ("division", "error")


def test_jupyter_shows_the_message_without_a_traceback():
    error = _failure("equal", "x", 1, 2, hint="two")
    lines = error._render_traceback_()
    assert "is not right yet" in lines[0] and lines[1:] == ["x: yours is 1, expected 2.", "Hint: two"]


def test_report_lists_what_is_done_and_what_is_left(capsys):
    exercises.check(8, "left over").__exit__(NotImplementedError, NotImplementedError(), None)
    capsys.readouterr()
    assert exercises.report() is None
    text = capsys.readouterr().out
    assert "8. left over: not done yet" in text and "1. sums: correct" in text


def test_show_and_first_difference_on_analytic_cases():
    assert show(1 / 3) == "0.333333" and show(np.int64(7)) == "7" and show("x") == "'x'"
    assert show(np.ones((2, 2))) == "an array of shape (2, 2), dtype float64"
    assert first_difference(np.array([1, 2]), np.array([1, 2]), rtol=None) is None
    difference = first_difference(np.array([[0, 1], [1, 0]], bool), np.eye(2, dtype=bool), rtol=None)
    assert difference.index == (0, 0) and difference.count == 4 and difference.largest == 1.0
