"""Case tables, Hypothesis property checks, instructor generators, StudentError and
structure checks of labtools.grading."""

from __future__ import annotations

import pickle
import sys
import time

import numpy as np
import pytest
from hypothesis import strategies as st

from labtools.errors import AssignmentError
from labtools.grading.cases import NO_EXPECT, Case
from labtools.grading.properties import (PropertyResult, check_property, generator_cases,
                                         load_instructor_object)
from labtools.grading.structure import check_structure
from labtools.grading.student_error import StudentError, exception_matches
from labtools.grading.compare import compare
from labtools.grading.table import call_text, needs_reference, table_cases

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib


# --- the functions under test ---------------------------------------------------------------

def squares(n, start=1):
    """The reference: the squares of start..n; n < 1 is an error."""
    if n < 1:
        raise ValueError("n must be at least 1")
    return [i * i for i in range(start, n + 1)]


def squares_no_check(n, start=1):
    """Wrong only for n < 1: returns [] instead of raising."""
    return [i * i for i in range(start, n + 1)]


def squares_wrong_error(n, start=1):
    """Raises TypeError where the reference raises ValueError."""
    if n < 1:
        raise TypeError("n must be positive")
    return [i * i for i in range(start, n + 1)]


def squares_off_from_7(n, start=1):
    """Wrong only for n >= 7: the last square is missing."""
    result = [i * i for i in range(start, n + 1)]
    return result[:-1] if n >= 7 else result


def squares_student_error(n, start=1):
    """What the tester's stub raises when the sandboxed code raised ValueError."""
    if n < 1:
        raise StudentError("ValueError", "n must be at least 1", where="cell 3, line 2")
    return [i * i for i in range(start, n + 1)]


SQUARES_ARGS = st.tuples(st.integers(-20, 300))


# --- property checks ------------------------------------------------------------------------

def test_a_correct_implementation_passes_every_example():
    result = check_property(squares, squares, SQUARES_ARGS, examples=100, seed=1)
    assert result.passed and result.failing_call is None and result.message == ""
    assert 50 <= result.examples_run <= 101
    # The stub raises StudentError, not the real exception: matching goes by name.
    assert check_property(squares_student_error, squares, SQUARES_ARGS, seed=1).passed


def test_wrong_only_below_one_shrinks_to_squares_0():
    result = check_property(squares_no_check, squares, SQUARES_ARGS, seed=3, name="squares")
    assert not result.passed
    # 0 is the smallest failing input: the largest n < 1 and the one closest to zero.
    assert result.failing_call == "squares(0)" and result.args == (0,)
    assert result.message == "returned [] but the reference raised ValueError: n must be at least 1"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_large_random_failure_shrinks_to_the_boundary(seed):
    # Random inputs fail at n = 100 or so; only shrinking finds the first failing n.
    seen = []

    def student(n, start=1):
        seen.append(n)
        return squares_off_from_7(n, start)

    args = st.tuples(st.integers(1, 10_000))
    result = check_property(student, squares, args, seed=seed, name="squares")
    assert not result.passed
    assert max(seen) > 7  # the failure found first was a larger n...
    assert result.failing_call == "squares(7)" and result.args == (7,)  # ...shrunk to 7
    assert squares_off_from_7(6) == squares(6)  # the input below it passes: 7 is minimal
    assert result.message == "expected 7 values ([1, 4, 9, 16, 25, 36, 49]), got [1, 4, 9, 16, 25, 36]"


def test_a_list_argument_shrinks_to_the_smallest_failing_list():
    def total(xs):
        return sum(xs)

    def total_ignores_negatives(xs):
        return sum(x for x in xs if x >= 0)

    result = check_property(total_ignores_negatives, total, st.tuples(st.lists(st.integers())),
                            seed=0)
    assert not result.passed
    assert result.failing_call == "total_ignores_negatives([-1])"
    assert result.message == "expected -1, got 0"


