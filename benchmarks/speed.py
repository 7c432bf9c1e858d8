"""Speed benchmark script; the same as ``reward-design bench``.

    python benchmarks/speed.py --json benchmarks/results/speed_cpu.json \
        --plot benchmarks/results/speed_cpu.png
"""

import sys

from reward_design.bench import main

if __name__ == "__main__":
    sys.exit(main())
