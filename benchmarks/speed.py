"""Speed benchmark script; the same as ``reward-design bench`` (`reward_design_bench`).

    python benchmarks/speed.py --json benchmarks/results/speed_cpu.json \
        --plot benchmarks/results/speed_cpu.png
"""

import sys

from reward_design_bench.cli import main

if __name__ == "__main__":
    sys.exit(main())
