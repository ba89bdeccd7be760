"""hpcseq.logs.diagnose: the cause of every kind of failure, from log excerpts and Slurm's state."""

from __future__ import annotations

from hpcseq.logs.diagnose import Facts, diagnose, display_path, is_noise, tracebacks
from hpcseq.logs.parse import Checkpoint, lines_from_text
from hpcseq.logs.sources import parse_node_events
from tests.unit.logs.excerpts import (
    CANCEL_ERR,
    CHAINED_EXCEPTIONS,
    CONSOLE,
    GLOO_TIMEOUT_HANG,
    GPU_OOM,
    HANG_MPIRUN,
    HOROVODRUN_TRACEBACKS,
    INTERLEAVED,
    OMPI_WITHOUT_PMI,
    RANK_KILLED_ERR,
    STALL,
    TIME_LIMIT_ERR,
)


def facts(text: str, path: str = "job.err", **values) -> Facts:
    return Facts(lines=lines_from_text(text, path), **values)


def test_time_limit_names_the_checkpoint_and_how_to_resume():
    checkpoint = Checkpoint("/r/results/tiny_char/model/checkpoints/epoch-0039-step-0000005", 39, 5)
    found = diagnose(
        facts(
            TIME_LIMIT_ERR,
            "tiny_char_err.57",
            state="TIMEOUT",
            exit_code=0,
            checkpoint=checkpoint,
            epochs_done=39,
            epochs_planned=500,
            training_started=True,
            limit_seconds=60,
            experiment="tiny_char",
            script="jobs/local/tiny_char.sbatch",
        )
    )
    assert found.kind == "time_limit"
    assert "time limit of 00:01:00 after epoch 39 of 500" in found.summary
    assert (found.evidence.path, found.evidence.line) == ("tiny_char_err.57", 2)
    assert "epoch 39 + 5 steps of epoch 40" in found.next_step
    assert "`sbatch jobs/local/tiny_char.sbatch`" in found.next_step
    assert "slurm.time.train" in found.next_step and "hpcseq sbatch --time" in found.next_step


def test_without_sacct_the_marker_alone_says_time_limit_and_later_kills_are_consequences():
    found = diagnose(facts(TIME_LIMIT_ERR, state=None, training_started=True))
    assert found.kind == "time_limit" and found.evidence.line == 2


def test_a_snakemake_retry_after_sigusr1_is_a_time_limit_continued_by_the_next_job():
    text = (
        "2026-11-22 09:00:00 hpcseq train rank 0/2 WARNING received SIGUSR1: will checkpoint after the current "
        "step and stop\n"
        "hpcseq train: error: stopped on SIGUSR1 after writing checkpoint /r/x/model/checkpoints/epoch-0004-step-"
        "0000000; run again to continue (exit code 75)\n"
    )
    found = diagnose(
        facts(
            text,
            "logs/train/x.log",
            state="FAILED",
            exit_code=75,
            rule="train",
            experiment="x",
            training_started=True,
            next_job="88",
            checkpoint=Checkpoint("/r/c/epoch-0004-step-0000000", 4, 0),
        )
    )
    assert found.kind == "time_limit" and "exit code 75" in found.summary
    assert "continued as job 88" in found.next_step and "epoch 4" in found.next_step
    assert found.evidence.line == 2


