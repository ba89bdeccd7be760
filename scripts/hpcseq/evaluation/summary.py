"""A Markdown summary of all experiments (also embedded in `snakemake --report`)."""

from __future__ import annotations

import json
from pathlib import Path

from hpcseq.evaluation.costs import ExperimentCost, cost_line, experiment_costs, rules_paragraph
from hpcseq.evaluation.published import Publication, load_published
from hpcseq.evaluation.verdicts import verdict
from hpcseq.events import ranks_by_host_text
from hpcseq.io import write_text
from hpcseq.logs.sources import Slurm
from hpcseq.paths import ExperimentPaths

NO_VALUE = "\u2013"  # an en dash in the table where a value is missing


def _fmt(value, digits: int = 4) -> str:
    if value is None:
        return NO_VALUE
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _char_rows(result: dict) -> list[str]:
    model, base = result["model_metrics"], result["unigram_baseline"]
    training = result.get("training") or {}
    final = training.get("final") or {}
    split = result["evaluated_split"]
    return [
        f"| training loss (last epoch) | {_fmt(final.get('loss'))} |",
        f"| validation loss (last epoch / best) | {_fmt(final.get('val_loss'))} / "
        f"{_fmt(training.get('best_val_loss'))} |",
        f"| {split} loss (nats/char) | {_fmt(model['loss'])} (unigram baseline {_fmt(base['loss'])}) |",
        f"| {split} perplexity | {_fmt(model['perplexity'], 2)} (baseline {_fmt(base['perplexity'], 2)}) |",
        f"| {split} bits per character | {_fmt(model['bits_per_character'], 3)} "
        f"(baseline {_fmt(base['bits_per_character'], 3)}) |",
        f"| {split} next-character accuracy | {_fmt(model['accuracy'])} |",
        *_unseen_characters_row(result),
    ]


def _word_rows(result: dict) -> list[str]:
    """A word language model's rows: per word, next to the unigram word model."""
    model, base = result["model_metrics"], result["unigram_baseline"]
    training = result.get("training") or {}
    final = training.get("final") or {}
    split, unseen = result["evaluated_split"], result["unseen_in_training"]
    return [
        f"| training loss (last epoch) | {_fmt(final.get('loss'))} |",
        f"| validation loss (last epoch / best) | {_fmt(final.get('val_loss'))} / "
        f"{_fmt(training.get('best_val_loss'))} |",
        f"| {split} loss (nats/word) | {_fmt(model['loss'])} (unigram word model {_fmt(base['loss'])}) |",
        f"| {split} perplexity | {_fmt(model['perplexity'], 1)} (unigram word model {_fmt(base['perplexity'], 1)}) |",
        f"| {split} bits per word | {_fmt(model['bits_per_word'], 3)} "
        f"(unigram word model {_fmt(base['bits_per_word'], 3)}) |",
        f"| {split} next-word accuracy | {_fmt(model['accuracy'])} |",
        *_known_targets_row(result),
        f"| {split} words unseen in training | {unseen['words']} of {unseen['tokens']} "
        f"({unseen['unknown_targets']} of {result['samples_evaluated']} targets) |",
    ]


def _known_targets_row(result: dict) -> list[str]:
    model, base = result.get("model_metrics_known_targets"), result.get("unigram_baseline_known_targets")
    if not model:
        return []
    return [
        f"| {result['evaluated_split']} perplexity on targets seen in training | {_fmt(model['perplexity'], 1)} "
        f"(unigram word model {_fmt(base['perplexity'], 1)}) |"
    ]


def _unseen_characters_row(result: dict) -> list[str]:
    """The evaluated split's characters that training lacks (evaluations before they were counted: none shown)."""
    unseen = result.get("unseen_in_training")
    if unseen is None:
        return []
    listed = ", ".join(f"{char!r} {count}x" for char, count in unseen["by_character"].items())
    where = f" ({listed}; unknown id {unseen['unk_id']}, {unseen['targets']} targets)" if unseen["characters"] else ""
    return [f"| {result['evaluated_split']} characters unseen in training | {unseen['characters']}{where} |"]


