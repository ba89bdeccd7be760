"""Check a training environment against the stack hpcseq supports (hpcseq/stack.py); envs/setup.sh
runs both after every build, `hpcseq smoke-test` the same checks on a cluster:

    python -m hpcseq.training.stack_check --check        versions, Keras 2 as tf.keras, Horovod's binding
    horovodrun -np 2 python -m hpcseq.training.stack_check --allreduce     a 2-rank allreduce
"""

from __future__ import annotations

import argparse
import sys

from hpcseq.stack import StackError, check_stack, range_text


def _check() -> int:
    import horovod
    import tensorflow as tf

    found = check_stack(tf)
    import horovod.tensorflow.keras as hvd_keras

    backend = hvd_keras.K  # patched Horovod (envs/horovod/patches/0002) takes tf.keras's backend
    if backend is not tf.keras.backend:
        raise StackError(f"horovod.tensorflow.keras uses {backend.__name__}, not tf.keras's backend: rebuild Horovod")
    keras = found["keras"]
    print(
        f"   Python {found['python']} | TensorFlow {found['tensorflow']} | Keras {keras['version']} "
        f"({keras['package']}) | Horovod {horovod.__version__} | GPUs visible: "
        f"{len(tf.config.list_physical_devices('GPU'))}"
    )
    return 0


def _allreduce() -> int:
    import horovod.tensorflow as hvd
    import tensorflow as tf

    hvd.init()
    total = float(hvd.allreduce(tf.constant(float(hvd.rank() + 1)), op=hvd.Sum).numpy())
    expected = hvd.size() * (hvd.size() + 1) / 2
    if hvd.rank() == 0:
        verdict = "ok" if total == expected else "WRONG"
        print(f"allreduce {verdict}: {hvd.size()} ranks summed {total:g} (expected {expected:g})", flush=True)
    return 0 if total == expected else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hpcseq.training.stack_check", description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--check", action="store_true", help="versions, Keras 2 as tf.keras, Horovod's Keras binding")
    group.add_argument("--allreduce", action="store_true", help="one allreduce over the ranks (under horovodrun)")
    group.add_argument("--range", action="store_true", help="print the supported Python and TensorFlow versions")
    arguments = parser.parse_args(argv)
    if arguments.range:
        print(range_text())
        return 0
    try:
        return _check() if arguments.check else _allreduce()
    except StackError as error:
        print(f"hpcseq: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