def test_a_different_exception_type_fails_naming_both():
    result = check_property(squares_wrong_error, squares, SQUARES_ARGS, name="squares")
    assert not result.passed and result.failing_call == "squares(0)"
    assert result.message == ("raised TypeError: n must be positive but the reference raised "
                              "ValueError: n must be at least 1")


def test_raising_where_the_reference_returns_fails():
    def fragile(n, start=1):
        if n > 50:
            raise StudentError("IndexError", "list index out of range", where="cell 2, line 4")
        return squares(n, start)

    result = check_property(fragile, squares, st.tuples(st.integers(1, 1000)), name="squares")
    assert result.failing_call == "squares(51)"
    assert result.message.startswith("raised IndexError: list index out of range (cell 2, line 4)"
                                     " but the reference returned [1, 4, 9")


def test_the_same_seed_gives_the_same_result():
    def flaky_free_but_wrong(n, start=1):
        return squares(n, start)[:5] if n >= 1 else []

    runs = [check_property(flaky_free_but_wrong, squares, SQUARES_ARGS, seed=7, examples=60)
            for _ in range(2)]
    assert runs[0] == runs[1]
    assert isinstance(runs[0], PropertyResult) and not runs[0].passed
    passing = [check_property(squares, squares, SQUARES_ARGS, seed=7, examples=60)
               for _ in range(2)]
    assert passing[0] == passing[1]


def test_raises_lists_the_exceptions_the_reference_may_raise():
    def reciprocal(x):
        return 1 / x

    def student(x):
        if x == 0:
            raise StudentError("ZeroDivisionError", "division by zero")
        return 1 / x

    ints = st.tuples(st.integers(-5, 5))
    assert check_property(student, reciprocal, ints, raises=["ArithmeticError"]).passed
    assert check_property(student, reciprocal, ints).passed  # same type by default

    def lookup(key):
        return {"a": 1}[key]

    with pytest.raises(AssignmentError, match=r"raised KeyError.*raises = \['ValueError'\].*"
                                              r"add 'KeyError' to raises"):
        check_property(lookup, lookup, st.tuples(st.sampled_from("ab")), raises=["ValueError"])
    with pytest.raises(AssignmentError, match="list of exception names"):
        check_property(lookup, lookup, st.tuples(st.just("a")), raises="KeyError")


def test_keyword_arguments_and_any_kind_of_value():
    def describe(word, *, loud=False):
        return {"word": word.upper() if loud else word, "length": len(word)}

    def student(word, *, loud=False):
        return {"word": word.upper() if loud and word else word, "length": len(word) or None}

    args = st.fixed_dictionaries({"args": st.tuples(st.text(max_size=5)),
                                  "kwargs": st.fixed_dictionaries({"loud": st.booleans()})})
    assert check_property(describe, describe, args).passed
    result = check_property(student, describe, args, name="describe")
    assert result.failing_call == "describe('', loud=False)"
    assert result.message == "key 'length': expected the number 0, got None"


def test_the_time_budget_stops_a_slow_check():
    def slow(n, start=1):
        time.sleep(0.01)
        return squares(n, start)

    result = check_property(slow, squares, st.tuples(st.integers(1, 100)), seconds=0.1)
    assert result.passed and result.out_of_time
    assert 1 <= result.examples_run < 50
    assert "time budget" in result.message


def test_a_deadline_finds_the_smallest_slow_input():
    def slow(n, start=1):
        if n > 50:
            time.sleep(0.1)
        return squares(n, start)

    result = check_property(slow, squares, st.tuples(st.integers(1, 200)), deadline=50,
                            name="squares")
    assert not result.passed and result.failing_call == "squares(51)"
    assert result.message.endswith("more than the 50 ms allowed per call")