def test_ranks_ended_by_the_warning_while_starting_are_a_time_limit_stop_not_a_dead_rank():
    # srun's lines as recorded here for a step signalled with SIGUSR1 before its tasks could catch
    # it (`scancel --signal=USR1 <job>.0` on `srun -n2 sleep 30`: exit 138); seen under the profile
    # when Slurm's warning came while a resubmitted training's ranks started (job 1443, stop 21)
    text = (
        "hpcseq launch: srun --mpi=pmix --kill-on-bad-exit=1 --nodes=1 --ntasks=2 --ntasks-per-node=2 "
        ".venv/train/bin/python -m hpcseq train --experiment x\n"
        "srun: error: node1: tasks 0-1: User defined signal 1\n"
        "srun: launch/slurm: _step_signal: Terminating StepId=1443.0\n"
        "Error in rule train:\n"
    )
    found = diagnose(
        facts(
            text,
            "slurm_logs/rule_train/x/1443.log",
            state="FAILED",
            exit_code=1,
            rule="train",
            experiment="x",
            next_job="1444",
            checkpoint=Checkpoint("/r/c/epoch-0006-step-0000000", 6, 0),
        )
    )
    assert found.kind == "time_limit", found
    assert "ended ranks 0-1 on node1 while starting" in found.summary and "job 1444 continues" in found.summary
    assert found.evidence.line == 2 and "epoch 6" in found.next_step
    # any other signal is still a rank that died
    killed = diagnose(facts(text.replace("User defined signal 1", "Killed"), state="FAILED", rule="train"))
    assert killed.kind == "rank_died"


def test_a_job_script_requeued_after_the_warning_ended_its_starting_ranks():
    # a generated script's own lines (jobscript_steps._training_until_requeued) around srun's
    text = (
        "srun: error: jrc0001: tasks 0-3: User defined signal 1\n"
        "2026-11-26 16:00:00 warned while training started: requeueing job 91\n"
    )
    found = diagnose(facts(text, "x_err.91", state="REQUEUED", rule=None, script="jobs/jureca-dc/x.sbatch"))
    assert found.kind == "time_limit" and "ended ranks 0-3 on jrc0001 while starting" in found.summary
    assert "the job script requeued the job" in found.summary and found.evidence.line == 1


def test_cancelled_by_the_user():
    found = diagnose(
        facts(
            CANCEL_ERR,
            "tiny_char_err.60",
            state="CANCELLED",
            cancelled_by="root",
            checkpoint=Checkpoint("/r/c/epoch-0002-step-0000025", 2, 25),
            epochs_done=2,
            epochs_planned=500,
            training_started=True,
        )
    )
    assert found.kind == "cancelled"
    assert found.summary == "The job was cancelled by root at 2026-11-22T11:09:56 (scancel) during epoch 3."
    assert found.evidence.line == 3 and "epoch 2 + 25 steps of epoch 3" in found.next_step


def test_a_killed_rank_is_the_cause_not_the_pmix_error_or_the_step_cancel_after_it():
    found = diagnose(facts(RANK_KILLED_ERR, state="FAILED", exit_code=9, training_started=True))
    assert found.kind == "rank_died" and found.evidence.line == 1
    assert found.summary == "Horovod rank 1 on vm ended early: Killed."
    assert "killed from outside" in found.next_step


def test_horovodrun_and_mpirun_report_a_dead_rank():
    # horovodrun's own message (horovod/runner/gloo_run.py) after rank 1 was SIGKILLed
    horovodrun = (
        "RuntimeError: Horovod detected that one or more processes exited with non-zero status, thus "
        "causing the job to be terminated. The first process to do so was:\nProcess name: 1\nExit code: 137\n"
    )
    found = diagnose(facts(horovodrun, state="FAILED", training_started=True))
    assert found.kind == "rank_died" and "process 1 exited with exit code 137 (signal 9)" in found.summary
    # OpenMPI's mpirun (4.x) after a rank was killed
    mpirun = (
        "--------------------------------------------------------------------------\n"
        "Primary job  terminated normally, but 1 process returned\n"
        "a non-zero exit code. Per user-direction, the job has been aborted.\n"
        "--------------------------------------------------------------------------\n"
        "mpirun noticed that process rank 1 with PID 0 on node jwc03n042 exited on signal 9 (Killed).\n"
    )
    found = diagnose(facts(mpirun, state="FAILED", training_started=True))
    assert found.kind == "rank_died" and found.evidence.line == 5 and "MPI rank 1 on jwc03n042" in found.summary


