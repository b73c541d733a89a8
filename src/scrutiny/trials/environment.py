"""Provenance: what produced a trial (code, command, packages, hardware) and the backend flags that change numbers."""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import socket
import subprocess
import sys
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from scrutiny._version import __version__

PACKAGES = ("scrutiny", "torch", "torchvision", "numpy", "scipy", "scikit-learn", "pydantic", "timm", "pyyaml")
MAX_DIFF_BYTES = 1_000_000


def _git(args: list[str], cwd: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout if out.returncode == 0 else None


def git_state(cwd: str | None = None) -> dict[str, Any]:
    """Commit, dirty flag and diff of the working directory's git repository (``{"repo": false}`` outside one)."""
    cwd = cwd or os.getcwd()
    top = _git(["rev-parse", "--show-toplevel"], cwd)
    if top is None:
        return {"repo": False}
    commit = (_git(["rev-parse", "HEAD"], cwd) or "").strip() or None
    status = _git(["status", "--porcelain", "--untracked-files=no"], cwd) or ""
    diff = _git(["diff", "HEAD"], cwd) if commit else None
    truncated = diff is not None and len(diff) > MAX_DIFF_BYTES
    return {
        "repo": True,
        "root": top.strip(),
        "commit": commit,
        "dirty": bool(status.strip()),
        "diff": diff[:MAX_DIFF_BYTES] if diff else diff,
        "diff_truncated": truncated,
    }


@functools.cache
def scrutiny_source() -> dict[str, Any]:
    """The code of scrutiny that runs in this process: its version, and the git state of the installed package's
    own folder (not the working directory's).

    Returns:
        ``version``, ``path`` (the package folder), and where that folder is tracked in a git checkout (an
        editable install) ``commit``, ``dirty`` (tracked changes or untracked files under it) and, when dirty,
        ``changes_sha256``: a digest of the diff and of the untracked files, so two different sets of edits on
        one commit tell apart. ``commit`` is ``None`` for an installed wheel (even inside another repository).
        Computed once per process: it describes the code that was imported.
    """
    folder = Path(__file__).resolve().parents[1]
    out: dict[str, Any] = {"version": __version__, "path": str(folder), "commit": None, "dirty": None}
    cwd = str(folder)
    if _git(["ls-files", "--error-unmatch", "--", "__init__.py"], cwd) is None:
        return out  # not a git checkout of scrutiny (a wheel in site-packages, even inside a repository)
    top = (_git(["rev-parse", "--show-toplevel"], cwd) or "").strip()
    out["commit"] = (_git(["rev-parse", "HEAD"], cwd) or "").strip() or None
    status = _git(["status", "--porcelain", "--untracked-files=all", "--", "."], cwd)
    out["dirty"] = None if status is None else bool(status.strip())
    if status is not None and out["dirty"]:
        digest = hashlib.sha256((_git(["diff", "HEAD", "--", "."], cwd) or "").encode())
        for line in sorted(status.splitlines()):  # porcelain paths are relative to the top of the repository
            if line.startswith("?? ") and top:
                digest.update(line.encode())
                try:
                    digest.update(Path(top, line[3:].strip('"')).read_bytes())
                except OSError:
                    pass
        out["changes_sha256"] = digest.hexdigest()
    return out


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def capture_environment(device: torch.device) -> dict[str, Any]:
    """Everything about the machine and code that a number may depend on (the backend flags come separately).

    ``git`` is the working directory's repository (the user's project); ``scrutiny`` is scrutiny's own code
    (:func:`scrutiny_source`). The user modules and files that a spec names are part of the trial's id; their
    digests are in ``spec.json`` (``code``).
    """
    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    return {
        "command": sys.argv,
        "cwd": os.getcwd(),
        "git": git_state(),
        "scrutiny": scrutiny_source(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "packages": package_versions(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": cudnn,
        "device": str(device),
        "device_name": device_name(device),
        "device_placement": device_placement(device),
        "cpu_count": os.cpu_count(),
    }


def device_placement(device: torch.device) -> dict[str, Any]:
    """Which physical device a trial ran on: with GPUs, the process's ``CUDA_VISIBLE_DEVICES`` (a worker sees one
    GPU), the index it used, and the GPU's UUID and PCI bus id, which name it across processes and renumberings."""
    out: dict[str, Any] = {"host": socket.gethostname(), "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES")}
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        props = torch.cuda.get_device_properties(index)
        uuid = getattr(props, "uuid", None)
        out.update(
            index=index,
            uuid=str(uuid) if uuid is not None else None,
            pci_bus_id=getattr(props, "pci_bus_id", None),
            total_memory=props.total_memory,
        )
    return out


def backend_flags() -> dict[str, Any]:
    """The current values of every torch flag that changes numbers."""
    return {
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "cudnn_deterministic": torch.backends.cudnn.deterministic,
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "cuda_matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
        "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
        "num_threads": torch.get_num_threads(),
        "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
    }


@contextmanager
def backend_settings(*, deterministic: bool, cudnn_benchmark: bool, tf32: bool, threads: int | None):
    """Set every number-changing flag explicitly for one trial, and restore the previous values afterwards."""
    before = backend_flags()
    env_before = os.environ.get("CUBLAS_WORKSPACE_CONFIG")
    try:
        if deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        _set_deterministic(deterministic)
        torch.backends.cudnn.deterministic = deterministic
        torch.backends.cudnn.benchmark = cudnn_benchmark and not deterministic
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        torch.set_float32_matmul_precision("high" if tf32 else "highest")
        if threads:
            torch.set_num_threads(threads)
        yield backend_flags()
    finally:
        _set_deterministic(before["deterministic_algorithms"])
        torch.backends.cudnn.deterministic = before["cudnn_deterministic"]
        torch.backends.cudnn.benchmark = before["cudnn_benchmark"]
        torch.backends.cuda.matmul.allow_tf32 = before["cuda_matmul_allow_tf32"]
        torch.backends.cudnn.allow_tf32 = before["cudnn_allow_tf32"]
        torch.set_float32_matmul_precision(before["float32_matmul_precision"])
        torch.set_num_threads(before["num_threads"])
        if env_before is None:
            os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)
        else:
            os.environ["CUBLAS_WORKSPACE_CONFIG"] = env_before


def _set_deterministic(value: bool) -> None:
    # Calling torch.use_deterministic_algorithms imports torch._inductor (seconds): only call it for a change.
    if torch.are_deterministic_algorithms_enabled() != value:
        torch.use_deterministic_algorithms(value)
