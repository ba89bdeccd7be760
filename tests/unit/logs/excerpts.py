"""Log excerpts that `hpcseq logs` reads, verbatim (so some lines are longer than the line-length limit).

Excerpts marked "recorded here" were written by real jobs on the local Slurm cluster
(tests/cluster/local_slurm.sh; tests/slurm/test_logs.py makes the same ones). Failures that cannot
happen on this machine (no GPU, one node, no Lmod, no NCCL) use excerpts in the form the real
systems print them; each says where it comes from. Tests assert line numbers in them: keep them
exact.
"""

# ----------------------------------------------------------------------------- hpcseq's console

CONSOLE = """\
2026-11-22 11:04:08 hpcseq train rank 0/2 INFO experiment tiny_char: char_rnn on 2 rank(s), launcher srun, host vm, CPU, 1 threads per rank
2026-11-22 11:04:09 hpcseq train rank 0/2 INFO data: 23990 training items (11995 on this rank), 30 steps per epoch of 32 per rank, global batch 64
2026-11-22 11:04:38 hpcseq train rank 0/2 INFO epoch 1/500 loss 3.3705 sparse_categorical_accuracy 0.1073 val_loss 3.0801 val_sparse_categorical_accuracy 0.1886 | 122 samples/s | 17.7 s
2026-11-22 11:04:38 hpcseq train rank 0/2 INFO epoch 2/500 loss 2.9669 sparse_categorical_accuracy 0.1948 val_loss 2.9499 val_sparse_categorical_accuracy 0.1870 | 8903 samples/s | 0.3 s
2026-11-22 11:04:39 hpcseq train rank 0/2 INFO epoch 3/500 loss 2.9149 sparse_categorical_accuracy 0.1896 val_loss 2.8815 val_sparse_categorical_accuracy 0.1930 | 8715 samples/s | 0.4 s
2026-11-22 11:04:40 hpcseq train rank 0/2 INFO checkpoint /r/results/tiny_char/model/checkpoints/epoch-0003-step-0000000 written in 0.23 s
2026-11-22 11:04:59 hpcseq train rank 0/2 WARNING received SIGTERM: will checkpoint after the current step and stop
2026-11-22 11:05:00 hpcseq train rank 0/2 INFO checkpoint /r/results/tiny_char/model/checkpoints/epoch-0003-step-0000005 written in 0.01 s
"""  # recorded here (job 57, cut)

# ------------------------------------------------------------------------- Snakemake and Slurm

SNAKEMAKE_LOG = """\
Building DAG of jobs...
[Sun Nov 22 08:20:14 2026]
localrule train:
    input: /tmp/s1/results/tiny_sentiment/vocab.json, /tmp/s1/results/tiny_sentiment/encoded/train.npz
    output: /tmp/s1/results/tiny_sentiment/model/final.keras, /tmp/s1/results/tiny_sentiment/model/metrics.jsonl
    log: /tmp/s1/logs/train/tiny_sentiment.log
    jobid: 0
    wildcards: experiment=tiny_sentiment
RuleException:
CalledProcessError in file "/work/main/workflow/rules/train.smk", line 37:
Command 'set -euo pipefail;  python -m hpcseq launch --ranks 2 ... > /tmp/s1/logs/train/tiny_sentiment.log 2>&1' returned non-zero exit status 2.
[Sun Nov 22 08:20:14 2026]
Error in rule train:
    message: None
    log: /tmp/s1/logs/train/tiny_sentiment.log (check log file(s) for error details)
"""  # recorded here (a Snakemake job step's Slurm log, shortened)

FIELDS = (
    "JobID|JobIDRaw|JobName|State|ExitCode|Elapsed|ElapsedRaw|Timelimit|TimelimitRaw|NNodes|AllocNodes|NodeList|NTasks|"
    "AllocTRES|Reason|Submit|Start|End|Partition|WorkDir|SubmitLine"
)
SACCT = """\
60|60|tiny_char|CANCELLED by 0|0:0|00:00:26|26|00:05:00|5|1|1|vm||billing=2,cpu=2,gres/gpu=2,mem=2000M,node=1|None|2026-11-22T11:09:29|2026-11-22T11:09:30|2026-11-22T11:09:56|gpus|/tmp/c/submit|sbatch --parsable /tmp/c/jobs/local/tiny_char.sbatch
60.batch|60.batch|batch|CANCELLED|0:15|00:00:26|26|||1|1|vm|1|cpu=2,gres/gpu=2,mem=2000M,node=1||2026-11-22T11:09:30|2026-11-22T11:09:30|2026-11-22T11:09:56||||
60.0|60.0|python|COMPLETED|0:0|00:00:01|1|||1|1|vm|1|cpu=1,gres/gpu=2,mem=1000M,node=1||2026-11-22T11:09:30|2026-11-22T11:09:30|2026-11-22T11:09:31|||srun --nodes=1 --ntasks=1 python -m hpcseq preprocess
60.2|60.2|python|FAILED|15:0|00:00:28|28|||1|1|vm|2|cpu=2,gres/gpu=2,mem=2000M,node=1||2026-11-22T11:09:31|2026-11-22T11:09:31|2026-11-22T11:09:59|||srun --mpi=pmix --ntasks=2 python -m hpcseq train --config c.yaml --experiment tiny_char
72|72|rqtest|REQUEUED|0:0|00:00:00|0|00:02:00|2|1|1|vm||billing=1,cpu=1,mem=1000M,node=1|None|2026-11-22T11:20:03|2026-11-22T11:20:04|2026-11-22T11:20:04|batch|/tmp/rq|sbatch --parsable rq.sbatch
72.batch|72.batch|batch|COMPLETED|0:0|00:00:00|0|||1|1|vm|1|cpu=1,mem=1000M,node=1||2026-11-22T11:20:04|2026-11-22T11:20:04|2026-11-22T11:20:04||||
72|72|rqtest|COMPLETED|0:0|00:00:00|0|00:02:00|2|1|1|vm||billing=1,cpu=1,mem=1000M,node=1|None|2026-11-22T11:20:04|2026-11-22T11:20:36|2026-11-22T11:20:36|batch|/tmp/rq|sbatch --parsable rq.sbatch
72.batch|72.batch|batch|COMPLETED|0:0|00:00:00|0|||1|1|vm|1|cpu=1,mem=1000M,node=1||2026-11-22T11:20:36|2026-11-22T11:20:36|2026-11-22T11:20:36||||
73|73|wrap|FAILED|1:0|00:00:01|1|UNLIMITED|UNLIMITED|1|1|vm||cpu=1,node=1|None|2026-11-22T11:30:00|2026-11-22T11:30:00|2026-11-22T11:30:01|batch|/tmp|sbatch --wrap=grep x | sort
"""  # recorded here with `sacct -P -n -D --format=<FIELDS>` (jobs 60 and 72); 73 has a '|' in its submit line;
# AllocNodes was not asked for then: its column is NNodes repeated (what sacct gives for runs that started)