def test_python_exception_points_at_the_projects_own_frame_even_when_ranks_interleave():
    found = diagnose(facts(INTERLEAVED, "tiny_char_err.59", state="FAILED", exit_code=1, training_started=True))
    assert found.kind == "python_exception"
    assert found.location == "scripts/hpcseq/vocab.py:234"
    assert found.summary.startswith(
        "ValueError: mmap length is greater than file size in scripts/hpcseq/vocab.py, line 234 (load_char_ids)"
    )
    assert (found.evidence.path, found.evidence.line) == ("tiny_char_err.59", 21)
    assert "numpy" not in found.location and "shorter than its index" in found.next_step


def test_horovodrun_prefixes_are_stripped_and_the_rank_named_and_consequences_skipped():
    found = diagnose(facts(HOROVODRUN_TRACEBACKS, state="FAILED", training_started=True))
    assert found.kind == "python_exception" and found.location == "scripts/hpcseq/vocab.py:201"
    assert "JSONDecodeError" in found.summary and "on rank 1" in found.summary


def test_chained_exceptions_report_the_one_that_ended_the_program():
    found = diagnose(facts(CHAINED_EXCEPTIONS, state="FAILED"))
    assert found.summary.startswith("RuntimeError: config broken") and found.location == "scripts/hpcseq/config.py:12"
    assert len(tracebacks(lines_from_text(CHAINED_EXCEPTIONS))) == 2
    assert display_path("/p/project/x/scripts/hpcseq/vocab.py") == "scripts/hpcseq/vocab.py"


def test_gpu_out_of_memory_wins_over_the_python_exception_it_raises():
    found = diagnose(facts(GPU_OOM, state="FAILED", exit_code=1, training_started=True))
    assert found.kind == "gpu_out_of_memory" and found.evidence.line == 9
    assert "batch_size" in found.next_step
    # the driver's own message, as TensorFlow logs it when cuMemAlloc fails
    driver = (
        "2026-11-20 14:02:11.101: E external/local_xla/xla/stream_executor/cuda/cuda_driver.cc:1001] failed to "
        "allocate 39.50GiB (42412539904 bytes) from device: CUDA_ERROR_OUT_OF_MEMORY: out of memory\n"
    )
    assert diagnose(facts(driver, state="FAILED")).kind == "gpu_out_of_memory"


def test_host_out_of_memory_from_sacct_and_the_oom_kill_lines_explains_the_killed_rank():
    # Slurm 21.08+ with cgroups (the form seen on JSC systems); the killed rank follows
    text = (
        "slurmstepd: error: Detected 1 oom_kill event in StepId=4711.0. Some of the step tasks have been OOM "
        "Killed.\nsrun: error: jrc0731: task 1: Out Of Memory\nsrun: error: jrc0731: task 0: Killed\n"
    )
    found = diagnose(facts(text, state="OUT_OF_MEMORY", job_id="4711", training_started=True))
    assert found.kind == "host_out_of_memory" and found.evidence.line == 1
    assert "sacct -j 4711 --format=JobID,MaxRSS,ReqMem" in found.next_step
    assert diagnose(facts("", state="OUT_OF_MEMORY")).kind == "host_out_of_memory"
    # older Slurm: "oom-kill event(s) in step ... cgroup"
    old = "slurmstepd: error: Detected 1 oom-kill event(s) in step 3495064.0 cgroup.\n"
    assert diagnose(facts(old, state="FAILED")).kind == "host_out_of_memory"


def test_environment_errors():
    # Lmod (JSC's module system) when setup.modules names a module that does not exist
    lmod = (
        "Lmod has detected the following error:  The following module(s) are unknown:\n"
        '"TensorFlow/2.99"\n\nPlease check the spelling or version number. Also try "module spider ..."\n'
    )
    found = diagnose(facts(lmod, state="FAILED", exit_code=1))
    assert found.kind == "environment" and "TensorFlow/2.99" in found.summary and "module spider" in found.next_step
    # bash without environment modules (a machine without Lmod, or a non-login batch shell)
    no_module = "/var/spool/slurmd/job4711/slurm_script: line 24: module: command not found\n"
    assert "no `module` command" in diagnose(facts(no_module, state="FAILED")).summary
    missing = (
        "hpcseq launch: error: the training interpreter /p/home/u/venv/bin/python does not exist: run `make "
        "setup` (which builds .venv/train), or set `training_python` in the config\n"
    )
    found = diagnose(facts(missing, state="FAILED", exit_code=2))
    assert found.kind == "environment" and "/p/home/u/venv/bin/python" in found.summary
    imported = (
        'Traceback (most recent call last):\n  File "/x/scripts/hpcseq/distributed.py", line 30, in '
        "init_horovod\n    import horovod.tensorflow.keras as hvd\nModuleNotFoundError: No module named "
        "'horovod'\n"
    )
    found = diagnose(facts(imported, state="FAILED", exit_code=1))
    assert found.kind == "environment" and "No module named 'horovod'" in found.summary