def _sentiment_rows(result: dict) -> list[str]:
    model, base = result["model_metrics"], result["majority_baseline"]
    unseen = result.get("model_metrics_not_in_training")
    overlap = result["overlap"]
    return [
        f"| split method | {result['split_method']} |",
        f"| {result['evaluated_split']} accuracy | {_fmt(model['accuracy'])} "
        f"(majority class {_fmt(base['accuracy'])}) |",
        f"| precision / recall / F1 | {_fmt(model['precision'])} / {_fmt(model['recall'])} / {_fmt(model['f1'])} "
        f"(majority class F1 {_fmt(base.get('f1'))}) |",
        f"| confusion matrix [[tn, fp], [fn, tp]] | {model['confusion_matrix']} |",
        *_bag_of_words_rows(result),
        f"| test sentences also in training | {overlap['also_in_training']} of {overlap['test_sentences']} |",
        f"| accuracy on test sentences not in training | {_fmt(unseen['accuracy'] if unseen else None)} "
        f"({overlap['not_in_training']} sentences{_bag_of_words_unseen(result)}) |",
        *_unseen_words_row(result),
    ]


def _bag_of_words_rows(result: dict) -> list[str]:
    """The bag-of-words baselines beside the model (evaluations before they existed: none shown)."""
    split = result["evaluated_split"]
    return [
        f"| bag-of-words baseline `{kind}` ({base['described']}): {split} accuracy / F1, confusion matrix | "
        f"{_fmt(base['accuracy'])} / {_fmt(base['f1'])}, {base['confusion_matrix']} |"
        for kind, base in (result.get("bag_of_words_baselines") or {}).items()
    ]


def _bag_of_words_unseen(result: dict) -> str:
    """`; unigram_binary 0.9480`: each bag-of-words baseline's accuracy on them, where recorded."""
    return "".join(
        f"; {kind} {_fmt(base['not_in_training']['accuracy'])}"
        for kind, base in (result.get("bag_of_words_baselines") or {}).items()
        if base.get("not_in_training")
    )


def _unseen_words_row(result: dict) -> list[str]:
    words = result.get("unseen_in_training")
    if words is None:
        return []
    return [
        f"| {result['evaluated_split']} words unseen in training | {words['words']} of {words['tokens']} "
        f"({words['unknown_tokens']} encoded UNK, with those beyond max_words) |"
    ]


def _regression_rows(result: dict) -> list[str]:
    model, persistence = result["model_metrics"], result["persistence_baseline"]
    mean = result["training_mean_baseline"]
    unit = result.get("unit") or "the data's unit"
    split, index = result["evaluated_split"], result["time_index"]
    training = result.get("training") or {}
    final = training.get("final") or {}
    return [
        f"| forecast | {result['target_column']}, {result['horizon_minutes'] / 60:g} h after the window |",
        f"| training loss (mse, normalised; last epoch) | {_fmt(final.get('loss'))} |",
        f"| {split} MAE ({unit}) | {_fmt(model['mae'], 3)} (persistence {_fmt(persistence['mae'], 3)}, "
        f"training mean {_fmt(mean['mae'], 3)}{_seasonal(result)}) |",
        *_seasonal_row(result),
        f"| {split} RMSE ({unit}) | {_fmt(model['rmse'], 3)} (persistence {_fmt(persistence['rmse'], 3)}) |",
        f"| {split} windows | {result['windows']} ({result['windows_dropped_at_gaps']} dropped: they would span "
        f"a gap) |",
        f"| {split} time index | {index['runs']} run(s); {index['gap']} gap(s), {index['missing_rows']} missing "
        f"row(s), {index['repeated']} repeated, {index['backwards']} backwards, {index['irregular']} irregular |",
    ]


def _seasonal(result: dict) -> str:
    """`, seasonal 1.850`: the seasonal baseline's MAE, where the evaluation has one."""
    seasonal = result.get("seasonal_baseline")
    return f", seasonal {_fmt(seasonal['mae'], 3)}" if seasonal else ""


def _seasonal_row(result: dict) -> list[str]:
    """What the seasonal baseline is, in the evaluation's words (none before it existed)."""
    described = (result.get("seasonal_baseline") or {}).get("described")
    return [f"| seasonal baseline | {described} |"] if described else []


ROWS = {
    "next_character": _char_rows,
    "next_character_sequence": _char_rows,
    "next_word": _word_rows,
    "sequence_classification": _sentiment_rows,
    "sequence_regression": _regression_rows,
}