# the generated job script's own lines of a requeued job (--open-mode=append: both runs in one file)
SCRIPT_REQUEUED = """\
2026-11-22 11:20:04 job 72 on vm (restart 0)
2026-11-22 11:20:04 checkpoint written before the time limit: requeueing job 72
2026-11-22 11:20:36 job 72 on vm (restart 1)
2026-11-22 11:20:36 done
"""  # recorded here (a requeued job, --open-mode=append)

# --------------------------------------------------------------------------------- failures

TIME_LIMIT_ERR = """\
srun: Job step aborted: Waiting up to 7 seconds for job step to finish.
slurmstepd-vm: error: *** JOB 57 ON vm CANCELLED AT 2026-11-22T11:04:59 DUE TO TIME LIMIT ***
slurmstepd-vm: error: *** STEP 57.2 ON vm CANCELLED AT 2026-11-22T11:04:59 DUE TO TIME LIMIT ***
srun: got SIGCONT
srun: forcing job termination
hpcseq train: error: stopped on SIGTERM after writing checkpoint /r/results/tiny_char/model/checkpoints/epoch-0039-step-0000005; run again to continue (exit code 143)
srun: error: vm: task 1: Exited with exit code 143
srun: error: vm: task 0: Killed
"""  # recorded here (job 57: --time=00:01:00, no --signal)

CANCEL_ERR = """\
srun: got SIGCONT
srun: Job step aborted: Waiting up to 7 seconds for job step to finish.
slurmstepd-vm: error: *** JOB 60 ON vm CANCELLED AT 2026-11-22T11:09:56 ***
srun: forcing job termination
slurmstepd-vm: error: *** STEP 60.2 ON vm CANCELLED AT 2026-11-22T11:09:56 ***
hpcseq train: error: stopped on SIGTERM after writing checkpoint /r/c/epoch-0002-step-0000025; run again to continue (exit code 143)
srun: error: vm: tasks 0-1: Exited with exit code 143
"""  # recorded here (job 60, scancel during epoch 3)

RANK_KILLED_ERR = """\
srun: error: vm: task 1: Killed
slurmstepd-vm: error:  mpi/pmix_v4: _errhandler: vm [0]: pmixp_client_v2.c:211: Error handler invoked: status = -61, source = [slurm.pmix.58.2:1]
slurmstepd-vm: error: *** STEP 58.2 ON vm CANCELLED AT 2026-11-22T11:07:32 ***
srun: Job step aborted: Waiting up to 7 seconds for job step to finish.
srun: error: vm: task 0: Killed
training failed with exit code 137
"""  # recorded here (job 58: rank 1's python got SIGKILL during training; srun --mpi=pmix -n 2)

INTERLEAVED = """\
Traceback (most recent call last):
Traceback (most recent call last):
  File "<frozen runpy>", line 198, in _run_module_as_main
  File "/work/main/scripts/hpcseq/cli.py", line 88, in cmd_train
    train(settings, paths, restart=args.restart)
  File "/work/main/scripts/hpcseq/train.py", line 81, in char_data
    ids = load_char_ids(encoded_dir, "train", shard.char_start, shard.char_stop)
  File "/work/main/scripts/hpcseq/vocab.py", line 234, in load_char_ids
    ids = np.memmap(encoded_dir / f"{split}.ids", dtype=np.dtype(index["dtype"]), mode="r", shape=(length,))
          ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/work/main/.venv/train/lib/python3.11/site-packages/numpy/core/memmap.py", line 268, in __new__
  File "<frozen runpy>", line 198, in _run_module_as_main
  File "/work/main/scripts/hpcseq/cli.py", line 88, in cmd_train
    mm = mmap.mmap(fid.fileno(), bytes, access=acc, offset=start)
    train(settings, paths, restart=args.restart)
  File "/work/main/scripts/hpcseq/vocab.py", line 234, in load_char_ids
    ids = np.memmap(encoded_dir / f"{split}.ids", dtype=np.dtype(index["dtype"]), mode="r", shape=(length,))
  File "/work/main/.venv/train/lib/python3.11/site-packages/numpy/core/memmap.py", line 268, in __new__
    mm = mmap.mmap(fid.fileno(), bytes, access=acc, offset=start)
         ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
ValueError: mmap length is greater than file size
         ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
ValueError: mmap length is greater than file size
srun: error: vm: tasks 0-1: Exited with exit code 1
training failed with exit code 1
"""  # recorded here (job 59, shortened): two ranks' tracebacks interleaved line by line on one stderr

# rank 1 fails; rank 0's HorovodInternalError is a consequence
HOROVODRUN_TRACEBACKS = """\
[1]<stderr>:Traceback (most recent call last):
[1]<stderr>:  File "/home/u/hpcseq/scripts/hpcseq/train.py", line 212, in train
[1]<stderr>:    vocabulary = load_vocabulary(paths.vocab)
[1]<stderr>:  File "/home/u/hpcseq/scripts/hpcseq/vocab.py", line 201, in load_vocabulary
[1]<stderr>:    document = json.loads(path.read_text(encoding="utf-8"))
[1]<stderr>:  File "/usr/lib/python3.11/json/__init__.py", line 346, in loads
[1]<stderr>:    return _default_decoder.decode(s)
[1]<stderr>:json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)
[0]<stderr>:Traceback (most recent call last):
[0]<stderr>:  File "/home/u/hpcseq/scripts/hpcseq/train.py", line 287, in train
[0]<stderr>:    model.fit(data.make_training(0, 100), epochs=epochs)
[0]<stderr>:horovod.common.exceptions.HorovodInternalError: Horovod has been shut down. This was caused by an exception on one of the ranks
RuntimeError: Horovod detected that one or more processes exited with non-zero status, thus causing the job to be terminated. The first process to do so was:
Process name: 1
Exit code: 1
"""  # the shape horovodrun gives (see horovod/runner/gloo_run.py); paths of a user's checkout

