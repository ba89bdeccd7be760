"""How hpcseq's packages may depend on each other: the rules tests/unit/test_architecture.py holds
the code to, and docs/developing/modules.md shows (written by `make docs-reference`), so the page
cannot drift from the test.

Data only: each rule with the reason a reader needs.
"""

from __future__ import annotations

HEAVY = ("tensorflow", "horovod")  # third-party packages of the training environment only
TF_PACKAGES = ("hpcseq.training", "hpcseq.evaluation")  # where they may be imported

# Modules outside TF_PACKAGES that may import TensorFlow (or a module that needs it) inside
# their functions, never at module level: {module: (what it may import, why)}.
LAZY_TENSORFLOW = {
    "hpcseq.cli.model_commands": (
        ("hpcseq.training", "hpcseq.evaluation.evaluate"),
        "the command line sits on top of every package; `hpcseq train` and `hpcseq evaluate` import "
        "them inside their command functions, so that every other command runs without TensorFlow",
    ),
    "hpcseq.cluster.smoke": (
        ("tensorflow", "horovod", "horovod.tensorflow"),
        "the smoke test of a cluster's software route (`hpcseq smoke-test`'s job) runs in the training "
        "environment on the cluster, and whether TensorFlow and Horovod import there is its first check",
    ),
    "hpcseq.devtools.bench_tasks": (
        ("tensorflow", "hpcseq.training"),
        "the benchmark's reference runs: each runs in its own process (`make benchmark` starts them) "
        "and imports TensorFlow there, so that the driver stays light",
    ),
}

# {importer package: {forbidden package: why}}
FORBIDDEN = {
    "hpcseq.logs": {
        "hpcseq.config": "`hpcseq logs` reads config files with hpcseq.io.load_yaml; it needs no validation, "
        "which would load cluster/",
        "hpcseq.training": "`hpcseq logs` runs on login nodes without TensorFlow; it reads what training "
        "writes through hpcseq.events and hpcseq.records",
        "hpcseq.cluster": "the log inspector reads logs and Slurm's accounting; it does not plan jobs",
        "hpcseq.evaluation": "the log inspector does not evaluate models",
    },
    "hpcseq.cluster": {
        "hpcseq.training": "job planning is pure configuration; the exit codes it shares with training "
        "live in hpcseq.errors",
        "hpcseq.logs": "the cluster code writes job scripts; reading their logs is the inspector's job",
        "hpcseq.config": "hpcseq.config asks cluster/ to check the Slurm values (hpcseq.config.slurm); cluster/ "
        "reads the resolved config as a mapping",
    },
    "hpcseq.config": {
        "hpcseq.training": "the config is read before any training; training reads the settings it resolves",
        "hpcseq.evaluation": "evaluation reads the settings the config resolves; the config does not evaluate",
        "hpcseq.data": "data preparation reads the settings the config resolves, not the reverse",
        "hpcseq.logs": "the log inspector reads config files (hpcseq.io.load_yaml); the config does not read logs",
    },
    "hpcseq.data": {
        "hpcseq.training": "data preparation runs in the workflow environment, before any training",
        "hpcseq.evaluation": "data preparation comes before evaluation",
        "hpcseq.cluster": "data preparation does not know where it runs",
        "hpcseq.logs": "data preparation does not read logs",
    },
}

# The top of the package: {module or package: the only modules (or packages) that may import it};
# a package's own modules import each other.
TOP_LEVEL = {
    # the reference tool documents the command line from its parser (docs/reference/cli.md)
    "hpcseq.cli": ("hpcseq.__main__", "hpcseq.devtools.reference"),
    "hpcseq.__main__": (),
    "hpcseq.devtools": ("hpcseq.cli",),
}
