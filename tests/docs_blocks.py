"""Collects the ```python blocks of README.md and docs/**/*.md (tests/test_docs_blocks.py).

A block is a fenced code block whose info string starts with ``python``; one whose
info string also holds the word ``notest`` (```` ```python notest ````) is a
deliberate fragment or needs TRL, verl, tunix or a GPU, and is not run. Fences may
be indented (a block inside a list item); the block's common indentation is removed.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")


@dataclass(frozen=True)
class Block:
    path: Path  # relative to the repository root
    line: int  # 1-based line of the opening fence
    info: str
    code: str

    @property
    def id(self) -> str:
        return f"{self.path.as_posix()}:{self.line}"

    @property
    def runs(self) -> bool:
        words = self.info.split()
        return bool(words) and words[0] == "python" and "notest" not in words[1:]


def markdown_files(root: Path = ROOT) -> list[Path]:
    """README.md and every docs/**/*.md, relative to ``root``, sorted."""
    files = [Path("README.md")] if (root / "README.md").exists() else []
    files += sorted(p.relative_to(root) for p in (root / "docs").rglob("*.md"))
    return files


def blocks_in(path: Path, root: Path = ROOT) -> list[Block]:
    """Every fenced code block of one file (python or not)."""
    lines = (root / path).read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        fence, start = m["fence"], i
        body: list[str] = []
        i += 1
        while i < len(lines):
            close = _FENCE.match(lines[i])
            if close and close["fence"].startswith(fence) and not close["info"].strip():
                break
            body.append(lines[i])
            i += 1
        code = textwrap.dedent("\n".join(body)) + "\n"
        found.append(Block(path, start + 1, m["info"].strip(), code))
        i += 1  # past the closing fence
    return found


def python_blocks(root: Path = ROOT) -> list[Block]:
    """The ```python blocks of README.md and docs/ (``notest`` ones included)."""
    return [
        b
        for p in markdown_files(root)
        for b in blocks_in(p, root)
        if b.info.split()[:1] == ["python"]
    ]
