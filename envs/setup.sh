#!/usr/bin/env bash
# Create (or check) hpcseq's two Python environments. Idempotent: a second run only verifies.
#
#   envs/setup.sh                 both environments, TensorFlow CPU build
#   envs/setup.sh --gpu           TensorFlow GPU build, Horovod with NCCL (needs CUDA and nvcc)
#   envs/setup.sh --workflow-only the Snakemake environment only (enough for dry runs, sbatch
#                                 scripts and `hpcseq logs`)
#   envs/setup.sh --training-only the TensorFlow + Horovod environment only (a cluster's compute
#                                 side: with --gpu, after its modules; HPCSEQ_VENVS: where they go)
#
# .venv/workflow  Snakemake 9 + Slurm plugin + hpcseq                       envs/workflow.txt
# .venv/train     TensorFlow 2.21 + tf-keras + Horovod 0.28.1 (patched) + hpcseq  envs/training-*.txt
#
# Python 3.11 to 3.13 (PYTHON=/path/to/python3.x; default python3): Snakemake 9.27 and the Slurm
# plugin need 3.11 or later, TensorFlow 2.21 has wheels up to 3.13. The two environments stay apart
# (envs/README.md says why). Horovod is compiled against the installed TensorFlow by
# envs/horovod/build.sh, from its sdist with hpcseq's patches (envs/horovod/patches/); the wheel
# is kept in $HPCSEQ_CACHE (default ~/.cache/hpcseq) outside the repository and reused.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
CACHE="${HPCSEQ_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hpcseq}"
VENVS="${HPCSEQ_VENVS:-$ROOT/.venv}"
export HPCSEQ_CACHE="$CACHE"
VARIANT=cpu
WHAT=all

for arg in "$@"; do
  case "$arg" in
    --gpu) VARIANT=gpu ;;
    --workflow-only) WHAT=workflow ;;
    --training-only) WHAT=training ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "setup: unknown option $arg (try --help)" >&2; exit 2 ;;
  esac
done

say() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

check_python() {  # the supported range, said once: pyproject.toml's requires-python agrees (a test checks)
  command -v "$PYTHON" >/dev/null 2>&1 || die "no Python '$PYTHON' on PATH; set PYTHON=/path/to/python3.11 (3.11 to 3.13)"
  local found; found="$("$PYTHON" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
  "$PYTHON" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] <= (3, 13) else 1)' \
    || die "Python $found ($PYTHON) is not supported: hpcseq needs 3.11 to 3.13 (Snakemake 9.27 and its Slurm plugin need >= 3.11; TensorFlow 2.21 has wheels up to 3.13). Set PYTHON=/path/to/python3.11, 3.12 or 3.13 (on JSC: module load Stages/2025 Python)"
  "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || die "Python $found ($PYTHON) has no venv/ensurepip module (Debian: apt-get install python3-venv)"
}

stamp_of() {  # the files an environment was made from, hashed: unchanged hash = nothing to do
  cat "$@" "$ROOT/envs/build-tools.txt" "$ROOT/pyproject.toml" | sha256sum | cut -c1-16
}

make_venv() {  # make_venv DIR REQUIREMENTS...: a new environment whenever its files changed
  local dir="$1"; shift
  local stamp; stamp="$(stamp_of "$@")"
  if [[ -f "$dir/.hpcseq-stamp" && "$(cat "$dir/.hpcseq-stamp")" == "$stamp" ]]; then
    echo "$dir is up to date ($*)"
    return 0
  fi
  say "creating $dir from $* (a few minutes: downloads)"
  # --clear: an environment of older pins (TensorFlow 2.15, say) is replaced, not upgraded in place
  "$PYTHON" -m venv --clear "$dir"
  "$dir/bin/python" -m pip install --quiet -r "$ROOT/envs/build-tools.txt"
  local req
  for req in "$@"; do
    "$dir/bin/python" -m pip install --quiet -r "$req"
  done
  "$dir/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e "$ROOT"
  echo "$stamp" > "$dir/.hpcseq-stamp.pending"
}

