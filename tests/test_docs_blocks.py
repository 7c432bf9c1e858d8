"""Every ```python block of README.md and docs/**/*.md runs on its own.

Each block runs in a fresh namespace, in a temporary working directory (blocks may
write files such as plots), with its line numbers as in the markdown file so that a
traceback points at the page. Blocks marked ```` ```python notest ```` are skipped
with the reason; they need TRL, verl, tunix or a GPU (their end-to-end tests run the
same code) or are deliberate fragments. New pages are picked up automatically.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from docs_blocks import ROOT, Block, blocks_in, markdown_files, python_blocks

_BLOCKS = python_blocks()


def _run(block: Block) -> None:
    # Line numbers as in the file: the code starts on the line after the fence.
    source = "\n" * block.line + block.code
    code = compile(source, str(ROOT / block.path), "exec")
    exec(code, {"__name__": "__docs_block__", "__file__": str(ROOT / block.path)})


@pytest.mark.parametrize("block", _BLOCKS, ids=[b.id for b in _BLOCKS])
def test_docs_block_runs(block, tmp_path, monkeypatch):
    if not block.runs:
        pytest.skip(f"marked `{block.info}`")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    _run(block)


def test_collector_finds_the_pages_and_blocks(tmp_path):
    """The collector sees README and docs/ (nested pages too), indented fences, notest."""
    (tmp_path / "docs" / "sub").mkdir(parents=True)
    (tmp_path / "README.md").write_text("```python\nx = 1\n```\n")
    (tmp_path / "docs" / "sub" / "p.md").write_text(
        "text\n\n* item\n\n  ```python\n  y = 2\n  ```\n\n"
        "```python notest\nundefined_name\n```\n\n````markdown\n```python\nz\n```\n````\n"
        "```bash\nls\n```\n"
    )
    assert [p.as_posix() for p in markdown_files(tmp_path)] == ["README.md", "docs/sub/p.md"]
    blocks = blocks_in(Path("docs/sub/p.md"), tmp_path)
    assert [(b.line, b.info, b.code) for b in blocks] == [
        (5, "python", "y = 2\n"),
        (9, "python notest", "undefined_name\n"),
        (13, "markdown", "```python\nz\n```\n"),
        (18, "bash", "ls\n"),
    ]
    assert [b.runs for b in blocks] == [True, False, False, False]


def test_every_page_is_collected():
    """Guards against a glob that silently finds nothing."""
    pages = {p.as_posix() for p in markdown_files()}
    assert {"README.md", "docs/integrations.md", "docs/studies/calibration.md"} <= pages
    assert len(_BLOCKS) >= 20
