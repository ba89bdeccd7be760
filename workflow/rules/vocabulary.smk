# Stage 2: the vocabulary, from the training split only, and every split encoded as ids.


rule vocabulary_characters:
    input:
        prepared_inputs,
    output:
        **EXPERIMENT.encoded_files("next_character"),
    log:
        rule_log("vocabulary"),
    benchmark:
        rule_benchmark("vocabulary")
    wildcard_constraints:
        experiment=name_pattern(CHAR_EXPERIMENTS),
    localrule: LIGHT_STAGES_ON_LOGIN_NODE
    conda:
        WORKFLOW_ENV
    resources:
        **stage_resources("vocabulary"),
    params:
        python=WORKFLOW_PYTHON,
        settings=stage_json("vocabulary"),
        results=results_dir_of_output("vocab"),
    shell:
        logged("{params.python:q} -m hpcseq vocab --settings {params.settings:q} --results-dir {params.results:q}")


use rule vocabulary_characters as vocabulary_words with:
    output:
        **EXPERIMENT.encoded_files("sequence_classification"),
    wildcard_constraints:
        experiment=name_pattern(SENTENCE_EXPERIMENTS),
    localrule: LIGHT_STAGES_ON_LOGIN_NODE  # not inherited by `use rule`


use rule vocabulary_characters as vocabulary_lines with:
    output:
        **EXPERIMENT.encoded_files("next_word"),
    wildcard_constraints:
        experiment=name_pattern(WORD_LM_EXPERIMENTS),
    localrule: LIGHT_STAGES_ON_LOGIN_NODE  # not inherited by `use rule`


# time series: the vocabulary stage writes the training split's normalisation (hpcseq.data.time_series)
use rule vocabulary_characters as normalisation_series with:
    output:
        **EXPERIMENT.encoded_files("sequence_regression"),
    wildcard_constraints:
        experiment=name_pattern(SERIES_EXPERIMENTS),
    localrule: LIGHT_STAGES_ON_LOGIN_NODE  # not inherited by `use rule`
