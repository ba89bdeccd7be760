#!/usr/bin/env bash
# Build hpcseq's Horovod wheel for one Python environment that already holds TensorFlow, or reuse
# the one built before; print the wheel's path on stdout (everything else goes to stderr).
#
#   envs/horovod/build.sh PYTHON [cpu|gpu]
#   envs/horovod/build.sh --source DIR     only the patched source, in DIR/horovod-<version>
#                                          (envs/check-gpu-build.sh configures it)
#
# Horovod 0.28.1 (June 2023) is the last release; it supports neither TensorFlow >= 2.16, nor Keras 2
# as the tf-keras package, nor Python >= 3.12. hpcseq builds it from the released sdist (checked
# against the sha256 below) with the patches of envs/horovod/patches/, applied in order, one file per
# change, each saying what it changes, why, the upstream issue and the error seen without it.
#
# The wheel is cached in $HPCSEQ_CACHE/wheels (default ~/.cache/hpcseq), keyed by everything it was
# built from: Python's version, TensorFlow's version, the variant (cpu: Gloo + MPI; gpu: + NCCL),
# the build tools (pip, setuptools, wheel, cmake, the C++ compiler, MPI) and the patch set. A change
# to any of them builds a new wheel; 2 to 15 minutes on 2 cores.
# Used by envs/setup.sh, envs/training.post-deploy.sh (conda) and envs/hpcseq.def (Apptainer).
set -euo pipefail

readonly HOROVOD_VERSION=0.28.1
readonly HOROVOD_SDIST_SHA256=92a43f5a94c43907a56805bad15f19700c62ffc83b7ca483f9e104e229f67ef0
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly HERE
# the patch set; HPCSEQ_HOROVOD_PATCHES only for the test of a patch that does not apply
readonly PATCHES="${HPCSEQ_HOROVOD_PATCHES:-$HERE/patches}"
CACHE="${HPCSEQ_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hpcseq}"

die() { printf 'horovod build: error: %s\n' "$*" >&2; exit 1; }

