"""Which baselines an experiment's model beats, in words generated from its eval/metrics.json.

Each task is judged on one metric, the one its baselines report too: the loss (nats per character
or word, lower is better) of a language model against the unigram model, the accuracy (higher is
better) of a classifier against the majority class and each bag-of-words baseline, the mean
absolute error (lower is better) of a forecaster against persistence, the training mean and the
seasonal baseline. A baseline the evaluation did not report (an older metrics.json, a
configuration without it) is left out, not guessed.

A tie is a pair of figures that are equal at the digits the sentence shows them with (`Measure.
digits`): no verdict rests on a difference the reader cannot see.

The course material's figure for the experiment (config/published.yaml) is compared only where the
run used the settings it was published at (the `lecture` preset); at any other preset the
sentence quotes it and says that the two are not comparable.
"""

from __future__ import annotations

from dataclasses import dataclass

from hpcseq.evaluation.baselines import BIGRAM_TFIDF, UNIGRAM_BINARY
from hpcseq.evaluation.published import Publication

LECTURE_PRESET = "lecture"  # the preset of the material's own settings (config/config.yaml presets)
BAG_OF_WORDS = "bag_of_words_baselines"  # metrics.json: {features: metrics} of the bag-of-words baselines
BAG_OF_WORDS_NAMES = {UNIGRAM_BINARY: "the unigram binary bag of words", BIGRAM_TFIDF: "the bigram TF-IDF bag of words"}


@dataclass(frozen=True)
class Measure:
    """The metric a task is judged on: its key in model_metrics and in each baseline's figures."""

    metric: str
    label: str
    lower_is_better: bool
    digits: int
    published_metric: str  # the matching metric of config/published.yaml (published.METRICS)

    def text(self, value: float) -> str:
        return f"{value:.{self.digits}f}"


LOSS = Measure("loss", "loss", True, 3, "training_loss")
ACCURACY = Measure("accuracy", "accuracy", False, 3, "accuracy")
MAE = Measure("mae", "MAE", True, 2, "mae")

# task -> (its measure, its baselines: (metrics.json key, in words); BAG_OF_WORDS: each of them)
TASKS = {
    "next_character": (LOSS, (("unigram_baseline", "the unigram model"),)),
    "next_character_sequence": (LOSS, (("unigram_baseline", "the unigram model"),)),
    "next_word": (LOSS, (("unigram_baseline", "the unigram word model"),)),
    "sequence_classification": (ACCURACY, (("majority_baseline", "the majority class"), (BAG_OF_WORDS, None))),
    "sequence_regression": (
        MAE,
        (
            ("persistence_baseline", "persistence"),
            ("training_mean_baseline", "the training mean"),
            ("seasonal_baseline", "the seasonal baseline"),
        ),
    ),
}
LOSS_UNITS = {"next_word": "nats/word"}  # other language models: per character


@dataclass(frozen=True)
class Comparison:
    """The model's figure beside one baseline's."""

    baseline: str  # in words: "persistence", "the majority class"
    model_value: float
    baseline_value: float
    measure: Measure

    @property
    def tie(self) -> bool:
        return self.measure.text(self.model_value) == self.measure.text(self.baseline_value)

    @property
    def beats(self) -> bool:
        """Better than the baseline, by a difference the sentence shows."""
        better = self.model_value < self.baseline_value
        return not self.tie and (better if self.measure.lower_is_better else not better)


@dataclass(frozen=True)
class Verdict:
    """An experiment's comparisons with its baselines and with its published figure, and the sentences."""

    experiment: str
    measure: Measure
    unit: str | None
    split: str
    comparisons: tuple[Comparison, ...]
    published: str | None  # the sentence on the published figure; None where there is none

    @property
    def sentence(self) -> str:
        """`Beats persistence (MAE 1.91 vs 2.22 degC) and the training mean (3.90); does not beat ...`"""
        if not self.comparisons:
            return "No baseline to compare with: the evaluation reported none."
        groups = [
            ("beats", [c for c in self.comparisons if c.beats]),
            ("ties with", [c for c in self.comparisons if c.tie]),
            ("does not beat", [c for c in self.comparisons if not c.beats and not c.tie]),
        ]
        clauses, first = [], True
        for verb, chosen in groups:
            if not chosen:
                continue
            named = []
            for comparison in chosen:
                named.append(f"{comparison.baseline} ({self._figures(comparison, first)})")
                first = False
            joiner = " or " if verb == "does not beat" else " and "
            clauses.append(f"{verb} {_listed(named, joiner)}")
        text = "; ".join(clauses)
        if self.split != "test":
            return f"On the {self.split} split: {text}."
        return f"{text[0].upper()}{text[1:]}."

    @property
    def text(self) -> str:
        """The baselines' sentence, then the published figure's."""
        return f"{self.sentence} {self.published}" if self.published else self.sentence

    def _figures(self, comparison: Comparison, first: bool) -> str:
        """`MAE 1.91 vs 2.22 degC` for the first comparison, the baseline's figure alone after it."""
        unit = f" {self.unit}" if self.unit else ""
        if first:
            model, baseline = self.measure.text(comparison.model_value), self.measure.text(comparison.baseline_value)
            return f"{self.measure.label} {model} vs {baseline}{unit}"
        return self.measure.text(comparison.baseline_value)


