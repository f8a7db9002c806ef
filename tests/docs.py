"""The docs as the tests read them: README.md and docs/*.md, their fenced blocks and markers.

Every command or query a doc shows sits in a fenced block right under a marker that says
which test runs it (`<!-- run by tests/... -->`) or why none can
(`<!-- not run by the tests: ... -->`); tests/test_docs.py holds every block to that.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).parent.parent
README = REPO_ROOT / "README.md"
# `run by tests/x.py` (then, optionally, `: how`) or `not run by the tests: why`.
MARKER = re.compile(
    r"^<!-- (run by (?P<test>tests/[\w/.]+\.py)([:,] .+)?|not run by the tests: (?P<why>.+)) -->$"
)
FENCE = re.compile(r"^(?P<indent> *)```(?P<language>\S*)$")


def doc_files() -> list[Path]:
    return [README, *sorted((REPO_ROOT / "docs").glob("*.md"))]


def doc(name: str) -> Path:
    """A doc by its path from the repository's root: `README.md`, `docs/duckdb.md`."""
    return REPO_ROOT / name


@dataclass(frozen=True)
class Block:
    doc: Path
    line: int
    language: str
    text: str
    marker: str

    @property
    def where(self) -> str:
        return f"{self.doc.relative_to(REPO_ROOT)}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """The fenced blocks of a doc, in order, each with the marker line right above it."""
    lines = path.read_text().splitlines()
    found = []
    start = None
    for number, line in enumerate(lines):
        fence = FENCE.match(line)
        if fence is None:
            continue
        if start is None:
            start, language = number, fence["language"]
            continue
        above = lines[start - 1].strip() if start else ""
        text = textwrap.dedent("\n".join(lines[start + 1 : number])) + "\n"
        found.append(Block(path, start + 1, language, text, above))
        start = None
    return found


def block_starting(path: Path, first_line: str) -> Block:
    """The one block of a doc whose text starts with `first_line`."""
    (block,) = (block for block in blocks(path) if block.text.startswith(first_line))
    return block


def section(path: Path, title: str) -> str:
    """The text of one `## title` section of a doc."""
    text = path.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]
