# Stage 5: one Markdown summary of every experiment (also in `snakemake --report`).


rule summary:
    input:
        expand(f"{RESULTS}/{{experiment}}/eval/metrics.json", experiment=EXPERIMENTS),
    output:
        report(
            f"{RESULTS}/summary.md",
            caption="../report/summary.rst",
            category="Summary",
            labels={"file": "summary of all experiments"},
        ),
    params:
        python=WORKFLOW_PYTHON,
        results=lambda wildcards, output: str(Path(output[0]).parent),
        experiments=EXPERIMENTS,
    conda:
        WORKFLOW_ENV
    log:
        f"{LOGS}/summary.log",
    shell:
        "{params.python:q} -m hpcseq summary --results-dir {params.results:q} --output {output:q} "
        "{params.experiments:q} > {log:q} 2>&1"