def test_a_function_that_keeps_state_is_reported():
    seen = set()

    def wrong_the_first_time(n, start=1):  # a cache filled after the first call, say
        first = n not in seen
        seen.add(n)
        return squares(n, start)[:-1] if first and n > 10 else squares(n, start)

    result = check_property(wrong_the_first_time, squares, st.tuples(st.integers(1, 50)))
    assert not result.passed
    assert "does it use randomness or keep state?" in result.message


def test_strategy_mistakes_are_assignment_errors():
    with pytest.raises(AssignmentError, match=r"st.tuples\(st.integers\(\)\)"):
        check_property(squares, squares, st.integers(1, 5))
    with pytest.raises(AssignmentError, match="not a Hypothesis strategy"):
        check_property(squares, squares, [(1,), (2,)])
    with pytest.raises(AssignmentError, match="examples must be"):
        check_property(squares, squares, SQUARES_ARGS, examples=0)

    @st.composite
    def composite_args(draw):
        return (draw(st.integers(1, 9)),)

    assert check_property(squares, squares, composite_args).passed


# --- instructor files -----------------------------------------------------------------------

def test_load_instructor_object_reads_only_the_assignment_folder(tmp_path):
    folder = tmp_path / "a"
    folder.mkdir()
    (folder / "strategies.py").write_text("from hypothesis import strategies as st\n"
                                          "squares_args = st.tuples(st.integers(1, 9))\n")
    (folder / "broken.py").write_text("import not_a_module_anywhere\n")
    (tmp_path / "outside.py").write_text("secret = 1\n")
    strategy = load_instructor_object(folder, "strategies.py:squares_args", what="strategy")
    assert check_property(squares, squares, strategy, examples=10).passed
    for text, words in [("../outside.py:secret", "not a .py file in the assignment folder"),
                        ("strategies.py", 'write "file.py:name"'),
                        ("strategies.py:nothing", "has no 'nothing'"),
                        ("broken.py:x", "broken.py failed to import: ModuleNotFoundError")]:
        with pytest.raises(AssignmentError, match="strategy of squares") as info:
            load_instructor_object(folder, text, what="strategy of squares")
        assert words in str(info.value)


def test_generator_cases_are_seeded_and_checked(tmp_path):
    (tmp_path / "cases.py").write_text(
        "def make_cases(rng):\n"
        "    yield {'args': [0], 'raises': 'ValueError', 'hint': 'n < 1 must raise'}\n"
        "    yield {'args': (3,), 'kwargs': {'start': 2}, 'label': 'start at 2'}\n"
        "    for _ in range(10):\n"
        "        yield (int(rng.integers(1, 1000)),)\n"
        "def bad(rng):\n"
        "    return [5]\n"
        "def forgets_return(rng):\n"
        "    [(1,), (2,)]\n")
    first = generator_cases(tmp_path, "cases.py:make_cases", seed=4, count=6, name="squares")
    again = generator_cases(tmp_path, "cases.py:make_cases", seed=4, count=6, name="squares")
    other = generator_cases(tmp_path, "cases.py:make_cases", seed=5, count=6, name="squares")
    assert first == again and first != other and len(first) == 6
    assert first[0] == Case((0,), "squares(0)", None, {}, NO_EXPECT, "ValueError",
                            "n < 1 must raise")
    assert first[1].label == "start at 2" and first[1].kwargs == {"start": 2}
    assert all(c.label == f"squares({c.args[0]})" for c in first[2:])
    with pytest.raises(AssignmentError, match=r"case 1 is 5; give a tuple"):
        generator_cases(tmp_path, "cases.py:bad", seed=0, count=3)
    with pytest.raises(AssignmentError, match=r"returned None; return a list of cases"):
        generator_cases(tmp_path, "cases.py:forgets_return", seed=0, count=3)


# --- case tables ----------------------------------------------------------------------------