# an exception raised while handling another
CHAINED_EXCEPTIONS = """\
Traceback (most recent call last):
  File "/x/scripts/hpcseq/config.py", line 10, in load
    raise KeyError("a")
KeyError: 'a'

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/x/scripts/hpcseq/config.py", line 12, in load
    raise RuntimeError("config broken")
RuntimeError: config broken
"""

# GPU out of memory as TensorFlow 2.15 prints it on a GPU node (JUWELS Booster, A100): bfc allocator
# warning, then the ResourceExhaustedError with the OOM line.
GPU_OOM = """\
2026-11-20 14:02:11.532871: W external/local_tsl/tsl/framework/bfc_allocator.cc:485] Allocator (GPU_0_bfc) ran out of memory trying to allocate 3.81GiB (rounded to 4089446400)requested by op sequential/lstm/while/body/_1/lstm_cell/MatMul
Traceback (most recent call last):
  File "/p/project/training2543/hpcseq/scripts/hpcseq/train.py", line 287, in train
    model.fit(data.make_training(initial_epoch * steps, epochs * steps), epochs=epochs,
  File "/p/software/stages/2024/TensorFlow/lib/python3.11/site-packages/tensorflow/python/eager/execute.py", line 53, in quick_execute
    tensors = pywrap_tfe.TFE_Py_Execute(ctx._handle, device_name, op_name,
tensorflow.python.framework.errors_impl.ResourceExhaustedError: Graph execution error:

OOM when allocating tensor with shape[8192,31104] and type float on /job:localhost/replica:0/task:0/device:GPU:0 by allocator GPU_0_bfc
"""

# OpenMPI built without Slurm PMI support, started by srun (the OpenMPI help text)
OMPI_WITHOUT_PMI = """\
--------------------------------------------------------------------------
The application appears to have been direct launched using "srun",
but OMPI was not built with SLURM's PMI support and therefore cannot
execute.
--------------------------------------------------------------------------
*** An error occurred in MPI_Init_thread
*** on a NULL communicator
[jrc0456:12345] Local abort before MPI_INIT completed completed successfully, but am not able to aggregate error messages, and not able to guarantee that all other processes were killed!
srun: error: jrc0456: tasks 0-3: Exited with exit code 1
"""

# Horovod's stall inspector (horovod/common/stall_inspector.cc, 0.28) while rank 1 hangs; the job then
# ran into its time limit
STALL = """\
[2026-11-20 10:15:42.118342: W /tmp/pip-install-abc/horovod/common/stall_inspector.cc:107] One or more tensors were submitted to be reduced, gathered or broadcasted by subset of ranks and are waiting for remainder of ranks for more than 60 seconds. This may indicate that different ranks are trying to submit different tensors or that only subset of ranks is submitting tensors, which will cause deadlock.
Missing ranks:
1: [DistributedAdam_Allreduce/cond/HorovodAllreduce_DistributedAdam_Allreduce_cond_truediv_0, DistributedAdam_Allreduce/cond_1/HorovodAllreduce_DistributedAdam_Allreduce_cond_1_truediv_1_0 ...]
slurmstepd: error: *** JOB 9001 ON jwb0001 CANCELLED AT 2026-11-20T12:00:01 DUE TO TIME LIMIT ***
"""

# ------------------------------------------------------------------- a rank that hangs

# 2 ranks under mpirun, rank 1 stopped with SIGSTOP after epoch 1, training.hang_timeout_seconds 10:
# rank 0's watchdog names it and exits 124, mpirun ends the job (tests/training/test_watchdog.py)
HANG_MPIRUN = """\
2026-11-25 18:03:16 hpcseq train rank 0/2 INFO experiment char: char_rnn on 2 rank(s), launcher mpirun, host vm, CPU, 1 threads per rank
2026-11-25 18:03:18 hpcseq train rank 0/2 INFO data: 15990 training items (7995 on this rank), 100 steps per epoch of 32 per rank, global batch 64
2026-11-25 18:04:07 hpcseq train rank 0/2 INFO epoch 1/100 loss 3.1049 sparse_categorical_accuracy 0.1569 val_loss 2.9748 val_sparse_categorical_accuracy 0.1814 | 240 samples/s | 32.7 s
2026-11-25 18:04:19 hpcseq train rank 0/2 ERROR rank 1 on host vm (pid 23400, step 140) sent no heartbeat for 10 s, longer than training.hang_timeout_seconds (10 s): it hangs; ending this rank with exit code 124 so that the launcher ends the job
--------------------------------------------------------------------------
Primary job  terminated normally, but 1 process returned
a non-zero exit code. Per user-direction, the job has been aborted.
--------------------------------------------------------------------------
--------------------------------------------------------------------------
mpirun detected that one or more processes exited with non-zero status, thus causing
the job to be terminated. The first process to do so was:

  Process name: [[14236,1],0]
  Exit code:    124
--------------------------------------------------------------------------
"""  # recorded here (cut)