def test_ranks_that_could_not_start():
    found = diagnose(facts(OMPI_WITHOUT_PMI, state="FAILED", exit_code=1))
    assert found.kind == "mpi_launch" and found.evidence.line == 2 and "srun --mpi=list" in found.next_step
    plugin = "srun: error: Couldn't find the specified plugin name for mpi/pmix_v5 looking at all files\n"
    assert diagnose(facts(plugin, state="FAILED")).kind == "mpi_launch"
    # the same PMIx words after training ran are consequences of a dead rank, not a launch failure
    assert diagnose(facts(RANK_KILLED_ERR, state="FAILED", training_started=True)).kind == "rank_died"


def test_a_horovod_stall_explains_the_time_limit_that_followed():
    found = diagnose(facts(STALL, state="TIMEOUT", training_started=True))
    assert found.kind == "horovod_stall" and found.evidence.line == 1
    assert "rank(s) 1 never joined" in found.summary and "more than 60 s" in found.summary
    assert "time limit" in found.summary
    # while the job still runs, the stall is the one thing worth reporting
    assert diagnose(facts(STALL.splitlines()[0], state="RUNNING")).kind == "horovod_stall"
    assert diagnose(facts(CONSOLE, state="RUNNING")) is None


def test_a_rank_that_hangs_is_named_with_its_host_not_the_rank_the_watchdog_ended():
    # mpirun reports rank 0's exit code 124: the watchdog's, rank 1 is the one that hung
    found = diagnose(facts(HANG_MPIRUN, "train.log", state="FAILED", exit_code=124, training_started=True))
    assert found.kind == "rank_hung" and found.evidence.line == 4
    assert found.summary.startswith("Rank 1 on vm (pid 23400) hung: no heartbeat for 10 s, since step 140;")
    assert "training.hang_timeout_seconds (10 s)" in found.summary and "exit code 124" in found.summary
    assert "scontrol show node vm" in found.next_step
    # under srun the watcher's exit ends the step (--kill-on-bad-exit): the same cause, not a dead rank
    srun = HANG_MPIRUN.split("-" * 74)[0] + "srun: error: node2: task 0: Exited with exit code 124\n"
    assert diagnose(facts(srun, state="FAILED", exit_code=124, training_started=True)).kind == "rank_hung"


def test_gloos_timeout_on_the_waiting_rank_follows_from_the_silent_one():
    """Not the TensorFlow error of rank 0 (Gloo's timeout), nor horovodrun's "Process 0 exit with
    status code 1": rank 1, which had gone silent."""
    found = diagnose(facts(GLOO_TIMEOUT_HANG, "train.log", state=None, exit_code=1, training_started=True))
    assert found.kind == "rank_hung" and found.evidence.line == 21
    assert found.summary.startswith("Rank 1 on vm (pid 26053) hung: no heartbeat for 34 s, since step 32;")
    assert "the other ranks failed waiting for it" in found.summary


def test_an_error_of_the_silent_rank_itself_is_the_cause():
    """A rank that raised and then hung on its way out (MPI_Finalize waiting for the others): its
    exception explains the job, the watchdog only ended it."""
    text = (
        "Traceback (most recent call last):\n"
        '  File "/w/scripts/hpcseq/training/train.py", line 120, in train\n'
        "    data = load_data(settings, paths, ranks)\n"
        "ValueError: a problem of rank 1's own\n" + HANG_MPIRUN.splitlines()[3] + "\n"
    )
    assert diagnose(facts(text, state="FAILED", exit_code=124, training_started=True)).kind == "python_exception"


