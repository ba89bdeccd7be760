"""The shipped `imdb_bilstm` experiment is the course material's IMDB model and vectorisation
(../shared/seeds/001_0fd970be4a1c2d2d.txt, Module 6 Part II, "IMDB review example", after Chollet,
Deep Learning with Python, 2nd ed., ch. 11): TextVectorization(max_tokens=20000,
output_sequence_length=600), Embedding(20000, 256), Bidirectional(LSTM(32)), Dropout(0.5),
Dense(1, sigmoid), rmsprop, binary cross-entropy.

The Large Movie Review Dataset cannot be downloaded here, so a small tree in its `aclImdb` layout
stands in (`<br />` in the reviews, train/unsup and the urls files beside them): enough distinct
words that the 20,000-id cap binds, so the model trained from the shipped settings has the
material's Embedding of 20,000 ids. Its reviews use no apostrophes or hyphens, where hpcseq's
tokenizer departs from TextVectorization's standardisation (the config comment says how), so on
them the model's input must equal Keras' own TextVectorization's, word for word.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf

from hpcseq import config as config_module
from hpcseq.data.review_folders import strip_markup
from hpcseq.data.vocabulary import load_sentences, load_vocabulary
from hpcseq.evaluation.evaluate import evaluate
from hpcseq.io import load_yaml
from hpcseq.training import inputs
from hpcseq.training.models import load_model
from tests.training.conftest import prepare, run_stage

# the material's numbers, as its code shows them (the oracle the shipped config is checked against)
MAX_TOKENS, MAX_LENGTH, EMBEDDING, LSTM_UNITS = 20000, 600, 256, 32
COMMON_WORDS = "The film and its story were shown to us, with a cast of actors in every scene."
LABEL_WORDS = {"pos": "Great wonderful moving brilliant loved", "neg": "Awful boring dreadful dull hated"}
COMMON = COMMON_WORDS.split()
WORDS = {label: words.split() for label, words in LABEL_WORDS.items()}
TRAIN_REVIEWS, TEST_REVIEWS, FILLER = 24, 8, 700  # per class; distinct words after each training review


def _review(number: int, label: str, part: str) -> str:
    """A review in the dataset's style: sentences, `<br />` breaks, capitals and punctuation."""
    rng = np.random.default_rng(number)
    opening = " ".join(rng.permutation(COMMON + WORDS[label]))
    if part == "test":
        unknown = "zyzzyva" if number % 3 == 0 else ""  # a word training lacks: UNK in both
        closing = f"{' '.join(rng.permutation(WORDS[label]))}, {unknown} {COMMON[number % len(COMMON)]}!"
        return f"{opening}.<br /><br />{closing}"
    filler = " ".join(f"w{number}x{index}" for index in range(FILLER))  # beyond the first 600 words
    return f"{opening}.<br /><br />{filler}."


def _acl_imdb(root):
    """train/{pos,neg}, test/{pos,neg} of `<id>_<rating>.txt` files, as the archive holds them."""
    number = 0
    for part, count in (("train", TRAIN_REVIEWS), ("test", TEST_REVIEWS)):
        for label, rating in (("pos", 8), ("neg", 2)):
            folder = root / part / label
            folder.mkdir(parents=True)
            for index in range(count):
                text = _review(number, label, part)
                if part == "test" and index == 0:  # a long test review: which 600 words are kept shows
                    text = " ".join(["Great"] * 100 + COMMON * 50)
                (folder / f"{index}_{rating}.txt").write_text(text, encoding="utf-8")
                number += 1
    (root / "train" / "unsup").mkdir()
    (root / "train" / "unsup" / "0_0.txt").write_text("An unlabelled review.", encoding="utf-8")
    (root / "train" / "urls_pos.txt").write_text("http://www.imdb.com/title/tt0453418/usercomments\n")
    return root


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """The shipped imdb_bilstm settings on the small tree, prepared, trained 1 step (1 rank) and
    evaluated; the tests read what that left."""
    root = tmp_path_factory.mktemp("imdb")
    raw = load_yaml(config_module.DEFAULT_CONFIG_PATH)
    raw["datasets"]["imdb_reviews"] = {"format": "review_folders", "path": str(_acl_imdb(root / "aclImdb"))}
    experiment = raw["experiments"]["imdb_bilstm"]
    experiment["ranks"] = 1
    experiment.setdefault("training", {}).update({"epochs": 1, "max_steps_per_epoch": 1, "steps_per_execution": 1})
    settings = config_module.experiment_settings(config_module.validate_config(raw), "imdb_bilstm")
    paths = prepare(settings, root / "results")
    run_stage("train", settings, paths.results_dir)
    evaluate(settings, paths)  # in this process: one TensorFlow start less
    return settings, paths, json.loads(paths.eval_metrics.read_text()), root / "aclImdb"


def _words(matrix: np.ndarray, vocabulary: list[str]) -> list[list[str]]:
    return [[vocabulary[i] for i in row] for row in matrix]


