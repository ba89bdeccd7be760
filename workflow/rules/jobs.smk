# Juelich-style sbatch scripts: jobs/<cluster>/<experiment>.sbatch for every configured cluster,
# for users who submit the training by hand. Rendering is `hpcseq sbatch` (validated, quoted).


rule sbatch_script:
    input:
        CONFIG_FILE,
    output:
        sbatch_file(),
    log:
        rule_log("sbatch", "{cluster}.{experiment}"),
    wildcard_constraints:
        cluster=name_pattern(CLUSTERS),
    conda:
        WORKFLOW_ENV
    params:
        python=WORKFLOW_PYTHON,
        overrides=sbatch_overrides,
        jobs=lambda wildcards, output: str(Path(output[0]).parent.parent),
    shell:
        "{params.python:q} -m hpcseq sbatch --configfile {input:q} --cluster {wildcards.cluster:q} "
        "--experiment {wildcards.experiment:q} {params.overrides} --output-dir {params.jobs:q} > {log:q} 2>&1"
