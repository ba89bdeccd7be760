"""Lines that never explain anything (TensorFlow's start-up chatter and the like), and what is
left when no rule explains a failure: `unknown`, with the last error-like lines, never a guess."""

from __future__ import annotations

import re

from hpcseq.logs.diagnose.facts import Diagnosis, Evidence, Facts

NOISE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: I |"  # TensorFlow INFO lines
    r"oneDNN custom operations are on|This TensorFlow binary is optimized to use available CPU instructions|"
    r"To enable the following instructions|rebuild TensorFlow with the appropriate compiler flags|"
    r"TF-TRT Warning|Unable to register cu(?:DNN|FFT|BLAS) factory|Could not find cuda drivers on your machine|"
    r"could not open file to read NUMA node|successful NUMA node read from SysFS|"
    r"disabling MLIR crash reproducer|Plugin optimizer for device_type|XLA service 0x[0-9a-f]+ initialized|"
    r"StreamExecutor device \(\d+\)|Compiled cluster using XLA|Loaded cuDNN version|"
    r"Created device /job:localhost|srun: cluster configuration lacks support for cpu binding|"
    r"^No job memory information \('mem_mb'|^WARNING: All log messages before absl::InitializeLog|"
    # TensorFlow >= 2.20 logs through absl before its own log level is read: INFO lines, and on a
    # machine without a GPU "failed call to cuInit: ... CUDA error ... (303)", after which it trains
    # on the CPU (seen with tensorflow-cpu 2.21.0)
    r"^I\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ [\w.]+:\d+\] |failed call to cuInit: INTERNAL: CUDA error: Failed call to cuInit"
)


def is_noise(text: str) -> bool:
    """TensorFlow/oneDNN start-up chatter and similar lines that never explain anything."""
    return bool(NOISE.search(text))


ERRORLIKE = re.compile(
    r"\b(?:error|exception|traceback|fatal|abort(?:ed)?|killed|segmentation fault|core dumped|"
    r"failed|failure|cannot|denied)\b",
    re.IGNORECASE,
)


def unknown(facts: Facts) -> Diagnosis:
    candidates = [line for line in facts.lines if ERRORLIKE.search(line.text) and not is_noise(line.text)]
    code = f" (exit code {facts.exit_code})" if facts.exit_code else ""
    if not candidates:
        return Diagnosis(
            "unknown",
            f"The job failed{code}, and its logs hold no error message.",
            None,
            "Look at the complete output (the files listed above)"
            + ("." if facts.local else "; if there is none, check where Slurm wrote it (#SBATCH --output/--error)."),
        )
    last = candidates[-6:]
    return Diagnosis(
        "unknown",
        f"The job failed{code} for a reason hpcseq does not recognise; the last error-like lines are shown.",
        Evidence.of(last[-1]),
        "Read these lines in context (the files listed above) to find the first error.",
        also=[Evidence.of(line) for line in last[:-1]],
    )
