"""Fetch a dataset that does not ship with hpcseq (config `datasets.<name>.download`).

On a cluster only the login node reaches the internet, so the workflow runs this as a local rule
there; everything after it reads the verified file. The rules here are those of a careful user:

- a transfer goes to `<file>.part` and is renamed into place only when complete and verified, so
  a reader never sees half a download; a cut transfer resumes from the end of the `.part` with an
  HTTP Range request (a server that ignores Range answers 200: the transfer starts over);
- the file is checked against its published sha256 where the config gives one, else the sha256 of
  the first download is recorded next to it and every later check uses that record (the log says
  which of the two it was);
- a verified file present is never fetched again; a file present that fails its check is left as
  it is (the user's own copy, perhaps), and a failed download is kept aside as `<file>.rejected`;
- without internet it fails at once and says which file to place where, with its URL;
- an archive is unpacked into a temporary folder renamed into place, so `unpacked/` is whole or absent.

Standard library only (urllib): it runs in either environment, on any login node.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import http.client
import json
import os
import re
import socket
import tarfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from hpcseq.errors import ChecksumError, ConfigError, DownloadError
from hpcseq.io import atomic_directory, file_sha256, write_json
from hpcseq.paths import ARCHIVE_KINDS, DownloadPaths

CHUNK_BYTES = 1 << 20
TIMEOUT_SECONDS = 60
ATTEMPTS = 3  # a transfer cut short is resumed this many times in one run before giving up
USER_AGENT = "hpcseq-download (Python urllib)"
SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Download:
    """One dataset's `download` entry: where it comes from and how it is checked and unpacked."""

    name: str
    url: str
    file: str
    sha256: str | None = None
    archive: str | None = None
    member: str | None = None

    @classmethod
    def from_config(cls, name: str, entry: dict) -> Download:
        """From `datasets.<name>.download` (already schema-checked; checked again here for callers
        that build the entry themselves)."""
        key = f"datasets.{name}.download"
        if not isinstance(entry, dict):
            raise ConfigError(key, "must be a mapping with url and file")
        for required in ("url", "file"):
            if not entry.get(required):
                raise ConfigError(f"{key}.{required}", "is required")
        if not str(entry["url"]).startswith(("http://", "https://")):
            raise ConfigError(f"{key}.url", f"{entry['url']!r} is not an http:// or https:// URL")
        file = str(entry["file"])
        if "/" in file or "\\" in file or file.startswith("."):
            raise ConfigError(f"{key}.file", f"{file!r} must be a plain file name (no folders, not hidden)")
        sha256 = entry.get("sha256")
        if sha256 is not None and not SHA256_PATTERN.fullmatch(str(sha256)):
            raise ConfigError(f"{key}.sha256", f"{sha256!r} is not 64 lowercase hexadecimal digits")
        archive, member = entry.get("archive"), entry.get("member")
        if archive is not None and archive not in ARCHIVE_KINDS:
            raise ConfigError(f"{key}.archive", f"{archive!r} is not one of {', '.join(ARCHIVE_KINDS)} (or null)")
        if archive and not member:
            raise ConfigError(f"{key}.member", "an archive needs `member`: the entry of it that the data stages read")
        if member and (Path(member).is_absolute() or ".." in Path(member).parts):
            raise ConfigError(f"{key}.member", f"{member!r} must be a path inside the archive")
        return cls(name, str(entry["url"]), file, sha256, archive, member)

    def paths(self, downloads_dir: str | Path) -> DownloadPaths:
        return DownloadPaths(Path(downloads_dir), self.name, self.file, self.archive, self.member)


def fetch(
    download: Download,
    downloads_dir: str | Path,
    log: Callable[[str], None] = print,
    timeout: float = TIMEOUT_SECONDS,
    attempts: int = ATTEMPTS,
) -> Path:
    """Make the dataset present and verified under `downloads_dir`; return the path the data stages
    read. Fetches only what is missing; raises DownloadError (ChecksumError) with what to do."""
    paths = download.paths(downloads_dir)
    paths.root.mkdir(parents=True, exist_ok=True)
    with _exclusive(paths):
        if paths.file.exists():
            _verify(download, paths, paths.file, placed=True, log=log)
            log(f"{paths.file} is present and verified: not fetched again")
        else:
            _transfer(download, paths, log, timeout, attempts)
            _verify(download, paths, paths.part, placed=False, log=log)
            os.replace(paths.part, paths.file)
            log(f"{paths.file} is complete")
        if download.archive:
            _unpack(download, paths, log)
    return paths.data


