"""Readers of instructors' assignment formats, each into :mod:`labtools.grading.model`.

* :mod:`labtools.grading.formats.otter`: otter-grader's ``otter assign`` notebooks;
* :mod:`labtools.grading.formats.nbgrader`: nbgrader source notebooks.
"""