def ran_on(provenance: dict | None, most_hosts: int = 4) -> str | None:
    """`*Ran on* 2 host(s) (n1: ranks 0-1; n2: ranks 2-3); code 48a66027687f with changes; ...`:
    where and with what the training ran (training_summary.json's provenance); None for a
    training that did not record it."""
    if not provenance:
        return None
    hosts = [entry["hostname"] for entry in sorted(provenance["ranks"], key=lambda entry: entry["rank"])]
    code = provenance.get("code") or {}
    commit = code.get("commit")
    parts = [
        f"{provenance['host_count']} host(s) ({ranks_by_host_text(hosts, most_hosts)})",
        f"code {commit[:12]}{' with changes' if code.get('dirty') else ''}" if commit else "code of unknown commit",
    ]
    slurm = provenance.get("slurm") or {}
    if slurm.get("SLURM_JOB_ID"):
        step = f" step {slurm['SLURM_STEP_ID']}" if slurm.get("SLURM_STEP_ID") else ""
        parts.append(f"Slurm job {slurm['SLURM_JOB_ID']}{step}")
    versions = provenance.get("versions") or {}
    software = f"TensorFlow {versions.get('tensorflow')}"
    if versions.get("keras"):  # recorded since the move to TensorFlow 2.21 with tf_keras
        software += f" (Keras {versions['keras']})"
    software += f", Horovod {versions.get('horovod')}"
    controller = (versions.get("horovod_built") or {}).get("controller")
    mpi = (versions.get("mpi") or {}).get("library")
    if controller == "mpi" and mpi:
        software += f" over {mpi.split(',')[0]}"  # "Open MPI v4.1.4, package: ...": its first part
    elif controller:
        software += f" over {'Gloo' if controller == 'gloo' else controller}"
    return "*Ran on* " + "; ".join([*parts, software])


def experiment_section(
    name: str, result: dict, cost: ExperimentCost | None = None, publication: Publication | None = None
) -> str:
    """An experiment's heading, which baselines it beats (and its published figure: `publication`),
    training line, where it ran, what its Slurm jobs were charged (`cost`, costs.py), notes, metrics
    table and samples."""
    training = result.get("training") or {}
    lines = [
        f"## {name} ({result['model']})",
        "",
        f"**{verdict(result, publication).text}**",
        "",
        f"preset {training.get('preset')!s}, {training.get('ranks')} rank(s) via {training.get('launcher')}, "
        f"{training.get('epochs')} epochs of {training.get('steps_per_epoch')} steps, global batch "
        f"{training.get('global_batch_size')}, mean {_fmt(training.get('mean_samples_per_second'), 0)} samples/s",
        "",
    ]
    if where := ran_on(training.get("provenance")):
        lines += [where, ""]
    if charged := cost_line(cost, training):
        lines += [charged, ""]
    for note in training.get("training_data_notes") or []:
        lines += [f"*Training data:* {note}", ""]
    if result.get("evaluated_split_note"):
        lines += [f"*Note:* {result['evaluated_split_note']}", ""]
    lines += ["| metric | value |", "| --- | --- |"]
    lines += ROWS[result["task"]](result)
    if "samples" in result:
        lines += ["", "Samples (greedy, then with temperature):", ""]
        for sample in result.get("samples", []):
            separator = " " if result["task"] == "next_word" else ""
            text = f"{sample['window']}{separator}|{separator}{sample['text']}".replace("\n", " ")
            lines += [f"- `{sample['mode']}`: {text}"]
    return "\n".join(lines) + "\n"


def overview(results: dict[str, dict]) -> list[str]:
    """One line per experiment: which of its baselines it beats and which not (verdicts.py)."""
    lines = [f"- `{name}` ({result['model']}): {verdict(result).sentence}" for name, result in results.items()]
    return [*lines, ""] if lines else []


def write_summary(
    results_dir: str | Path, experiments: list[str], output: str | Path, slurm: Slurm | None = None
) -> str:
    """results/summary.md: each experiment against its baselines in one line, what the experiments'
    Slurm jobs were charged (one sacct call for all; `slurm` names sacct elsewhere for tests), then
    a section per experiment."""
    costs = experiment_costs(results_dir, experiments, slurm)
    published = load_published()
    results = {
        name: json.loads(ExperimentPaths.of(results_dir, name).eval_metrics.read_text(encoding="utf-8"))
        for name in experiments
    }
    sections = ["# hpcseq results", "", *overview(results), *rules_paragraph(costs)]
    for name, result in results.items():
        sections.append(experiment_section(name, result, costs[name], published.get(name)))
    text = "\n".join(sections)
    write_text(output, text)
    return text
