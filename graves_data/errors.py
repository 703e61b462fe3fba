"""Every error graves-data raises on purpose, in one tree.

`GravesDataError` and its subclasses are user errors: the CLI prints their message as one line
and exits non-zero, without a traceback. Anything else is a bug and keeps its traceback.

`BadInput` is the one raised for a damaged input among many (a stroke file, a transcription, a
page): under `--on-bad-input skip` the runner turns it into a quarantine entry with its `code`
and message instead of failing the build.
"""

from __future__ import annotations


class GravesDataError(Exception):
    """A problem the user can act on; the message names the file and what is wrong."""

    exit_code = 2


class UsageError(GravesDataError):
    """Arguments that cannot work together, or an unknown name."""


class InputNotFound(GravesDataError):
    """Something the user named directly does not exist."""


class NotACorpus(GravesDataError):
    """The raw folder or archive does not have the layout of the corpus asked for."""


class UnreadableArchive(GravesDataError):
    """An archive that cannot be opened or listed (truncated download, wrong format)."""


class OutputExists(GravesDataError):
    """The output folder holds something the build would overwrite."""


class DiskFull(GravesDataError):
    """No space left (or the quota spent) while writing an output (a shard, a checkpoint, a
    download); nothing half-written kept."""


class DatasetError(GravesDataError):
    """A built dataset is missing, incomplete or does not match its manifest."""


class BadInput(GravesDataError):
    """One damaged input unit (a file, a form, a page) that can be quarantined.

    `code` is a short stable key (counted in stats), `source` the path of the input
    relative to the raw root, `reason` the human sentence.
    """

    def __init__(self, source: str, code: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.code = code
        self.reason = reason

    def __reduce__(self) -> tuple[type[BadInput], tuple[str, str, str]]:
        return (type(self), (self.source, self.code, self.reason))


# --- downloads (graves_data.download) -------------------------------------------------------
class DownloadError(GravesDataError):
    """A download that cannot complete; the message names the file or the site and why."""


class AuthenticationFailed(DownloadError):
    """The server refused the login (HTTP 401 or 403)."""


class SiteUnreachable(DownloadError):
    """No connection to the site: DNS failure, connection refused, timeouts."""


class RemoteNotFound(DownloadError):
    """The server has no such file (HTTP 404)."""


class DumpNotFound(RemoteNotFound):
    """A Wikipedia dump date (or language) that the dump site does not have."""


class IntegrityError(DownloadError):
    """A file whose size or checksum differs from what its publisher states."""


class SourcesFileError(GravesDataError):
    """A SOURCES.json that cannot be read or does not have the expected shape."""