TABLE = '''
[[functions]]
name = "squares"
points = 2
reference = "reference.py:squares"
cases = [
  { args = [3], expect = [1, 4, 9] },
  { args = [0], raises = "ValueError", hint = "n < 1 must raise ValueError" },
  { args = [2], kwargs = { start = 0 } },
  { args = [[1, 2], { a = "x" }], expect = { total = 3.0, tags = ["x"] }, label = "nested" },
]
'''


def test_a_case_table_from_toml():
    entry = tomllib.loads(TABLE)["functions"][0]
    cases = table_cases(entry["cases"], where="assignment.toml [[functions]] squares")
    assert [c.label for c in cases] == ["squares(3)", "squares(0)", "squares(2, start=0)", "nested"]
    assert cases[0].expect == [1, 4, 9] and cases[0].raises is None
    assert cases[1].expect is NO_EXPECT and cases[1].raises == "ValueError"
    assert cases[1].hint == "n < 1 must raise ValueError"
    assert cases[2].expect is NO_EXPECT and cases[2].kwargs == {"start": 0}
    assert cases[3].args == ([1, 2], {"a": "x"})
    assert needs_reference(cases) and not needs_reference([cases[0], cases[1]])
    # The grader's view: run each row and compare.
    for case in (cases[0], cases[2]):
        expected = squares(*case.args, **case.kwargs) if case.expect is NO_EXPECT else case.expect
        assert compare(expected, squares(*case.args, **case.kwargs)) == (True, "")
    with pytest.raises(ValueError) as info:
        squares(*cases[1].args)
    assert exception_matches(info.value, cases[1].raises)


@pytest.mark.parametrize("row, words", [
    ({"args": [1], "expect": 1, "raises": "ValueError"}, "gives both expect and raises"),
    ({"arg": [1]}, "unknown key(s) ['arg']"),
    ({"args": 3}, "args must be a list of positional arguments, e.g. args = [3]"),
    ({"args": [1], "kwargs": {"not a name": 1}}, "kwargs must be a table of keyword arguments"),
    ({"args": [1], "raises": "print"}, "is not an exception type"),
    ({"args": [1], "raises": 3}, 'raises must name an exception type, e.g. raises = "ValueError"'),
    ({"args": [1], "hint": ["x"]}, "hint must be a string"),
    ("squares(1)", "must be a table such as"),
])
def test_case_table_mistakes_name_the_row(row, words):
    good = {"args": [1], "expect": [1]}
    with pytest.raises(AssignmentError) as info:
        table_cases([good, row], where="assignment.toml [[functions]] squares")
    assert "assignment.toml [[functions]] squares cases row 2" in str(info.value)
    assert words in str(info.value)


def test_rows_need_expect_when_there_is_no_reference():
    with pytest.raises(AssignmentError, match="row 1 gives neither expect nor raises, and "
                                              "squares has no reference"):
        table_cases([{"args": [2]}], where="[[functions]] squares", has_reference=False)
    assert table_cases([{"args": [2], "expect": [1, 4]}], where="[[functions]] squares",
                       has_reference=False)[0].expect == [1, 4]
    with pytest.raises(AssignmentError, match="cases must be a non-empty list"):
        table_cases([], where="[[functions]] squares")


def test_call_text_is_short_and_readable():
    mask = np.zeros((16, 16), bool)
    assert call_text("dice", (mask, mask)) == ("dice(array of shape (16, 16), bool, "
                                               "array of shape (16, 16), bool)")
    long = call_text("f", ("x" * 100,))
    assert long.startswith("f('xxxx") and long.endswith("...')") and len(long) < 60
    assert call_text("f", ((1,), {"k": None}, float("nan"))) == "f((1,), {'k': None}, nan)"
    assert call_text("f", (list(range(1000)),)).endswith("...] (1000 items))")
    assert call_text("g", (), {"start": 0}) == "g(start=0)"


