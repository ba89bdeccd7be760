"""The published figures (config/published.yaml): every entry names an experiment of the shipped
config and a model it can show the figure beside, and a malformed entry is an error naming it."""

from __future__ import annotations

import pytest

from hpcseq import config as C
from hpcseq.errors import ConfigError
from hpcseq.evaluation.published import load_published
from hpcseq.paths import DEFAULT_CONFIG_PATH

# what a figure may be of besides a named model: the baselines hpcseq reports or the material names
BASELINES = {"persistence", "majority", "unigram_binary", "bigram_binary", "bigram_tfidf"}
# the material's models hpcseq does not define (their figures stand without an hpcseq result)
NOT_DEFINED = {"sequence_one_hot", "review_bilstm_masked"}


def test_every_published_figure_belongs_to_a_shipped_experiment_and_a_known_model():
    config = C.load_config(DEFAULT_CONFIG_PATH)
    models = set(C.filled_named_models())
    published = load_published()
    assert published, "config/published.yaml holds no figure"
    for name, publication in published.items():
        assert name in config["experiments"], f"{name}: no such experiment in config/config.yaml"
        assert publication.source.strip()
        for figure in publication.figures:
            assert figure.model in models | BASELINES | NOT_DEFINED, f"{name}: {figure.model} is no model or baseline"
            assert figure.value > 0 and figure.what
        experiment_model = config["experiments"][name]["model"]
        assert any(figure.model == experiment_model for figure in publication.figures), name


def test_the_lecture_figures_are_where_the_material_puts_them():
    published = load_published()
    assert published["macbeth_char_rnn"].figure("char_rnn", "training_loss").value == 1.587
    assert published["jena_temperature_forecast"].figure("persistence", "mae").value == 2.62
    assert published["imdb_bilstm"].figure("review_bilstm", "accuracy").value == 0.87
    assert published["jena_temperature_forecast"].figure("forecast_bilstm", "mae") is None  # no figure published


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("x:\n  figures: [{model: m, metric: mae, value: 1, what: w}]\n", "x: needs `source`"),
        ("x:\n  source: s\n  figures: []\n", "x.figures"),
        ("x:\n  source: s\n  figures: [{model: m, metric: f1, value: 1, what: w}]\n", "x.figures[0].metric"),
        ("x:\n  source: s\n  figures: [{model: m, metric: mae, value: high, what: w}]\n", "x.figures[0].value"),
        ("x:\n  source: s\n  figures: [{model: m, metric: mae, value: 1, what: w, year: 2018}]\n", "x.figures[0]"),
    ],
)
def test_a_malformed_entry_is_an_error_naming_it(tmp_path, text, names):
    path = tmp_path / "published.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"published\.yaml: " + names.replace(".", r"\.").replace("[", r"\[")):
        load_published(path)
