"""The verdict of an experiment on its baselines, in words generated from its metrics.json: every
task, the model beating all, none or some of them, baselines missing, ties, the published figure."""

from __future__ import annotations

import pytest

from hpcseq.evaluation import metrics
from hpcseq.evaluation.baselines import BIGRAM_TFIDF, UNIGRAM_BINARY
from hpcseq.evaluation.published import Figure, Publication
from hpcseq.evaluation.verdicts import TASKS, verdict

EXAMPLES = 1000  # labels of a classification result; accuracy in steps of 1/1000


def figures_of(task: str, value: float) -> dict:
    """A model's or baseline's figures as the evaluation writes them (hpcseq.evaluation.metrics)."""
    if task == "sequence_classification":
        right = round(value * EXAMPLES)
        return metrics.classification_metrics([1] * EXAMPLES, [1] * right + [0] * (EXAMPLES - right))
    if task == "sequence_regression":
        return metrics.regression_metrics([0.0] * 4, [value] * 4)
    return metrics.language_model_metrics(value, "word" if task == "next_word" else "character")


def result_of(task: str, model: float, baselines: dict[str, float], **extra) -> dict:
    """A metrics.json of `task`; baselines by key, a bag-of-words one as `bag_of_words_baselines.<kind>`."""
    result = {
        "experiment": "x",
        "model": "m",
        "task": task,
        "evaluated_split": "test",
        "model_metrics": figures_of(task, model),
    }
    if task == "sequence_regression":
        result["unit"] = "degC"
    for key, value in baselines.items():
        if key.startswith("bag_of_words_baselines."):
            kind = key.split(".", 1)[1]
            result.setdefault("bag_of_words_baselines", {})[kind] = {**figures_of(task, value), "described": kind}
        else:
            result[key] = figures_of(task, value)
    return {**result, **extra}


# per task: its baselines' keys, a model figure, and a figure of a baseline it beats and of one it does not
CASES = {
    "next_character": (["unigram_baseline"], 2.0, 3.0, 1.5),
    "next_character_sequence": (["unigram_baseline"], 2.0, 3.0, 1.5),
    "next_word": (["unigram_baseline"], 6.0, 6.7, 5.0),
    "sequence_classification": (
        ["majority_baseline", f"bag_of_words_baselines.{UNIGRAM_BINARY}", f"bag_of_words_baselines.{BIGRAM_TFIDF}"],
        0.9,
        0.5,
        0.95,
    ),
    "sequence_regression": (
        ["persistence_baseline", "training_mean_baseline", "seasonal_baseline"],
        1.91,
        2.22,
        1.5,
    ),
}
NAMES = {
    "unigram_baseline": "the unigram",  # model, or word model
    "majority_baseline": "the majority class",
    f"bag_of_words_baselines.{UNIGRAM_BINARY}": "the unigram binary bag of words",
    f"bag_of_words_baselines.{BIGRAM_TFIDF}": "the bigram TF-IDF bag of words",
    "persistence_baseline": "persistence",
    "training_mean_baseline": "the training mean",
    "seasonal_baseline": "the seasonal baseline",
}


def test_every_task_of_the_evaluation_has_cases():
    assert set(CASES) == set(TASKS)


@pytest.mark.parametrize("task", sorted(CASES))
def test_a_model_that_beats_every_baseline_says_so(task):
    keys, model, worse, _ = CASES[task]
    judged = verdict(result_of(task, model, dict.fromkeys(keys, worse)))
    assert all(comparison.beats for comparison in judged.comparisons)
    assert len(judged.comparisons) == len(keys)
    assert judged.sentence.startswith("Beats ") and "not" not in judged.sentence
    for key in keys:
        assert NAMES[key] in judged.sentence


@pytest.mark.parametrize("task", sorted(CASES))
def test_a_model_that_beats_no_baseline_says_so(task):
    keys, model, _, better = CASES[task]
    judged = verdict(result_of(task, model, dict.fromkeys(keys, better)))
    assert not any(comparison.beats for comparison in judged.comparisons)
    assert judged.sentence.startswith("Does not beat ") and "Beats" not in judged.sentence
    if len(keys) > 1:
        assert " or " in judged.sentence


@pytest.mark.parametrize("task", sorted(CASES))
def test_a_model_between_its_baselines_names_which_it_beats_and_which_not(task):
    keys, model, worse, better = CASES[task]
    beaten, unbeaten = keys[:-1] or keys, keys[-1]
    baselines = {**dict.fromkeys(beaten, worse), unbeaten: better}
    if len(keys) == 1:  # one baseline: both branches from two results
        assert verdict(result_of(task, model, {unbeaten: worse})).sentence.startswith("Beats ")
        assert verdict(result_of(task, model, {unbeaten: better})).sentence.startswith("Does not beat ")
        return
    sentence = verdict(result_of(task, model, baselines)).sentence
    beats, does_not = sentence.split("; does not beat ")
    assert beats.startswith("Beats ") and all(NAMES[key] in beats for key in beaten)
    assert NAMES[unbeaten] in does_not and NAMES[unbeaten] not in beats