def test_mismatched_collectives():
    # Horovod 0.28's coordinator error, raised in TensorFlow on every rank
    text = (
        "tensorflow.python.framework.errors_impl.FailedPreconditionError: Mismatched ALLREDUCE tensor shapes: "
        "One rank sent a tensor of shape [128,35], but another rank sent a tensor of shape [64,35].\n"
    )
    found = diagnose(facts(text, state="FAILED", training_started=True))
    assert found.kind == "collective_mismatch" and "[128,35]" in found.summary
    other = "Mismatched operations: One rank did an ALLREDUCE, but another rank did an ALLGATHER.\n"
    assert diagnose(facts(other, state="FAILED")).kind == "collective_mismatch"


def test_nccl_and_cuda_errors():
    # Horovod with NCCL on a GPU node (the form of horovod/common/ops/nccl_operations.cc errors)
    nccl = (
        "[1]<stderr>:horovod.common.exceptions.HorovodInternalError: ncclCommInitRank failed: unhandled cuda "
        "error (run with NCCL_DEBUG=INFO for details)\n"
    )
    found = diagnose(facts(nccl, state="FAILED", training_started=True))
    assert found.kind == "nccl_cuda" and "NCCL" in found.summary and "NCCL_DEBUG=INFO" in found.next_step
    cuda = (
        "2026-11-20 09:00:01.5: F external/local_xla/xla/stream_executor/cuda/cuda_driver.cc:152] Check failed: "
        "CUDA error: an illegal memory access was encountered (cudaErrorIllegalAddress)\n"
    )
    assert diagnose(facts(cuda, state="FAILED")).kind == "nccl_cuda"
    # TensorFlow on a CPU-only node says this and trains on: not a failure cause
    cpu = (
        "2026-11-22 11:04:00.1: E external/local_xla/xla/stream_executor/cuda/cuda_driver.cc:274] failed call to "
        "cuInit: CUDA_ERROR_NO_DEVICE: no CUDA-capable device is detected\n"
    )
    assert diagnose(facts(cpu + TIME_LIMIT_ERR, state="TIMEOUT")).kind == "time_limit"
    # TensorFlow 2.21 (tensorflow-cpu, absl's log format) on this CPU-only machine says this at every import
    cpu_221 = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 00:00:1796630549.767520   21672 port.cc:153] oneDNN custom operations are on. You may see slightly "
        "different numerical results due to floating-point round-off errors from different computation orders.\n"
        "E0000 00:00:1796630402.964835    4035 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: "
        "Failed call to cuInit: UNKNOWN ERROR (303)\n"
    )
    assert diagnose(facts(cpu_221 + TIME_LIMIT_ERR, state="TIMEOUT")).kind == "time_limit"
    assert all(is_noise(line) for line in cpu_221.splitlines())
    assert diagnose(facts(cpu_221, state="FAILED")).kind == "unknown"  # was nccl_cuda: "CUDA error"


def test_node_failure_and_preemption():
    # Slurm's messages when a node dies under a job / a higher-priority job preempts it
    node = (
        "slurmstepd: error: *** JOB 9172554 ON jwb0153 CANCELLED AT 2026-11-20T03:12:09 DUE TO NODE FAILURE, "
        "SEE SLURMCTLD LOG FOR DETAILS ***\nsrun: error: jwb0153: task 2: Killed\n"
    )
    found = diagnose(facts(node, state="NODE_FAIL", nodes="jwb0153"))
    assert found.kind == "node_failure" and found.evidence.line == 1 and "--exclude" in found.next_step
    assert diagnose(facts("", state="NODE_FAIL")).kind == "node_failure"
    preempt = "slurmstepd: error: *** JOB 512 ON node07 CANCELLED AT 2026-11-20T08:00:00 DUE TO PREEMPTION ***\n"
    assert diagnose(facts(preempt, state="PREEMPTED")).kind == "preempted"
    assert diagnose(facts(preempt, state=None)).kind == "preempted"


