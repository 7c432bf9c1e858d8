"""The misaligned study's environment: two locally generated classification tasks.

* ``digits``: scikit-learn's 8x8 handwritten digits (shipped with the
  package) turned into a rare-positive binary task, one digit against the
  rest, like a diagnosis. The full 10-digit label is kept for the linear
  probe.
* ``mnist1d``: the MNIST-1D procedural generator (``mnist1d.data.make_dataset``;
  its ``get_dataset``, which downloads, is never called): a 10-class task with
  one "critical" class whose misses are expensive.

Every split is stratified on the full label, so each seed's train,
validation and test sets have the same class proportions and the same sizes
(which lets the trainer stack the seeds' datasets and ``vmap`` over them).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from sklearn.model_selection import train_test_split

__all__ = [
    "PARTS",
    "Task",
    "Split",
    "SeedSplits",
    "load_task",
    "stratified_split",
    "split_per_seed",
    "misclassification_cost",
    "task_summary",
]


@dataclasses.dataclass(frozen=True)
class Task:
    """A classification task before splitting.

    Attributes:
      name: ``"digits"`` or ``"mnist1d"``.
      x: inputs, ``[N, L, 1]`` float32 (a 1-D signal with one channel; the
        digits' 8x8 image is read row by row as a length-64 signal).
      y: the label the models are trained on, ``[N]`` int32.
      y_full: the full label set (10 classes) used by the probe, ``[N]``.
      num_classes: classes of ``y``.
      critical_class: the class whose misclassification costs ``cost_ratio``.
      description: one line for the report.
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    y_full: np.ndarray
    num_classes: int
    critical_class: int
    description: str


@dataclasses.dataclass(frozen=True)
class Split:
    """Index arrays of a stratified train/validation/test split."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def _digits(positive_digit: int) -> Task:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = bunch.data.astype(np.float32) / 16.0
    x = (x - x.mean()) / x.std()
    y_full = bunch.target.astype(np.int32)
    y = (y_full == positive_digit).astype(np.int32)
    return Task(
        name="digits",
        x=x[:, :, None],
        y=y,
        y_full=y_full,
        num_classes=2,
        critical_class=1,
        description=(
            f"scikit-learn digits, digit {positive_digit} vs rest "
            f"({y.mean():.1%} positives, {len(y)} images)"
        ),
    )


def _mnist1d(num_samples: int, generator_seed: int) -> Task:
    import mnist1d.data

    args = mnist1d.data.get_dataset_args()
    args.num_samples = int(num_samples)
    args.seed = int(generator_seed)
    # make_dataset reseeds numpy's global generator; restore the caller's state.
    state = np.random.get_state()
    try:
        data = mnist1d.data.make_dataset(args)
    finally:
        np.random.set_state(state)
    x = np.concatenate([data["x"], data["x_test"]]).astype(np.float32)
    y = np.concatenate([data["y"], data["y_test"]]).astype(np.int32)
    return Task(
        name="mnist1d",
        x=x[:, :, None],
        y=y,
        y_full=y,
        num_classes=10,
        critical_class=0,
        description=(
            f"MNIST-1D (procedural, generator seed {generator_seed}), 10 classes, "
            f"class 0 critical, {len(y)} signals of length {x.shape[1]}"
        ),
    )


def load_task(
    name: str, *, positive_digit: int = 8, mnist1d_samples: int = 6000, mnist1d_seed: int = 42
) -> Task:
    """Builds task ``name`` (``"digits"`` or ``"mnist1d"``) from local data only."""
    if name == "digits":
        return _digits(positive_digit)
    if name == "mnist1d":
        return _mnist1d(mnist1d_samples, mnist1d_seed)
    raise ValueError(f"task name must be 'digits' or 'mnist1d'; got {name!r}.")


def stratified_split(
    labels: np.ndarray, val_fraction: float, test_fraction: float, seed: int
) -> Split:
    """Stratified train/validation/test indices (scikit-learn's ``train_test_split``)."""
    labels = np.asarray(labels)
    if not 0 < val_fraction < 1 or not 0 < test_fraction < 1 or val_fraction + test_fraction >= 1:
        raise ValueError(
            "val_fraction and test_fraction must be in (0, 1) with a sum below 1; "
            f"got {val_fraction} and {test_fraction}."
        )
    idx = np.arange(len(labels))
    rest, test = train_test_split(idx, test_size=test_fraction, stratify=labels, random_state=seed)
    train, val = train_test_split(
        rest,
        test_size=val_fraction / (1 - test_fraction),
        stratify=labels[rest],
        random_state=seed,
    )
    return Split(train=np.sort(train), val=np.sort(val), test=np.sort(test))


def misclassification_cost(num_classes: int, critical_class: int, cost_ratio: float) -> np.ndarray:
    """Cost matrix ``cost[i, j]`` (truth i, decision j) of the study.

    Every error costs 1, except missing the critical class (truth
    ``critical_class``, any other decision), which costs ``cost_ratio``;
    correct decisions cost 0. For two classes with ``critical_class=1`` this
    is ``[[0, 1], [cost_ratio, 0]]`` (c_fp = 1, c_fn = cost_ratio).
    """
    if not np.isfinite(cost_ratio) or cost_ratio <= 0:
        raise ValueError(f"cost_ratio must be a positive finite number; got {cost_ratio!r}.")
    import reward_design as rd

    per_class = np.ones(num_classes, dtype=np.float32)
    per_class[critical_class] = cost_ratio
    return np.asarray(rd.posthoc.cost_matrix_from_class_costs(per_class), dtype=np.float32)


PARTS = ("train", "val", "test")


@dataclasses.dataclass(frozen=True)
class SeedSplits:
    """A task split once per seed, each part stacked on a leading seed axis ``[S, ...]``.

    Every seed's split has the same sizes (they are stratified on the same
    labels), so the seeds' datasets stack and the trainer can ``vmap`` over them.

    Attributes:
      task: the task that was split.
      seeds: the split seeds, one per row of the stacked arrays.
      x: ``{"train", "val", "test"}`` -> inputs ``[S, N_part, L, 1]``.
      y: the same parts -> training labels ``[S, N_part]``.
      y_full: ``{"train", "test"}`` -> the probe's full labels ``[S, N_part]``.
    """

    task: Task
    seeds: tuple[int, ...]
    x: dict[str, np.ndarray]
    y: dict[str, np.ndarray]
    y_full: dict[str, np.ndarray]


def split_per_seed(
    task: Task, seeds: list[int], val_fraction: float, test_fraction: float
) -> SeedSplits:
    """`stratified_split` of ``task`` for each seed, stacked (see `SeedSplits`)."""
    splits = [stratified_split(task.y_full, val_fraction, test_fraction, seed=s) for s in seeds]

    def stack(part: str, arr: np.ndarray) -> np.ndarray:
        return np.stack([arr[getattr(sp, part)] for sp in splits])

    return SeedSplits(
        task=task,
        seeds=tuple(seeds),
        x={k: stack(k, task.x) for k in PARTS},
        y={k: stack(k, task.y) for k in PARTS},
        y_full={k: stack(k, task.y_full) for k in ("train", "test")},
    )


def task_summary(data: SeedSplits) -> dict:
    """The JSON record of a task and its split sizes."""
    task = data.task
    return {
        "description": task.description,
        "num_classes": task.num_classes,
        "critical_class": task.critical_class,
        "num_examples": int(len(task.y)),
        "split_sizes": {k: int(data.x[k].shape[1]) for k in PARTS},
        "critical_fraction": float(np.mean(task.y == task.critical_class)),
        "probe_labels": "10 digit classes" if task.name == "digits" else "10 MNIST-1D classes",
    }