# 2 ranks under horovodrun --gloo, rank 1 stopped with SIGSTOP, the default hang timeout (300 s):
# Gloo's own timeout (30 s) fails rank 0 first, which names the silent rank as it exits
GLOO_TIMEOUT_HANG = """\
[0]<stdout>:2026-11-25 18:06:01 hpcseq train rank 0/2 INFO experiment char: char_rnn on 2 rank(s), launcher horovodrun, host vm, CPU, 1 threads per rank
[0]<stdout>:2026-11-25 18:06:02 hpcseq train rank 0/2 INFO data: 15990 training items (7995 on this rank), 100 steps per epoch of 32 per rank, global batch 64
[0]<stdout>:2026-11-25 18:06:24 hpcseq train rank 0/2 INFO epoch 1/100 loss 3.1049 sparse_categorical_accuracy 0.1569 val_loss 2.9748 val_sparse_categorical_accuracy 0.1814 | 451 samples/s | 15.6 s
[0]<stderr>:[2026-11-25 18:06:55.659687: E /tmp/pip-wheel-3hr3yje6/horovod_5471a331fdf6485a96449d110e818cac/horovod/common/operations.cc:697] [0]: Horovod background loop uncaught exception: Application timeout caused pair closure
[0]<stderr>:Traceback (most recent call last):
[0]<stderr>:  File "/work/main/scripts/hpcseq/training/train.py", line 132, in train
[0]<stderr>:    fit(model, data, run, resume)
[0]<stderr>:  File "/work/main/scripts/hpcseq/training/train.py", line 307, in fit
[0]<stderr>:    model.fit(
[0]<stderr>:  File "/work/main/.venv/train/lib/python3.11/site-packages/keras/src/utils/traceback_utils.py", line 70, in error_handler
[0]<stderr>:    raise e.with_traceback(filtered_tb) from None
[0]<stderr>:  File "/work/main/.venv/train/lib/python3.11/site-packages/tensorflow/python/eager/execute.py", line 53, in quick_execute
[0]<stderr>:    tensors = pywrap_tfe.TFE_Py_Execute(ctx._handle, device_name, op_name,
[0]<stderr>:  ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
[0]<stderr>:tensorflow.python.framework.errors_impl.UnknownError: Graph execution error:
[0]<stderr>:Detected at node DistributedRMSprop_Allreduce/cond_3/HorovodAllreduce_grads_3_0 defined at (most recent call last):
[0]<stderr>:  File "<string>", line 111, in horovod_allreduce
[0]<stderr>:
[0]<stderr>:[/tmp/pip-wheel-3hr3yje6/horovod_5471a331fdf6485a96449d110e818cac/third_party/compatible17_gloo/gloo/transport/tcp/unbound_buffer.cc:81] Timed out waiting 30000ms for recv operation to complete
[0]<stderr>:	 [[{{node DistributedRMSprop_Allreduce/cond_3/HorovodAllreduce_grads_3_0}}]] [Op:__inference_train_function_2345]
[0]<stdout>:2026-11-25 18:06:55 hpcseq train rank 0/2 ERROR rank 1 on host vm (pid 26053, step 32) had sent no heartbeat for 34 s when this rank failed: it hangs, and this rank's error follows from it
Process 0 exit with status code 1.
Terminating remaining workers after failure of Process 0.
Process 1 exit with status code 137.
Traceback (most recent call last):
  File "/work/main/.venv/train/lib/python3.11/site-packages/horovod/runner/gloo_run.py", line 284, in launch_gloo
    raise RuntimeError('Horovod detected that one or more processes exited with non-zero '
RuntimeError: Horovod detected that one or more processes exited with non-zero status, thus causing the job to be terminated. The first process to do so was:
Process name: 0
Exit code: 1
"""  # recorded here (traceback frames cut)

# ------------------------------------------------------------------- a clean time-limit stop

# The Slurm log of a `snakemake --profile slurm` training job that Slurm warned before its limit
# (--signal=USR1@120): training wrote a checkpoint and both ranks exited 75; srun reports the exit
# of the step's tasks, the rule's command puts the last lines of the rule's log on stderr (so into
# this file), and Snakemake resubmits the job (retries). Shapes as recorded here: the Snakemake
# job step (SNAKEMAKE_LOG), hpcseq's console (CONSOLE), srun's task lines (CANCEL_ERR), the stop
# message of tests/unit/test_events.py; paths shortened.
SIGUSR1_STOP_SLURM_LOG = """\
localrule train:
    input: results/tiny_char/vocab.json, results/tiny_char/encoded/index.json, results/tiny_char/encoded/train.ids
    output: results/tiny_char/model/final.keras, results/tiny_char/model/metrics.jsonl, results/tiny_char/model/training_summary.json
    log: logs/train/tiny_char.log
    jobid: 0
    benchmark: benchmarks/train/tiny_char.tsv
    reason: Forced execution
    wildcards: experiment=tiny_char
    threads: 2
    resources: mem_mb=2000, mem_mib=1908, disk_mb=1000, disk_mib=954, tmpdir=/tmp, slurm_partition=gpus, runtime=3, nodes=1, tasks_per_node=2, cpus_per_task=1, gres=gpu:2, mpi=srun --mpi=pmix
hpcseq launch: srun --mpi=pmix --nodes=1 --ntasks=2 --ntasks-per-node=2 --cpus-per-task=1 /work/main/.venv/train/bin/python -m hpcseq train --settings '{"name": "tiny_char"}' --results-dir results --foreign-checkpoints set-aside
2026-11-22 11:04:08 hpcseq train rank 0/2 INFO experiment tiny_char: char_rnn on 2 rank(s), launcher srun, host vm, CPU, 1 threads per rank
2026-11-22 11:04:09 hpcseq train rank 0/2 INFO data: 23990 training items (11995 on this rank), 30 steps per epoch of 32 per rank, global batch 64
2026-11-22 11:04:38 hpcseq train rank 0/2 INFO epoch 1/500 loss 3.3705 sparse_categorical_accuracy 0.1073 val_loss 3.0801 val_sparse_categorical_accuracy 0.1886 | 122 samples/s | 17.7 s
2026-11-22 11:04:38 hpcseq train rank 0/2 INFO epoch 2/500 loss 2.9669 sparse_categorical_accuracy 0.1948 val_loss 2.9499 val_sparse_categorical_accuracy 0.1870 | 8903 samples/s | 0.3 s
2026-11-22 11:04:39 hpcseq train rank 0/2 INFO epoch 3/500 loss 2.9149 sparse_categorical_accuracy 0.1896 val_loss 2.8815 val_sparse_categorical_accuracy 0.1930 | 8715 samples/s | 0.4 s
2026-11-22 11:04:40 hpcseq train rank 0/2 INFO checkpoint results/tiny_char/model/checkpoints/epoch-0003-step-0000000 written in 0.23 s
2026-11-22 11:04:59 hpcseq train rank 0/2 WARNING received SIGUSR1: will checkpoint after the current step and stop
2026-11-22 11:05:00 hpcseq train rank 0/2 INFO checkpoint results/tiny_char/model/checkpoints/epoch-0003-step-0000005 written in 0.01 s
hpcseq train: error: stopped on SIGUSR1 after writing checkpoint results/tiny_char/model/checkpoints/epoch-0003-step-0000005; run again to continue (exit code 75)
hpcseq train: error: stopped on SIGUSR1 after writing checkpoint results/tiny_char/model/checkpoints/epoch-0003-step-0000005; run again to continue (exit code 75)
srun: error: vm: tasks 0-1: Exited with exit code 75
RuleException:
CalledProcessError in file "/work/main/workflow/rules/train.smk", line 38:
Command 'set -euo pipefail;  /work/main/.venv/workflow/bin/python -m hpcseq launch --ranks 2 --nodes 1 --tasks-per-node 2 --cpus-per-task 1 ... > logs/train/tiny_char.log 2>&1 || { status=$?; tail -n 40 logs/train/tiny_char.log >&2; exit $status; }' returned non-zero exit status 75.
[Sun Nov 22 11:05:01 2026]
Error in rule train:
    message: None
    jobid: 0
    output: results/tiny_char/model/final.keras, results/tiny_char/model/metrics.jsonl, results/tiny_char/model/training_summary.json
    log: logs/train/tiny_char.log (check log file(s) for error details)
"""

