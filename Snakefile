# hpcseq: preprocessing -> vocabulary -> Horovod training -> evaluation -> report, for every
# experiment in config/config.yaml. This file only wires things together; the stages live in
# workflow/rules/*.smk and the code they run in scripts/hpcseq/.
#
#   snakemake --cores 2                      # local run (Horovod ranks on this machine)
#   snakemake --profile slurm                # Slurm jobs (where nodes are charged whole: training only)
#   snakemake --cores 2 --config preset=lecture
#   snakemake --cores 2 --sdm conda          # every rule in its conda environment (envs/README.md)
#   snakemake --report results/report.html   # after a run
#   snakemake scaling --cores 2              # the scaling study (config `scaling`; not part of a run)
#   snakemake downloads --cores 1            # datasets that do not ship (needs internet; not part of a run)
#   snakemake all_experiments --cores 2      # also the experiments left out of a plain run
#   snakemake sweeps --cores 2               # the model comparisons (config `sweeps`; not part of a run)

from snakemake.utils import min_version

min_version("9.0")


# The shipped config, unless --configfile names another (test configs replace it rather than
# being merged into it); --config key=value still overrides single keys, `experiments` included.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/download.smk"
include: "workflow/rules/preprocess.smk"
include: "workflow/rules/vocabulary.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/jobs.smk"
include: "workflow/rules/scaling.smk"
include: "workflow/rules/sweep.smk"


# Cheap bookkeeping runs on the submit host under `--profile slurm`.
localrules:
    all,
    all_experiments,
    plot_training_curves,
    plot_confusion_matrix,
    summary,
    sbatch_script,
    scaling,
    scaling_table,
    sweeps,
    sweep_table,


report: "workflow/report/workflow.rst"


rule all:
    default_target: True
    input:
        all_targets(),


# Every experiment of the config, those left out of the default target (default_target: false) too.
rule all_experiments:
    input:
        experiment_targets(EXPERIMENTS),


# Each experiment by its name (`snakemake --cores 2 imdb_bilstm`): its evaluation and plots, after
# its dataset's download where it has one (a name that is already a rule's keeps only the above).
RULE_NAMES = {rule.name for rule in workflow.rules}
for experiment_name in EXPERIMENTS:
    if experiment_name not in RULE_NAMES:

        rule:
            name:
                experiment_name
            input:
                experiment_targets([experiment_name]),
            localrule: True
