"""Hand-written CPU kernels, compiled at first use and called through `jax.ffi`.

XLA:CPU compiles a rubric gate followed by group statistics as several
passes over memory (docs/performance.md): the gate's item reduction must
be its own pass, and a group-level value (max, mean, std) broadcast back
over the group is recomputed per member or materialised. On CPU,
`gated_group_advantages` does the gate and the estimator in one pass over
the rubric and the rewards instead (``gated_advantages.cc``).

The kernel is C++ (GCC vector extensions; one AVX-512BW instruction where the
CPU has it, with a portable fallback), compiled on this
machine the first time it is needed with ``g++ -O3 -march=native`` against
the XLA FFI headers that jaxlib ships, and cached under
``$REWARD_DESIGN_CACHE`` (default ``$XDG_CACHE_HOME/reward_design`` or
``~/.cache/reward_design``), keyed by the source, the jax and jaxlib
versions, the compiler, the flags and the machine; ``$REWARD_DESIGN_CXXFLAGS`` adds flags
after the defaults (e.g. ``-march=x86-64-v3`` for a cache shared by
different CPUs) and ``$REWARD_DESIGN_CXX`` names the compiler (GCC: the
kernel uses its vector extensions). Where it cannot be built (no ``g++``, a failed
compile) or is disabled (``REWARD_DESIGN_CPU_KERNELS=0``), the same
function runs the plain XLA program, which is also what runs on GPU and TPU
(`jax.lax.platform_dependent`) and what the tests compare the kernel with.
`kernel_status` says which one is in use and why.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import logging
import os
import platform
import shlex
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import jax
import jax.numpy as jnp
import jaxlib
import numpy as np

__all__ = ["gated_group_advantages", "kernel_status", "ESTIMATORS", "GROUP_SIZES"]

_LOG = logging.getLogger("reward_design")
_SOURCE = Path(__file__).with_name("gated_advantages.cc")
_TARGET = "reward_design_gated_advantages_f32"
_SYMBOL = "RdGatedAdvantagesF32"
_FLAGS = ("-O3", "-march=native", "-fno-math-errno", "-std=c++17", "-shared", "-fPIC")

#: Estimators the kernel implements, with their code in the kernel.
ESTIMATORS = {"grpo": 0, "dr_grpo": 1, "rloo": 2}
#: Group sizes the kernel handles (16 groups per block of G vectors); other
#: sizes run the XLA program (a scalar loop over groups was 4x slower than it).
GROUP_SIZES = (1, 2, 4, 8, 16, 32, 64)

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

    Builds (or loads from the cache) and registers the kernel on first call; a
    missing compiler or a failed build logs one warning (``logging``, logger
    ``"reward_design"``) and the XLA program is used.
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
            _TARGET, jax.ffi.pycapsule(getattr(handle, _SYMBOL)), platform="cpu"
        )
    except Exception as err:  # no compiler, failed build, unloadable library
        _LOG.warning(
            "reward_design: the CPU kernel for gated advantages is not available (%s); "
            "using the XLA program instead (same results, slower on CPU).",
            err,
        )
        return {"available": False, "reason": f"not built: {err}"}
    return {"available": True, "reason": "built", "library": str(lib), "handle": handle}


def _estimate(rewards, mask, eps, estimator, ddof):
    from reward_design import advantages

    if estimator == "grpo":
        return advantages.grpo(rewards, mask=mask, eps=eps, ddof=ddof)
    if estimator == "dr_grpo":
        return advantages.dr_grpo(rewards, mask=mask)
    return advantages.rloo(rewards, mask=mask)


def _reference(rewards, rubric, valid, k, eps, estimator, ddof):
    """The XLA program the kernel replaces (and its definition)."""
    from reward_design._reduce import items_sum

    passed = valid & (items_sum(rubric).astype(jnp.float32) >= k)
    return _estimate(rewards, passed, eps, estimator, ddof), passed


def _kernel(rewards, rubric, valid, k, eps, estimator, ddof):
    params = jnp.stack([jnp.asarray(k, jnp.float32), jnp.asarray(eps, jnp.float32)])
    call = jax.ffi.ffi_call(
        _TARGET,
        (
            jax.ShapeDtypeStruct(rewards.shape, jnp.float32),
            jax.ShapeDtypeStruct(rewards.shape, jnp.bool_),
        ),
        vmap_method="sequential",
    )
    # Flat rewards and mask (a free bitcast): XLA:CPU then compiles the fusion that
    # produces them as a flat loop. Over [P, 8] its vector code for a square root or
    # a division (a scoring-rule term) is about twice as slow.
    flat_valid = valid.reshape(-1) if valid.size == rewards.size else valid
    return call(
        rewards.reshape(-1),
        rubric,
        flat_valid,
        params,
        estimator=np.int64(ESTIMATORS[estimator]),
        ddof=np.int64(ddof),
    )


def gated_group_advantages(
    rewards: jax.Array,
    rubric: jax.Array,
    valid: jax.Array | None,
    k: jax.Array | float,
    *,
    estimator: str = "grpo",
    eps: jax.Array | float = 1e-6,
    ddof: int = 1,
) -> tuple[jax.Array, jax.Array]:
    """A counting rubric gate and a group-relative estimator, in one pass on CPU.

    ``passed = valid & (number of True items in rubric >= k)``, then the
    estimator's advantages over the passed members (`rd.advantages.grpo`,
    `dr_grpo` or `rloo` with ``mask=passed``). On CPU, when the kernel is
    available and G is in `GROUP_SIZES`, both are one custom call; otherwise
    the XLA program. The two agree to float rounding: the kernel sums each group in member order and
    computes its variance in two passes over registers (the XLA program in
    one pass, pairwise), and GRPO multiplies by ``1 / (std + eps)`` instead
    of dividing (one rounding more).

    Gradients with respect to ``rewards`` (forward and reverse mode) are the
    XLA program's, at the same ``passed`` mask; ``jax.vmap`` runs the kernel
    once per batch element. XLA's SPMD partitioner cannot split a custom
    call: under a multi-device CPU mesh call this inside ``jax.shard_map``
    (groups are whole on each shard) or use the XLA program.

    Only when JAX's default backend is the CPU is the kernel built and used
    (`kernel_status`); float64 rewards (x64 mode) keep the XLA program's
    precision. Rewards whose squared deviations overflow float32 (|r| above
    about 1e19) give meaningless GRPO advantages on both paths, differently.

    Args:
      rewards: ``[P, G]`` float rewards (half precision is computed in float32).
      rubric: ``[P, G, K]`` bool rubric items.
      valid: ``[P, G]`` bool, members that may enter the statistics; None: all.
      k: a rollout passes with at least ``k`` passed items (traced).
      estimator: ``"grpo"``, ``"dr_grpo"`` or ``"rloo"`` (static).
      eps: GRPO's std offset (traced).
      ddof: GRPO's delta degrees of freedom (static).

    Returns:
      ``(advantages [P, G] float32, passed [P, G] bool)``.
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {sorted(ESTIMATORS)}; got {estimator!r}.")
    rewards = jnp.asarray(rewards)
    rubric = jnp.asarray(rubric)
    if rewards.ndim != 2 or not jnp.issubdtype(rewards.dtype, jnp.floating):
        raise ValueError(
            f"gated_group_advantages: rewards must be a float [P, G] array; got "
            f"{rewards.dtype} of shape {rewards.shape}."
        )
    if rubric.ndim != 3 or rubric.shape[:2] != rewards.shape or rubric.dtype != jnp.bool_:
        raise ValueError(
            f"gated_group_advantages: rubric must be a bool [P, G, K] array with [P, G] = "
            f"{list(rewards.shape)}; got {rubric.dtype} of shape {rubric.shape}."
        )
    if valid is not None:
        valid = jnp.asarray(valid)
        if valid.shape != rewards.shape or valid.dtype != jnp.bool_:
            raise ValueError(
                f"gated_group_advantages: valid must be None or a bool array of shape "
                f"{rewards.shape}; got {valid.dtype} of shape {valid.shape}."
            )
    for name, value in (("k", k), ("eps", eps)):
        if jnp.ndim(value) != 0:
            raise ValueError(
                f"gated_group_advantages: {name} must be a scalar; got shape {jnp.shape(value)}."
            )
    if jnp.finfo(rewards.dtype).bits > 32:
        # the kernel computes in float32; float64 rewards keep the estimator's precision
        mask = jnp.ones(rewards.shape, bool) if valid is None else valid
        return _reference(rewards, rubric, mask, k, eps, estimator, int(ddof))
    return _gated(rewards, rubric, valid, k, eps, estimator, int(ddof))


