"""The project's text points only at files that exist.

Checked: every Markdown file in the repository (``git ls-files '*.md'``, plus new files git does
not ignore) and the markdown cells of the course lessons (``course/lessons/NN-*.py``, jupytext
py:percent: a cell starts with ``# %% [markdown]`` and each of its lines with ``# ``; code cells
are not read).  In that text:

1. a relative Markdown link or image, ``[text](target)``, ``![alt](target)`` or a reference
   definition ``[label]: target``, must name an existing file or folder of the repository,
   relative to the folder of the file that holds it.  A ``#anchor`` on a Markdown target, or a
   bare ``#anchor``, must be the GitHub slug of one of the target's headings;
2. a path in backticks that looks like a repository path (it starts with a top-level folder or
   with ``../``, or it has a ``/`` and ends with one of ``PATH_SUFFIXES``) must exist, relative to
   the file's folder or to the repository root.

Text inside fenced code blocks and HTML comments is not read.  "Exists" means on disk *and*
known to git (tracked, or new and not ignored), so a link into ``build/`` or ``.venv/`` that
works only on this machine is reported too.  What is deliberately not checked is listed in
``SKIPPED_MARKERS``, ``METAVARIABLE`` and ``RUNTIME_OUTPUTS`` below, with the reason.
"""

from __future__ import annotations

import os
import re
import subprocess
import unicodedata
from pathlib import Path
from urllib.parse import unquote

import pytest

REPO = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------------------------------------
# What is NOT checked, and why.  Keep this list short: every entry hides possible broken links.
# ---------------------------------------------------------------------------------------------
# A backticked token containing one of these is a pattern or a placeholder, not a path:
SKIPPED_MARKERS = (
    "*",      # glob: `course/lessons/*.py`
    "<", ">", "{", "}",  # placeholder: `runs/<name>/`, `{task}/imagesTr`
    "NN",     # numbering placeholder: `course/lessons/NN-name.py`
    "...",    # elided path: `docs/...`
    "$",      # shell variable: `$OUT/report.json`
    "~",      # home directory: `~/.cache/labtools`, machine-specific
    "://",    # URL in backticks, not a repository path
)
# A path segment in capitals is a command-line metavariable, as in `labtools grade FOLDER SUBS
# --out DIR`: `DIR/grades.csv`, `OUT/results/submission.json`.
METAVARIABLE = re.compile(r"(?:^|/)[A-Z][A-Z0-9_]+(?:/|$)")
# Backticked paths that a lesson, `labtools demo`/`train`/`grade` or the build writes at run
# time; they do not exist in a fresh checkout (`grades/` is the `--out` folder of the grading
# examples in docs/grading.md and docs/cli.md):
RUNTIME_OUTPUTS = ("labtools-output/", "labtools-demo/", "runs/", "build/", "out/", "segs/",
                   "grades/")
# Absolute paths (`/tmp/x`, `/usr/share/...`) are skipped too: they name the machine, not the repo.

# A backticked token is taken for a repository path if it starts with one of these ...
PATH_PREFIXES = ("docs/", "course/", "labtools/", "napari_plugin/", "datasets/", "tests/",
                 "benchmarks/", ".ci/", "../")
# ... or if it contains a "/" and ends with one of these.
PATH_SUFFIXES = (".md", ".py", ".ipynb", ".toml", ".yml", ".yaml", ".txt", ".csv", ".json")

LESSONS_DIR = "course/lessons"

# ---------------------------------------------------------------------------------------------

