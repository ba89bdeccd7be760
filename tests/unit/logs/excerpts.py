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
    "JobID|JobIDRaw|JobName|State|ExitCode|Elapsed|ElapsedRaw|Timelimit|TimelimitRaw|NNodes|NodeList|NTasks|"
    "AllocTRES|Reason|Submit|Start|End|Partition|WorkDir|SubmitLine"
)
SACCT = """\
60|60|tiny_char|CANCELLED by 0|0:0|00:00:26|26|00:05:00|5|1|vm||billing=2,cpu=2,gres/gpu=2,mem=2000M,node=1|None|2026-11-22T11:09:29|2026-11-22T11:09:30|2026-11-22T11:09:56|gpus|/tmp/c/submit|sbatch --parsable /tmp/c/jobs/local/tiny_char.sbatch
60.batch|60.batch|batch|CANCELLED|0:15|00:00:26|26|||1|vm|1|cpu=2,gres/gpu=2,mem=2000M,node=1||2026-11-22T11:09:30|2026-11-22T11:09:30|2026-11-22T11:09:56||||
60.0|60.0|python|COMPLETED|0:0|00:00:01|1|||1|vm|1|cpu=1,gres/gpu=2,mem=1000M,node=1||2026-11-22T11:09:30|2026-11-22T11:09:30|2026-11-22T11:09:31|||srun --nodes=1 --ntasks=1 python -m hpcseq preprocess
60.2|60.2|python|FAILED|15:0|00:00:28|28|||1|vm|2|cpu=2,gres/gpu=2,mem=2000M,node=1||2026-11-22T11:09:31|2026-11-22T11:09:31|2026-11-22T11:09:59|||srun --mpi=pmix --ntasks=2 python -m hpcseq train --config c.yaml --experiment tiny_char
72|72|rqtest|REQUEUED|0:0|00:00:00|0|00:02:00|2|1|vm||billing=1,cpu=1,mem=1000M,node=1|None|2026-11-22T11:20:03|2026-11-22T11:20:04|2026-11-22T11:20:04|batch|/tmp/rq|sbatch --parsable rq.sbatch
72.batch|72.batch|batch|COMPLETED|0:0|00:00:00|0|||1|vm|1|cpu=1,mem=1000M,node=1||2026-11-22T11:20:04|2026-11-22T11:20:04|2026-11-22T11:20:04||||
72|72|rqtest|COMPLETED|0:0|00:00:00|0|00:02:00|2|1|vm||billing=1,cpu=1,mem=1000M,node=1|None|2026-11-22T11:20:04|2026-11-22T11:20:36|2026-11-22T11:20:36|batch|/tmp/rq|sbatch --parsable rq.sbatch
72.batch|72.batch|batch|COMPLETED|0:0|00:00:00|0|||1|vm|1|cpu=1,mem=1000M,node=1||2026-11-22T11:20:36|2026-11-22T11:20:36|2026-11-22T11:20:36||||
73|73|wrap|FAILED|1:0|00:00:01|1|UNLIMITED|UNLIMITED|1|vm||cpu=1,node=1|None|2026-11-22T11:30:00|2026-11-22T11:30:00|2026-11-22T11:30:01|batch|/tmp|sbatch --wrap=grep x | sort
"""  # recorded here with `sacct -P -n -D --format=<FIELDS>` (jobs 60 and 72); 73 has a '|' in its submit line

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
