"""Device resolution, defined once: every room that turns a requested device into a ``torch.device`` calls this."""

from __future__ import annotations

import torch

from scrutiny.errors import ScrutinyError


def resolve_device(requested: str | torch.device, parameter: str = "device") -> torch.device:
    """``auto`` -> the first CUDA device when there is one, else the CPU; anything else as given.

    Args:
        requested: ``auto``, ``cpu``, ``cuda``, ``cuda:N``, ``mps`` or a ``torch.device``.
        parameter: The parameter or spec key that asked for it, named in the error.

    Raises:
        ScrutinyError: CUDA was asked for on a machine without a CUDA device.
    """
    name = str(requested)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ScrutinyError(f"{parameter}: {name!r} was asked for but no CUDA device is available (use cpu or auto)")
    try:
        return torch.device(requested)
    except RuntimeError as exc:
        raise ScrutinyError(f"{parameter}: {name!r} is not a device ({exc})") from None