finish_venv() { [[ -f "$1/.hpcseq-stamp.pending" ]] && mv "$1/.hpcseq-stamp.pending" "$1/.hpcseq-stamp"; return 0; }

install_horovod() {  # the wheel built (or cached) for this environment, unless it is installed already
  local wheel
  wheel="$("$ROOT/envs/horovod/build.sh" "$VENVS/train/bin/python" "$VARIANT")" || die "no Horovod wheel (above)"
  if [[ "$(cat "$VENVS/train/.hpcseq-horovod" 2>/dev/null)" != "$wheel" ]]; then
    "$VENVS/train/bin/python" -m pip install --quiet --no-deps --force-reinstall "$wheel"
    echo "$wheel" > "$VENVS/train/.hpcseq-horovod"
  fi
}

verify_training() {  # the build, the imports (Keras 2 selected by hpcseq) and a 2-rank allreduce
  say "checking the training environment"
  local bin="$VENVS/train/bin" check
  check="$("$bin/horovodrun" --check-build 2>/dev/null)" || die "horovodrun --check-build failed"
  # PyTorch is left out: Horovod 0.28.1 ticks it whenever `import horovod.torch` only warns that its
  # library was not built (HOROVOD_WITHOUT_PYTORCH), which it always does here
  echo "$check" | sed -n '/Available Frameworks/,$p' | grep -E '\[X\]' | grep -v PyTorch | sed 's/^/   /'
  echo "$check" | grep -q '\[X\] TensorFlow' || die "Horovod was built without TensorFlow"
  echo "$check" | grep -q '\[X\] Gloo' || die "Horovod was built without Gloo"
  TF_CPP_MIN_LOG_LEVEL=3 "$bin/python" -m hpcseq.training.stack_check --check || die "the training environment's imports failed (above)"
  TF_CPP_MIN_LOG_LEVEL=3 timeout 300 "$bin/horovodrun" -np 2 -H localhost:2 --gloo \
    "$bin/python" -m hpcseq.training.stack_check --allreduce 2>&1 | grep -E 'allreduce (ok|WRONG)|[A-Za-z]+Error: ' | sed 's/^/   /' \
    || die "the 2-rank allreduce failed: $bin/horovodrun -np 2 -H localhost:2 --gloo $bin/python -m hpcseq.training.stack_check --allreduce"
}

setup_workflow() {
  make_venv "$VENVS/workflow" "$ROOT/envs/workflow.txt"
  "$VENVS/workflow/bin/snakemake" --version >/dev/null || die "snakemake does not start in $VENVS/workflow"
  finish_venv "$VENVS/workflow"
  echo "workflow environment: $VENVS/workflow (snakemake $("$VENVS/workflow/bin/snakemake" --version))"
}

setup_training() {
  make_venv "$VENVS/train" "$ROOT/envs/training-$VARIANT.txt"
  install_horovod
  verify_training
  finish_venv "$VENVS/train"
  echo "training environment: $VENVS/train"
}

check_python
mkdir -p "$VENVS"
case "$WHAT" in
  workflow) setup_workflow ;;
  training) setup_training ;;
  all)  # both at once: mostly downloads and unpacking, which overlap well; the workflow's output after.
    # Each runs as a job of its own, so that `set -e` holds inside it (it does not in a `||` list).
    workflow_log="$(mktemp)"
    setup_workflow > "$workflow_log" 2>&1 &
    workflow_pid=$!
    setup_training &
    training_pid=$!
    training_status=0; wait "$training_pid" || training_status=$?
    workflow_status=0; wait "$workflow_pid" || workflow_status=$?
    cat "$workflow_log" >&2; rm -f "$workflow_log"
    [[ $training_status -eq 0 ]] || die "the training environment failed (its output above)"
    [[ $workflow_status -eq 0 ]] || die "the workflow environment failed (its output above)"
    ;;
esac
say "environments ready"