def test_reviews_are_vectorised_as_textvectorization_does(shipped):
    settings, paths, _, root = shipped
    hp = settings["hyperparameters"]
    vocabulary = load_vocabulary(paths.vocab)
    assert vocabulary.size == MAX_TOKENS  # the cap binds: "" and [UNK] count within it, as in Keras
    # Keras' own vectorisation of the raw reviews (the markup removed: hpcseq's stated departure),
    # adapted on the whole training part: the words of the test reviews are frequent in every
    # training review, so the two vocabularies differ only in which once-seen fillers they keep
    vectorize = tf.keras.layers.TextVectorization(
        max_tokens=MAX_TOKENS, output_mode="int", output_sequence_length=MAX_LENGTH
    )
    vectorize.adapt(_texts(root, "train"))
    keras_words = vectorize.get_vocabulary()
    assert len(keras_words) == MAX_TOKENS
    texts = _texts(root, "test")
    flat, offsets, labels = load_sentences(paths.encoded, "test")
    ours = inputs.pad_sentences(flat, offsets, hp["sentence_length"], hp["padding"])
    theirs = vectorize(texts).numpy()
    assert ours.shape == theirs.shape == (2 * TEST_REVIEWS, MAX_LENGTH)
    hpcseq_words = ["", "[UNK]", *vocabulary.words[2:]]
    assert _words(ours, hpcseq_words) == _words(theirs, keras_words)
    long_review = ours[labels.tolist().index(1)]  # the first positive test review: 100 + 850 words
    assert (long_review != 0).all() and (long_review[:100] == vocabulary.index()["great"]).all()
    assert (ours[1] == 0).any() and ours[1][-1] == 0  # a short one, padded at the end
    # and the training reviews: their first 600 words, cut as TextVectorization cuts them
    flat, offsets, _ = load_sentences(paths.encoded, "train")
    cut = inputs.pad_sentences(flat, offsets, hp["sentence_length"], hp["padding"])
    assert cut.shape[1] == MAX_LENGTH and (cut[0] == flat[offsets[0] : offsets[0] + MAX_LENGTH]).all()


def _texts(root, part: str) -> list[str]:
    """The reviews of `part` in hpcseq's order (negative, then positive, each by id), markup removed."""
    folders = [root / part / label for label in ("neg", "pos")]
    files = [
        path for folder in folders for path in sorted(folder.glob("*.txt"), key=lambda p: int(p.stem.split("_")[0]))
    ]
    return [strip_markup(path.read_text(encoding="utf-8")) for path in files]


def _material_model() -> tf.keras.Model:
    """The material's model, as its code builds it with plain Keras."""
    from tensorflow.keras import layers

    model_inputs = tf.keras.Input(shape=(None,), dtype="int64")
    embedded = layers.Embedding(input_dim=MAX_TOKENS, output_dim=EMBEDDING)(model_inputs)
    x = layers.Bidirectional(layers.LSTM(LSTM_UNITS))(embedded)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = tf.keras.Model(model_inputs, outputs)
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def test_the_trained_model_has_exactly_the_materials_layers(shipped):
    settings, paths, _, _ = shipped
    ours, theirs = load_model(paths.final_model), _material_model()
    kinds = ["InputLayer", "Embedding", "Bidirectional", "Dropout", "Dense"]
    assert [type(layer).__name__ for layer in ours.layers] == [type(layer).__name__ for layer in theirs.layers] == kinds
    for mine, material in zip(ours.layers, theirs.layers, strict=True):
        assert [w.shape for w in mine.weights] == [w.shape for w in material.weights], mine.name
    embedding, recurrent, dropout, output = ours.layers[1:]
    assert (embedding.input_dim, embedding.output_dim, embedding.mask_zero) == (MAX_TOKENS, EMBEDDING, False)
    assert type(recurrent.forward_layer).__name__ == "LSTM" and recurrent.forward_layer.units == LSTM_UNITS
    assert dropout.rate == 0.5 and output.units == 1 and output.activation.__name__ == "sigmoid"
    assert ours.count_params() == theirs.count_params()
    assert ours.input_shape == (None, MAX_LENGTH)
    assert settings["training"]["optimizer"] == "rmsprop" and settings["training"]["learning_rate"] == 0.001


def test_the_baselines_say_what_they_are_beside_the_model(shipped):
    _, _, metrics, _ = shipped
    baselines = metrics["bag_of_words_baselines"]
    assert set(baselines) == {"unigram_binary", "bigram_tfidf"}
    assert baselines["unigram_binary"]["described"].startswith("logistic regression on unigram binary features")
    assert baselines["bigram_tfidf"]["described"].startswith("logistic regression on bigram TF-IDF features")
    # the words decide these reviews: the baselines learn them (a step of the model cannot)
    assert metrics["majority_baseline"]["accuracy"] == 0.5
    assert baselines["unigram_binary"]["accuracy"] >= 0.75 and baselines["bigram_tfidf"]["accuracy"] >= 0.75
    assert metrics["overlap"]["test_sentences"] == 2 * TEST_REVIEWS
