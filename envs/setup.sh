#!/usr/bin/env bash
# Create (or check) hpcseq's two Python environments. Idempotent: a second run only verifies.
#
#   envs/setup.sh                 both environments, TensorFlow CPU build
#   envs/setup.sh --gpu           TensorFlow GPU build, Horovod with NCCL (needs CUDA and nvcc)
#   envs/setup.sh --workflow-only the Snakemake environment only (enough for dry runs, sbatch
#                                 scripts and `hpcseq logs`)
#
# .venv/workflow  Snakemake 9 + Slurm plugin + hpcseq (numpy 2)          envs/workflow.txt
# .venv/train     TensorFlow 2.15 + Horovod 0.28.1 + hpcseq (numpy 1.26) envs/training-*.txt
#
# They cannot be one environment (see envs/README.md). Horovod is compiled against the installed
# TensorFlow, which takes 3 to 15 minutes on 2 cores; the wheel is kept in
# $HPCSEQ_CACHE (default ~/.cache/hpcseq) outside the repository and reused by the next setup.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3.11}"
CACHE="${HPCSEQ_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hpcseq}"
VENVS="${HPCSEQ_VENVS:-$ROOT/.venv}"
HOROVOD_VERSION=0.28.1
VARIANT=cpu
WHAT=all

for arg in "$@"; do
  case "$arg" in
    --gpu) VARIANT=gpu ;;
    --workflow-only) WHAT=workflow ;;
    --training-only) WHAT=training ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "setup: unknown option $arg (try --help)" >&2; exit 2 ;;
  esac
done

say() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
"$PYTHON" - <<'EOF' || die "Python 3.10 or 3.11 is needed (TensorFlow 2.15 has no wheels for newer); set PYTHON=/path/to/python3.11"
import sys
sys.exit(0 if (3, 10) <= sys.version_info[:2] <= (3, 11) else 1)
EOF
PY_TAG="$("$PYTHON" -c 'import sys; print(f"py{sys.version_info[0]}{sys.version_info[1]}")')"

stamp_of() {  # the files an environment was made from, hashed: unchanged hash = nothing to do
  cat "$@" "$ROOT/pyproject.toml" | sha256sum | cut -c1-16
}

make_venv() {  # make_venv DIR REQUIREMENTS...
  local dir="$1"; shift
  local stamp; stamp="$(stamp_of "$@")"
  if [[ -f "$dir/.hpcseq-stamp" && "$(cat "$dir/.hpcseq-stamp")" == "$stamp" ]]; then
    echo "$dir is up to date ($*)"
    return 0
  fi
  say "creating $dir from $* (a few minutes: downloads)"
  "$PYTHON" -m venv "$dir"
  "$dir/bin/python" -m pip install --quiet --upgrade pip setuptools wheel
  local req
  for req in "$@"; do
    "$dir/bin/python" -m pip install --quiet -r "$req"
  done
  "$dir/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e "$ROOT"
  echo "$stamp" > "$dir/.hpcseq-stamp.pending"
}

finish_venv() { [[ -f "$1/.hpcseq-stamp.pending" ]] && mv "$1/.hpcseq-stamp.pending" "$1/.hpcseq-stamp"; return 0; }