# ------------------------------------------------------------------- a local run (no Slurm)

# `snakemake --cores 2 --keep-going` of tests/conftest.py's tiny_workflow_config here, in a run
# directory whose config/config.yaml names the folders rulelogs/, res/ and bench/, with
# tiny_sentiment's training.batch_size 5000 (more than its training split holds: training stops
# with an input error). Recorded here; Snakemake's log of the run cut to the jobs of tiny_char's
# preprocessing and training and tiny_sentiment's training (the --settings JSON left out).

LOCAL_RUN_SNAKEMAKE_LOG = """\
Assuming unrestricted shared filesystem usage.

SNAKEMAKE
=========
  Date: 2026-11-25 14:23:05
  Workflow ID: 9c18b540-9169-4bdf-8c3e-f76bb944b135
  Platform: Linux-6.18.44-fc-v782-x86_64-with-glibc2.36
  Host: vm
  User: root
  Snakemake version: 9.27.1
  Python version: 3.11.7 (main, May  9 2026, 07:35:25) [GCC 12.2.0]
  Command: /work/main/.venv/workflow/bin/snakemake -s /work/main/Snakefile --cores 2 --keep-going
  Snakefile: /work/main/Snakefile
  Base directory: /work/main
  Run directory: /tmp/tinyrun
  Working directory: /tmp/tinyrun
  Config file(s): ['config/config.yaml']
  Config MD5: 8dabc8dc466eb778a7868b4d0fb2cc5f

Building DAG of jobs...
Using shell: /usr/bin/bash
Provided cores: 2
Rules claiming more threads will be scaled down.
Conda environments: ignored
Select jobs to execute...
Execute 2 jobs...
[Wed Nov 25 14:23:05 2026]
localrule preprocess_text:
    input: /work/main/data/tinyshakespeare.txt
    output: res/tiny_char/prepared/train.txt, res/tiny_char/prepared/validation.txt, res/tiny_char/prepared/test.txt, res/tiny_char/prepared/split_report.json
    log: rulelogs/preprocess/tiny_char.log
    jobid: 4
    benchmark: bench/preprocess/tiny_char.tsv
    reason: Missing output files: res/tiny_char/prepared/train.txt, res/tiny_char/prepared/split_report.json, res/tiny_char/prepared/test.txt, res/tiny_char/prepared/validation.txt
    wildcards: experiment=tiny_char
    resources: tmpdir=/tmp, slurm_partition=, runtime=30, slurm_account=, slurm_extra=, cpus_per_task=1
[Wed Nov 25 14:23:05 2026]
Finished jobid: 4 (Rule: preprocess_text)
1 of 13 steps (8%) done
[Wed Nov 25 14:23:06 2026]
localrule train:
    input: res/tiny_char/vocab.json, res/tiny_char/encoded/index.json, res/tiny_char/encoded/train.ids, res/tiny_char/encoded/validation.ids, res/tiny_char/encoded/test.ids
    output: res/tiny_char/model/final.keras, res/tiny_char/model/metrics.jsonl, res/tiny_char/model/training_summary.json
    log: rulelogs/train/tiny_char.log
    jobid: 2
    benchmark: bench/train/tiny_char.tsv
    reason: Missing output files: res/tiny_char/model/metrics.jsonl, res/tiny_char/model/training_summary.json, res/tiny_char/model/final.keras; Input files updated by another job: res/tiny_char/encoded/train.ids, res/tiny_char/encoded/test.ids, res/tiny_char/vocab.json, res/tiny_char/encoded/index.json, res/tiny_char/encoded/validation.ids
    wildcards: experiment=tiny_char
    threads: 2
    resources: tmpdir=/tmp, slurm_partition=, runtime=120, slurm_account=, slurm_extra=, nodes=1, tasks_per_node=2, cpus_per_task=1, gres=, mpi=srun
Select jobs to execute...
[Wed Nov 25 14:23:35 2026]
Finished jobid: 2 (Rule: train)
5 of 13 steps (38%) done
Execute 1 jobs...
[Wed Nov 25 14:23:35 2026]
localrule train:
    input: res/tiny_sentiment/vocab.json, res/tiny_sentiment/encoded/index.json, res/tiny_sentiment/encoded/train.npz, res/tiny_sentiment/encoded/validation.npz, res/tiny_sentiment/encoded/test.npz
    output: res/tiny_sentiment/model/final.keras, res/tiny_sentiment/model/metrics.jsonl, res/tiny_sentiment/model/training_summary.json
    log: rulelogs/train/tiny_sentiment.log
    jobid: 7
    benchmark: bench/train/tiny_sentiment.tsv
    reason: Missing output files: res/tiny_sentiment/model/training_summary.json, res/tiny_sentiment/model/final.keras, res/tiny_sentiment/model/metrics.jsonl; Input files updated by another job: res/tiny_sentiment/encoded/train.npz, res/tiny_sentiment/encoded/test.npz, res/tiny_sentiment/encoded/validation.npz, res/tiny_sentiment/encoded/index.json, res/tiny_sentiment/vocab.json
    wildcards: experiment=tiny_sentiment
    threads: 2
    resources: tmpdir=/tmp, slurm_partition=, runtime=120, slurm_account=, slurm_extra=, nodes=1, tasks_per_node=2, cpus_per_task=1, gres=, mpi=srun
Select jobs to execute...
RuleException:
CalledProcessError in file "/work/main/workflow/rules/train.smk", line 40:
Command 'set -euo pipefail;  /work/main/.venv/workflow/bin/python -m hpcseq launch --ranks 2 ... > rulelogs/train/tiny_sentiment.log 2>&1 || { status=$?; tail -n 40 rulelogs/train/tiny_sentiment.log >&2; exit $status; }' returned non-zero exit status 1.
[Wed Nov 25 14:23:45 2026]
Error in rule train:
    message: None
    jobid: 7
    input: res/tiny_sentiment/vocab.json, res/tiny_sentiment/encoded/index.json, res/tiny_sentiment/encoded/train.npz, res/tiny_sentiment/encoded/validation.npz, res/tiny_sentiment/encoded/test.npz
    output: res/tiny_sentiment/model/final.keras, res/tiny_sentiment/model/metrics.jsonl, res/tiny_sentiment/model/training_summary.json
    log: rulelogs/train/tiny_sentiment.log (check log file(s) for error details)
    shell:
        /work/main/.venv/workflow/bin/python -m hpcseq launch --ranks 2 --nodes 1 --tasks-per-node 2 --cpus-per-task 1 --srun=srun --slurm-setup= --local-launcher horovodrun -- /work/main/.venv/train/bin/python -m hpcseq train --settings '{...}' --results-dir res --foreign-checkpoints set-aside > rulelogs/train/tiny_sentiment.log 2>&1 || { status=$?; tail -n 40 rulelogs/train/tiny_sentiment.log >&2; exit $status; }
        (command exited with non-zero exit code)
[Wed Nov 25 14:23:45 2026]
localrule evaluate:
    input: res/tiny_char/model/final.keras, res/tiny_char/model/training_summary.json, res/tiny_char/vocab.json, res/tiny_char/encoded/index.json, res/tiny_char/encoded/train.ids, res/tiny_char/encoded/validation.ids, res/tiny_char/encoded/test.ids, res/tiny_char/prepared/train.txt, res/tiny_char/prepared/validation.txt, res/tiny_char/prepared/test.txt, res/tiny_char/prepared/split_report.json
    output: res/tiny_char/eval/metrics.json, res/tiny_char/eval/samples.txt
    log: rulelogs/evaluate/tiny_char.log
    jobid: 1
    benchmark: bench/evaluate/tiny_char.tsv
    reason: Missing output files: res/tiny_char/eval/metrics.json; Input files updated by another job: res/tiny_char/encoded/test.ids, res/tiny_char/model/final.keras, res/tiny_char/prepared/split_report.json, res/tiny_char/model/training_summary.json, res/tiny_char/encoded/validation.ids, res/tiny_char/prepared/validation.txt, res/tiny_char/encoded/train.ids, res/tiny_char/prepared/test.txt, res/tiny_char/prepared/train.txt, res/tiny_char/vocab.json, res/tiny_char/encoded/index.json
    wildcards: experiment=tiny_char
    resources: tmpdir=/tmp, slurm_partition=, runtime=30, slurm_account=, slurm_extra=, cpus_per_task=1
[Wed Nov 25 14:23:53 2026]
Finished jobid: 1 (Rule: evaluate)
7 of 13 steps (54%) done
Exiting because a job execution failed. Look above for error messages
Complete log(s): /tmp/tinyrun/.snakemake/log/2026-11-25T142305.135409.snakemake.log
Elapsed time: 0:00:48.042708
WorkflowError:
At least one job did not complete successfully.
"""  # recorded here: .snakemake/log/2026-11-25T142305.135409.snakemake.log, cut

