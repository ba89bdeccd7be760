# Sweeps (`snakemake sweeps`; not part of `rule all`): every named model of sweeps.<name>.models
# trained and evaluated on the data of sweeps.<name>.experiment, with that experiment's settings and
# each model's preset overrides, then one table, JSON and plot comparing them beside the baseline
# (results/sweeps/<name>.{json,md,png}), as the material compares its forecasting models. The runs
# are training and evaluation jobs like the experiment's (the same rules with the run's paths).
# Beside each model, the figure the material publishes for it (config/published.yaml). Under
# --profile slurm with --slurm-array-jobs=sweep_train a sweep's trainings go out as one job array
# (sweep_resources, common.smk; docs/using/sweeps.md).

from hpcseq.paths import PUBLISHED_PATH

SWEEP_TRAINING_JOB = training_job(
    {"metrics": SWEEP_RUN.eval_metrics, "samples": SWEEP_RUN.samples},
    rule_log("sweeps", "{sweep}.{model}.evaluate"),
    sweep_settings("evaluate"),
    sweep_data("prepared"),
)


use rule train as sweep_train with:
    input:
        sweep_data("encoded"),
        **SWEEP_TRAINING_JOB.inputs,
    output:
        **SWEEP_TRAINING_JOB.outputs,
        model=SWEEP_RUN.final_model,
        metrics=SWEEP_RUN.metrics,
        summary=SWEEP_RUN.training_summary,
    log:
        **SWEEP_TRAINING_JOB.logs,
        train=rule_log("sweeps", "{sweep}.{model}.train"),
    benchmark:
        rule_benchmark("sweeps", "{sweep}.{model}.train")
    wildcard_constraints:
        sweep=name_pattern(SWEEPS),
        model=name_pattern(SWEEP_MODELS),
    threads: sweep_ranks
    resources:
        **sweep_resources("train"),
    params:
        **SWEEP_TRAINING_JOB.params,
        settings=sweep_settings("train"),
        results=sweep_results_dir,
        ranks=sweep_ranks,
        model_dir=parent_of_output("summary"),
        timeline="",


if not EVALUATE_IN_TRAINING_JOB:

    use rule evaluate as sweep_evaluate with:
        input:
            model=SWEEP_RUN.final_model,
            summary=SWEEP_RUN.training_summary,
            encoded=sweep_data("encoded"),
            prepared=sweep_data("prepared"),
        output:
            metrics=SWEEP_RUN.eval_metrics,
            samples=SWEEP_RUN.samples,
        log:
            rule_log("sweeps", "{sweep}.{model}.evaluate"),
        benchmark:
            rule_benchmark("sweeps", "{sweep}.{model}.evaluate")
        wildcard_constraints:
            sweep=name_pattern(SWEEPS),
            model=name_pattern(SWEEP_MODELS),
        resources:
            **sweep_resources("evaluate"),
        params:
            settings=sweep_settings("evaluate"),
            results=lambda wildcards, input: sweep_results_dir(wildcards, input.encoded),


rule sweep_table:
    input:
        evaluations=sweep_run_files("eval"),
        summaries=sweep_run_files("summary"),
        published=str(PUBLISHED_PATH),
    output:
        json=SWEEP.table_json,
        table=report(
            SWEEP.table_md,
            caption="../report/sweep.rst",
            category="Sweeps",
            labels={"sweep": "{sweep}", "file": "comparison table"},
        ),
        plot=report(
            SWEEP.plot,
            caption="../report/sweep.rst",
            category="Sweeps",
            labels={"sweep": "{sweep}", "file": "comparison plot"},
        ),
    log:
        rule_log("sweeps", "{sweep}"),
    wildcard_constraints:
        sweep=name_pattern(SWEEPS),
    conda:
        WORKFLOW_ENV
    params:
        python=WORKFLOW_PYTHON,
        settings=sweep_json,
        results=lambda wildcards, output: str(Path(output.json).parent.parent),
    shell:
        "{params.python:q} -m hpcseq sweep --settings {params.settings:q} --results-dir {params.results:q} > {log:q} 2>&1"


rule sweeps:
    input:
        sweep_targets(),
