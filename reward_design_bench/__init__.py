"""``reward-design bench``: the library's speed against numpy, Python and the memory floor.

A sibling of the core package (same distribution, the ``studies`` extra),
split by concern:

* `reward_design_bench.inputs`: the batches (rollouts with a rubric, token
  rewards, RLCR-format completions) and the benchmarked objectives;
* `reward_design_bench.implementations`: the implementations timed against
  each other (ours compiled, the opt-in CPU kernel, numpy, a Python loop,
  a hand-written TRL-style reward function) and the memory floor;
* `reward_design_bench.timing`: interleaved timing (a slow spell of a shared
  machine hits every implementation alike), medians and spread;
* `reward_design_bench.suite`: the rows of one run (the step per size, the
  text reward function), checked for agreement before they are timed;
* `reward_design_bench.report`: the JSON result, a table that fits 100
  columns and a plot;
* `reward_design_bench.cli`: the ``bench`` sub-command of ``reward-design``.

docs/performance.md describes the rows and records the measured numbers.
Importing this package imports nothing heavy; the modules above import JAX.
"""
