#!/usr/bin/env bash
# Run by Snakemake inside the conda environment of envs/training.yaml right after creating it
# (`snakemake --sdm conda`; see envs/README.md). Horovod 0.28.1 is built from source against that
# environment's TensorFlow: the environment file cannot do it, as TensorFlow must be installed
# before Horovod's build starts. 3 to 15 minutes on 2 cores, once per environment.
# On GPUs export HOROVOD_GPU_OPERATIONS=NCCL before running Snakemake (and use the GPU TensorFlow).
set -euo pipefail
if python -c 'import horovod.tensorflow.keras' 2>/dev/null; then
  exit 0
fi
export HOROVOD_WITH_TENSORFLOW=1 HOROVOD_WITHOUT_PYTORCH=1 HOROVOD_WITHOUT_MXNET=1 HOROVOD_WITH_GLOO=1 HOROVOD_WITH_MPI=1
export MAKEFLAGS="-j$(nproc)"
python -m pip install --no-deps --no-build-isolation --no-cache-dir horovod==0.28.1
horovodrun --check-build
