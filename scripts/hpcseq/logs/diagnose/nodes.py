"""A node that failed under the job: Slurm's line in the log, its NODE_FAIL state, and the node's
events in Slurm's accounting (which node, why, and the training ranks it held)."""

from __future__ import annotations

import re

from hpcseq.logs.diagnose.facts import Diagnosis, Evidence, Facts, find_first, how_to_resume, join_sentences
from hpcseq.logs.diagnose.rules import Rule
from hpcseq.logs.sources import expand_node_list

NODE_FAILURE = re.compile(r"DUE TO NODE FAILURE|srun: error: Node failure on|NODE_FAIL")


def node_failure(facts: Facts) -> Diagnosis | None:
    found = find_first(facts.lines, NODE_FAILURE)
    if not found and facts.state not in ("NODE_FAIL", "BOOT_FAIL"):
        return None
    events = facts.failed_nodes
    if events:
        failed = ", ".join(f"{event.node}{_ranks_on(facts, event.node)}" for event in events)
        what = f"Node {failed} failed ({events[0].reason}, at {events[0].start})"
    else:
        what = f"A node of the job{f' ({facts.nodes})' if facts.nodes else ''} failed"
    also = [Evidence("sacctmgr show event", 0, event.text()) for event in events]
    return Diagnosis(
        "node_failure",
        f"{what}: Slurm ended the job; the cause is not in your program.",
        Evidence.of(found[0]) if found else (also.pop(0) if also else None),
        join_sentences(
            how_to_resume(facts),
            "If it happens again on the same node, leave it out (`#SBATCH --exclude=<node>`) and tell the "
            "support team.",
        ),
        also=also,
    )


def _ranks_on(facts: Facts, node: str) -> str:
    """` (ranks 2-3)`: the training ranks srun placed on a node (blocks of ranks per node, in the
    order of the job's node list); empty when unknown."""
    names = expand_node_list(facts.nodes)
    if not facts.ranks or node not in names or facts.ranks % len(names):
        return ""
    per_node = facts.ranks // len(names)
    first = names.index(node) * per_node
    return f" (rank {first})" if per_node == 1 else f" (ranks {first}-{first + per_node - 1})"


RULES = (Rule("node_failure", node_failure),)
