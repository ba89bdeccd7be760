# Stage 4: test metrics next to a baseline, samples (next_character models), then plots in the workflow env.
# Where the cluster evaluates in the training job (EVALUATE_IN_TRAINING_JOB), `train` evaluates.


if not EVALUATE_IN_TRAINING_JOB:

    rule evaluate:
        input:
            model=EXPERIMENT.final_model,
            summary=EXPERIMENT.training_summary,
            encoded=encoded_inputs,
            prepared=prepared_inputs,
        output:
            **evaluation_outputs(),
        log:
            rule_log("evaluate"),
        benchmark:
            rule_benchmark("evaluate")
        conda:
            TRAINING_ENV
        resources:
            **stage_resources("evaluate"),
        params:
            settings=stage_json("evaluate"),
            results=results_dir_of_output("metrics"),
            python=TRAINING_PYTHON,
            workflow_python=WORKFLOW_PYTHON,
            setup=cluster_setup,
            container=cluster_container,
            model_dir=lambda wildcards, input: str(Path(input.model).parent),
            eval_dir=parent_of_output("metrics"),
        shell:
            logged(evaluate_command())


rule plot_training_curves:
    input:
        metrics=EXPERIMENT.metrics,
    output:
        curves=report(
            EXPERIMENT.training_curves,
            caption="../report/training_curves.rst",
            category="{experiment}",
            labels={"experiment": "{experiment}", "file": "training curves"},
        ),
    log:
        rule_log("plot", "{experiment}.curves"),
    conda:
        WORKFLOW_ENV
    params:
        python=WORKFLOW_PYTHON,
    shell:
        "{params.python:q} -m hpcseq plot curves --metrics {input.metrics:q} --title {wildcards.experiment:q} "
        "--output {output.curves:q} > {log:q} 2>&1"


rule plot_confusion_matrix:
    input:
        evaluation=EXPERIMENT.eval_metrics,
    output:
        matrix=report(
            EXPERIMENT.confusion_matrix,
            caption="../report/confusion_matrix.rst",
            category="{experiment}",
            labels={"experiment": "{experiment}", "file": "confusion matrix"},
        ),
    log:
        rule_log("plot", "{experiment}.confusion"),
    wildcard_constraints:
        experiment=name_pattern(SENTENCE_EXPERIMENTS),
    conda:
        WORKFLOW_ENV
    params:
        python=WORKFLOW_PYTHON,
    shell:
        "{params.python:q} -m hpcseq plot confusion --evaluation {input.evaluation:q} "
        "--title {wildcards.experiment:q} --output {output.matrix:q} > {log:q} 2>&1"