LOCAL_PREPROCESS_LOG = """\
2026-11-25 14:23:05 hpcseq preprocess INFO tiny_char: {"train": 24000, "validation": 3000, "test": 3000}
2026-11-25 14:23:05 hpcseq preprocess INFO wrote res/tiny_char/prepared
"""  # recorded here

LOCAL_TRAIN_LOG = """\
hpcseq launch: /work/main/.venv/train/bin/horovodrun -np 2 -H localhost:2 --gloo /work/main/.venv/train/bin/python -m hpcseq train --settings '{...}' --results-dir res --foreign-checkpoints set-aside
2026-11-25 14:23:07.918137: I tensorflow/core/platform/cpu_feature_guard.cc:182] This TensorFlow binary is optimized to use available CPU instructions in performance-critical operations.
To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the appropriate compiler flags.
[0]<stdout>:2026-11-25 14:23:21 hpcseq train rank 0/2 INFO experiment tiny_char: char_rnn on 2 rank(s), launcher horovodrun, host vm, CPU, 1 threads per rank
[0]<stdout>:2026-11-25 14:23:21 hpcseq train rank 0/2 INFO subset: each epoch uses 1920 of 23990 training windows (max_steps_per_epoch = 30), a fresh random subset every epoch
[0]<stdout>:2026-11-25 14:23:21 hpcseq train rank 0/2 INFO data: 23990 training items (11995 on this rank), 30 steps per epoch of 32 per rank, global batch 64
[0]<stdout>:2026-11-25 14:23:33 hpcseq train rank 0/2 INFO epoch 1/2 loss 3.3705 sparse_categorical_accuracy 0.1073 val_loss 3.0801 val_sparse_categorical_accuracy 0.1886 | 315 samples/s | 7.1 s
[0]<stdout>:2026-11-25 14:23:33 hpcseq train rank 0/2 INFO checkpoint res/tiny_char/model/checkpoints/epoch-0001-step-0000000 written in 0.05 s
[0]<stdout>:2026-11-25 14:23:33 hpcseq train rank 0/2 INFO epoch 2/2 loss 2.9669 sparse_categorical_accuracy 0.1948 val_loss 2.9499 val_sparse_categorical_accuracy 0.1870 | 8280 samples/s | 0.3 s
[0]<stdout>:2026-11-25 14:23:33 hpcseq train rank 0/2 INFO checkpoint res/tiny_char/model/checkpoints/epoch-0002-step-0000000 written in 0.02 s
[0]<stdout>:2026-11-25 14:23:33 hpcseq train rank 0/2 INFO done: final model res/tiny_char/model/final.keras, metrics res/tiny_char/model/metrics.jsonl
"""  # recorded here (--settings JSON left out)