def test_compare_handles_every_kind_of_value():
    assert compare("abc", "abc") == (True, "")
    assert compare(None, None) == (True, "")
    assert compare([1, "a", None], (1.0, "a", None)) == (True, "")
    assert compare({"a": [1.0, float("nan")]}, {"a": [1.0 + 1e-12, float("nan")]}) == (True, "")
    assert compare("1", 1) == (False, "expected '1', got 1")
    assert compare({"a": 1}, {"a": 1, "b": 2}) == (False, "unexpected key 'b'")
    assert compare([[1, 2], [3]], [[1, 2], [4]]) == (
        False, "item 1: item 0: expected 3, got 4")
    assert compare(np.eye(2), np.eye(2)) == (True, "")


# --- StudentError ---------------------------------------------------------------------------

@pytest.mark.parametrize("raised, expected, matches", [
    ("ZeroDivisionError", "ArithmeticError", True),
    ("ZeroDivisionError", "ZeroDivisionError", True),
    ("ZeroDivisionError", "Exception", True),
    ("ArithmeticError", "ZeroDivisionError", False),
    ("KeyError", "LookupError", True),
    ("TypeError", "ValueError", False),
    ("LinAlgError", "LinAlgError", True),
    ("LinAlgError", "ValueError", False),       # unknown name: only itself
    ("numpy.linalg.LinAlgError", "LinAlgError", True),
    ("a.Error", "b.Error", False),
    ("ValueError", "LinAlgError", False),
])
def test_student_error_matches_by_name_with_the_builtin_hierarchy(raised, expected, matches):
    assert StudentError(raised, "m").matches(expected) is matches


def test_student_error_keeps_its_fields_and_pickles():
    err = StudentError("LinAlgError", "Singular matrix", where="cell 5, line 3",
                       bases=("ValueError", "Exception"))
    assert err.matches("ValueError") and not err.matches("TypeError")
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.type_name, copy.message, copy.where, copy.bases) == (
        "LinAlgError", "Singular matrix", "cell 5, line 3", ("ValueError", "Exception"))
    assert str(copy) == "LinAlgError: Singular matrix (cell 5, line 3)"
    assert exception_matches(np.linalg.LinAlgError("x"), "ValueError")
    assert exception_matches(err, ValueError) and not exception_matches(ValueError(), TypeError)


def test_exceptions_as_the_tester_raises_them():
    # A student's `class Oops(ValueError)` arrives as a StudentError subclass with the
    # built-in base; a built-in type arrives as itself, with the details attached.
    oops_type = type("Oops", (StudentError, ValueError), {})
    oops = oops_type.__new__(oops_type)
    StudentError.__init__(oops, "Oops", "bad n", "cell 4, line 2")
    assert oops.matches("ValueError") and oops.matches("Oops") and not oops.matches("TypeError")
    assert exception_matches(oops, ValueError)

    def student(n, start=1):
        if n < 1:
            error = TypeError("n must be positive")
            error.student_error = StudentError("TypeError", str(error), where="cell 3, line 2")
            raise error
        return squares(n, start)

    result = check_property(student, squares, SQUARES_ARGS, name="squares")
    assert result.message == ("raised TypeError: n must be positive (cell 3, line 2) but the "
                              "reference raised ValueError: n must be at least 1")

    def raises_oops(n, start=1):
        if n < 1:
            raise oops
        return squares(n, start)

    assert check_property(raises_oops, squares, SQUARES_ARGS).passed  # an Oops is a ValueError


# --- structure checks -----------------------------------------------------------------------

def test_aliases_and_from_imports_are_followed():
    for setup in ["import numpy as n", "import numpy", "from numpy import sum as add_up",
                  "import numpy as np\nadd_up = np.sum"]:
        use = {"import numpy as n": "n.sum(x)", "import numpy": "numpy.sum(x)"}.get(setup,
                                                                                   "add_up(x)")
        cells = [setup, f"def total(x):\n    return {use}"]
        assert check_structure(cells, "total", must_not_call=["np.sum"]) == [
            "total must not call np.sum, but it does (code cell 2, line 2)"], setup
        assert check_structure(cells, "total", must_call=["numpy.sum"]) == []