if [[ "${1:-}" == --source ]]; then  # the patched source only: no TensorFlow, no build
  [[ $# -eq 2 && -d "$2" ]] || die "usage: envs/horovod/build.sh --source EXISTING_DIR"
  PY="$(command -v python3)" || die "no python3 to download the sdist with"
  SOURCE_DIR="$2"
  set -- "$PY"
fi
[[ $# -ge 1 && $# -le 2 ]] || die "usage: envs/horovod/build.sh PYTHON [cpu|gpu] | --source DIR"
PY="$1"
VARIANT="${2:-cpu}"
[[ "$VARIANT" == cpu || "$VARIANT" == gpu ]] || die "variant must be cpu or gpu, not '$VARIANT'"
[[ -x "$PY" ]] || PY="$(command -v "$PY")" || die "no Python '$1'"

need_build_tools() {  # cmake, a C++ compiler, MPI, patch; apt-get installs them as root on Debian
  local missing=()
  command -v cmake >/dev/null || missing+=(cmake)
  command -v g++ >/dev/null || missing+=(g++)
  command -v mpicc >/dev/null || missing+=(libopenmpi-dev openmpi-bin)
  command -v patch >/dev/null || missing+=(patch)
  [[ ${#missing[@]} -eq 0 ]] && return 0
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "installing build tools for Horovod: ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    die "Horovod needs ${missing[*]} to build: install them (on a cluster, load the CMake, GCC and OpenMPI modules)"
  fi
}

build_key() {  # what the wheel depends on, hashed; the readable part names Python, TF and variant
  local versions tools
  versions="$("$PY" - <<'EOF'
import sys
from importlib.metadata import version
import tensorflow as tf
print(f"py{sys.version_info[0]}.{sys.version_info[1]}-tf{tf.__version__}")
print(*(f"{name} {version(name)}" for name in ("pip", "setuptools", "wheel")))
EOF
)" || die "TensorFlow does not import in $PY: install envs/training-<variant>.txt first"
  tools="$(cmake --version | head -n1; g++ --version | head -n1; mpicc --version 2>&1 | head -n1; mpirun --version 2>&1 | head -n1)"
  local digest
  digest="$( { echo "$versions"; echo "$tools"; echo "$VARIANT"; cat "$PATCHES"/*.patch; } | sha256sum | cut -c1-12)"
  echo "horovod-$HOROVOD_VERSION-$(head -n1 <<<"$versions")-$VARIANT-$digest"
}

fetch_sdist() {  # the released sdist, downloaded once and checked against its pinned sha256
  local sdist="$CACHE/sources/horovod-$HOROVOD_VERSION.tar.gz"
  if [[ ! -f "$sdist" ]]; then
    mkdir -p "$CACHE/sources"
    "$PY" -m pip download --quiet --no-deps --no-binary :all: -d "$CACHE/sources" "horovod==$HOROVOD_VERSION" >&2 \
      || die "could not download horovod==$HOROVOD_VERSION's sdist from the package index"
  fi
  echo "$HOROVOD_SDIST_SHA256  $sdist" | sha256sum --check --quiet >&2 \
    || die "$sdist does not have the pinned sha256 $HOROVOD_SDIST_SHA256: delete it and try again"
  echo "$sdist"
}

patched_source() {  # unpack into $1 and apply every patch in order; stop at the first that fails
  local sdist="$1" dir="$2" patch
  tar -xzf "$sdist" -C "$dir"
  for patch in "$PATCHES"/*.patch; do
    patch --directory="$dir/horovod-$HOROVOD_VERSION" -p1 --forward --silent <"$patch" >&2 \
      || die "$(basename "$patch") does not apply to horovod $HOROVOD_VERSION"
    echo "applied $(basename "$patch")" >&2
  done
}

build_wheel() {  # build_wheel OUT_DIR
  local out="$1" sdist started=$SECONDS
  need_build_tools
  sdist="$(fetch_sdist)"
  WORK="$(mktemp -d)"
  trap 'rm -rf "$WORK"' EXIT
  local work="$WORK"
  patched_source "$sdist" "$work"
  echo "building Horovod $HOROVOD_VERSION ($VARIANT) with $PY: 2 to 15 minutes on 2 cores, once; log: $out.log" >&2
  (
    export HOROVOD_WITH_TENSORFLOW=1 HOROVOD_WITHOUT_PYTORCH=1 HOROVOD_WITHOUT_MXNET=1
    export HOROVOD_WITH_GLOO=1 HOROVOD_WITH_MPI=1
    [[ "$VARIANT" == gpu ]] && export HOROVOD_GPU_OPERATIONS=NCCL
    MAKEFLAGS="-j$(nproc)"; export MAKEFLAGS
    "$PY" -m pip wheel --no-deps --no-build-isolation --no-cache-dir -w "$work/wheel" "$work/horovod-$HOROVOD_VERSION"
  ) >"$out.log" 2>&1 || { tail -n 30 "$out.log" >&2; die "the Horovod build failed; full log: $out.log"; }
  mkdir -p "$out"
  mv "$work"/wheel/horovod-*.whl "$out"/
  mv "$out.log" "$out/build.log"
  echo "built in $(( (SECONDS - started) / 60 )) min $(( (SECONDS - started) % 60 )) s" | tee "$out/build-time" >&2
}

main() {
  if [[ -n "${SOURCE_DIR:-}" ]]; then
    patched_source "$(fetch_sdist)" "$SOURCE_DIR"
    return 0
  fi
  local key dir wheel
  key="$(build_key)"
  dir="$CACHE/wheels/$key"
  wheel="$(find "$dir" -maxdepth 1 -name 'horovod-*.whl' 2>/dev/null | head -n1 || true)"
  if [[ -n "$wheel" ]]; then
    echo "reusing the Horovod wheel cached in $dir" >&2
  else
    mkdir -p "$CACHE/wheels"
    build_wheel "$dir"
    wheel="$(find "$dir" -maxdepth 1 -name 'horovod-*.whl' | head -n1)"
  fi
  echo "$wheel"
}

main
