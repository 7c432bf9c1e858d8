"""MkDocs hook (mkdocs.yml ``hooks:``): the committed study figures in the site.

The study pages (docs/studies/*.md) show the PNGs committed under
``benchmarks/results/`` with links such as ``../../benchmarks/results/gating/x.png``,
which work on the repository's web view but point outside ``docs/``. This hook adds
those PNGs to the site as ``benchmarks/results/...`` and rewrites such links to the
copies, so that ``mkdocs build --strict`` resolves them. Nothing else is changed.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from mkdocs.structure.files import File

_RESULTS = "benchmarks/results"
_LINK = re.compile(r"\]\((?P<up>(?:\.\./)+)(?P<path>benchmarks/results/[^)\s]+)\)")


def on_files(files, config):
    root = Path(config["config_file_path"]).parent
    for png in sorted((root / _RESULTS).rglob("*.png")):
        rel = png.relative_to(root).as_posix()
        files.append(File.generated(config, rel, abs_src_path=str(png)))
    return files


def on_page_markdown(markdown, page, config, files):
    page_dir = posixpath.dirname(page.file.src_uri)
    depth = len([p for p in page_dir.split("/") if p])

    def rewrite(match: re.Match) -> str:
        # One "../" more than the page's depth leaves docs/ for the repository root.
        if match["up"].count("../") != depth + 1:
            return match.group(0)
        return f"]({'../' * depth}{match['path']})"

    return _LINK.sub(rewrite, markdown)