def test_helpers_are_followed_transitively():
    cells = ["def squares(n):\n    return [i * i for i in range(1, n + 1)]",
             "def helper(n):\n    return squares(n)",
             "def middle(n):\n    return helper(n)",
             "def sum_of_squares(n):\n    return sum(middle(n))",
             "def lazy(n):\n    return sum(i * i for i in range(n + 1))"]
    assert check_structure(cells, "sum_of_squares", must_call=["squares", "sum"]) == []
    assert check_structure(cells, "lazy", must_call=["squares"]) == ["lazy must call squares"]
    # Passing the function along counts as calling it.
    assert check_structure(cells + ["def by_map(n):\n    return sum(map(squares, [n]))"],
                           "by_map", must_call=["squares"]) == []
    problems = check_structure(cells, "sum_of_squares", no_loops=True, must_not_call=["sum"])
    assert problems == [
        "sum_of_squares must not call sum, but it does (code cell 4, line 2)",
        "sum_of_squares must not use loops, but its helper squares has a list comprehension "
        "(code cell 1, line 2)"]


def test_local_names_shadow_globals_and_builtins():
    cells = ["import numpy as np",
             "def total(x):\n    sum = 0\n    for v in x:\n        sum += v\n    return sum",
             "def uses_param(squares):\n    return list(squares)",
             "def sum(xs):\n    return 0",
             "def own_sum(x):\n    return sum(x)",
             "def sneaky(x, s=np.sum):\n    return s(x)"]
    assert check_structure(cells, "total", must_not_call=["sum"]) == []
    assert check_structure(cells, "uses_param", must_call=["squares"]) == [
        "uses_param must call squares"]
    # The student's own `sum` is not the builtin; its body is what is checked.
    assert check_structure(cells, "own_sum", must_not_call=["sum"]) == []
    assert check_structure(cells, "sneaky", must_not_call=["np.sum"]) == [
        "sneaky must not call np.sum, but it does (code cell 6, line 2)"]


def test_loops_include_comprehensions_and_map():
    for body, words in [("for v in x:\n        pass\n    return 0", "has a for loop"),
                        ("while x:\n        x = x[1:]\n    return 0", "has a while loop"),
                        ("return [v for v in x]", "has a list comprehension"),
                        ("return {v: 1 for v in x}", "has a dict comprehension"),
                        ("return sum(v for v in x)", "has a generator expression"),
                        ("return list(map(abs, x))", "calls map(), a loop over the items"),
                        ("import numpy as np\n    return np.vectorize(abs)(x)",
                         "calls np.vectorize, a loop over the items")]:
        problems = check_structure([f"def f(x):\n    {body}"], "f", no_loops=True)
        assert len(problems) == 1 and words in problems[0], body
    assert check_structure(["import numpy as np\ndef f(x):\n    return np.sum(np.abs(x))"],
                           "f", no_loops=True) == []


def test_recursion_direct_mutual_and_shadowed():
    direct = ["def fact(n):\n    return 1 if n < 2 else n * fact(n - 1)"]
    assert check_structure(direct, "fact", no_recursion=True) == [
        "fact must not be recursive, but it calls itself (code cell 1, line 2)"]
    mutual = ["def even(n):\n    return n == 0 or odd(n - 1)",
              "def odd(n):\n    return n != 0 and even(n - 1)"]
    assert check_structure(mutual, "even", no_recursion=True) == [
        "even must not be recursive, but it calls itself through even → odd → even "
        "(code cell 2, line 2)"]
    shadowed = ["def fact(n):\n    fact = 1\n    for i in range(2, n + 1):\n        fact *= i\n"
                "    return fact"]
    assert check_structure(shadowed, "fact", no_recursion=True) == []
    helper = ["def walk(n):\n    return 0 if n == 0 else walk(n - 1)",
              "def f(n):\n    return walk(n)"]
    assert check_structure(helper, "f", no_recursion=True) == [
        "f must not be recursive, but its helper walk calls itself (code cell 1, line 2)"]


