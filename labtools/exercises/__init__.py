"""Checks for the course's exercises: a failing check says, in words, what is wrong.

Every exercise of the course is followed by a check cell written with
:func:`check`. When the answer is right the check says so; when the
student has not written it yet (the stub raises ``NotImplementedError``)
it says "not done yet" and lets the notebook run on (Run All reaches the
end); when the answer is wrong it raises :class:`ExerciseFailed`, whose
message names the quantity checked, the student's value, the expected
value or property and a hint, never the model answer's whole array.

Examples
--------
>>> from labtools import exercises
>>> def double(x):
...     return 2 * x
>>> with exercises.check(1, "doubling") as check:
...     check.equal("double(3)", double(3), 6)
Exercise 1 (doubling): correct.
>>> def stub(x):
...     raise NotImplementedError("replace this line with your code")
>>> with exercises.check(2, "doubling again") as check:
...     check.equal("stub(3)", stub(3), 6)
Exercise 2 (doubling again) is not done yet: write your code where it says # YOUR CODE HERE, run that cell, then run this one again.
"""

from labtools.exercises.check import Check, ExerciseFailed, check, report, results

__all__ = ["Check", "ExerciseFailed", "check", "report", "results"]