def test_the_forecast_sentence_reads_as_the_issue_asks():
    result = result_of(
        "sequence_regression",
        1.91,
        {"persistence_baseline": 2.22, "training_mean_baseline": 3.90, "seasonal_baseline": 1.85},
    )
    assert verdict(result).sentence == (
        "Beats persistence (MAE 1.91 vs 2.22 degC) and the training mean (3.90); "
        "does not beat the seasonal baseline (1.85)."
    )


def test_a_language_model_and_a_classifier_show_their_metric_and_unit():
    char = verdict(result_of("next_character", 2.0377, {"unigram_baseline": 3.0138}))
    assert char.sentence == "Beats the unigram model (loss 2.038 vs 3.014 nats/char)."
    word = verdict(result_of("next_word", 7.5, {"unigram_baseline": 6.7}))
    assert word.sentence == "Does not beat the unigram word model (loss 7.500 vs 6.700 nats/word)."
    sentiment = {"majority_baseline": 0.476, f"bag_of_words_baselines.{UNIGRAM_BINARY}": 0.931}
    assert verdict(result_of("sequence_classification", 0.877, sentiment)).sentence == (
        "Beats the majority class (accuracy 0.877 vs 0.476); does not beat the unigram binary bag of words (0.931)."
    )


@pytest.mark.parametrize("task", sorted(CASES))
def test_a_missing_baseline_is_left_out_and_none_at_all_is_said(task):
    keys, model, worse, _ = CASES[task]
    judged = verdict(result_of(task, model, {keys[0]: worse}))
    assert len(judged.comparisons) == 1 and judged.comparisons[0].baseline.startswith(NAMES[keys[0]])
    for key in keys[1:]:
        assert NAMES[key] not in judged.sentence
    assert verdict(result_of(task, model, {})).sentence == "No baseline to compare with: the evaluation reported none."


def test_a_tie_is_equal_at_the_digits_shown_and_neither_beats_nor_loses():
    tie = verdict(result_of("sequence_regression", 1.914, {"persistence_baseline": 1.906}))
    assert tie.comparisons[0].tie and not tie.comparisons[0].beats
    assert tie.sentence == "Ties with persistence (MAE 1.91 vs 1.91 degC)."
    apart = verdict(result_of("sequence_regression", 1.904, {"persistence_baseline": 1.916}))
    assert apart.sentence == "Beats persistence (MAE 1.90 vs 1.92 degC)."
    accuracy = {"majority_baseline": 0.5, f"bag_of_words_baselines.{UNIGRAM_BINARY}": 0.9}
    mixed = verdict(result_of("sequence_classification", 0.9, accuracy)).sentence
    assert (
        mixed
        == "Beats the majority class (accuracy 0.900 vs 0.500); ties with the unigram binary bag of words (0.900)."
    )


def test_validation_numbers_say_so():
    result = result_of("next_character", 1.8, {"unigram_baseline": 3.0}, evaluated_split="validation")
    assert (
        verdict(result).sentence == "On the validation split: beats the unigram model (loss 1.800 vs 3.000 nats/char)."
    )


PUBLICATION = Publication(
    "x",
    'JSC lecture 6 (2018), "RNN Example"',
    (Figure("m", "training_loss", 1.587, "training loss after 23-25 one-epoch iterations"),),
)


def trained(preset: str, loss: float) -> dict:
    result = result_of("next_character", 2.0, {"unigram_baseline": 3.0})
    return {**result, "training": {"preset": preset, "epochs": 25, "final": {"loss": loss}}}


def test_the_published_figure_is_judged_only_at_the_lecture_preset():
    quick = verdict(trained("quick", 1.976), PUBLICATION)
    assert quick.published == (
        'Published: 1.587, training loss after 23-25 one-epoch iterations (JSC lecture 6 (2018), "RNN Example"), '
        "at the lecture's settings; this run (preset quick: training loss 1.976) is not comparable with it, so no "
        "verdict."
    )
    assert quick.text == f"{quick.sentence} {quick.published}"
    lecture = {loss: verdict(trained("lecture", loss), PUBLICATION).published for loss in (1.5872, 1.578, 1.597)}
    assert lecture[1.5872].endswith("at the same preset (lecture, training loss 1.587) hpcseq matches it.")
    assert lecture[1.578].endswith("hpcseq beats it.")
    assert lecture[1.597].endswith("hpcseq does not reach it.")
    assert verdict(trained("quick", 1.9), None).published is None
    other_model = Publication("x", "s", (Figure("other", "training_loss", 1.0, "w"),))
    assert verdict(trained("quick", 1.9), other_model).published is None


def test_an_unknown_task_is_an_error_naming_the_experiment():
    with pytest.raises(ValueError, match=r"'x'.*'translation'"):
        verdict({"experiment": "x", "task": "translation"})
