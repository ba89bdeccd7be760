# Stage 1: clean and split each experiment's dataset (contiguous blocks for text; grouped or
# random splits for labelled sentences). Runs in the workflow environment (no TensorFlow).


rule preprocess_text:
    input:
        dataset_path,
    output:
        train=f"{RESULTS}/{{experiment}}/prepared/train.txt",
        validation=f"{RESULTS}/{{experiment}}/prepared/validation.txt",
        test=f"{RESULTS}/{{experiment}}/prepared/test.txt",
        report=f"{RESULTS}/{{experiment}}/prepared/split_report.json",
    wildcard_constraints:
        experiment=name_pattern(CHAR_EXPERIMENTS),
    params:
        python=WORKFLOW_PYTHON,
        settings=stage_json("preprocess"),
        results=results_dir_from("report"),
    resources:
        **stage_resources("preprocess"),
    conda:
        WORKFLOW_ENV
    log:
        f"{LOGS}/preprocess/{{experiment}}.log",
    benchmark:
        f"{BENCHMARKS}/preprocess/{{experiment}}.tsv"
    shell:
        "{params.python:q} -m hpcseq preprocess --settings {params.settings:q} "
        "--results-dir {params.results:q} > {log:q} 2>&1 || {{ status=$?; tail -n 40 {log:q} >&2; exit $status; }}"


rule preprocess_sentences:
    input:
        dataset_path,
    output:
        train=f"{RESULTS}/{{experiment}}/prepared/train.tsv",
        validation=f"{RESULTS}/{{experiment}}/prepared/validation.tsv",
        test=f"{RESULTS}/{{experiment}}/prepared/test.tsv",
        report=f"{RESULTS}/{{experiment}}/prepared/split_report.json",
    wildcard_constraints:
        experiment=name_pattern(SENTENCE_EXPERIMENTS),
    params:
        python=WORKFLOW_PYTHON,
        settings=stage_json("preprocess"),
        results=results_dir_from("report"),
    resources:
        **stage_resources("preprocess"),
    conda:
        WORKFLOW_ENV
    log:
        f"{LOGS}/preprocess/{{experiment}}.log",
    benchmark:
        f"{BENCHMARKS}/preprocess/{{experiment}}.tsv"
    shell:
        "{params.python:q} -m hpcseq preprocess --settings {params.settings:q} "
        "--results-dir {params.results:q} > {log:q} 2>&1 || {{ status=$?; tail -n 40 {log:q} >&2; exit $status; }}"
