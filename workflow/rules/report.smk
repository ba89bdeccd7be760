# Stage 5: one Markdown summary of every experiment (also in `snakemake --report`).


rule summary:
    input:
        [experiment_paths(name).eval_metrics for name in DEFAULT_EXPERIMENTS],
    output:
        report(
            summary_file(RESULTS),
            caption="../report/summary.rst",
            category="Summary",
            labels={"file": "summary of all experiments"},
        ),
    log:
        f"{LOGS}/summary.log",
    conda:
        WORKFLOW_ENV
    params:
        python=WORKFLOW_PYTHON,
        results=lambda wildcards, output: str(Path(output[0]).parent),
        experiments=DEFAULT_EXPERIMENTS,
    shell:
        "{params.python:q} -m hpcseq summary --results-dir {params.results:q} --output {output:q} "
        "{params.experiments:q} > {log:q} 2>&1"
