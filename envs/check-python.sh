#!/usr/bin/env bash
# Train a shipped experiment on 2 ranks with another Python than the one `make setup` uses:
# `make check-python PY=3.13` (the default: 3.13).
#
#   envs/check-python.sh 3.13   Debian 13's Python 3.13 in a Debian 13 root, made once with
#                               debootstrap (about 5 minutes) and reused from
#                               $HPCSEQ_CACHE/roots/debian13; needs root (debootstrap, chroot, mounts)
#   envs/check-python.sh 3.11   the host's python3.11 (or 3.12): a working pythonX.Y on PATH, else
#   envs/check-python.sh 3.12   pyenv's newest X.Y.* (these machines have pyenv 3.12.1), in a venv
#                               under $HPCSEQ_CACHE (no root); exits 2 when there is none (no Debian
#                               release packages 3.12, and PyPI ships no interpreter)
#
# Each run sets up a training environment with envs/setup.sh --training-only in
# $HPCSEQ_CACHE/venvs-pyXY (the patched Horovod wheel is built once and cached under
# $HPCSEQ_CACHE/wheels), then runs the workflow's stages for $CHECK_EXPERIMENT (default
# shakespeare_char_rnn) without Snakemake: preprocess, vocab, training on 2 ranks (horovodrun
# --gloo, as `hpcseq launch` starts it outside Slurm) and evaluate, at the quick preset cut to
# $CHECK_EPOCHS epochs (default 1) of at most $CHECK_STEPS steps per rank (default 300). Results
# go to $HPCSEQ_CACHE/check-python/pyXY, never into the checkout. The transcript ends with the
# Python, TensorFlow, Keras (tf_keras), Horovod and numpy versions and the final metrics.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${HPCSEQ_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hpcseq}"
EXPERIMENT="${CHECK_EXPERIMENT:-shakespeare_char_rnn}"
EPOCHS="${CHECK_EPOCHS:-1}"
STEPS="${CHECK_STEPS:-300}"
RANKS=2
DEBIAN13_SUITE=trixie
# what Horovod's build and the training need inside the Debian 13 root (debootstrap's own
# dependency resolution leaves libopenmpi-dev's half installed: apt installs them inside)
ROOT_PACKAGES=(python3 python3-venv python3-dev cmake g++ make libopenmpi-dev openmpi-bin patch ca-certificates git)
IN_ROOT_REPO=/hpcseq
IN_ROOT_CACHE=/cache

say() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'check-python: error: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; }

