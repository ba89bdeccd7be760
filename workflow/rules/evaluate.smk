# Stage 4: test metrics next to a baseline, samples (char_rnn), then plots in the workflow env.


rule evaluate:
    input:
        model=f"{RESULTS}/{{experiment}}/model/final.keras",
        summary=f"{RESULTS}/{{experiment}}/model/training_summary.json",
        encoded=encoded_inputs,
        prepared=prepared_inputs,
    output:
        metrics=report(
            f"{RESULTS}/{{experiment}}/eval/metrics.json",
            caption="../report/eval_metrics.rst",
            category="{experiment}",
            labels={"experiment": "{experiment}", "file": "metrics (JSON)"},
        ),
        samples=report(
            f"{RESULTS}/{{experiment}}/eval/samples.txt",
            caption="../report/samples.rst",
            category="{experiment}",
            labels={"experiment": "{experiment}", "file": "samples"},
        ),
    params:
        settings=stage_json("evaluate"),
        results=results_dir_from("metrics"),
        python=TRAINING_PYTHON,
        workflow_python=WORKFLOW_PYTHON,
        setup=cluster_setup,
    resources:
        **stage_resources("evaluate"),
    conda:
        TRAINING_ENV
    log:
        f"{LOGS}/evaluate/{{experiment}}.log",
    benchmark:
        f"{BENCHMARKS}/evaluate/{{experiment}}.tsv"
    shell:
        "{params.workflow_python:q} -m hpcseq launch --ranks 1 --srun= --slurm-setup={params.setup:q} "
        "-- {params.python:q} -m hpcseq evaluate --settings {params.settings:q} --results-dir {params.results:q} "
        "> {log:q} 2>&1 || {{ status=$?; tail -n 40 {log:q} >&2; exit $status; }}"


rule plot_training_curves:
    input:
        metrics=f"{RESULTS}/{{experiment}}/model/metrics.jsonl",
    output:
        curves=report(
            f"{RESULTS}/{{experiment}}/eval/plots/training_curves.png",
            caption="../report/training_curves.rst",
            category="{experiment}",
            labels={"experiment": "{experiment}", "file": "training curves"},
        ),
    params:
        python=WORKFLOW_PYTHON,
    conda:
        WORKFLOW_ENV
    log:
        f"{LOGS}/plot/{{experiment}}.curves.log",
    shell:
        "{params.python:q} -m hpcseq plot curves --metrics {input.metrics:q} --title {wildcards.experiment:q} "
        "--output {output.curves:q} > {log:q} 2>&1"


rule plot_confusion_matrix:
    input:
        evaluation=f"{RESULTS}/{{experiment}}/eval/metrics.json",
    output:
        matrix=report(
            f"{RESULTS}/{{experiment}}/eval/plots/confusion_matrix.png",
            caption="../report/confusion_matrix.rst",
            category="{experiment}",
            labels={"experiment": "{experiment}", "file": "confusion matrix"},
        ),
    wildcard_constraints:
        experiment=name_pattern(SENTENCE_EXPERIMENTS),
    params:
        python=WORKFLOW_PYTHON,
    conda:
        WORKFLOW_ENV
    log:
        f"{LOGS}/plot/{{experiment}}.confusion.log",
    shell:
        "{params.python:q} -m hpcseq plot confusion --evaluation {input.evaluation:q} "
        "--title {wildcards.experiment:q} --output {output.matrix:q} > {log:q} 2>&1"
