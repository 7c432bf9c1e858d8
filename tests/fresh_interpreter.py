"""Code run by a fresh Python interpreter: for tests of what an import pulls in, or of
behaviour fixed when a module is first imported (environment variables, a missing
extra)."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any


def run_python(
    code: str, env: Mapping[str, str] | None = None, **kwargs: Any
) -> subprocess.CompletedProcess:
    """``python -c code`` in a fresh interpreter, stdout and stderr captured as text.

    ``env`` replaces the environment (None: this process's); ``kwargs`` go to
    `subprocess.run` (``check``, ``cwd``, ``timeout``, ...).
    """
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, **kwargs
    )


def modules_loaded_by(code: str, modules: Sequence[str]) -> list[str]:
    """Which of ``modules`` a fresh interpreter has imported after running ``code``, sorted."""
    probe = f"\nimport sys\nprint(sorted(m for m in {tuple(modules)!r} if m in sys.modules))\n"
    done = run_python(code + probe)
    assert done.returncode == 0, done.stderr[-3000:]
    return ast.literal_eval(done.stdout.strip().splitlines()[-1])
