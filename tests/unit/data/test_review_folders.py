"""hpcseq.data.review_folders: the Large Movie Review Dataset's layout, its own test part, `<br />`
removed, train/unsup ignored, bad files named.

The real archive (aclImdb_v1.tar.gz, 84 MB) cannot be downloaded here (no internet on the test
machines): the tree below copies its exact layout and file names (`<id>_<rating>.txt`)."""

from __future__ import annotations

import pytest

from hpcseq.data.labelled_sentences import prepare_sentences, read_prepared
from hpcseq.data.review_folders import read_reviews, strip_markup
from hpcseq.errors import InputDataError
from tests.unit.conftest import resolved_settings

REVIEWS = {
    "train/pos": {
        "0_9.txt": "Bromwell High is a cartoon comedy.<br /><br />It ran at the same time as some other programs.",
        "1_7.txt": "Homelessness (or Houselessness as George Carlin stated) has been an issue for years.",
        "10_8.txt": "A wonderful little production. <br /><br />The filming technique is very unassuming.",
        "2_10.txt": "Great film, great cast, I loved it.",
    },
    "train/neg": {
        "0_3.txt": "Story of a man who has unnatural feelings for a pig.<br />Starts out with a opening scene.",
        "1_1.txt": "Airport '77 starts as a brand new luxury 747 plane is loaded up with valuable paintings.",
        "2_4.txt": "This film lacked something I couldn't put my finger on at first.",
        "3_2.txt": "Dreadful. Boring. Awful acting.",
    },
    "train/unsup": {"0_0.txt": "An unlabelled review.", "1_0.txt": "Another one."},
    "test/pos": {"0_10.txt": "I went and saw this movie last night.", "1_10.txt": "Actor turned director Bill Paxton."},
    "test/neg": {"0_2.txt": "Once again Mr. Costner has dragged out a movie.", "1_3.txt": "This is an example of why."},
}


@pytest.fixture
def acl_imdb(tmp_path):
    root = tmp_path / "unpacked" / "aclImdb"
    for folder, files in REVIEWS.items():
        (root / folder).mkdir(parents=True)
        for name, text in files.items():
            (root / folder / name).write_text(text, encoding="utf-8")
    (root / "train" / "labeledBow.feat").write_text("0:9 1:1\n")  # the archive's other files are not reviews
    (root / "train" / "urls_pos.txt").write_text("http://www.imdb.com/title/tt0453418/usercomments\n")
    return root


def settings_for(root, **preprocess) -> dict:
    return resolved_settings(
        {"model": "review_bilstm", "ranks": 1, "preprocess": {"validation_fraction": 0.25, **preprocess}},
        {"format": "review_folders", "path": str(root)},
    )


def test_markup_is_removed():
    assert strip_markup("end.<br /><br />Next<BR>line<br/>") == "end.  Next line "


def test_the_layout_is_read_in_id_order_and_unsup_is_ignored(acl_imdb):
    parts, info = read_reviews(acl_imdb, {})
    train = [(example.label, example.tokens[:2]) for example in parts["train"]]
    assert train == [
        (0, ("story", "of")),  # neg first: 0_3, 1_1, 2_4, 3_2
        (0, ("airport", "'")),
        (0, ("this", "film")),
        (0, ("dreadful", ".")),
        (1, ("bromwell", "high")),  # then pos: 0_9, 1_7, 2_10, 10_8 (by id, not by name)
        (1, ("homelessness", "(")),
        (1, ("great", "film")),
        (1, ("a", "wonderful")),
    ]
    assert all("br" not in example.tokens for example in parts["train"] + parts["test"])
    assert [example.label for example in parts["test"]] == [0, 0, 1, 1]
    assert info["ignored"]["train/unsup"] == 2 and "<br />" in info["ignored"]["markup"]
    assert info["reviews_read"] == {"train": {"neg": 4, "pos": 4}, "test": {"neg": 2, "pos": 2}}


def test_the_test_split_is_the_datasets_own(tmp_path, acl_imdb):
    output = tmp_path / "prepared"
    report = prepare_sentences(settings_for(acl_imdb), output)
    assert report["source_format"] == "review_folders"
    assert report["sizes"]["test"]["sentences"] == 4 and report["sizes"]["validation"]["sentences"] == 2
    assert report["sizes"]["train"]["sentences"] == 6
    labels, tokens = read_prepared(output / "test.tsv")
    assert labels == [0, 0, 1, 1] and tokens[0][:3] == ["once", "again", "mr"]


def test_a_missing_folder_and_a_bad_file_are_named(tmp_path, acl_imdb):
    bad = acl_imdb / "test" / "neg" / "2_1.txt"
    bad.write_bytes(b"fine first line\nthen caf\xe9\n")
    with pytest.raises(InputDataError) as caught:
        prepare_sentences(settings_for(acl_imdb), tmp_path / "prepared")
    assert str(caught.value).startswith(f"{bad}, line 2: cannot decode as utf-8")
    assert not (tmp_path / "prepared" / "train.tsv").exists()
    parts, info = read_reviews(acl_imdb, {"on_bad_line": "skip"})
    assert info["bad_lines_skipped"] == 1 and len(parts["test"]) == 4
    (acl_imdb / "test" / "neg" / "0_2.txt").unlink()
    (acl_imdb / "test" / "neg" / "1_3.txt").unlink()
    bad.unlink()
    (acl_imdb / "test" / "neg").rmdir()
    with pytest.raises(InputDataError) as caught:
        read_reviews(acl_imdb, {})
    assert str(acl_imdb / "test" / "neg") in str(caught.value) and "missing" in str(caught.value)


def test_max_lines_reads_the_first_reviews_of_each_folder(acl_imdb):
    parts, info = read_reviews(acl_imdb, {"max_lines": 1})
    assert [example.tokens[0] for example in parts["train"]] == ["story", "bromwell"]
    assert info["subset"] == "first 1 reviews of each folder"
