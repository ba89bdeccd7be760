# Stage 1: clean and split each experiment's dataset (contiguous blocks for text; grouped or
# random splits for labelled sentences; contiguous blocks of lines for word language models).
# Runs in the workflow environment (no TensorFlow).


rule preprocess_text:
    input:
        dataset_path,
    output:
        **EXPERIMENT.prepared_files("next_character"),
    log:
        rule_log("preprocess"),
    benchmark:
        rule_benchmark("preprocess")
    wildcard_constraints:
        experiment=name_pattern(CHAR_EXPERIMENTS),
    localrule: LIGHT_STAGES_ON_LOGIN_NODE
    conda:
        WORKFLOW_ENV
    resources:
        **stage_resources("preprocess"),
    params:
        python=WORKFLOW_PYTHON,
        settings=stage_json("preprocess"),
        results=results_dir_of_output("report"),
    shell:
        logged("{params.python:q} -m hpcseq preprocess --settings {params.settings:q} --results-dir {params.results:q}")


use rule preprocess_text as preprocess_sentences with:
    output:
        **EXPERIMENT.prepared_files("sequence_classification"),
    wildcard_constraints:
        experiment=name_pattern(SENTENCE_EXPERIMENTS),
    localrule: LIGHT_STAGES_ON_LOGIN_NODE  # not inherited by `use rule`


use rule preprocess_text as preprocess_lines with:
    output:
        **EXPERIMENT.prepared_files("next_word"),
    wildcard_constraints:
        experiment=name_pattern(WORD_LM_EXPERIMENTS),
    localrule: LIGHT_STAGES_ON_LOGIN_NODE  # not inherited by `use rule`


# time series: read, gaps counted, chronological split (hpcseq.data.time_series)
use rule preprocess_text as preprocess_series with:
    output:
        **EXPERIMENT.prepared_files("sequence_regression"),
    wildcard_constraints:
        experiment=name_pattern(SERIES_EXPERIMENTS),
    localrule: LIGHT_STAGES_ON_LOGIN_NODE  # not inherited by `use rule`
