"""Building and loading the CPU kernel (``gated_advantages.cc``) at first use.

The kernel is C++ (GCC vector extensions; one AVX-512BW instruction where the
CPU has it, with a portable fallback), compiled on this machine the first
time it is needed with ``g++ -O3 -march=native`` against the XLA FFI headers
that jaxlib ships, and cached under ``$REWARD_DESIGN_CACHE`` (default
``$XDG_CACHE_HOME/reward_design`` or ``~/.cache/reward_design``), keyed by
the source, the jax and jaxlib versions, the compiler, the flags and the
machine. ``$REWARD_DESIGN_CXXFLAGS`` adds flags after the defaults (e.g.
``-march=x86-64-v3`` for a cache shared by different CPUs),
``$REWARD_DESIGN_CXX`` names the compiler (GCC: the kernel uses its vector
extensions), ``REWARD_DESIGN_CPU_KERNELS=0`` disables the kernel.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shlex
import shutil
import subprocess
import tempfile
import threading
import warnings
from pathlib import Path

import jax
import jaxlib

__all__ = ["kernel_status"]

_SOURCE = Path(__file__).with_name("gated_advantages.cc")
#: The XLA custom-call target the kernel is registered as (CPU only).
TARGET = "reward_design_gated_advantages_f32"
_SYMBOL = "RdGatedAdvantagesF32"
_FLAGS = ("-O3", "-march=native", "-fno-math-errno", "-std=c++17", "-shared", "-fPIC")

_lock = threading.Lock()
_state: dict[str, object] = {}


def _cache_dir() -> Path:
    root = os.environ.get("REWARD_DESIGN_CACHE")
    if root:
        return Path(root)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "reward_design"


def _compiler() -> list[str] | None:
    """The compiler command (``$REWARD_DESIGN_CXX`` may hold arguments, e.g. ``ccache g++``)."""
    cxx = os.environ.get("REWARD_DESIGN_CXX")
    if cxx:
        return shlex.split(cxx)
    found = shutil.which("g++")
    return [found] if found else None


def _build(rebuild: bool = False) -> Path:
    """Compiles the kernel (or finds it in the cache); returns the library path."""
    cxx = _compiler()
    if cxx is None:
        raise RuntimeError("no C++ compiler (g++) found on PATH")
    version = subprocess.run(
        [*cxx, "--version"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    if "Free Software Foundation" not in version and "GCC" not in version:
        # the kernel uses GCC's vector extensions (__builtin_shuffle)
        raise RuntimeError(f"{' '.join(cxx)} is not GCC")
    flags = _FLAGS + tuple(shlex.split(os.environ.get("REWARD_DESIGN_CXXFLAGS", "")))
    key = hashlib.sha256()
    for part in (
        _SOURCE.read_bytes(),
        jax.__version__.encode(),
        jaxlib.__version__.encode(),  # the FFI headers come from jaxlib
        version.encode(),
        " ".join(flags).encode(),
        platform.machine().encode(),
        platform.processor().encode(),
        _cpu_flags().encode(),
    ):
        key.update(part)
        key.update(b"\0")
    out_dir = _cache_dir()
    lib = out_dir / f"gated_advantages-{key.hexdigest()[:20]}.so"
    if lib.exists() and not rebuild:
        return lib
    out_dir.mkdir(parents=True, exist_ok=True)
    # Compile to a private name and rename: concurrent first uses (pytest-xdist
    # workers, several training processes) never load a half-written library.
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=out_dir)
    os.close(fd)
    try:
        cmd = [*cxx, *flags, f"-I{jax.ffi.include_dir()}", str(_SOURCE), "-o", tmp]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            raise RuntimeError(f"compiling {_SOURCE.name} failed:\n{result.stderr[-2000:]}")
        # mkstemp's file is private (0600); others sharing the cache must load it too
        os.chmod(tmp, 0o755)
        os.replace(tmp, lib)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return lib


def _cpu_flags() -> str:
    """The CPU's feature flags (Linux), so a cached -march=native build is not
    reused on a different CPU sharing the cache directory."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line
    except OSError:
        pass
    return ""


def kernel_status() -> dict[str, object]:
    """Whether the CPU kernel is in use: ``{"available": bool, "reason": str, "library": path}``.

    Builds (or loads from the cache) and registers the kernel on first call.
    A missing compiler or a failed build issues one `RuntimeWarning` that names
    the reason; `gated_advantages` then runs the XLA program (same results). With
    ``REWARD_DESIGN_CPU_KERNELS=0`` nothing is built and no warning is issued.
    """
    with _lock:
        if "available" not in _state:
            _state.update(_load())
        return {k: v for k, v in _state.items() if k != "handle"}


def _load() -> dict[str, object]:
    if os.environ.get("REWARD_DESIGN_CPU_KERNELS", "1").strip().lower() in ("0", "false", "no"):
        return {"available": False, "reason": "disabled by REWARD_DESIGN_CPU_KERNELS"}
    try:
        lib = _build()
        try:
            handle = ctypes.cdll.LoadLibrary(str(lib))
        except OSError:
            # a truncated or foreign file in the cache: build it again, once
            lib = _build(rebuild=True)
            handle = ctypes.cdll.LoadLibrary(str(lib))
        jax.ffi.register_ffi_target(
            TARGET, jax.ffi.pycapsule(getattr(handle, _SYMBOL)), platform="cpu"
        )
    except Exception as err:  # no compiler, failed build, unloadable library
        warnings.warn(
            f"reward_design.kernels: the CPU kernel for gated advantages is not available "
            f"({err}); rd.kernels runs the XLA program instead (same results, slower on CPU).",
            RuntimeWarning,
            stacklevel=2,
        )
        return {"available": False, "reason": f"not built: {err}"}
    return {"available": True, "reason": "built", "library": str(lib), "handle": handle}
