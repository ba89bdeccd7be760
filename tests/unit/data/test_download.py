"""Downloads of datasets that do not ship (hpcseq.data.download), against a real HTTP server on
127.0.0.1 in a thread: checksums published or recorded, interrupted and resumed transfers (HTTP
Range), a server that ignores Range, no server at all, archives; and the Snakemake targets."""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import re
import socket
import tarfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hpcseq import cli
from hpcseq import config as config_module
from hpcseq.data.download import Download, fetch
from hpcseq.errors import ChecksumError, ConfigError, ConfigErrors, DownloadError
from tests.conftest import run_snakemake, tiny_workflow_config, write_config

PAYLOAD = bytes(range(256)) * 200  # 51,200 bytes: several reads of the server's socket
PAYLOAD_SHA256 = hashlib.sha256(PAYLOAD).hexdigest()
OTHER_SHA256 = "0" * 64


class Handler(BaseHTTPRequestHandler):
    """Serves server.files; honours `Range: bytes=N-` unless server.honour_range is False; the
    next entry of server.cut_after (a byte count) ends the connection early."""

    def do_GET(self):
        server = self.server
        server.requests.append(self.headers.get("Range"))
        data = server.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        start = 0
        wanted = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if wanted and server.honour_range:
            start = int(wanted.group(1))
            if start >= len(data):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        cut = server.cut_after.pop(0) if server.cut_after else None
        self.wfile.write(body if cut is None else body[:cut])
        self.close_connection = True

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    """The test server is local: a proxy from the environment must not be asked for it."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.files, httpd.requests, httpd.cut_after, httpd.honour_range = {"/data.bin": PAYLOAD}, [], [], True
    httpd.url = f"http://127.0.0.1:{httpd.server_port}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def download(server, sha256=PAYLOAD_SHA256, path="/data.bin", **entry) -> Download:
    return Download.from_config("demo", {"url": server.url + path, "file": "data.bin", "sha256": sha256, **entry})


@pytest.fixture
def messages():
    return []


def leftovers(folder) -> list[str]:
    """What a download left in its folder besides the verified file and its record."""
    kept = ("data.bin", "data.bin.sha256", "unpacked", ".lock")
    return sorted(p.name for p in folder.iterdir() if p.name not in kept)


def test_a_fresh_download_with_the_published_checksum(server, tmp_path, messages):
    path = fetch(download(server), tmp_path, log=messages.append)
    assert path == tmp_path / "demo" / "data.bin"
    assert path.read_bytes() == PAYLOAD
    assert leftovers(path.parent) == []
    assert server.requests == [None]
    assert any(f"sha256 {PAYLOAD_SHA256} matches the published sha256" in m for m in messages)


def test_a_wrong_checksum_names_expected_and_got_and_leaves_no_file(server, tmp_path):
    with pytest.raises(ChecksumError) as error:
        fetch(download(server, sha256=OTHER_SHA256), tmp_path, log=lambda m: None)
    assert f"expected {OTHER_SHA256}" in str(error.value)
    assert f"got {PAYLOAD_SHA256}" in str(error.value)
    folder = tmp_path / "demo"
    assert not (folder / "data.bin").exists() and not (folder / "data.bin.part").exists()
    assert leftovers(folder) == ["data.bin.rejected"]  # kept aside, whole, to look at
    assert (folder / "data.bin.rejected").read_bytes() == PAYLOAD


def test_an_interrupted_transfer_is_resumed_with_a_range_request(server, tmp_path, messages):
    server.cut_after = [20_000]
    with pytest.raises(DownloadError, match=r"cut short .* after 20000 bytes of 51200.* run again to resume"):
        fetch(download(server), tmp_path, log=messages.append, attempts=1)
    folder = tmp_path / "demo"
    assert not (folder / "data.bin").exists()
    assert (folder / "data.bin.part").read_bytes() == PAYLOAD[:20_000]

    path = fetch(download(server), tmp_path, log=messages.append)
    assert server.requests == [None, "bytes=20000-"]
    assert path.read_bytes() == PAYLOAD
    assert leftovers(folder) == []
    assert "resuming http" in " ".join(messages)


def test_a_cut_transfer_resumes_within_one_run(server, tmp_path):
    server.cut_after = [10_000, 15_000]
    path = fetch(download(server), tmp_path, log=lambda m: None)
    assert server.requests == [None, "bytes=10000-", "bytes=25000-"]
    assert path.read_bytes() == PAYLOAD


def test_a_server_that_ignores_range_makes_the_transfer_start_over(server, tmp_path, messages):
    server.honour_range = False
    server.cut_after = [20_000]
    path = fetch(download(server), tmp_path, log=messages.append)
    assert server.requests == [None, "bytes=20000-"]
    assert path.read_bytes() == PAYLOAD  # not the first 20,000 bytes twice
    assert "ignored the Range request (HTTP 200, not 206): starting over" in " ".join(messages)


def test_a_whole_part_left_before_its_rename_is_taken_as_complete(server, tmp_path, messages):
    part = tmp_path / "demo" / "data.bin.part"
    part.parent.mkdir()
    part.write_bytes(PAYLOAD)
    path = fetch(download(server), tmp_path, log=messages.append)
    assert server.requests == [f"bytes={len(PAYLOAD)}-"]  # answered 416: nothing past the end
    assert path.read_bytes() == PAYLOAD and not part.exists()


def test_a_second_download_of_the_same_dataset_is_refused_while_one_runs(server, tmp_path):
    (tmp_path / "demo").mkdir()
    with open(tmp_path / "demo" / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with pytest.raises(DownloadError, match="another download of this dataset is running"):
            fetch(download(server), tmp_path, log=lambda m: None)
    assert server.requests == []


def test_a_verified_file_present_is_not_fetched_again(server, tmp_path, messages):
    fetch(download(server), tmp_path, log=lambda m: None)
    server.requests.clear()
    fetch(download(server), tmp_path, log=messages.append)
    assert server.requests == []
    assert "is present and verified: not fetched again" in " ".join(messages)


def test_a_file_present_that_fails_its_check_is_left_as_it_is(server, tmp_path):
    placed = tmp_path / "demo" / "data.bin"
    placed.parent.mkdir()
    placed.write_bytes(b"the user's own copy")
    with pytest.raises(ChecksumError, match=f"expected {PAYLOAD_SHA256} .*, got .* left as it is"):
        fetch(download(server), tmp_path, log=lambda m: None)
    assert placed.read_bytes() == b"the user's own copy"
    assert server.requests == []


def test_without_a_server_it_fails_at_once_saying_which_file_to_place_where(tmp_path):
    with socket.socket() as probe:  # a port nobody listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/data.bin"
    started = time.monotonic()
    with pytest.raises(DownloadError) as error:
        fetch(Download.from_config("demo", {"url": url, "file": "data.bin"}), tmp_path, log=lambda m: None)
    assert time.monotonic() - started < 5
    message = str(error.value)
    assert "place it by hand" in message
    assert f"  {url}\n  -> {tmp_path / 'demo' / 'data.bin'}\n" in message
    assert not (tmp_path / "demo" / "data.bin.part").exists()


def test_an_http_error_is_named(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404"):
        fetch(download(server, path="/missing.bin"), tmp_path, log=lambda m: None)


def test_without_a_published_checksum_the_first_is_recorded_and_a_changed_file_is_found(server, tmp_path, messages):
    fetch(download(server, sha256=None), tmp_path, log=messages.append)
    record = tmp_path / "demo" / "data.bin.sha256"
    assert PAYLOAD_SHA256 in record.read_text()
    assert f"no published sha256 for data.bin: recorded {PAYLOAD_SHA256}" in " ".join(messages)

    messages.clear()
    fetch(download(server, sha256=None), tmp_path, log=messages.append)
    assert "matches the sha256 recorded at the first download" in " ".join(messages)

    (tmp_path / "demo" / "data.bin").write_bytes(PAYLOAD[:-1] + b"x")
    with pytest.raises(ChecksumError) as error:
        fetch(download(server, sha256=None), tmp_path, log=lambda m: None)
    assert f"expected {PAYLOAD_SHA256} (the sha256 recorded at the first download" in str(error.value)
    assert f"got {hashlib.sha256(PAYLOAD[:-1] + b'x').hexdigest()}" in str(error.value)
    assert server.requests == [None]


def tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("kind", "pack", "member"),
    [("tar.gz", tar_gz, "aclImdb"), ("zip", zip_bytes, "aclImdb/train/pos/0_9.txt")],
)
def test_an_archive_is_unpacked_whole_and_its_member_returned(server, tmp_path, kind, pack, member):
    files = {"aclImdb/train/pos/0_9.txt": b"great film", "aclImdb/train/neg/1_2.txt": b"dull"}
    server.files["/data.bin"] = data = pack(files)
    entry = {"sha256": hashlib.sha256(data).hexdigest(), "archive": kind, "member": member}
    path = fetch(download(server, **entry), tmp_path, log=lambda m: None)
    assert path == tmp_path / "demo" / "unpacked" / member
    unpacked = tmp_path / "demo" / "unpacked"
    assert (unpacked / "aclImdb/train/neg/1_2.txt").read_bytes() == b"dull"
    assert leftovers(tmp_path / "demo") == [] and unpacked.is_dir()


def test_an_archive_without_its_member_leaves_no_unpacked_folder(server, tmp_path):
    server.files["/data.bin"] = data = tar_gz({"other/file.txt": b"x"})
    entry = {"sha256": hashlib.sha256(data).hexdigest(), "archive": "tar.gz", "member": "aclImdb"}
    with pytest.raises(DownloadError, match=r"the archive has no 'aclImdb'.*at its top: other"):
        fetch(download(server, **entry), tmp_path, log=lambda m: None)
    assert leftovers(tmp_path / "demo") == [] and (tmp_path / "demo" / "data.bin").exists()  # the download stays
    assert not (tmp_path / "demo" / "unpacked").exists()


@pytest.mark.parametrize(
    ("entry", "key", "fragment"),
    [
        ({"url": "ftp://host/x", "file": "x"}, "url", "not an http:// or https:// URL"),
        ({"url": "https://host/x", "file": "../x"}, "file", "plain file name"),
        ({"url": "https://host/x", "file": "x", "sha256": "abc"}, "sha256", "64 lowercase hexadecimal"),
        ({"url": "https://host/x", "file": "x", "archive": "rar", "member": "m"}, "archive", "tar.gz, zip"),
        ({"url": "https://host/x", "file": "x", "archive": "zip"}, "member", "an archive needs `member`"),
        ({"url": "https://host/x", "file": "x", "archive": "zip", "member": "../m"}, "member", "inside the archive"),
    ],
)
def test_a_bad_download_entry_is_refused_by_key(entry, key, fragment):
    with pytest.raises(ConfigError, match=re.escape(fragment)) as error:
        Download.from_config("demo", entry)
    assert error.value.key == f"datasets.demo.download.{key}"


def minimal_config(**dataset) -> dict:
    return {
        "datasets": {
            "text": {"format": "text", "path": "corpus.txt"},
            "fetched": {"format": "json_records", **dataset},
        },
        "experiments": {"exp": {"model": "char_rnn", "dataset": "text"}},
    }


def test_a_downloaded_datasets_path_derives_from_downloads_dir():
    entry = {"url": "https://host/a.zip", "file": "a.zip", "archive": "zip", "member": "a.csv"}
    config = config_module.validate_config({**minimal_config(download=entry), "downloads_dir": "$SCRATCH/d"})
    assert config["datasets"]["fetched"]["path"] == "$SCRATCH/d/fetched/unpacked/a.csv"
    assert config["datasets"]["fetched"]["download"]["sha256"] is None


def test_a_downloaded_dataset_with_its_own_path_or_sha256_is_refused():
    entry = {"url": "https://host/a.json", "file": "a.json"}
    with pytest.raises(ConfigErrors) as error:
        config_module.validate_config(minimal_config(download=entry, path="elsewhere.json", sha256=OTHER_SHA256))
    text = str(error.value)
    assert "config key datasets.fetched.path: leave it out" in text
    assert "config key datasets.fetched.sha256: leave it out" in text


def test_an_archive_without_member_is_refused():
    entry = {"url": "https://host/a.zip", "file": "a.zip", "archive": "zip"}
    with pytest.raises(ConfigErrors, match=r"datasets\.fetched\.download: 'member' is required"):
        config_module.validate_config(minimal_config(download=entry))


def test_a_dataset_without_download_still_needs_its_path():
    with pytest.raises(ConfigErrors, match=r"datasets\.fetched: 'path' is required"):
        config_module.validate_config(minimal_config())


# --------------------------------------------------------------------------- the command and the targets


def test_the_command_the_rule_runs_fetches_into_downloads_dir(server, tmp_path, capsys):
    settings = {"name": "demo", "download": {"url": server.url + "/data.bin", "file": "data.bin", "sha256": None}}
    assert cli.main(["download", "--settings", json.dumps(settings), "--downloads-dir", str(tmp_path)]) == 0
    assert (tmp_path / "demo" / "data.bin").read_bytes() == PAYLOAD
    assert f"dataset demo: {tmp_path / 'demo' / 'data.bin'}" in capsys.readouterr().out


def test_the_command_refuses_a_dataset_that_ships(capsys):
    assert cli.main(["download", "--dataset", "tinyshakespeare"]) == 2
    assert "datasets.tinyshakespeare: has no `download`: it is a file at hand" in capsys.readouterr().err


# --------------------------------------------------------------------------- the Snakemake targets


def test_the_download_targets_resolve(tmp_path):
    """(That the default target fetches nothing: tests/workflow/test_workflow.py, its dry run.)"""
    downloads = tmp_path / "downloads"
    plan = run_snakemake("-n", "-p", "downloads", "--config", f"downloads_dir={downloads}", cwd=tmp_path / "run")
    for name in ("imdb_reviews", "sarcasm_headlines", "jena_climate"):
        assert re.search(rf"^download_{name}\s+1$", plan.stdout, flags=re.MULTILINE), plan.stdout
    assert f"output: {downloads}/imdb_reviews/unpacked\n" in plan.stdout
    assert f"output: {downloads}/sarcasm_headlines/Sarcasm_Headlines_Dataset.json\n" in plan.stdout
    assert "-m hpcseq download --settings" in plan.stdout


def test_an_experiment_on_a_downloaded_dataset_reads_what_its_download_rule_produces(tmp_path):
    config = tiny_workflow_config(tmp_path)
    config["downloads_dir"] = str(tmp_path / "downloads")
    config["datasets"]["fetched"] = {"format": "text", "download": {"url": "https://host/c.txt", "file": "c.txt"}}
    config["experiments"]["tiny_char"]["dataset"] = "fetched"
    plan = run_snakemake("-n", "--configfile", str(write_config(tmp_path, config)), cwd=tmp_path / "run")
    assert re.search(r"^download_fetched\s+1$", plan.stdout, flags=re.MULTILINE), plan.stdout
    assert f"input: {tmp_path / 'downloads' / 'fetched' / 'c.txt'}\n" in plan.stdout  # preprocess_text's