def _listed(items: list[str], joiner: str) -> str:
    """`a, b and c`"""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + joiner + items[-1]


def baseline_figures(result: dict) -> list[tuple[str, float]]:
    """(the baseline in words, its figure) of every baseline the evaluation reported, in the task's order."""
    measure, baselines = TASKS[result["task"]]
    figures = []
    for key, words in baselines:
        if key == BAG_OF_WORDS:
            for kind, figures_of_kind in (result.get(BAG_OF_WORDS) or {}).items():
                figures.append((BAG_OF_WORDS_NAMES.get(kind, f"the bag-of-words baseline {kind}"), figures_of_kind))
        elif result.get(key):
            figures.append((words, result[key]))
    return [(words, found[measure.metric]) for words, found in figures if found.get(measure.metric) is not None]


def unit_of(result: dict) -> str | None:
    """The unit of the task's measure: nats per character or word, the forecast's unit, none for accuracy."""
    measure = TASKS[result["task"]][0]
    if measure is LOSS:
        return LOSS_UNITS.get(result["task"], "nats/char")
    return result.get("unit") if measure is MAE else None


def verdict(result: dict, publication: Publication | None = None) -> Verdict:
    """The comparisons of an evaluation (a metrics.json dict) with its baselines and published figure."""
    if result.get("task") not in TASKS:
        raise ValueError(f"metrics.json of {result.get('experiment')!r}: no verdict for task {result.get('task')!r}")
    measure = TASKS[result["task"]][0]
    value = (result.get("model_metrics") or {}).get(measure.metric)
    comparisons = ()
    if value is not None:
        comparisons = tuple(Comparison(words, value, figure, measure) for words, figure in baseline_figures(result))
    return Verdict(
        experiment=result.get("experiment", ""),
        measure=measure,
        unit=unit_of(result),
        split=result.get("evaluated_split", "test"),
        comparisons=comparisons,
        published=published_sentence(result, measure, publication),
    )


def hpcseq_figure(result: dict, measure: Measure) -> float | None:
    """hpcseq's figure to set beside the published one: the last epoch's training loss, or the
    evaluated split's figure of the task's measure."""
    if measure.published_metric == "training_loss":
        return (((result.get("training") or {}).get("final")) or {}).get("loss")
    return (result.get("model_metrics") or {}).get(measure.metric)


def published_sentence(result: dict, measure: Measure, publication: Publication | None) -> str | None:
    """The published figure of the experiment's model beside hpcseq's, a verdict only at the
    lecture's preset; None where the material publishes none for it."""
    figure = publication.figure(result.get("model", ""), measure.published_metric) if publication else None
    if figure is None:
        return None
    ours = hpcseq_figure(result, measure)
    preset = (result.get("training") or {}).get("preset")
    quoted = f"Published: {figure.value:g}, {figure.what} ({publication.source})"
    if ours is None:
        return f"{quoted}; this evaluation has no figure to set beside it."
    what = f"{'training loss' if measure.published_metric == 'training_loss' else measure.label} {measure.text(ours)}"
    if preset != LECTURE_PRESET:
        return (
            f"{quoted}, at the lecture's settings; this run (preset {preset}: {what}) is not comparable with it, "
            f"so no verdict."
        )
    comparison = Comparison("the published figure", ours, figure.value, measure)
    verb = "matches" if comparison.tie else "beats" if comparison.beats else "does not reach"
    return f"{quoted}: at the same preset ({LECTURE_PRESET}, {what}) hpcseq {verb} it."
