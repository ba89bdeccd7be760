# Stage 3: Horovod training (TRAIN_COMMAND, common.smk).
# Checkpoints (model/checkpoints/) are not outputs, so Snakemake keeps them when the job fails
# and a rerun continues from the last complete one. When the settings changed (another preset),
# Snakemake reruns training on purpose: the old checkpoints are set aside, not loaded or deleted.
# Where the cluster evaluates in the training job (EVALUATE_IN_TRAINING_JOB), this rule also
# evaluates, as its job's last step, and writes the evaluation's files (evaluate.smk otherwise).

TRAINING_JOB = training_job(
    evaluation_outputs(),
    rule_log("evaluate"),
    stage_json("evaluate"),
    prepared_inputs,
)


rule train:
    input:
        encoded_inputs,
        **TRAINING_JOB.inputs,
    output:
        **TRAINING_JOB.outputs,
        model=EXPERIMENT.final_model,
        metrics=EXPERIMENT.metrics,
        summary=EXPERIMENT.training_summary,
    log:
        **TRAINING_JOB.logs,
        train=rule_log("train"),
    benchmark:
        rule_benchmark("train")
    conda:
        TRAINING_ENV
    threads: lambda wildcards: ranks_of(wildcards)
    resources:
        **stage_resources("train"),
    params:
        **TRAINING_JOB.params,
        settings=stage_json("train"),
        results=results_dir_of_output("summary"),
        ranks=ranks_of,
        python=TRAINING_PYTHON,
        workflow_python=WORKFLOW_PYTHON,
        launcher=config["local_launcher"],
        setup=cluster_setup,
        srun=training_srun,
        container=cluster_container,
        model_dir=parent_of_output("summary"),
        timeline="",  # none here; the scaling study's runs (scaling.smk) record Horovod's timeline
    shell:
        TRAINING_JOB.shell