need_build_tools() {
  local missing=()
  command -v cmake >/dev/null || missing+=(cmake)
  command -v g++ >/dev/null || missing+=(g++)
  command -v mpicc >/dev/null || missing+=(libopenmpi-dev openmpi-bin)
  [[ ${#missing[@]} -eq 0 ]] && return 0
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    say "installing build tools for Horovod: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    die "Horovod needs ${missing[*]} to build; install them (or load the cmake/GCC/OpenMPI modules on a cluster)"
  fi
}

horovod_wheel() {  # prints the path of a Horovod wheel built against this TensorFlow, building it if needed
  local tf_version; tf_version="$("$VENVS/train/bin/python" -c 'import tensorflow as tf; print(tf.__version__)' 2>/dev/null)"
  local dir="$CACHE/wheels/horovod-$HOROVOD_VERSION-$PY_TAG-tf$tf_version-$VARIANT"
  local wheel; wheel="$(ls "$dir"/horovod-*.whl 2>/dev/null | head -n1 || true)"
  if [[ -n "$wheel" ]]; then
    echo "reusing the Horovod wheel cached in $dir" >&2
    echo "$wheel"; return 0
  fi
  need_build_tools
  say "building Horovod $HOROVOD_VERSION against TensorFlow $tf_version ($VARIANT): 3 to 15 minutes on 2 cores, once; the wheel is cached in $dir" >&2
  mkdir -p "$dir"
  local build_log="$dir/build.log"
  local started=$SECONDS
  (
    export HOROVOD_WITH_TENSORFLOW=1 HOROVOD_WITHOUT_PYTORCH=1 HOROVOD_WITHOUT_MXNET=1 HOROVOD_WITH_GLOO=1 HOROVOD_WITH_MPI=1
    [[ "$VARIANT" == gpu ]] && export HOROVOD_GPU_OPERATIONS=NCCL
    export MAKEFLAGS="-j$(nproc)"
    "$VENVS/train/bin/python" -m pip wheel --no-deps --no-build-isolation --no-cache-dir -w "$dir.tmp" "horovod==$HOROVOD_VERSION"
  ) > "$build_log" 2>&1 || { tail -n 30 "$build_log" >&2; rm -rf "$dir.tmp"; die "the Horovod build failed; full log: $build_log"; }
  mv "$dir.tmp"/horovod-*.whl "$dir"/ && rm -rf "$dir.tmp"
  echo "built in $(( (SECONDS - started) / 60 )) min $(( (SECONDS - started) % 60 )) s" >&2
  ls "$dir"/horovod-*.whl | head -n1
}

verify_training() {
  say "checking the training environment"
  local check; check="$("$VENVS/train/bin/horovodrun" --check-build 2>/dev/null)" || die "horovodrun --check-build failed"
  echo "$check" | sed -n '/Available Frameworks/,$p' | grep -E '\[X\]' | sed 's/^/   /'
  echo "$check" | grep -q '\[X\] TensorFlow' || die "Horovod was built without TensorFlow"
  echo "$check" | grep -q '\[X\] Gloo' || die "Horovod was built without Gloo"
  TF_CPP_MIN_LOG_LEVEL=3 "$VENVS/train/bin/python" -c 'import tensorflow as tf, horovod.tensorflow.keras, hpcseq; print("   TensorFlow", tf.__version__, "| GPUs visible:", len(tf.config.list_physical_devices("GPU")))'
}

setup_workflow() {
  make_venv "$VENVS/workflow" "$ROOT/envs/workflow.txt"
  "$VENVS/workflow/bin/snakemake" --version >/dev/null || die "snakemake does not start in $VENVS/workflow"
  finish_venv "$VENVS/workflow"
  echo "workflow environment: $VENVS/workflow (snakemake $("$VENVS/workflow/bin/snakemake" --version))"
}

setup_training() {
  make_venv "$VENVS/train" "$ROOT/envs/training-$VARIANT.txt"
  if ! "$VENVS/train/bin/python" -c 'import horovod.tensorflow.keras' 2>/dev/null; then
    wheel="$(horovod_wheel)"
    "$VENVS/train/bin/python" -m pip install --quiet --no-deps "$wheel"
  fi
  verify_training
  finish_venv "$VENVS/train"
  echo "training environment: $VENVS/train"
}

mkdir -p "$VENVS"
case "$WHAT" in
  workflow) setup_workflow ;;
  training) setup_training ;;
  all)  # both at once: mostly downloads and unpacking, which overlap well; the workflow's output after
    workflow_log="$(mktemp)"
    setup_workflow > "$workflow_log" 2>&1 &
    workflow_pid=$!
    setup_training || { wait "$workflow_pid"; cat "$workflow_log" >&2; rm -f "$workflow_log"; exit 1; }
    workflow_status=0; wait "$workflow_pid" || workflow_status=$?
    cat "$workflow_log" >&2; rm -f "$workflow_log"
    [[ $workflow_status -eq 0 ]] || die "the workflow environment failed (its output above)"
    ;;
esac
say "environments ready"