# ---------------------------------------------------------------------------------------------
# The check itself, in the environment of the Python under test (the host, or inside the root).
run_check() {  # run_check VERSION INTERPRETER VENVS CACHE RESULTS
  local version="$1" interpreter="$2" venvs="$3" cache="$4" results="$5"
  local tag="py${version/./}"
  cd "$REPO"
  # bytecode of the checkout's files goes to the cache, not into scripts/**/__pycache__
  export PYTHONPYCACHEPREFIX="$cache/pycache-$tag"
  local started=$SECONDS

  say "setting up: PYTHON=$interpreter HPCSEQ_VENVS=$venvs HPCSEQ_CACHE=$cache envs/setup.sh --training-only"
  PYTHON="$interpreter" HPCSEQ_VENVS="$venvs" HPCSEQ_CACHE="$cache" envs/setup.sh --training-only
  local python="$venvs/train/bin/python"
  [[ -x "$python" ]] || die "envs/setup.sh made no $python"
  "$python" -c 'import sys; sys.exit(0 if "%d.%d" % sys.version_info[:2] == sys.argv[1] else 1)' "$version" \
    || die "$python is not Python $version (envs/setup.sh ignored PYTHON=$interpreter?)"
  local setup_s=$((SECONDS - started))

  local config=(--config preset=quick "experiments={$EXPERIMENT: {training: {epochs: $EPOCHS, max_steps_per_epoch: $STEPS}}}")
  local common=(--experiment "$EXPERIMENT" --results-dir "$results")
  rm -rf "${results:?}/$EXPERIMENT"
  mkdir -p "$results"

  local stage_started
  stage_started=$SECONDS
  say "preprocess: $python -m hpcseq preprocess ${common[*]} ${config[*]}"
  "$python" -m hpcseq preprocess "${common[@]}" "${config[@]}"
  say "vocab"
  "$python" -m hpcseq vocab "${common[@]}" "${config[@]}"
  local data_s=$((SECONDS - stage_started))

  stage_started=$SECONDS
  say "train on $RANKS ranks: hpcseq launch --ranks $RANKS --local-launcher horovodrun -- $python -m hpcseq train ..."
  "$python" -m hpcseq launch --ranks "$RANKS" --local-launcher horovodrun -- \
    "$python" -m hpcseq train "${common[@]}" --restart "${config[@]}"
  local train_s=$((SECONDS - stage_started))

  stage_started=$SECONDS
  say "evaluate"
  "$python" -m hpcseq evaluate "${common[@]}" "${config[@]}"
  local eval_s=$((SECONDS - stage_started))

  say "transcript: $EXPERIMENT on Python $version, $RANKS ranks"
  "$python" - "$results/$EXPERIMENT" <<'EOF'
import json, os, platform, sys
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import horovod
import numpy
import tensorflow as tf
import tf_keras

print(f"python      {platform.python_version()} ({sys.executable})")
print(f"tensorflow  {tf.__version__}")
print(f"keras       tf_keras {tf_keras.__version__} (tf.keras is {tf.keras.__name__}, TF_USE_LEGACY_KERAS={os.environ['TF_USE_LEGACY_KERAS']})")
print(f"horovod     {horovod.__version__} ({Path(horovod.__file__).parent})")
print(f"numpy       {numpy.__version__}")
root = Path(sys.argv[1])
epochs = [json.loads(line) for line in (root / "model" / "metrics.jsonl").read_text().splitlines() if line.strip()]
if epochs:
    last = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in epochs[-1].items()}
    print(f"training    {len(epochs)} epoch(s); last: {json.dumps(last)}")
summary = root / "model" / "training_summary.json"
if summary.exists():
    data = json.loads(summary.read_text())
    keys = [k for k in ("ranks", "world_size", "size", "epochs", "seconds", "wall_seconds", "samples_per_second") if k in data]
    print("summary     " + json.dumps({k: data[k] for k in keys}))
metrics = json.loads((root / "eval" / "metrics.json").read_text())
flat = {}
def walk(prefix, value):
    if isinstance(value, dict):
        for key, item in value.items():
            walk(f"{prefix}.{key}" if prefix else key, item)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        flat[prefix] = round(value, 4) if isinstance(value, float) else value
walk("", metrics)
print("evaluation  " + json.dumps(dict(list(flat.items())[:12])))
EOF
  echo "times       setup ${setup_s} s, preprocess+vocab ${data_s} s, training ${train_s} s, evaluate ${eval_s} s"
  echo "results     $results/$EXPERIMENT"
}

# ---------------------------------------------------------------------------------------------
# The Debian 13 root (Python 3.13).
ROOTFS="$CACHE/roots/debian13"
MOUNTED=()

unmount_all() {
  local i
  for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
    umount "${MOUNTED[i]}" 2>/dev/null || umount -l "${MOUNTED[i]}" 2>/dev/null \
      || echo "check-python: warning: could not unmount ${MOUNTED[i]}" >&2
  done
  MOUNTED=()
}

bind() {  # bind SOURCE TARGET [ro]
  local source="$1" target="$2"
  if [[ -d "$source" ]]; then mkdir -p "$target"; else mkdir -p "$(dirname "$target")"; touch "$target"; fi
  mount --bind "$source" "$target"
  MOUNTED+=("$target")
  if [[ "${3:-}" == ro ]]; then mount -o remount,bind,ro "$target"; fi
}

debian_mirror() {  # the Debian mirror this machine's apt uses (not its security one)
  if [[ -n "${HPCSEQ_DEBIAN_MIRROR:-}" ]]; then echo "$HPCSEQ_DEBIAN_MIRROR"; return; fi
  local url
  url="$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | sed -n 's/^URIs:[[:space:]]*//p' | tr ' ' '\n' \
    | grep -E '/debian/?$' | head -n1 || true)"
  if [[ -z "$url" ]]; then
    url="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
      | awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; break } }' \
      | grep -E '/debian/?$' | head -n1 || true)"
  fi
  echo "${url:-http://deb.debian.org/debian}"
}

