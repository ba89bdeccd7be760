"""hpcseq: an HPC batch pipeline for recurrent sequence models.

Only hpcseq.training and the evaluation modules that load models need TensorFlow (and import it
themselves); everything else (config, data, cluster, logs, cli) works in the workflow environment,
which has none. docs/developing/architecture.md says which package owns what.
"""

__version__ = "0.1.0"

# Before anything imports TensorFlow: hpcseq's models are Keras 2 (hpcseq/stack.py says why).
from hpcseq.stack import select_keras_2

select_keras_2()
