"""Fuzzing every public entry point with malformed arguments (issue 24).

Each entry (``fuzz_entries_*.ENTRIES``) calls one public function or class
with arguments drawn by hypothesis: all valid, or one or two of them
malformed (wrong rank or size, empty, ragged, wrong dtype, NaN/inf, out of
range, None, strings, dicts; `fuzz_kinds`). Every outcome must be one of:

* a result that satisfies the entry's documented contract (its ``check``);
* a ``TypeError`` or ``ValueError`` raised by reward_design's own code (the
  innermost frame of the traceback is in the package, not in jax or numpy)
  whose message names a malformed argument; valid arguments never raise.

Profiles: ``fast`` (a few derandomized examples per entry, the default run)
and ``long`` (``-m slow``, more examples). `test_every_public_name_is_fuzzed`
fails when a public name has neither an entry nor an exemption with a reason.
"""

from __future__ import annotations

import os
import types

import jax
import pytest
from fuzz_entries_core import ENTRIES as CORE
from fuzz_entries_io import ENTRIES as IO
from fuzz_entries_more import ENTRIES as MORE
from fuzz_entries_more import EXEMPT
from fuzz_kinds import CTX, FAST_CTX, Entry
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import reward_design as rd

ENTRIES = CORE + MORE + IO
_PACKAGE = os.path.dirname(os.path.abspath(rd.__file__))

settings.register_profile(
    "fuzz",
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=list(HealthCheck),
)
# FUZZ_NO_SHRINK=1: report the first failing example as drawn (faster while developing).
_PHASES = (
    {"phases": [Phase.explicit, Phase.reuse, Phase.generate]}
    if os.environ.get("FUZZ_NO_SHRINK")
    else {}
)


@pytest.fixture(autouse=True, scope="module")
def _unfiltered_tracebacks():
    # JAX removes its own frames from tracebacks; the suite needs them to tell an
    # error raised inside jax from one raised by reward_design.
    previous = jax.config.jax_traceback_filtering
    jax.config.update("jax_traceback_filtering", "off")
    yield
    jax.config.update("jax_traceback_filtering", previous)


def _raise_site(err: BaseException) -> str:
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return "?" if tb is None else os.path.abspath(tb.tb_frame.f_code.co_filename)


def run_entry(entry: Entry, data: st.DataObject, fast: bool = False) -> None:
    ctx = data.draw(FAST_CTX if fast else CTX, label="ctx")
    names = list(entry.params)
    counts = [0, 1, 1, 1, 2] if entry.fast_valid or not fast else [1, 1, 2]
    n_bad = min(data.draw(st.sampled_from(counts), label="n_bad"), entry.max_bad)
    bad = set(data.draw(st.permutations(names), label="order")[:n_bad]) if names else set()
    args = {}
    try:
        for name, kind in entry.params.items():
            strategy = kind.bad(ctx) if name in bad else kind.valid(ctx)
            args[name] = data.draw(strategy, label=name)
        result = entry.call(**args)
    except (TypeError, ValueError) as err:
        site = _raise_site(err)
        assert site.startswith(_PACKAGE), (
            f"{entry.name}: {type(err).__name__} raised in {site}, not by reward_design: {err}"
        )
        assert bad, f"{entry.name}: valid arguments raised {type(err).__name__}: {err}"
        words = {w for name in bad for w in (name, *entry.params[name].names)}
        assert any(w in str(err) for w in words), (
            f"{entry.name}: the message names none of {sorted(words)}: {err}"
        )
        return
    except entry.other_errors:
        return
    if entry.check is not None:
        assert entry.check(result, args, ctx, bad) is not False, f"{entry.name}: contract"


@pytest.mark.parametrize(
    "profile", ["fast", pytest.param("long", marks=pytest.mark.slow)], ids=["fast", "long"]
)
@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_fuzz(entry: Entry, profile: str) -> None:
    examples = entry.examples[0 if profile == "fast" else 1]

    @settings(settings.get_profile("fuzz"), max_examples=examples, **_PHASES)
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        run_entry(entry, data, fast=profile == "fast")

    fuzz()


def _public_names() -> dict[str, object]:
    """Every name reachable through ``__all__``: ``"gates.Gated"``,
    ``"integrations.trl.reward_func"``, ..."""
    found: dict[str, object] = {}

    def walk(module: types.ModuleType, prefix: str) -> None:
        for name in module.__all__:
            obj = getattr(module, name)
            qualified = f"{prefix}{name}"
            if isinstance(obj, types.ModuleType) and hasattr(obj, "__all__"):
                walk(obj, f"{qualified}.")
            else:
                found[qualified] = obj

    walk(rd, "")
    return found


def test_every_public_name_is_fuzzed():
    covered = {e.name for e in ENTRIES} | {c for e in ENTRIES for c in e.covers}
    missing = []
    for name, obj in _public_names().items():
        if name in covered or name in EXEMPT:
            continue
        if not callable(obj):
            continue  # constants (tuples, strings) are not entry points
        missing.append(name)
    assert not missing, (
        f"public names without a fuzz entry (tests/fuzz/fuzz_entries_*.py) or an exemption "
        f"with a reason (EXEMPT): {missing}"
    )
    assert all(reason for reason in EXEMPT.values())
    stale = sorted(set(EXEMPT) - set(_public_names()))
    assert not stale, f"exemptions of names that are not public: {stale}"