pip_settings_into_root() {
  # pip reaches the package index only with this machine's settings: its config files, and the
  # certificates and local folders (find-links, file:// indexes) they and PIP_* name
  local conf paths=() path
  for conf in /etc/pip.conf "$HOME/.config/pip/pip.conf" "$HOME/.pip/pip.conf" "${PIP_CONFIG_FILE:-}"; do
    [[ -n "$conf" && -f "$conf" ]] || continue
    mkdir -p "$ROOTFS$(dirname "$conf")"
    cp -L "$conf" "$ROOTFS$conf"
    while IFS= read -r path; do paths+=("$path"); done \
      < <(grep -v '^[[:space:]]*[#;]' "$conf" | grep -oE '(file://)?/[^[:space:]"'\'',]+' | sed 's|^file://||')
  done
  for path in "${PIP_CERT:-}" "${PIP_CLIENT_CERT:-}" ${PIP_FIND_LINKS:-} "${SSL_CERT_FILE:-}" "${REQUESTS_CA_BUNDLE:-}"; do
    [[ -n "$path" ]] && paths+=("${path#file://}")
  done
  for path in "${paths[@]}"; do
    [[ "$path" == /* ]] || continue
    path="${path%/}"
    # a local index (.../simple) links to its files beside it (../files): take the whole index
    [[ "$(basename "$path")" == simple ]] && path="$(dirname "$path")"
    if [[ -f "$path" ]]; then
      mkdir -p "$ROOTFS$(dirname "$path")"
      cp -L "$path" "$ROOTFS$path"
    elif [[ -d "$path" ]] && ! mountpoint -q "$ROOTFS$path"; then
      bind "$path" "$ROOTFS$path" ro
    fi
  done
}

mount_root() {
  mount -t proc proc "$ROOTFS/proc"; MOUNTED+=("$ROOTFS/proc")
  bind /dev "$ROOTFS/dev"
  bind /dev/pts "$ROOTFS/dev/pts"
  mount -t tmpfs -o mode=1777 shm "$ROOTFS/dev/shm"; MOUNTED+=("$ROOTFS/dev/shm")
  bind /sys "$ROOTFS/sys" ro
  cp -L /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
  cp -L /etc/hosts "$ROOTFS/etc/hosts"
}

in_root() {  # in_root COMMAND...: run in the root with a clean environment (pip's and proxies' passed on)
  local env=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
    DEBIAN_FRONTEND=noninteractive TERM="${TERM:-dumb}"
    # git inside reads the bind-mounted checkout (training records its commit) whoever owns it
    GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=safe.directory GIT_CONFIG_VALUE_0="$IN_ROOT_REPO")
  local name
  while IFS= read -r name; do env+=("$name=${!name}"); done \
    < <(compgen -e | grep -E '^(PIP_[A-Z_]+|https?_proxy|HTTPS?_PROXY|no_proxy|NO_PROXY|SSL_CERT_FILE|REQUESTS_CA_BUNDLE|CHECK_[A-Z]+)$' || true)
  chroot "$ROOTFS" /usr/bin/env -i "${env[@]}" "$@"
}

make_root() {
  if [[ ! -x "$ROOTFS/usr/bin/python3" ]]; then
    command -v debootstrap >/dev/null || {
      say "installing debootstrap"
      DEBIAN_FRONTEND=noninteractive apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    }
    [[ -f "/usr/share/debootstrap/scripts/$DEBIAN13_SUITE" ]] \
      || die "this debootstrap does not know Debian 13 ($DEBIAN13_SUITE); update it (apt-get install debootstrap)"
    local mirror; mirror="$(debian_mirror)"
    say "making a Debian 13 root in $ROOTFS from $mirror (about 3 minutes, once)"
    rm -rf "$ROOTFS.tmp"
    debootstrap --variant=minbase --include=python3,python3-venv,python3-dev \
      "$DEBIAN13_SUITE" "$ROOTFS.tmp" "$mirror" > "$(dirname "$ROOTFS")/debootstrap.log" 2>&1 \
      || { tail -n 20 "$(dirname "$ROOTFS")/debootstrap.log" >&2; die "debootstrap failed (log: $(dirname "$ROOTFS")/debootstrap.log)"; }
    rm -rf "$ROOTFS"
    mv "$ROOTFS.tmp" "$ROOTFS"
  fi
}

root_packages() {  # (mounted) the build tools, once; later runs only check them
  if ! in_root dpkg -s "${ROOT_PACKAGES[@]}" >/dev/null 2>&1; then
    say "installing into the root: ${ROOT_PACKAGES[*]}"
    in_root apt-get update -qq
    in_root apt-get install -y -qq "${ROOT_PACKAGES[@]}" >/dev/null
  fi
  in_root python3 --version
}

check_in_root() {
  local version=3.13 tag=py313
  [[ $(id -u) -eq 0 ]] || die "a Debian 13 root needs root (debootstrap, chroot, mount); run as root"
  mkdir -p "$(dirname "$ROOTFS")"
  exec 9>"$ROOTFS.lock"  # one run at a time makes, mounts and uses the root
  flock -n 9 || die "another check-python is using $ROOTFS (lock $ROOTFS.lock)"
  make_root
  trap unmount_all EXIT
  trap 'exit 130' INT TERM
  mount_root
  pip_settings_into_root
  bind "$REPO" "$ROOTFS$IN_ROOT_REPO"
  bind "$CACHE" "$ROOTFS$IN_ROOT_CACHE"
  root_packages
  in_root python3 -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 13) else 1)' \
    || die "the root's python3 is not 3.13: $(in_root python3 --version)"
  say "inside the Debian 13 root ($ROOTFS): the repository at $IN_ROOT_REPO, $CACHE at $IN_ROOT_CACHE"
  in_root /bin/bash "$IN_ROOT_REPO/envs/check-python.sh" --inside "$version" python3.13 \
    "$IN_ROOT_CACHE/venvs-$tag" "$IN_ROOT_CACHE" "$IN_ROOT_CACHE/check-python/$tag"
}

host_python() {  # host_python VERSION: a working pythonX.Y on PATH, else pyenv's newest X.Y.*, else nothing
  local version="$1" candidate root
  if candidate="$(command -v "python$version")" && "$candidate" -c 'pass' >/dev/null 2>&1; then
    # a pyenv shim runs only where pyenv has that version selected: take the interpreter behind it
    "$candidate" -c 'import sys; print(sys.executable)'
    return 0
  fi
  root="$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")"
  candidate="$(find "$root/versions" -maxdepth 3 -path "*/versions/$version.*/bin/python$version" 2>/dev/null | sort -V | tail -n1)"
  if [[ -n "$candidate" ]] && "$candidate" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    echo "$candidate"
  fi
}

check_on_host() {
  local version="$1" tag="py${1/./}" interpreter
  interpreter="$(host_python "$version")"
  if [[ -z "$interpreter" ]]; then
    echo "check-python: no Python $version here: none on PATH and none in pyenv ($(pyenv root 2>/dev/null || echo "no pyenv")/versions)." \
      "Debian 12 packages 3.11 only (bookworm-backports has no newer Python), Debian 13 3.13 only, and" \
      "PyPI ships no CPython interpreter. Put a python$version on PATH (a cluster module, pyenv install) and rerun." >&2
    exit 2
  fi
  say "Python $version on this machine: $interpreter"
  run_check "$version" "$interpreter" "$CACHE/venvs-$tag" "$CACHE" "$CACHE/check-python/$tag"
}

# ---------------------------------------------------------------------------------------------
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  --inside) shift; [[ $# -eq 5 ]] || die "--inside VERSION INTERPRETER VENVS CACHE RESULTS"; run_check "$@"; exit 0 ;;
esac
[[ $# -le 1 ]] || { usage >&2; exit 2; }
VERSION="${1:-3.13}"
case "$VERSION" in
  3.13) check_in_root ;;
  3.11|3.12) check_on_host "$VERSION" ;;
  *) echo "check-python: Python $VERSION is not one this check knows (3.11, 3.12, 3.13)" >&2; exit 2 ;;
esac
