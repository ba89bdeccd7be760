# Datasets that do not ship with hpcseq (config `datasets.<name>.download`), fetched by local rules
# on the machine that runs Snakemake: under `--profile slurm` the login node, the only one with
# internet. Not part of the default target (`make run` stays offline):
#   snakemake download_<name> --cores 1      one dataset, e.g. download_imdb_reviews
#   snakemake downloads --cores 1            all of them
# Each produces the file (or, for an archive, the unpacked/ folder) under downloads_dir/<name>/;
# hpcseq.data.download says how it is checked, resumed and kept.


rule downloads:
    input:
        [str(download_paths(name).output) for name in DOWNLOADED_DATASETS],
    localrule: True


for name in DOWNLOADED_DATASETS:

    rule:
        name:
            f"download_{name}"
        output:
            download_output(name),
        log:
            rule_log("download", name),
        localrule: True
        conda:
            WORKFLOW_ENV
        params:
            python=WORKFLOW_PYTHON,
            settings=download_json(name),
            downloads=downloads_dir_of_output,
        shell:
            logged(
                "{params.python:q} -m hpcseq download --settings {params.settings:q} --downloads-dir {params.downloads:q}"
            )
