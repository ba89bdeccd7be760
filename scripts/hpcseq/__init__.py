"""hpcseq: an HPC batch pipeline for recurrent sequence models.

Only hpcseq.training and hpcseq.evaluation.evaluate need TensorFlow (and import it themselves);
everything else (config, data, cluster, logs, cli) works in the workflow environment, which has
none. README.md, section "Layout and architecture", says which package owns what.
"""

__version__ = "0.1.0"
