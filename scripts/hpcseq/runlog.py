"""Console logging as HPC users read it: one timestamped line per event, the rank on every line.

Output goes to stdout/stderr, which Slurm writes to `<job>_out.<id>` / `<job>_err.<id>` and
Snakemake rules redirect to `logs/<rule>/<experiment>.log`. Lines are flushed immediately so
`tail -f` on a running job shows progress.
"""

from __future__ import annotations

import logging
import os
import sys

LOGGER_NAME = "hpcseq"


def setup_logging(stage: str, rank: int | None = None, size: int | None = None, level: str | None = None) -> logging.Logger:
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    where = f" rank {rank}/{size}" if rank is not None and size is not None and size > 1 else ""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(f"%(asctime)s hpcseq {stage}{where} %(levelname)s %(message)s",
                                           datefmt="%Y-%m-%d %H:%M:%S"))
    logger.addHandler(handler)
    logger.setLevel(level or os.environ.get("HPCSEQ_LOG_LEVEL", "INFO"))
    logger.propagate = False
    try:
        sys.stdout.reconfigure(line_buffering=True)
    except (AttributeError, ValueError):
        pass
    return logger


def get_logger() -> logging.Logger:
    return logging.getLogger(LOGGER_NAME)
