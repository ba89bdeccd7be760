# Stage 2: the vocabulary, from the training split only, and every split encoded as ids.


rule vocabulary_characters:
    input:
        prepared_inputs,
    output:
        vocab=f"{RESULTS}/{{experiment}}/vocab.json",
        index=f"{RESULTS}/{{experiment}}/encoded/index.json",
        train=f"{RESULTS}/{{experiment}}/encoded/train.ids",
        validation=f"{RESULTS}/{{experiment}}/encoded/validation.ids",
        test=f"{RESULTS}/{{experiment}}/encoded/test.ids",
    wildcard_constraints:
        experiment=name_pattern(CHAR_EXPERIMENTS),
    params:
        python=WORKFLOW_PYTHON,
        settings=stage_json("vocabulary"),
        results=results_dir_from("vocab"),
    resources:
        **stage_resources("vocabulary"),
    conda:
        WORKFLOW_ENV
    log:
        f"{LOGS}/vocabulary/{{experiment}}.log",
    benchmark:
        f"{BENCHMARKS}/vocabulary/{{experiment}}.tsv"
    shell:
        "{params.python:q} -m hpcseq vocab --settings {params.settings:q} "
        "--results-dir {params.results:q} > {log:q} 2>&1 || {{ status=$?; tail -n 40 {log:q} >&2; exit $status; }}"


rule vocabulary_words:
    input:
        prepared_inputs,
    output:
        vocab=f"{RESULTS}/{{experiment}}/vocab.json",
        index=f"{RESULTS}/{{experiment}}/encoded/index.json",
        train=f"{RESULTS}/{{experiment}}/encoded/train.npz",
        validation=f"{RESULTS}/{{experiment}}/encoded/validation.npz",
        test=f"{RESULTS}/{{experiment}}/encoded/test.npz",
    wildcard_constraints:
        experiment=name_pattern(SENTENCE_EXPERIMENTS),
    params:
        python=WORKFLOW_PYTHON,
        settings=stage_json("vocabulary"),
        results=results_dir_from("vocab"),
    resources:
        **stage_resources("vocabulary"),
    conda:
        WORKFLOW_ENV
    log:
        f"{LOGS}/vocabulary/{{experiment}}.log",
    benchmark:
        f"{BENCHMARKS}/vocabulary/{{experiment}}.tsv"
    shell:
        "{params.python:q} -m hpcseq vocab --settings {params.settings:q} "
        "--results-dir {params.results:q} > {log:q} 2>&1 || {{ status=$?; tail -n 40 {log:q} >&2; exit $status; }}"