_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_HTML_ID = re.compile(r"""<a\s[^>]*?\b(?:name|id)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
# A code span: a run of n backticks, content that does not cross a blank line, the same run.
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)((?:[^\n]|\n(?![ \t]*\n))+?)(?<!`)\1(?!`)")
_INLINE_LINK = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]"            # [text] (one level of nested brackets)
    r"\(\s*(<[^>\n]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)"  # (target, balanced parentheses
    r"(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)"         #  "optional title")
)
_REFERENCE_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:[ \t]*(<[^>\n]*>|\S+)", re.MULTILINE)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_LINE_SUFFIX = re.compile(r":\d+(?:-\d+)?(?::\d+)?$")
# Tracked files and new files git does not ignore.
_GIT_LS_FILES = ("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")


# --- reading the text ------------------------------------------------------------------------

def markdown_lines(path: Path) -> list[str]:
    """The Markdown text of ``path``, one entry per line of the file ("" where there is none).

    For a lesson (``.py``) that is the markdown cells with their ``# `` stripped.  Fenced code
    blocks are blanked out, so line ``i`` of the result is line ``i + 1`` of the file.
    """
    raw = path.read_text(encoding="utf-8").splitlines()
    if path.suffix == ".py":
        lines, in_markdown = [], False
        for line in raw:
            if line.startswith("# %%"):
                in_markdown = line.split("%%", 1)[1].strip().startswith("[markdown]")
                lines.append("")
            elif in_markdown and (line == "#" or line.startswith("# ")):
                lines.append(line[2:])
            else:
                lines.append("")
    else:
        lines = list(raw)
    fence = None
    for i, line in enumerate(lines):
        match = _FENCE.match(line)
        if fence is None and match:
            fence = match.group(1)
            lines[i] = ""
        elif fence is not None:
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence) \
                    and not line.strip().lstrip(fence[0]):
                fence = None
            lines[i] = ""
    return lines


def _blank(match: re.Match) -> str:
    """Replace a match by spaces, keeping its newlines (so offsets and line numbers hold)."""
    return re.sub(r"[^\n]", " ", match.group(0))


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading's rendered text (before duplicate suffixes).

    >>> github_slug("`assignment.toml`: random cases, case tables")
    'assignmenttoml-random-cases-case-tables'
    >>> github_slug("Course notebooks (issue 7): each lesson < 3 minutes")
    'course-notebooks-issue-7-each-lesson--3-minutes'
    >>> github_slug("Données d'entraînement")
    'données-dentraînement'
    """
    kept = "".join(ch for ch in heading.strip().lower()
                   if ch in " -" or unicodedata.category(ch)[0] in "LMN"
                   or unicodedata.category(ch) == "Pc")
    return kept.replace(" ", "-")


def _rendered_heading(text: str) -> str:
    """Heading source -> the text GitHub renders (no code ticks, link targets, emphasis, tags)."""
    text = re.sub(r"(`+)(.+?)\1", lambda m: m.group(2).strip(), text)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"(\*+)(\S(?:.*?\S)?)\1", r"\2", text)
    text = re.sub(r"(?<!\w)(_+)(\S(?:.*?\S)?)\1(?!\w)", r"\2", text)
    return text.replace("\\", "")


def anchors(lines: list[str]) -> set[str]:
    """Every anchor of a Markdown text: heading slugs with GitHub's -1, -2 for duplicates,
    and explicit ``<a name=...>`` / ``<a id=...>``."""
    occurrences: dict[str, int] = {}
    found: set[str] = set()
    for i, line in enumerate(lines):
        match = _ATX_HEADING.match(line)
        text = (match.group(2) or "") if match else None
        if text is None and i > 0 and _SETEXT_UNDERLINE.match(line) and lines[i - 1].strip() \
                and not _ATX_HEADING.match(lines[i - 1]) and "|" not in lines[i - 1] \
                and not re.match(r"^\s*([-*+]|\d+[.)])\s", lines[i - 1]):
            text = lines[i - 1]
        if text is None:
            continue
        slug = base = github_slug(_rendered_heading(text))
        while slug in occurrences:               # github-slugger: x, x-1, x-2, ...
            occurrences[base] += 1
            slug = f"{base}-{occurrences[base]}"
        occurrences[slug] = 0
        found.add(slug)
    found.update(_HTML_ID.findall("\n".join(lines)))
    return found


# --- what exists ----------------------------------------------------------------------------

