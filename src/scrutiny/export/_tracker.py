"""Opening an MLflow tracking store for an export: import check, URI checks, one-process lock, runs found by a tag.

Every failure a user can cause (MLflow missing, a URI that is unreachable, refused or malformed, an experiment that
was deleted, a second export running) is an :class:`ExportError`: one line naming the parameter and the value.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from scrutiny.errors import ScrutinyError

PIP_HINT = "pip install 'scrutiny[mlflow]'"
# Bounded HTTP behaviour while exporting, unless the user set these (MLflow's defaults retry for minutes).
HTTP_LIMITS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}


class ExportError(ScrutinyError):
    """An export that cannot start or go on: MLflow missing, a bad tracking URI or experiment, a held lock."""


def import_mlflow() -> Any:
    """The ``mlflow`` module, or a one-line :class:`ExportError` with the install command."""
    try:
        import mlflow
    except ImportError:
        raise ExportError(f"MLflow is not installed; install it with: {PIP_HINT}") from None
    return mlflow


def default_tracking_uri(store_root: str | Path) -> str:
    """``sqlite:///<store>/mlflow.db`` with the store's absolute path."""
    return f"sqlite:///{Path(store_root).resolve() / 'mlflow.db'}"


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (``None`` for other schemes or an in-memory database)."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///") :]
    return None if path in ("", ":memory:") else Path(path)


def probe_http(uri: str, timeout_s: float) -> None:
    """Fail in one line unless something answers HTTP at ``uri`` within ``timeout_s`` (any status counts)."""
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout_s):
            return
    except urllib.error.HTTPError:
        return  # a server answered: reachable
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ExportError(f"tracking_uri {uri}: unreachable ({reason}; waited at most {timeout_s:g} s)") from None


@contextmanager
def http_limits() -> Iterator[None]:
    """Set :data:`HTTP_LIMITS` for MLflow's HTTP client where the user has not; restore the environment after."""
    added = {k: v for k, v in HTTP_LIMITS.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


@contextmanager
def export_lock(uri: str) -> Iterator[None]:
    """Hold an exclusive lock beside a SQLite database, so that one process exports into it at a time."""
    path = sqlite_path(uri)
    if path is None:
        yield
        return
    import fcntl

    lock = path.parent / f".{path.name}.export-lock"
    with open(lock, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ExportError(f"tracking_uri {uri}: another export is writing this database; wait for it") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@dataclass
class Tracker:
    """An open MLflow client on one experiment.

    Attributes:
        client: The ``mlflow.MlflowClient``.
        uri: The tracking URI.
        experiment: The experiment's name.
        experiment_id: Its id.
    """

    client: Any
    uri: str
    experiment: str
    experiment_id: str
    _runs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def runs_by_tag(self, key: str) -> dict[str, Any]:
        """Active runs of the experiment that carry tag ``key``, by that tag's value (one search, paginated)."""
        if not self._runs:
            token, runs = None, []
            while True:
                page = self.client.search_runs([self.experiment_id], max_results=5000, page_token=token)
                runs += list(page)
                token = page.token
                if not token:
                    break
            for run in runs:
                for tag, value in run.data.tags.items():
                    self._runs.setdefault(tag, {})[value] = run
        return self._runs.get(key, {})


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "message", None) or exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


def check_uri(uri: str, timeout_s: float) -> None:
    """Fail in one line, before MLflow is asked, for a URI that cannot work: an unreachable server, a missing
    SQLite folder."""
    scheme = urlparse(uri).scheme
    if scheme in ("http", "https"):
        probe_http(uri, timeout_s)
    db = sqlite_path(uri)
    if db is not None and not db.parent.is_dir():
        raise ExportError(f"tracking_uri {uri}: folder {db.parent} does not exist")


@contextmanager
def open_tracker(uri: str, experiment: str, artifact_location: str | None = None, timeout_s: float = 5.0):
    """Yield a :class:`Tracker` on ``experiment`` (created when absent) at ``uri``, under the export lock.

    Args:
        uri: An MLflow tracking URI (``sqlite:///...``, ``http(s)://...``, ...). A ``file:`` URI or plain path
            is refused by MLflow 3.13+ unless ``MLFLOW_ALLOW_FILE_STORE=true``; that refusal is one line here.
        experiment: The experiment's name.
        artifact_location: Where a new experiment keeps artifacts (``None``: the tracking server's default).
        timeout_s: How long to wait for an HTTP tracking server to answer the first request.
    """
    mlflow = import_mlflow()
    from mlflow.exceptions import MlflowException

    check_uri(uri, timeout_s)
    with http_limits(), export_lock(uri):
        try:
            client = mlflow.MlflowClient(tracking_uri=uri)
            found = client.get_experiment_by_name(experiment)
            if found is None:
                experiment_id = client.create_experiment(experiment, artifact_location=artifact_location)
            elif found.lifecycle_stage != "active":
                raise ExportError(
                    f"experiment '{experiment}' is deleted in {uri}; restore it "
                    f"('mlflow experiments restore --experiment-id {found.experiment_id}') or choose another name"
                )
            else:
                experiment_id = found.experiment_id
        except MlflowException as exc:
            scheme = urlparse(uri).scheme
            if scheme in ("", "file") and "filesystem" in str(exc).lower():
                raise ExportError(
                    f"tracking_uri {uri}: this MLflow refuses the file store ('./mlruns' is deprecated); use a "
                    f"database such as sqlite:///{Path(uri.removeprefix('file://')).resolve()}.db, or set "
                    "MLFLOW_ALLOW_FILE_STORE=true"
                ) from None
            raise ExportError(f"tracking_uri {uri}: {_first_line(exc)}") from None
        try:
            yield Tracker(client, uri, experiment, experiment_id)
        except MlflowException as exc:
            if exc.error_code == "INVALID_PARAMETER_VALUE":
                raise  # a value this module built: a bug, keep the traceback
            raise ExportError(f"tracking_uri {uri}: {_first_line(exc)}") from None