@functools.partial(jax.custom_jvp, nondiff_argnums=(5, 6))
def _gated_primal(rewards, rubric, valid, k, eps, estimator, ddof):
    # Only programs for a CPU backend build the kernel: a GPU or TPU job never
    # lowers the CPU branch and should not wait for a compiler.
    if (
        rewards.shape[-1] not in GROUP_SIZES
        or jax.default_backend() != "cpu"
        or not kernel_status()["available"]
    ):
        return _reference(rewards, rubric, valid, k, eps, estimator, ddof)

    def cpu(r, rb, v, kk, e):
        return _kernel(r, rb, v, kk, e, estimator, ddof)

    def other(r, rb, v, kk, e):
        return _reference(r, rb, v, kk, e, estimator, ddof)

    return jax.lax.platform_dependent(rewards, rubric, valid, k, eps, cpu=cpu, default=other)


@_gated_primal.defjvp
def _gated_jvp(estimator, ddof, primals, tangents):
    rewards, rubric, valid, k, eps = primals
    d_rewards, _, _, _, d_eps = tangents
    adv, passed = _gated_primal(rewards, rubric, valid, k, eps, estimator, ddof)
    # The mask is piecewise constant in every input; the advantages are the
    # estimator's at that mask (differentiable in the rewards and in eps).
    _, d_adv = jax.jvp(
        lambda r, e: _estimate(r, passed, e, estimator, ddof), (rewards, eps), (d_rewards, d_eps)
    )
    return (adv, passed), (d_adv, np.zeros(passed.shape, jax.dtypes.float0))


def _gated(rewards, rubric, valid, k, eps, estimator, ddof):
    rewards = jnp.asarray(rewards, jnp.float32)
    # None: every member valid, passed to the kernel as one value (no mask to read)
    valid = jnp.ones((1,), bool) if valid is None else jnp.asarray(valid, bool)
    k = jnp.asarray(k, jnp.float32)
    eps = jnp.asarray(eps, jnp.float32)
    return _gated_primal(rewards, rubric, valid, k, eps, estimator, ddof)
