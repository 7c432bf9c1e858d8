#!/usr/bin/env bash
# The default step under several JAX versions, back to back on one machine.
#
# Each version gets its own virtual environment with this checkout installed
# editable (`pip install "jax==V" "jaxlib==V" -e ".[studies]"`), then
# `reward-design bench` runs at 65 536 and 10^6 rollouts under each version in
# turn, for ROUNDS rounds (alternating, so that drift of the machine's speed
# touches every version alike). Writes OUT/bench_<version>_r<round>.json and
# OUT/jax_versions.json (the rows side by side).
#
# Usage: benchmarks/jax_versions.sh OUT "0.10.2 0.9.2 0.8.3 0.6.2" [ROUNDS]
set -euo pipefail
out=$(realpath -m "$1"); versions=$2; rounds=${3:-2}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
for v in $versions; do
  if [ ! -x "$out/venv_$v/bin/python" ]; then
    python -m venv "$out/venv_$v"
    "$out/venv_$v/bin/pip" install -q "jax==$v" "jaxlib==$v" -e "$root[studies]"
  fi
done
cd "$root"
for round in $(seq 1 "$rounds"); do
  for v in $versions; do
    "$out/venv_$v/bin/python" -m reward_design.cli bench --sizes 65536,1048576 --no-variants \
      --text-completions 0 --repeats 20 --json "$out/bench_${v}_r$round.json" > /dev/null
    echo "jax $v, round $round: done"
  done
done
python - "$out" <<'PY'
import glob, json, os, sys
out = sys.argv[1]
rows = []
for path in sorted(glob.glob(os.path.join(out, "bench_*_r*.json"))):
    run = json.load(open(path))
    for row in run["rows"]:
        s, spread = row["seconds"], row["spread"]["ours"]
        rows.append({
            "jax": run["machine"]["jax"], "round": int(path.rsplit("_r", 1)[1][:-5]),
            "rollouts": row["rollouts"], "ours_ms": s["ours"] * 1e3, "ours_min_ms": spread["min"] * 1e3,
            "kernel_ms": None if s["kernel"] is None else s["kernel"] * 1e3,
            "numpy_ms": s["numpy"] * 1e3, "floor_ms": s["floor"] * 1e3, **row["ratios"],
        })
json.dump({"benchmark": "default step under several JAX versions", "rows": rows},
          open(os.path.join(out, "jax_versions.json"), "w"), indent=1)
print(f"wrote {out}/jax_versions.json")
PY
