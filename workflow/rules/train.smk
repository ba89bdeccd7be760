# Stage 3: Horovod training. `hpcseq launch` starts the ranks: inside a Slurm allocation with
# the cluster's environment setup and srun line and explicit node/task counts, elsewhere with
# horovodrun or mpirun.
# Checkpoints (model/checkpoints/) are not outputs, so Snakemake keeps them when the job fails
# and a rerun continues from the last complete one. When the settings changed (another preset),
# Snakemake reruns training on purpose: the old checkpoints are set aside, not loaded or deleted.


rule train:
    input:
        encoded_inputs,
    output:
        model=EXPERIMENT.final_model,
        metrics=EXPERIMENT.metrics,
        summary=EXPERIMENT.training_summary,
    log:
        f"{LOGS}/train/{{experiment}}.log",
    benchmark:
        f"{BENCHMARKS}/train/{{experiment}}.tsv"
    conda:
        TRAINING_ENV
    threads: lambda wildcards: ranks_of(wildcards)
    resources:
        **stage_resources("train"),
    params:
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
        logged(
            "{params.workflow_python:q} -m hpcseq launch --ranks {params.ranks} --nodes {resources.nodes} "
            "--tasks-per-node {resources.tasks_per_node} --cpus-per-task {resources.cpus_per_task} "
            "--srun={params.srun:q} --slurm-setup={params.setup:q} --slurm-container={params.container:q} "
            "--local-launcher {params.launcher} "
            "-- {params.python:q} -m hpcseq train --settings {params.settings:q} --results-dir {params.results:q} "
            "--model-dir {params.model_dir:q} --horovod-timeline={params.timeline:q} --foreign-checkpoints set-aside"
        )