@contextlib.contextmanager
def _exclusive(paths: DownloadPaths) -> Iterator[None]:
    """One download per dataset folder at a time: two runs appending to one `.part` (two work
    directories, say) would make a file whose recorded sha256 is wrong. A file system without
    locks (some Lustre mounts) gets no lock rather than an error."""
    with open(paths.lock, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DownloadError(
                f"{paths.root}: another download of this dataset is running (it holds {paths.lock.name}); "
                "wait for it, or run again once it has ended"
            ) from None
        except OSError:
            pass
        yield


# ----------------------------------------------------------------------------------- transfer


def _transfer(download: Download, paths: DownloadPaths, log, timeout: float, attempts: int) -> None:
    """Bring `<file>.part` to the whole file, resuming where an earlier transfer stopped."""
    for attempt in range(1, attempts + 1):
        try:
            _transfer_once(download, paths, log, timeout)
            return
        except _CutShort as cut:
            if attempt == attempts:
                raise DownloadError(
                    f"{download.url}: the transfer was cut short {attempts} time(s), last after "
                    f"{cut.have} bytes{cut.of_total} ({cut.reason}); {paths.part} is kept: run again to resume"
                ) from None
            log(f"transfer cut short after {cut.have} bytes{cut.of_total} ({cut.reason}): resuming")


class _CutShort(Exception):
    def __init__(self, have: int, total: int | None, reason: str):
        self.have, self.reason = have, reason
        self.of_total = f" of {total}" if total else ""


def _transfer_once(download: Download, paths: DownloadPaths, log, timeout: float) -> None:
    have = paths.part.stat().st_size if paths.part.exists() else 0
    headers = {"User-Agent": USER_AGENT}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(download.url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and have:  # nothing past the end of the .part: it is whole (checked next)
            log(f"the server has nothing past byte {have} (HTTP 416): {paths.part} is taken as complete")
            return
        raise DownloadError(f"{download.url}: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        raise DownloadError(_offline_message(download, paths, error)) from None
    with response:
        if have and response.status == 206:
            start = _range_start(response.headers.get("Content-Range"))
            if start != have:
                log(f"the server resumed at byte {start}, not {have}: starting over")
                raise _start_over(paths, "a resumed transfer at the wrong offset")
            log(f"resuming {download.url} at byte {have}")
            mode = "ab"
        else:
            if have:
                log(f"the server ignored the Range request (HTTP {response.status}, not 206): starting over")
            else:
                log(f"fetching {download.url}")
            have, mode = 0, "wb"
        length = response.headers.get("Content-Length")
        total = have + int(length) if length and length.isdigit() else None
        try:
            with open(paths.part, mode) as part:
                have = _copy(response, part, have, total)
                part.flush()
                os.fsync(part.fileno())
        except OSError as error:  # this side: a full disk, a quota
            raise DownloadError(f"{paths.part}: cannot write: {error}") from None
    if total is not None and have < total:
        raise _CutShort(have, total, "the connection closed early")


def _copy(response, part, have: int, total: int | None) -> int:
    """Append the response to `part` chunk by chunk; the byte count of `part` when it ends."""
    while True:
        try:
            chunk = response.read(CHUNK_BYTES)
        except (http.client.IncompleteRead, OSError) as error:  # the network: reset, timeout, closed early
            raise _CutShort(have + _incomplete_bytes(error, part), total, type(error).__name__) from None
        if not chunk:
            return have
        part.write(chunk)
        have += len(chunk)


def _incomplete_bytes(error: Exception, part) -> int:
    """Bytes an IncompleteRead carried that were not written yet (written now, to resume after them)."""
    partial = getattr(error, "partial", b"")
    if isinstance(partial, bytes) and partial:
        part.write(partial)
        part.flush()
        return len(partial)
    return 0


def _start_over(paths: DownloadPaths, reason: str) -> _CutShort:
    paths.part.unlink(missing_ok=True)
    return _CutShort(0, None, reason)


def _range_start(content_range: str | None) -> int | None:
    match = re.fullmatch(r"bytes (\d+)-\d+/(?:\d+|\*)", (content_range or "").strip())
    return int(match.group(1)) if match else None


def _offline_message(download: Download, paths: DownloadPaths, error: Exception) -> str:
    reason = getattr(error, "reason", error)
    host = urllib.request.urlparse(download.url).netloc
    what = "no internet here (DNS failure)" if isinstance(reason, socket.gaierror) else "no connection"
    return (
        f"cannot reach {host}: {what}: {reason}. Downloads need internet (on a cluster: the login node, "
        f"which runs the workflow's local rules). Or fetch the file on a machine with internet and place it by hand:\n"
        f"  {download.url}\n  -> {paths.file.absolute()}\n"
        "then run again: the file is checked and used, not fetched."
    )


# ----------------------------------------------------------------------------------- checksums


def _verify(download: Download, paths: DownloadPaths, candidate: Path, placed: bool, log) -> None:
    """Check `candidate` (the file present, or a finished `.part`) against the published sha256,
    else against the one recorded at the first download, else record it. On a mismatch a present
    file stays where it is; a download is kept aside as `<file>.rejected`."""
    got = file_sha256(candidate)
    expected, source = _expected_sha256(download, paths)
    if expected is None:
        write_json(
            paths.recorded_sha256,
            {"sha256": got, "url": download.url, "recorded": datetime.datetime.now(datetime.UTC).isoformat()},
        )
        first = "the file placed here" if placed else "this first download"
        log(
            f"no published sha256 for {download.file}: recorded {got} of {first} in "
            f"{paths.recorded_sha256}; later runs check the file against it"
        )
        return
    if got == expected:
        log(f"sha256 {got} matches the {source}")
        return
    if placed:
        raise ChecksumError(
            f"{candidate}: sha256 mismatch: expected {expected} (the {source}), got {got}. The file was left "
            "as it is; move it away (or delete it) to have it fetched again, or replace it by the right one"
        )
    os.replace(candidate, paths.rejected)
    raise ChecksumError(
        f"{download.url}: sha256 mismatch: expected {expected} (the {source}), got {got}. The download is "
        f"kept aside as {paths.rejected}; nothing else was changed. A new release of the file? Check its source"
        + ("" if download.sha256 else f", and delete {paths.recorded_sha256} if the new file is right")
    )


def _expected_sha256(download: Download, paths: DownloadPaths) -> tuple[str | None, str]:
    if download.sha256:
        return download.sha256, f"published sha256 (datasets.{download.name}.download.sha256)"
    if not paths.recorded_sha256.exists():
        return None, ""
    try:
        record = json.loads(paths.recorded_sha256.read_text(encoding="utf-8"))
        recorded = record["sha256"]
    except (ValueError, KeyError, TypeError):
        raise ChecksumError(
            f"{paths.recorded_sha256}: not a recorded checksum (JSON with `sha256`); delete it to record anew"
        ) from None
    when = record.get("recorded", "an earlier run")
    return recorded, f"sha256 recorded at the first download ({when}, {paths.recorded_sha256})"


# ----------------------------------------------------------------------------------- archives


def _unpack(download: Download, paths: DownloadPaths, log) -> None:
    if paths.unpacked.exists():
        log(f"{paths.unpacked} is present: not unpacked again")
        return
    with atomic_directory(paths.unpacked) as tmp:
        if download.archive == "tar.gz":
            try:
                with tarfile.open(paths.file, "r:gz") as archive:
                    archive.extractall(tmp, filter="data")  # no links out, no absolute paths, no devices
            except (tarfile.TarError, OSError, EOFError) as error:
                raise DownloadError(f"{paths.file}: cannot unpack as tar.gz: {error}") from None
        else:
            try:
                with zipfile.ZipFile(paths.file) as archive:
                    archive.extractall(tmp)  # zipfile drops absolute paths and `..`
            except (zipfile.BadZipFile, OSError) as error:
                raise DownloadError(f"{paths.file}: cannot unpack as zip: {error}") from None
        if not (tmp / download.member).exists():
            held = ", ".join(sorted(entry.name for entry in tmp.iterdir())) or "nothing"
            raise DownloadError(
                f"{paths.file}: the archive has no {download.member!r} (datasets.{download.name}.download.member); "
                f"at its top: {held}"
            )
    log(f"unpacked {paths.file} into {paths.unpacked}")
