#!/usr/bin/env bash
# Run by Snakemake inside the conda environment of envs/training.yaml right after creating it
# (`snakemake --sdm conda`; see envs/README.md): hpcseq's Horovod (0.28.1 from its sdist with the
# patches of envs/horovod/patches/) is built against that environment's TensorFlow by the same
# script envs/setup.sh uses, and installed. The environment file cannot do it: TensorFlow must be
# installed before Horovod's build starts. 2 to 15 minutes on 2 cores, once (the wheel is cached in
# $HPCSEQ_CACHE, default ~/.cache/hpcseq). On GPUs set HPCSEQ_HOROVOD_VARIANT=gpu (NCCL).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="$(command -v python)"
if [[ "$(cat "${CONDA_PREFIX:?not inside a conda environment}/.hpcseq-horovod" 2>/dev/null)" == built ]]; then
  exit 0
fi
wheel="$("$here/horovod/build.sh" "$python" "${HPCSEQ_HOROVOD_VARIANT:-cpu}")"
python -m pip install --no-deps --force-reinstall "$wheel"
TF_USE_LEGACY_KERAS=1 horovodrun --check-build
echo built > "$CONDA_PREFIX/.hpcseq-horovod"