LOCAL_TRAIN_FAILED_LOG = """\
hpcseq launch: /work/main/.venv/train/bin/horovodrun -np 2 -H localhost:2 --gloo /work/main/.venv/train/bin/python -m hpcseq train --settings '{...}' --results-dir res --foreign-checkpoints set-aside
2026-11-25 14:23:36.184242: I tensorflow/core/platform/cpu_feature_guard.cc:182] This TensorFlow binary is optimized to use available CPU instructions in performance-critical operations.
To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the appropriate compiler flags.
[0]<stdout>:2026-11-25 14:23:44 hpcseq train rank 0/2 INFO experiment tiny_sentiment: sentiment_lstm on 2 rank(s), launcher horovodrun, host vm, CPU, 1 threads per rank
[0]<stderr>:hpcseq train: error: res/tiny_sentiment/encoded/train.npz: the training split has 4859 sentences; 2 ranks x batch 5000 need at least 10000
[1]<stderr>:hpcseq train: error: res/tiny_sentiment/encoded/train.npz: the training split has 4859 sentences; 2 ranks x batch 5000 need at least 10000
Process 0 exit with status code 2.
Terminating remaining workers after failure of Process 0.
Process 1 exit with status code 2.
Traceback (most recent call last):
  File "/work/main/.venv/train/bin/horovodrun", line 6, in <module>
    sys.exit(run_commandline())
             ^^^^^^^^^^^^^^^^^
  File "/work/main/.venv/train/lib/python3.11/site-packages/horovod/runner/launch.py", line 837, in run_commandline
    _run(args)
  File "/work/main/.venv/train/lib/python3.11/site-packages/horovod/runner/launch.py", line 827, in _run
    return _run_static(args)
           ^^^^^^^^^^^^^^^^^
  File "/work/main/.venv/train/lib/python3.11/site-packages/horovod/runner/launch.py", line 685, in _run_static
    _launch_job(args, settings, nics, command)
  File "/work/main/.venv/train/lib/python3.11/site-packages/horovod/runner/launch.py", line 800, in _launch_job
    run_controller(args.use_gloo, gloo_run_fn,
  File "/work/main/.venv/train/lib/python3.11/site-packages/horovod/runner/launch.py", line 754, in run_controller
    gloo_run()
  File "/work/main/.venv/train/lib/python3.11/site-packages/horovod/runner/launch.py", line 792, in gloo_run_fn
    gloo_run(settings, nics, env, driver_ip, command)
  File "/work/main/.venv/train/lib/python3.11/site-packages/horovod/runner/gloo_run.py", line 300, in gloo_run
    launch_gloo(command, exec_command, settings, nics, env, server_ip)
  File "/work/main/.venv/train/lib/python3.11/site-packages/horovod/runner/gloo_run.py", line 284, in launch_gloo
    raise RuntimeError('Horovod detected that one or more processes exited with non-zero '
RuntimeError: Horovod detected that one or more processes exited with non-zero status, thus causing the job to be terminated. The first process to do so was:
Process name: 0
Exit code: 2

"""  # recorded here (--settings JSON left out): each rank's error, then horovodrun's

LOCAL_TRAIN_BENCHMARK = """\
s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time
28.37\t0:00:28\t943.40\t5071.73\t446.30\t666.17\t0.05\t0.09\t52.91\t16.09
"""  # recorded here: Snakemake's benchmark of the training that completed

LOCAL_TRAIN_METRICS = """\
{"epoch": 1, "epochs": 2, "loss": 3.3705291748046875, "sparse_categorical_accuracy": 0.10729166865348816, "val_loss": 3.0801172256469727, "val_sparse_categorical_accuracy": 0.18862876296043396, "learning_rate": 0.0019666668958961964, "steps": 30, "samples": 1920, "ranks": 2, "samples_per_second": 314.84359316816455, "train_seconds": 6.098, "validation_seconds": 1.035, "epoch_seconds": 7.133, "elapsed_seconds": 12.195, "resumed_at_step": null, "time": "2026-11-25T14:23:33+0000"}
{"epoch": 2, "epochs": 2, "loss": 2.9669132232666016, "sparse_categorical_accuracy": 0.19479167461395264, "val_loss": 2.9499478340148926, "val_sparse_categorical_accuracy": 0.186956524848938, "learning_rate": 0.0020000000949949026, "steps": 30, "samples": 1920, "ranks": 2, "samples_per_second": 8279.681393190947, "train_seconds": 0.232, "validation_seconds": 0.082, "epoch_seconds": 0.314, "elapsed_seconds": 12.609, "resumed_at_step": null, "time": "2026-11-25T14:23:33+0000"}
"""  # recorded here: tiny_char's metrics.jsonl


