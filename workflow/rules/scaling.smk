# The scaling study (`snakemake scaling`; not part of `rule all`): every experiment of
# scaling.experiments trained for scaling.epochs epochs of scaling.steps_per_epoch steps at each
# rank count of scaling.ranks, with Horovod's timeline recorded, then a table, JSON and plot of
# samples per second, speedup, efficiency and the share of time in Horovod's communication.
# Each run is a training job like `train`'s (same command, same Slurm resources for its rank
# count; never evaluated); its checkpoints are outputs, so that a rerun starts afresh instead of resuming. On one
# machine a run takes all of --cores (scaling_threads), so that nothing runs beside it.


rule scaling_train:
    input:
        encoded_inputs,
    output:
        model=temp(SCALING_RUN.final_model),
        checkpoints=temp(directory(SCALING_RUN.checkpoints)),
        metrics=SCALING_RUN.metrics,
        summary=SCALING_RUN.training_summary,
        timeline=SCALING.timeline("{ranks}"),
    log:
        train=rule_log("scaling", "{experiment}.ranks-{ranks}"),
    benchmark:
        rule_benchmark("scaling", "{experiment}.ranks-{ranks}")
    wildcard_constraints:
        experiment=name_pattern(SCALING_EXPERIMENTS),
        ranks=name_pattern([str(ranks) for ranks in SCALING_RANKS]),
    conda:
        TRAINING_ENV
    threads: scaling_threads
    resources:
        **scaling_resources(),
    params:
        settings=scaling_settings,
        results=experiment_results_dir,
        ranks=lambda wildcards: int(wildcards.ranks),
        python=TRAINING_PYTHON,
        workflow_python=WORKFLOW_PYTHON,
        launcher=config["local_launcher"],
        setup=cluster_setup,
        srun=training_srun,
        container=cluster_container,
        model_dir=parent_of_output("summary"),
        timeline=lambda wildcards, output: output.timeline,
    shell:
        logged(TRAIN_COMMAND, "log.train")


rule scaling_table:
    input:
        summaries=scaling_run_files("summary"),
        metrics=scaling_run_files("metrics"),
        timelines=scaling_run_files("timeline"),
    output:
        json=SCALING.table_json,
        table=report(
            SCALING.table_md,
            caption="../report/scaling.rst",
            category="Scaling",
            labels={"experiment": "{experiment}", "file": "scaling table"},
        ),
        plot=report(
            SCALING.plot,
            caption="../report/scaling.rst",
            category="Scaling",
            labels={"experiment": "{experiment}", "file": "scaling plot"},
        ),
    log:
        rule_log("scaling"),
    wildcard_constraints:
        experiment=name_pattern(SCALING_EXPERIMENTS),
    conda:
        WORKFLOW_ENV
    params:
        python=WORKFLOW_PYTHON,
        results=lambda wildcards, output: str(Path(output.json).parent.parent),
        ranks=SCALING_RANKS,
    shell:
        "{params.python:q} -m hpcseq scaling --experiment {wildcards.experiment:q} --results-dir {params.results:q} "
        "--ranks {params.ranks} > {log:q} 2>&1"


rule scaling:
    input:
        scaling_targets(),
