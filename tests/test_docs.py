"""The user docs stay true: the site builds without a warning, and every code block runs.

- ``test_docs_build`` runs ``sphinx-build -W`` on ``docs/`` (a broken cross-reference, a page
  missing from every toctree, a docstring that does not render: the build fails). External
  links are not fetched (there is no network in CI); relative links are checked by Sphinx
  inside the site and by ``test_readme_links`` for the README, which Sphinx does not read.
- ``test_code_blocks_run`` runs every ```` ```python ```` block of ``README.md`` and
  ``docs/**/*.md``, page by page, top to bottom in one namespace per page (a later block may
  use what an earlier one defined, as a reader would), against the session's local Ray, in a
  temporary home directory (experiments land in ``<tmp>/raysweep_results``).
- ``test_cli_page_commands_run`` runs every ``raysweep ...`` line of ``docs/cli.md``.

A block that cannot run here (it needs a cluster, or it is deliberately partial) is preceded
by the line ``<!-- no-run -->``. Use it sparingly: ``test_no_run_markers_are_few`` keeps
count.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
NO_RUN = "<!-- no-run -->"
MAX_NO_RUN = 20  # a guard against skipping our way to a green test

# A fenced block: the opening fence (```python, ```{code-block} python is not used), its body
# and the closing fence of the same length.
_FENCE = re.compile(r"^(?P<fence>`{3,})(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=fence)[ \t]*$",
                    re.MULTILINE | re.DOTALL)


def _pages() -> list[Path]:
    pages = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
    return [p for p in pages if "_build" not in p.parts]


def python_blocks(text: str) -> list[tuple[int, str, bool]]:
    """``(line number, code, runs)`` for every ```python block of a Markdown text."""
    blocks = []
    for match in _FENCE.finditer(text):
        if match.group("info").strip().split(" ")[0] not in ("python", "py"):
            continue
        before = text[:match.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        line = text.count("\n", 0, match.start()) + 2  # the first line of code
        blocks.append((line, match.group("body"), before != NO_RUN))
    return blocks


def _pages_with_code() -> list[Path]:
    return [p for p in _pages() if python_blocks(p.read_text(encoding="utf-8"))]


def test_block_parser_finds_blocks_and_markers():
    text = ("# T\n\n```python\nx = 1\n```\n\n<!-- no-run -->\n```python\nrs.run(address='x')\n"
            "```\n\n```bash\nls\n```\n\n````md\n```python\nnot a block\n```\n````\n")
    assert python_blocks(text) == [(4, "x = 1\n", True), (9, "rs.run(address='x')\n", False)]


def test_no_run_markers_are_few():
    skipped = [(p.relative_to(ROOT), line) for p in _pages()
               for line, _, runs in python_blocks(p.read_text(encoding="utf-8")) if not runs]
    assert len(skipped) <= MAX_NO_RUN, f"too many blocks marked {NO_RUN}: {skipped}"
    # and a marker always sits right before a python block (a stray one hides nothing)
    for page in _pages():
        text = page.read_text(encoding="utf-8")
        markers = text.count(NO_RUN)
        marked = sum(not runs for _, _, runs in python_blocks(text))
        assert markers == marked, f"{page}: a {NO_RUN} marker not followed by a python block"


def test_docs_build(tmp_path):
    """``sphinx-build -W``: any warning fails (broken references, orphan pages, bad
    docstrings). Sphinx is in the ``dev`` extra, so CI never skips this."""
    if not os.environ.get("CI"):
        pytest.importorskip("sphinx", reason="pip install -e '.[docs]' to build the docs")
        pytest.importorskip("myst_parser")
        pytest.importorskip("furo")
    out = tmp_path / "html"
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(tmp_path / "doctrees"), str(DOCS), str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, f"sphinx-build -W failed:\n{proc.stdout[-3000:]}\n" \
                                 f"{proc.stderr[-6000:]}"
    assert (out / "index.html").is_file()
    # the reference really holds the docstrings (autodoc output, not raw directives)
    api = (out / "reference" / "api.html").read_text(encoding="utf-8")
    assert "num_samples" in api and ".. auto" not in api


def test_readme_links():
    """Relative links in the README (which Sphinx does not build) point at files that exist."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    local = [t.split("#", 1)[0] for t in targets if not re.match(r"[a-z]+:", t)]
    assert local, "the README links into docs/"
    missing = [t for t in local if t and not (ROOT / t).exists()]
    assert not missing, f"README links to missing files: {missing}"


def test_readme_size():
    """The README stays a front page (issue 17: at most ~12 KB); the rest lives in docs/."""
    assert len((ROOT / "README.md").read_bytes()) <= 12_500


@pytest.mark.ray
@pytest.mark.parametrize("page", _pages_with_code(),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_code_blocks_run(page, ray_session, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # default storage_path: <tmp>/raysweep_results
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"docs_{page.stem}"}  # not importable: pickled by value
    for line, code, runs in python_blocks(page.read_text(encoding="utf-8")):
        if not runs:
            continue
        try:
            exec(compile(code, f"{page.relative_to(ROOT)}:{line}", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"{page.relative_to(ROOT)}, the python block at line {line} "
                                 f"failed: {type(exc).__name__}: {exc}") from exc


def _bash_blocks(text: str) -> list[str]:
    return [m.group("body") for m in _FENCE.finditer(text)
            if m.group("info").strip() in ("bash", "sh", "console")]


def test_cli_page_commands_run(tmp_path, monkeypatch, capsys):
    """Every ``raysweep ...`` line of docs/cli.md succeeds (exit status 0) on a real experiment
    named as the page names it (``~/raysweep_results/svc``, metric ``loss``, a parameter C).
    Run through the console script's ``main`` in this process (the same code path, without
    nine interpreter start-ups)."""
    import raysweep as rs
    from raysweep.cli import main

    home = tmp_path / "home"
    (home / "other_results").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    rs.run(lambda config: (config["C"] - 1) ** 2, {"C": rs.loguniform(1e-2, 1e2)},
           num_samples=4, seed=0, name="svc", executor="inline", verbose=0)
    lines = [line.split("#", 1)[0].strip()
             for block in _bash_blocks((DOCS / "cli.md").read_text(encoding="utf-8"))
             for line in block.splitlines()]
    commands = [line for line in lines if line.startswith("raysweep ")]
    assert len(commands) >= 8, commands
    for command in commands:
        argv = [os.path.expanduser(word) for word in command.split()[1:]]  # as a shell would
        status = main(argv)
        assert status == 0, f"docs/cli.md: {command!r} failed:\n{capsys.readouterr().err}"
    assert (tmp_path / "svc.parquet").is_file() and (tmp_path / "curves.svg").is_file()
