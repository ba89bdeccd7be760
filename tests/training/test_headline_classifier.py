"""The sarcasm headline classifier ("TensorFlow in Practice": Embedding 16, GlobalAveragePooling1D,
Dense 24 relu, sigmoid), trained on 2 Horovod ranks from a JSON-records file and evaluated with the
bag-of-words baseline beside it.

The real Sarcasm_Headlines_Dataset.json cannot be downloaded here (no internet on the test
machines), so the shipped UMICH sentences are written in its layout (one JSON record per line with
article_link, headline, is_sarcastic): real sentences, the sarcasm file's exact form, the same
preprocess, vocabulary, train and evaluate stages as `snakemake sarcasm_headlines` runs.
"""

from __future__ import annotations

import json

import pytest
import tensorflow as tf

from hpcseq import config as config_module
from hpcseq.data.labelled_sentences import parse_line, read_prepared
from hpcseq.evaluation.evaluate import evaluate
from hpcseq.training.models import load_model
from tests.conftest import UMICH
from tests.training.conftest import prepare
from tests.training.test_train import HOROVODRUN, run_stage, summary_of

EVERY = 6  # every 6th line of the UMICH file (sorted by label): about 1,200 sentences of both classes


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Prepared, trained on 2 ranks and evaluated once; the tests read what it left."""
    root = tmp_path_factory.mktemp("headlines")
    records = root / "Sarcasm_Headlines_Dataset.json"
    with open(UMICH, "rb") as source, open(records, "w", encoding="utf-8") as target:
        for number, raw in enumerate(source):
            if number % EVERY:
                continue
            label, sentence = parse_line(raw.rstrip(b"\r\n"))
            link = f"https://www.example.com/headline/{number}"
            target.write(json.dumps({"article_link": link, "headline": sentence, "is_sarcastic": label}) + "\n")
    config = config_module.validate_config(
        {
            "preset": None,
            "datasets": {"headlines": {"format": "json_records", "path": str(records)}},
            "experiments": {
                "headlines": {
                    "model": "headline_pooling",
                    "dataset": "headlines",
                    "ranks": 2,
                    "preprocess": {"split": "grouped", "tokenizer": "words"},
                    "vocabulary": {"max_words": 9998},
                    "hyperparameters": {"sentence_length": 100, "padding": "post"},
                    "training": {
                        "epochs": 3,
                        "max_steps_per_epoch": 15,
                        "steps_per_execution": 5,
                        "learning_rate": 0.01,
                    },
                    "evaluation": {"bag_of_words": {"features": ["unigram_binary", "bigram_tfidf"]}},
                }
            },
        }
    )
    settings = config_module.experiment_settings(config, "headlines")
    paths = prepare(settings, root / "results")
    horovodrun = [HOROVODRUN, "-np", "2", "-H", "localhost:2", "--gloo"]
    run_stage("train", settings, paths.results_dir, launcher=horovodrun)
    evaluate(settings, paths)  # in this process: one TensorFlow start less
    return settings, paths, json.loads(paths.eval_metrics.read_text())


def test_the_model_is_the_courses_average_pooling_classifier(trained):
    _, paths, _ = trained
    model = load_model(paths.final_model)
    assert [type(layer).__name__ for layer in model.layers] == [
        "InputLayer",
        "Embedding",
        "GlobalAveragePooling1D",
        "Dense",
        "Dense",
    ]
    assert model.get_layer("embedding").output_dim == 16 and model.input_shape == (None, 100)
    assert model.get_layer("dense").units == 24 and model.get_layer("positive").units == 1
    assert not any(isinstance(layer, tf.keras.layers.RNN) for layer in model.layers)
    summary = summary_of(paths)
    assert summary["ranks"] == 2 and summary["cudnn_kernels"] == []  # no recurrent layer to judge


def test_it_is_evaluated_beside_the_majority_class_and_the_bag_of_words_baselines(trained):
    _, paths, metrics = trained
    test_size = metrics["overlap"]["test_sentences"]
    model, majority = metrics["model_metrics"], metrics["majority_baseline"]
    baselines = metrics["bag_of_words_baselines"]
    assert set(baselines) == {"unigram_binary", "bigram_tfidf"}
    for result in (model, majority, *baselines.values()):
        assert sum(map(sum, result["confusion_matrix"])) == test_size == result["examples"]
        assert 0 <= result["f1"] <= 1
    train_labels, _ = read_prepared(paths.prepared_split("train", "sequence_classification"))
    assert majority["class"] == int(2 * sum(train_labels) >= len(train_labels))  # from the training split's labels
    # the UMICH sentences are easy for words alone: the baselines must beat the majority class clearly
    assert baselines["unigram_binary"]["accuracy"] > majority["accuracy"] + 0.2
    assert baselines["unigram_binary"]["feature_count"] == json.loads(paths.vocab.read_text())["size"]
    assert baselines["unigram_binary"]["not_in_training"]["examples"] == metrics["overlap"]["not_in_training"]
    # and the model has learned something in its 45 steps (learning rate 0.01: the course trains 30 epochs at 0.001)
    assert model["accuracy"] > majority["accuracy"]
    summary = (paths.eval_dir / "samples.txt").read_text()
    assert "misclassified" in summary