def test_the_last_definition_wins():
    cells = ["def squares(n):\n    return [i * i for i in range(1, n + 1)]",
             "import numpy as np",
             "def squares(n):\n    return np.arange(1, n + 1) ** 2",
             "def helper(n):\n    return squares(n)",
             "def helper(n):\n    return list(range(n))"]
    assert check_structure(cells, "squares", no_loops=True) == []
    assert check_structure(cells[:1], "squares", no_loops=True) != []
    # The helper the function sees is the last one: it no longer calls squares.
    cells.append("def sum_of_squares(n):\n    return sum(helper(n))")
    assert check_structure(cells, "sum_of_squares", must_call=["squares"]) == [
        "sum_of_squares must call squares"]
    assert check_structure(cells + ["sum_of_squares = 3"], "sum_of_squares") == [
        "sum_of_squares is last defined by an assignment, not a def, so how it is written "
        "could not be checked"]


def test_forbidden_imports_follow_what_the_function_uses():
    cells = ["import numpy as np\nimport math", "def plain(x):\n    return math.sqrt(x)",
             "def vectorized(x):\n    return np.sqrt(x)",
             "def inside(x):\n    from numpy.linalg import norm\n    return 1",
             "def dynamic(x):\n    import importlib\n    return importlib.import_module('numpy')"]
    assert check_structure(cells, "plain", must_not_import=["numpy"]) == []
    assert check_structure(cells, "vectorized", must_not_import=["numpy"]) == [
        "vectorized must not use numpy, but it does (code cell 3, line 2; `import numpy as np` "
        "is in code cell 1, line 1)"]
    assert check_structure(cells, "inside", must_not_import=["numpy"]) == [
        "inside must not use numpy, but it imports it (code cell 4, line 2)"]
    assert check_structure(cells, "dynamic", must_not_import=["numpy"]) == [
        "dynamic must not use numpy, but it imports it (code cell 5, line 3)"]


def test_magics_are_blanked_and_syntax_errors_reported_per_cell():
    cells = ["%matplotlib inline\n!pip install numpy\nfiles = !ls\nimport numpy as np",
             "%%bash\necho not python",
             "def broken(:\n    pass",
             "%%time\ndef f(x):\n    return np.sum(x)"]
    labels = ["c1", "c2", "c3", "c4"]
    assert check_structure(cells, "f", must_not_call=["np.sum"], labels=labels) == [
        "c3 has a syntax error at line 1 (invalid syntax), so it was not checked: fix it and run "
        "it again",
        "f must not call np.sum, but it does (c4, line 3)"]
    assert check_structure(["x = 1"], "f") == [
        "no function named f was found, so how it is written could not be checked"]


def test_methods_only_by_name():
    cells = ["def f(x):\n    return x.sum()"]
    assert check_structure(cells, "f", must_not_call=["np.sum"]) == []
    assert check_structure(cells, "f", must_not_call=[".sum"]) == [
        "f must not call .sum, but it does (code cell 1, line 2)"]


@pytest.mark.parametrize("keywords, words", [
    ({"must_call": "squares"}, 'must_call must be a list of names, e.g. must_call = ["np.sum"]'),
    ({"must_not_call": ["np sum"]}, "must_not_call entry 'np sum' is not a function name"),
    ({"must_not_import": ["np"]}, "is an alias; write the module's name, 'numpy'"),
])
def test_structure_settings_mistakes_are_assignment_errors(keywords, words):
    with pytest.raises(AssignmentError) as info:
        check_structure(["def f():\n    pass"], "f", **keywords)
    assert words in str(info.value)