def known_paths(root: Path) -> set[str] | None:
    """Files git tracks or would add (not ignored), that exist, and their folders; ``None``
    outside a git checkout (then only the disk is asked)."""
    try:
        out = subprocess.run([*_GIT_LS_FILES], cwd=root, capture_output=True, check=True,
                             timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    known = {""}
    for name in out.decode("utf-8", "surrogateescape").split("\0"):
        if name and (root / name).exists():
            known.add(name)
            parts = name.split("/")
            known.update("/".join(parts[:n]) for n in range(1, len(parts)))
    return known


def _exists(candidate: Path, root: Path, known: set[str] | None) -> bool:
    try:
        relative = candidate.resolve().relative_to(root.resolve())
    except ValueError:                           # outside the repository
        return False
    if not candidate.exists():
        return False
    name = relative.as_posix()
    return known is None or (name if name != "." else "") in known


def _rel(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return os.path.relpath(path.resolve(), root.resolve()) + " (outside the repository)"


# --- the checks ------------------------------------------------------------------------------

def _check_link(target: str, lineno: int, doc: Path, own_anchors: set[str], root: Path,
                known: set[str] | None, anchor_cache: dict[Path, set[str]]) -> str | None:
    if target.startswith("<") and target.endswith(">"):
        target = target[1:-1]
    if not target or _SCHEME.match(target):      # http:, https:, mailto:, ...
        return None
    path_part, _, anchor = target.partition("#")
    path_part = unquote(path_part.split("?", 1)[0])
    anchor = unquote(anchor)
    if not path_part:
        if anchor and anchor not in own_anchors:
            return (f"line {lineno}: link `{target}`: no heading of this file has the anchor "
                    f"#{anchor}")
        return None
    if path_part.startswith("/"):
        return f"line {lineno}: link `{target}`: absolute path; use a path relative to this file"
    candidate = doc.parent / path_part
    if not _exists(candidate, root, known):
        return (f"line {lineno}: link `{target}`: looked for {_rel(candidate, root)}, "
                "which is not in the repository")
    if anchor and candidate.is_file() and candidate.suffix == ".md":
        resolved = candidate.resolve()
        if resolved not in anchor_cache:
            anchor_cache[resolved] = anchors(markdown_lines(resolved))
        if anchor not in anchor_cache[resolved]:
            return (f"line {lineno}: link `{target}`: {_rel(candidate, root)} has no heading "
                    f"with the anchor #{anchor}")
    return None


def _looks_like_path(token: str) -> bool:
    return token.startswith(PATH_PREFIXES) or ("/" in token and token.endswith(PATH_SUFFIXES))


def _check_token(token: str, lineno: int, doc: Path, root: Path,
                 known: set[str] | None) -> str | None:
    if any(marker in token for marker in SKIPPED_MARKERS) or token.startswith("/"):
        return None
    path = token.split("::", 1)[0].split("#", 1)[0]
    path = _LINE_SUFFIX.sub("", path)
    while path.startswith("./"):
        path = path[2:]
    if not _looks_like_path(path) or path.startswith(RUNTIME_OUTPUTS) or METAVARIABLE.search(path):
        return None
    bases = [doc.parent, root]
    if doc.suffix == ".py":                      # lessons run with their own folder as cwd
        bases.append(root / LESSONS_DIR)
    if any(_exists(base / path, root, known) for base in bases):
        return None
    tried = list(dict.fromkeys(_rel(base / path, root) for base in bases))
    return f"line {lineno}: path `{token}`: looked for {' and '.join(tried)}, none exists"


def find_problems(doc: Path, root: Path = REPO, known: set[str] | None = None,
                  anchor_cache: dict[Path, set[str]] | None = None) -> list[str]:
    """Every broken link and backticked path of ``doc``, one message each."""
    lines = markdown_lines(doc)
    text = _HTML_COMMENT.sub(_blank, "\n".join(lines))
    own_anchors = anchors(text.split("\n"))
    anchor_cache = {} if anchor_cache is None else anchor_cache
    problems: list[tuple[int, str]] = []

    for match in _CODE_SPAN.finditer(text):
        token = match.group(2).strip()
        if token and not re.search(r"\s", token):
            lineno = _line_of(text, match.start(2))
            problem = _check_token(token, lineno, doc, root, known)
            if problem:
                problems.append((lineno, problem))

    prose = _CODE_SPAN.sub(_blank, text)         # a link inside backticks is not a link
    targets = [(m.group(1), m.start(1)) for m in _INLINE_LINK.finditer(prose)]
    targets += [(m.group(1), m.start(1)) for m in _REFERENCE_DEF.finditer(prose)]
    for target, offset in targets:
        lineno = _line_of(prose, offset)
        problem = _check_link(target, lineno, doc, own_anchors, root, known, anchor_cache)
        if problem:
            problems.append((lineno, problem))
    return [message for _, message in sorted(problems)]


def documents(root: Path = REPO) -> list[Path]:
    """The Markdown files and lesson sources to check."""
    try:
        out = subprocess.run([*_GIT_LS_FILES, "*.md"], cwd=root, capture_output=True, check=True,
                             timeout=30).stdout
        names = sorted({n for n in out.decode("utf-8", "surrogateescape").split("\0") if n})
        markdown = [root / n for n in names if (root / n).is_file()]
    except (OSError, subprocess.SubprocessError):   # not a git checkout: the known folders
        markdown = sorted(p for pattern in ("*.md", "*/*.md", "*/*/*.md")
                          for p in root.glob(pattern)
                          if ".venv" not in p.parts and "build" not in p.parts)
    lessons = sorted((root / LESSONS_DIR).glob("[0-9][0-9]-*.py"))
    return markdown + lessons


# --- the tests -------------------------------------------------------------------------------

DOCUMENTS = documents()
_KNOWN = known_paths(REPO)
_ANCHOR_CACHE: dict[Path, set[str]] = {}


def test_documents_are_found():
    names = {_rel(p, REPO) for p in DOCUMENTS}
    assert {"README.md", "docs/index.md", "course/README.md"} <= names
    assert any(name.startswith(LESSONS_DIR + "/") for name in names)


@pytest.mark.parametrize("doc", DOCUMENTS, ids=[_rel(p, REPO) for p in DOCUMENTS])
def test_links_and_paths_exist(doc: Path):
    problems = find_problems(doc, REPO, _KNOWN, _ANCHOR_CACHE)
    assert not problems, (
        f"{_rel(doc, REPO)} points at {len(problems)} thing(s) that do not exist:\n  "
        + "\n  ".join(problems)
        + "\nFix: point each one at an existing file (or heading), or add the file. Patterns, "
          "placeholders and run-time outputs are skipped only as listed at the top of "
          "tests/test_links.py."
    )


def test_checker_reports_broken_links(tmp_path: Path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "real.md").write_text(
        "# Real file\n\n## Setup, step 1\n\n## Setup, step 1\n")
    (tmp_path / "docs" / "guide.md").write_text(
        "# Guide\n"
        "\n"
        "Good: [real](real.md), [anchor](real.md#setup-step-1-1), [self](#guide), `docs/real.md`,\n"
        "[web](https://example.org/x.md), [mail](mailto:a@b.c), `runs/<name>/model.pt`,\n"
        "`labtools-output/plan.json`, `course/lessons/NN-*.py`.\n"
        "\n"
        "Broken: [gone](missing.md) and ![img](pics/none.png)\n"
        "[bad anchor](real.md#setup-step-2) [bad self](#nowhere)\n"
        "`docs/absent.md:12` and `tools/x.py`\n"
        "\n"
        "```\n"
        "[in a fence](not-checked.md) `docs/not-checked.md`\n"
        "```\n"
        "`[in code](not-a-link.md)`\n"
    )
    problems = find_problems(tmp_path / "docs" / "guide.md", tmp_path)
    assert len(problems) == 6, "\n".join(problems)
    joined = "\n".join(problems)
    for expected in ("line 7: link `missing.md`: looked for docs/missing.md",
                     "line 7: link `pics/none.png`",
                     "line 8: link `real.md#setup-step-2`: docs/real.md has no heading",
                     "line 8: link `#nowhere`",
                     ("line 9: path `docs/absent.md:12`: looked for docs/docs/absent.md and "
                      "docs/absent.md,"),
                     "line 9: path `tools/x.py`"):
        assert expected in joined, joined
    assert "not-checked" not in joined and "not-a-link" not in joined


def test_checker_reads_only_markdown_cells_of_lessons(tmp_path: Path):
    lessons = tmp_path / "course" / "lessons"
    lessons.mkdir(parents=True)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "losses.md").write_text("# Losses\n")
    (lessons / "data.csv").write_text("x\n")
    lesson = lessons / "01-demo.py"
    lesson.write_text(
        "# %% [markdown]\n"
        "# # Lesson\n"
        "#\n"
        "# See `docs/losses.md`, [losses](../../docs/losses.md#losses) and `../../docs/nope.md`.\n"
        "\n"
        "# %%\n"
        "path = 'docs/also-missing.md'  # `docs/missing-in-code.md`\n"
        "\n"
        "# %% [markdown]\n"
        "# Data: `course/lessons/data.csv`, [table](data.csv), [broken](#no-such-heading)\n"
    )
    problems = find_problems(lesson, tmp_path)
    assert [p.split(":")[0] for p in problems] == ["line 4", "line 10"], problems
    assert "`../../docs/nope.md`" in problems[0] and "#no-such-heading" in problems[1]