# ------------------------------------------------------------------------------------- charges
# Recorded on the local test cluster (tests/cluster/local_slurm.sh, Slurm 22.05.8) with
# `sacct -P -n -D -j 236,237,238,239,240 --format=<SACCT_FIELDS>` once the jobs had ended (240 then
# still running): 236 asked for both GPUs of a node on partition gpus and requeued itself twice
# (three runs: 4 s, 4 s, 7 s); 237 a CPU-only job on batch; 238 one GPU (--gres=gpu:1) on the
# whole-node partition jsc (OverSubscribe=EXCLUSIVE), which allocated it the node's 2 GPUs;
# 239 two nodes on jsc (its step 239.0 holds 2 GPUs, the allocation 4); 240 one GPU of a node on
# the shared partition gpus, running.
SACCT_CHARGES = """\
236|236|charges_requeue|REQUEUED|0:0|00:00:04|4|00:05:00|5|1|1|node1||billing=1,cpu=1,gres/gpu=2,mem=1000M,node=1|None|2026-12-07T11:12:11|2026-12-07T11:12:11|2026-12-07T11:12:15|gpus|/tmp/rec|sbatch --parsable --account hpcseq requeue.sbatch
236.batch|236.batch|batch|CANCELLED|0:15|00:00:04|4|||1|1|node1|1|cpu=1,gres/gpu=2,mem=1000M,node=1||2026-12-07T11:12:11|2026-12-07T11:12:11|2026-12-07T11:12:15|||
237|237|charges_cpu|COMPLETED|0:0|00:00:05|5|1-00:00:00|1440|1|1|node1||billing=1,cpu=1,mem=1000M,node=1|None|2026-12-07T11:12:11|2026-12-07T11:12:11|2026-12-07T11:12:16|batch|/tmp/rec|sbatch --parsable --account hpcseq --partition=batch --job-name=charges_cpu --output=/tmp/rec/cpu_%j.out --wrap sleep 5
237.batch|237.batch|batch|COMPLETED|0:0|00:00:05|5|||1|1|node1|1|cpu=1,mem=1000M,node=1||2026-12-07T11:12:11|2026-12-07T11:12:11|2026-12-07T11:12:16|||
238|238|charges_partial|COMPLETED|0:0|00:00:05|5|01:00:00|60|1|1|node2||billing=4,cpu=4,gres/gpu=2,mem=4000M,node=1|None|2026-12-07T11:12:11|2026-12-07T11:12:11|2026-12-07T11:12:16|jsc|/tmp/rec|sbatch --parsable --account jsc-budget --partition=jsc --gres=gpu:1 --job-name=charges_partial --output=/tmp/rec/p_%j.out --wrap sleep 5
238.batch|238.batch|batch|COMPLETED|0:0|00:00:05|5|||1|1|node2|1|cpu=4,gres/gpu=2,mem=4000M,node=1||2026-12-07T11:12:11|2026-12-07T11:12:11|2026-12-07T11:12:16|||
239|239|charges_two_nodes|COMPLETED|0:0|00:00:05|5|01:00:00|60|2|2|node[3-4]||billing=8,cpu=8,gres/gpu=4,mem=8000M,node=2|None|2026-12-07T11:12:11|2026-12-07T11:12:11|2026-12-07T11:12:16|jsc|/tmp/rec|sbatch --parsable --account jsc-budget --partition=jsc --nodes=2 --gres=gpu:1 --job-name=charges_two_nodes --output=/tmp/rec/t_%j.out --wrap srun sleep 5
239.batch|239.batch|batch|COMPLETED|0:0|00:00:05|5|||1|1|node3|1|cpu=4,gres/gpu=2,mem=4000M,node=1||2026-12-07T11:12:11|2026-12-07T11:12:11|2026-12-07T11:12:16|||
239.0|239.0|sleep|COMPLETED|0:0|00:00:05|5|||2|2|node[3-4]|2|cpu=8,gres/gpu=2,mem=8000M,node=2||2026-12-07T11:12:11|2026-12-07T11:12:11|2026-12-07T11:12:16|||srun sleep 5
240|240|charges_running|RUNNING|0:0|00:00:53|53|1-00:00:00|1440|1|1|node1||billing=1,cpu=1,gres/gpu=1,mem=1000M,node=1|None|2026-12-07T11:12:11|2026-12-07T11:12:15|Unknown|gpus|/tmp/rec|sbatch --parsable --account hpcseq --partition=gpus --gres=gpu:1 --job-name=charges_running --output=/tmp/rec/r_%j.out --wrap sleep 600
240.batch|240.batch|batch|RUNNING|0:0|00:00:53|53|||1|1|node1|1|cpu=1,gres/gpu=1,mem=1000M,node=1||2026-12-07T11:12:15|2026-12-07T11:12:15|Unknown|||
236|236|charges_requeue|REQUEUED|0:0|00:00:04|4|00:05:00|5|1|1|node2||billing=1,cpu=1,gres/gpu=2,mem=1000M,node=1|BeginTime|2026-12-07T11:12:15|2026-12-07T11:12:27|2026-12-07T11:12:31|gpus|/tmp/rec|sbatch --parsable --account hpcseq requeue.sbatch
236.batch|236.batch|batch|CANCELLED|0:15|00:00:04|4|||1|1|node2|1|cpu=1,gres/gpu=2,mem=1000M,node=1||2026-12-07T11:12:27|2026-12-07T11:12:27|2026-12-07T11:12:31|||
236|236|charges_requeue|COMPLETED|0:0|00:00:07|7|00:05:00|5|1|1|node2||billing=1,cpu=1,gres/gpu=2,mem=1000M,node=1|BeginTime|2026-12-07T11:12:31|2026-12-07T11:12:42|2026-12-07T11:12:49|gpus|/tmp/rec|sbatch --parsable --account hpcseq requeue.sbatch
236.batch|236.batch|batch|COMPLETED|0:0|00:00:07|7|||1|1|node2|1|cpu=1,gres/gpu=2,mem=1000M,node=1||2026-12-07T11:12:42|2026-12-07T11:12:42|2026-12-07T11:12:49|||
"""
# Recorded the same way earlier, while 236 waited for its third run (requeued twice, pending).
SACCT_PENDING_AGAIN = """\
236|236|charges_requeue|REQUEUED|0:0|00:00:04|4|00:05:00|5|1|1|node1||billing=1,cpu=1,gres/gpu=2,mem=1000M,node=1|None|2026-12-07T11:12:11|2026-12-07T11:12:11|2026-12-07T11:12:15|gpus|/tmp/rec|sbatch --parsable --account hpcseq requeue.sbatch
236.batch|236.batch|batch|CANCELLED|0:15|00:00:04|4|||1|1|node1|1|cpu=1,gres/gpu=2,mem=1000M,node=1||2026-12-07T11:12:11|2026-12-07T11:12:11|2026-12-07T11:12:15|||
236|236|charges_requeue|REQUEUED|0:0|00:00:04|4|00:05:00|5|1|1|node2||billing=1,cpu=1,gres/gpu=2,mem=1000M,node=1|BeginTime|2026-12-07T11:12:15|2026-12-07T11:12:27|2026-12-07T11:12:31|gpus|/tmp/rec|sbatch --parsable --account hpcseq requeue.sbatch
236.batch|236.batch|batch|CANCELLED|0:15|00:00:04|4|||1|1|node2|1|cpu=1,gres/gpu=2,mem=1000M,node=1||2026-12-07T11:12:27|2026-12-07T11:12:27|2026-12-07T11:12:31|||
236|236|charges_requeue|PENDING|0:0|00:00:00|0|00:05:00|5|1|1|None assigned|||None|2026-12-07T11:12:31|Unknown|Unknown|gpus|/tmp/rec|sbatch --parsable --account hpcseq requeue.sbatch
"""
