#!/usr/bin/env bash
# Check the GPU (NCCL) variant of hpcseq's Horovod build as far as a machine without CUDA allows:
# unpack the Horovod sdist, apply every patch of envs/horovod/patches/ in order (as
# envs/horovod/build.sh does; a patch that does not apply fails loudly), then run Horovod's CMake
# configuration with the environment build.sh sets for `gpu` (HOROVOD_GPU_OPERATIONS=NCCL,
# HOROVOD_WITH_TENSORFLOW=1, Gloo, MPI) and the -D options of Horovod's setup.py (build_extensions:
# CMAKE_BUILD_TYPE, CMAKE_LIBRARY_OUTPUT_DIRECTORY_<CONFIG>, PYTHON_EXECUTABLE).
#
#   envs/check-gpu-build.sh     the sdist and patches exactly as envs/horovod/build.sh --source gives
#                               them (downloaded once, sha256 checked, cached in $HPCSEQ_CACHE)
#
# Exit 0: the configuration got as far as CUDA and stopped only because no CUDA toolkit is installed
# (expected here), or it passed (a machine with CUDA). Exit 1: anything else stopped it first (a
# patch, MPI, CMake, the sdist), reported with the first error. PYTHON: the interpreter handed to CMake
# (default python3). `make check-gpu-build` runs it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"

die() { printf 'check-gpu-build: FAIL: %s\n' "$*" >&2; exit 1; }

command -v cmake >/dev/null || die "cmake is not installed"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
"$ROOT/envs/horovod/build.sh" --source "$WORK" || die "no patched Horovod source (above)"
SOURCE="$(find "$WORK" -maxdepth 1 -name 'horovod-*' -type d | head -n1)"
[[ -f "$SOURCE/CMakeLists.txt" ]] || die "the patched source has no CMakeLists.txt"

BUILD="$WORK/build"
mkdir -p "$BUILD" "$WORK/lib"
LOG="$WORK/cmake.log"
status=0
(
  cd "$BUILD"
  export HOROVOD_WITH_TENSORFLOW=1 HOROVOD_WITHOUT_PYTORCH=1 HOROVOD_WITHOUT_MXNET=1
  export HOROVOD_WITH_GLOO=1 HOROVOD_WITH_MPI=1 HOROVOD_GPU_OPERATIONS=NCCL
  cmake "$SOURCE" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DCMAKE_LIBRARY_OUTPUT_DIRECTORY_RELWITHDEBINFO=$WORK/lib" \
    "-DPYTHON_EXECUTABLE:FILEPATH=$(command -v "$PYTHON")"
) >"$LOG" 2>&1 || status=$?

if [[ $status -eq 0 ]]; then
  echo "check-gpu-build: PASS: Horovod's CMake configuration of the NCCL variant succeeded (CUDA found)"
  exit 0
fi
# the first error CMake reports, with the line after it (what was not found)
first_error="$(grep -m1 -A2 'CMake Error' "$LOG" || tail -n 5 "$LOG")"
cuda_missing='Could NOT find CUDAToolkit|CUDAToolkit.*not found|No CMAKE_CUDA_COMPILER could be found'
if grep -m1 -A2 'CMake Error' "$LOG" | grep -Eq "$cuda_missing"; then
  echo "check-gpu-build: PASS (as far as it goes): patches apply; configuration reached CUDA and stopped there:"
  printf '%s\n' "$first_error" | sed 's/^/    /'
  echo "    (expected without a CUDA toolkit; the rest of the NCCL variant is checked on a GPU node: hpcseq smoke-test)"
  exit 0
fi
echo "--- the end of CMake's output:" >&2
tail -n 25 "$LOG" >&2
printf '%s\n' "$first_error" | sed 's/^/    /' >&2
die "Horovod's CMake configuration stopped before it reached CUDA (the first error above)"
