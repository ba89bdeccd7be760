"""The table of diagnoses and its tests cannot drift apart: every entry of hpcseq.logs.diagnose.RULES
has an example here (a log excerpt and Slurm's state) that the entry diagnoses and that wins in
the whole table, so adding an entry without its example fails, and so does an example left behind
by an entry that is gone. What each diagnosis says is tested in test_diagnose.py."""

from __future__ import annotations

import pytest

from hpcseq.events import HOROVODRUN_MISSING, INTERPRETER_MISSING, SCRIPT_SETUP_FAILED, SMOKE_CHECK
from hpcseq.logs import diagnose as diagnoses
from hpcseq.logs.diagnose import PRIORITY, RULES, Facts, LineRule, Rule, diagnose
from hpcseq.logs.parse import lines_from_text
from tests.unit.logs.excerpts import (
    CANCEL_ERR,
    GPU_OOM,
    HANG_MPIRUN,
    INTERLEAVED,
    OMPI_WITHOUT_PMI,
    RANK_KILLED_ERR,
    STALL,
    TIME_LIMIT_ERR,
)


def facts(text: str, **values) -> Facts:
    return Facts(lines=lines_from_text(text, "job.err"), **values)


# {entry's name: what it diagnoses}; one-line examples in the form the systems print them
EXAMPLES = {
    "interrupted": facts("Terminating processes on user request, this might take some time.\n", state="INTERRUPTED"),
    "smoke_test": facts(
        SMOKE_CHECK.text(result="FAIL", check="gpus", detail="TensorFlow sees 0 GPU(s) on every rank; expected 4"),
        state="FAILED",
    ),
    "gpu_out_of_memory": facts(GPU_OOM, state="FAILED", exit_code=1, training_started=True),
    # older Slurm: "oom-kill event(s) in step ... cgroup"
    "host_out_of_memory": facts("slurmstepd: error: Detected 1 oom-kill event(s) in step 3495064.0 cgroup.\n"),
    "node_failure": facts("", state="NODE_FAIL"),
    "preempted": facts(
        "slurmstepd: error: *** JOB 512 ON node07 CANCELLED AT 2026-11-20T08:00:00 DUE TO PREEMPTION ***\n",
        state="PREEMPTED",
    ),
    "collective_mismatch": facts(
        "Mismatched operations: One rank did an ALLREDUCE, but another rank did an ALLGATHER.\n", state="FAILED"
    ),
    "nccl_cuda": facts(
        "[1]<stderr>:horovod.common.exceptions.HorovodInternalError: ncclCommInitRank failed: unhandled cuda "
        "error (run with NCCL_DEBUG=INFO for details)\n",
        state="FAILED",
        training_started=True,
    ),
    # Lmod (JSC's module system) when setup.modules names a module that does not exist
    "unknown_module": facts(
        "Lmod has detected the following error:  The following module(s) are unknown:\n"
        '"TensorFlow/2.99"\n\nPlease check the spelling or version number. Also try "module spider ..."\n',
        state="FAILED",
    ),
    "no_module_command": facts(
        "/var/spool/slurmd/job4711/slurm_script: line 24: module: command not found\n", state="FAILED"
    ),
    "interpreter_missing": facts(
        "hpcseq launch: error: " + INTERPRETER_MISSING.text(python="/p/home/u/venv/bin/python", advice="run make"),
        state="FAILED",
        exit_code=2,
    ),
    "horovodrun_missing": facts(
        "hpcseq launch: error: " + HOROVODRUN_MISSING.text(python="/p/home/u/venv/bin/python", advice="run make"),
        state="FAILED",
        exit_code=2,
    ),
    "import_error": facts("ModuleNotFoundError: No module named 'horovod'\n", state="FAILED"),
    # bash's `source` of a venv that is not there
    "venv_missing": facts(
        "/var/spool/slurmd/job4711/slurm_script: line 12: /p/project/x/venv/bin/activate: No such file or directory\n",
        state="FAILED",
    ),
    "executable_missing": facts(
        "slurmstepd: error: execve(): /p/project/x/venv/bin/python: No such file or directory\n", state="FAILED"
    ),
    "shared_library_missing": facts(
        "/p/project/x/venv/bin/python: error while loading shared libraries: libpython3.12.so.1.0: cannot open "
        "shared object file: No such file or directory\n",
        state="FAILED",
    ),
    # Lmod when a module exists but needs others loaded before it
    "module_error": facts(
        "Lmod has detected the following error:  These module(s) or extension(s) exist but cannot be loaded as "
        'requested: "Horovod/0.28.1"\n   Try: "module spider Horovod/0.28.1" to see how to load the module(s).\n',
        state="FAILED",
    ),
    "setup_line_failed": facts(
        SCRIPT_SETUP_FAILED.text(code=1, line="the interpreter python is not there after the setup lines"),
        state="FAILED",
        exit_code=1,
    ),
    "mpi_launch": facts(OMPI_WITHOUT_PMI, state="FAILED", exit_code=1),
    "rank_hung": facts(HANG_MPIRUN, state="FAILED", exit_code=124, training_started=True),
    "python_exception": facts(INTERLEAVED, state="FAILED", exit_code=1, training_started=True),
    "hpcseq_error": facts(
        "hpcseq train: error: /r/x/encoded/train.ids: the training split has 10 characters = 0 windows of 10+1\n",
        state="FAILED",
    ),
    "rank_died": facts(RANK_KILLED_ERR, state="FAILED", exit_code=9, training_started=True),
    "horovod_stall": facts(STALL, state="TIMEOUT", training_started=True),
    "time_limit": facts(TIME_LIMIT_ERR, state="TIMEOUT", training_started=True),
    "cancelled": facts(CANCEL_ERR, state="CANCELLED", training_started=True),
}


def test_every_entry_of_the_table_has_an_example_and_every_example_an_entry():
    names = [rule.name for rule in RULES]
    assert len(names) == len(set(names)), "entry names are unique"
    assert sorted(EXAMPLES) == sorted(names)


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.name)
def test_each_entry_diagnoses_its_example_and_wins_the_table(rule):
    example = EXAMPLES[rule.name]
    found = rule(example)
    assert found is not None and found.kind == rule.kind
    assert diagnose(example) == found, "an entry earlier in the table took it"


def test_every_kind_has_its_place_and_entries_of_one_kind_stay_together_in_order():
    kinds = [rule.kind for rule in RULES]
    assert sorted(set(kinds), key=kinds.index) == list(PRIORITY)
    assert sorted(kinds, key=PRIORITY.index) == kinds


def test_a_kind_without_a_place_in_the_priority_is_refused():
    stray = LineRule("new", "new_kind", SMOKE_CHECK.pattern, "summary", "next step")
    with pytest.raises(ValueError, match="new_kind"):
        diagnoses._in_priority_order([(Rule("cancelled", diagnose), stray)])
