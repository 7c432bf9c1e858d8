"""Writes a small RLCR addition data set in verl's parquet layout.

    python examples/verl/prepare_data.py --out ~/data/rlcr_addition

Each row: ``prompt`` (chat messages: the RLCR system prompt, then the question),
``data_source``, ``reward_model.ground_truth`` (what ``compute_score`` receives
as ``ground_truth``) and ``extra_info``. Needs pandas and pyarrow (verl's own
environment has both).
"""

from __future__ import annotations

import argparse
import os
import random

import reward_design as rd


def rows(n: int, split: str, seed: int) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        a, b = rng.randint(10, 99), rng.randint(10, 99)
        out.append(
            {
                "data_source": "rlcr_addition",
                "prompt": [
                    {"role": "system", "content": rd.integrations.RLCR_SYSTEM_PROMPT},
                    {"role": "user", "content": f"What is {a} + {b}?"},
                ],
                "ability": "math",
                "reward_model": {"style": "rule", "ground_truth": str(a + b)},
                "extra_info": {"split": split, "index": i},
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="rlcr_addition")
    parser.add_argument("--train", type=int, default=1024)
    parser.add_argument("--test", type=int, default=128)
    args = parser.parse_args(argv)

    import pandas as pd

    out = os.path.expanduser(args.out)
    os.makedirs(out, exist_ok=True)
    for split, n, seed in (("train", args.train, 0), ("test", args.test, 1)):
        path = os.path.join(out, f"{split}.parquet")
        pd.DataFrame(rows(n, split, seed)).to_parquet(path)
        print(f"wrote {n} rows to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