# Seen on the test cluster: node2 of a 2-node training job killed (local_slurm.sh kill-node): the batch
# host's line in the job's Slurm log, and the node's event in Slurm's accounting
NODE_KILLED_LOG = (
    "slurmstepd-node1: error: *** JOB 143 ON node1 CANCELLED AT 2026-11-25T18:16:29 DUE TO NODE FAILURE, "
    "SEE SLURMCTLD LOG FOR DETAILS ***\n"
)
NODE_KILLED_EVENTS = (
    "node2|2026-11-25T18:10:11|DOWN*|Not responding\n"
    "node2|2026-11-25T18:11:12|DRAIN|hpcseq test maintenance\n"
    "node2|2026-11-25T18:16:29|DOWN*|Not responding\n"
)


def test_a_failed_node_is_named_with_its_ranks_from_slurms_node_events():
    events = [e for e in parse_node_events(NODE_KILLED_EVENTS) if e.start >= "2026-11-25T18:15:00"]
    assert [(e.node, e.state, e.reason) for e in events] == [("node2", "DOWN*", "Not responding")]
    found = diagnose(facts(NODE_KILLED_LOG, state="NODE_FAIL", nodes="node[1-2]", failed_nodes=events, ranks=4))
    assert found.kind == "node_failure"
    assert found.summary.startswith("Node node2 (ranks 2-3) failed (Not responding, at 2026-11-25T18:16:29)")
    assert "DUE TO NODE FAILURE" in found.evidence.text
    assert [str(item) for item in found.also] == [
        "sacctmgr show event:0: node2 DOWN from 2026-11-25T18:16:29: Not responding"
    ]
    one_rank_each = diagnose(facts("", state="NODE_FAIL", nodes="gpu[07-09]", failed_nodes=events[:0], ranks=3))
    assert one_rank_each.summary.startswith("A node of the job (gpu[07-09]) failed")


def test_hpcseq_errors_show_the_message_with_its_continuation_lines():
    text = (
        "hpcseq train: error: invalid configuration:\n"
        "  - config key experiments.x.ranks: 0 is not a whole number >= 1\n"
        "  - config key slurm.time.train: '25:99' is not a Slurm time limit\n"
        "srun: error: vm: tasks 0-1: Exited with exit code 2\n"
    )
    found = diagnose(facts(text, state="FAILED", exit_code=2))
    assert found.kind == "hpcseq_error" and found.evidence.line == 1
    assert "experiments.x.ranks" in found.summary and "slurm.time.train" in found.summary
    assert "hpcseq config" in found.next_step
    data = "hpcseq train: error: /r/x/encoded/train.ids: the training split has 10 characters = 0 windows of 10+1\n"
    assert diagnose(facts(data, state="FAILED")).kind == "hpcseq_error"


def test_unknown_failures_show_the_last_error_like_lines_and_completed_jobs_have_none():
    text = "starting\nsomething odd happened: error 42 in widget\nmore\nfatal: widget gave up\n"
    found = diagnose(facts(text, state="FAILED", exit_code=3))
    assert found.kind == "unknown" and found.evidence.line == 4 and [e.line for e in found.also] == [2]
    assert diagnose(facts(text, state="COMPLETED")) is None
    assert diagnose(facts(text, state="PENDING")) is None
    assert diagnose(facts("", state="FAILED", exit_code=1)).evidence is None


def test_tensorflow_noise():
    assert is_noise(
        "2026-11-22 11:04:01.123456: I tensorflow/core/util/port.cc:113] oneDNN custom operations are on. "
        "You may see slightly different numerical results"
    )
    assert is_noise(
        "2026-11-22 11:04:01.2: E external/local_xla/xla/stream_executor/cuda/cuda_dnn.cc:9261] Unable to "
        "register cuDNN factory: Attempting to register factory for plugin cuDNN when one has already been "
        "registered"
    )
    assert not is_noise("ValueError: mmap length is greater than file size")
