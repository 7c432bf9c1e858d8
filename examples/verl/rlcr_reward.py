"""A verl reward file: correctness + Brier (RLCR) with numeric answer matching.

verl loads this file by path (``reward.custom_reward_function.path``) and calls
``compute_score(data_source, solution_str, ground_truth, extra_info, **kwargs)``
once per response; see run_grpo_rlcr.sh and docs/integrations.md ("verl").
For plain correctness + Brier with exact matching no file is needed: point verl
at ``reward_design/integrations/verl.py`` itself.
"""

import reward_design as rd

compute_score = rd.integrations.verl.make_compute_score(
    rd.compose(correct=rd.terms.Correctness(), brier=rd.terms.Brier(weight=1.0)),
    match=rd.integrations.numeric_match,
)
