"""The gating study, second version: a gameable rubric, judged on text, on held-out prompts.

Built on the LM lab (`reward_design_studies.lm`): a Transformer policy
writes three-digit sums mod 10 with working (`task.SumTask`); a judge
reads the decoded text with a rubric of four checks, two of them
exploitable (`rubric`); gold is an exact checker of the true answer and the
complete working that no objective reads, measured on held-out prompts.
The arms (`study.make_objective`) differ only in the objective: the rubric
as a dense reward, or the same rubric score paid only inside the gate of
its essential checks (``on_reject="floor"`` or ``"drop"``, group filter).

Modules: `config` (`GatingV2Config`), `task`, `rubric`, `study` (the run,
table, headline), `plots`. ``reward-design reproduce gating`` runs it
(docs/studies/gating.md); the first version stays reachable with
``--environment v1`` (`reward_design_studies.gating`).

References:
  Gunjal et al., "Rubrics as Rewards", arXiv 2507.17746.
  Xu et al., "Direct Reasoning Optimization", arXiv 2506.13351.
  Zhao et al., "One Token to Fool LLM-as-a-Judge", arXiv 2507.08794.
"""

from reward_design_studies.gating_v2.config import ARMS as ARMS
from reward_design_studies.gating_v2.config import GatingV2Config as GatingV2Config

__all__ = ["ARMS", "GatingV2Config"]
