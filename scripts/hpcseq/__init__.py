"""hpcseq: an HPC batch pipeline for recurrent sequence models.

Modules that need TensorFlow (inputs, models, train, evaluate, distributed) import it
themselves; everything else (config, corpus, sentiment, vocab, slurm, logs, cli) works in
the workflow environment, which has no TensorFlow.
"""

__version__ = "0.1.0"
