"""Device choice for the GPU-capable parts of the engine (neural model, Monte-Carlo).

`select_device("auto")` picks CUDA when torch can see it and the CPU otherwise;
`"cpu"`, `"cuda"` and `"cuda:N"` force a choice. `select_device("cpu")` never
imports torch, and `"auto"` imports it only when the machine shows an NVIDIA
driver, so start-up on a CPU-only box stays fast. `set_deterministic(seed)` seeds
torch and turns on its deterministic algorithms.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import UsageError

_PATTERN = re.compile(r"^(auto|cpu|cuda(?::(\d+))?)$")
_HINT = 'use "auto", "cpu", "cuda" or "cuda:N" (N = GPU index), e.g. PMAX_DEVICE__DEVICE=cpu'
# Files that exist when an NVIDIA driver is loaded (Linux, and WSL2's /dev/dxg).
_DRIVER_MARKERS = ("/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/dxg")


@dataclass(frozen=True)
class DeviceInfo:
    """The device a computation runs on.

    Attributes:
        name: torch device string, "cpu" or "cuda:N".
        kind: "cpu" or "cuda".
        detail: a human description (GPU model and memory, or the CPU thread count).
    """

    name: str
    kind: str
    detail: str

    @property
    def is_cuda(self) -> bool:
        return self.kind == "cuda"


def parse_device(pref: str) -> tuple[str, int | None]:
    """Split a device preference into (kind, index); kind is auto, cpu or cuda.

    Raises:
        UsageError: the preference is not one of auto, cpu, cuda, cuda:N.
    """
    text = str(pref).strip().lower()
    match = _PATTERN.match(text)
    if match is None:
        raise UsageError(f"unknown device {pref!r}", _HINT)
    if text in ("auto", "cpu"):
        return text, None
    return "cuda", int(match.group(2)) if match.group(2) is not None else None


def _cpu_info() -> DeviceInfo:
    threads = os.cpu_count() or 1
    return DeviceInfo(name="cpu", kind="cpu", detail=f"CPU ({threads} threads)")


def _driver_present() -> bool:
    return any(Path(marker).exists() for marker in _DRIVER_MARKERS)


def _torch_or_none() -> Any:
    try:
        import torch
    except ImportError:
        return None
    return torch


def _cuda_info(torch: Any, index: int) -> DeviceInfo:
    props = torch.cuda.get_device_properties(index)
    gib = props.total_memory / 2**30
    return DeviceInfo(name=f"cuda:{index}", kind="cuda", detail=f"{props.name} ({gib:.0f} GiB)")


def select_device(pref: str = "auto") -> DeviceInfo:
    """Resolve a device preference to the device computations will use.

    Args:
        pref: "auto" (CUDA when available, else CPU), "cpu", "cuda" or "cuda:N".

    Raises:
        UsageError: a malformed preference, or CUDA asked for but not available.
    """
    kind, index = parse_device(pref)
    if kind == "cpu":
        return _cpu_info()
    if kind == "auto":
        # Skip the torch import (about a second) when no NVIDIA driver is loaded.
        if "torch" not in sys.modules and not _driver_present():
            return _cpu_info()
        torch = _torch_or_none()
        if torch is None or not torch.cuda.is_available():
            return _cpu_info()
        return _cuda_info(torch, 0)
    torch = _torch_or_none()
    if torch is None:
        raise UsageError(f"device {pref!r} asked for, but torch is not installed", 'set [device] device = "cpu"')
    if not torch.cuda.is_available():
        raise UsageError(
            f"device {pref!r} asked for, but torch sees no CUDA GPU",
            'set [device] device = "cpu" or "auto" (PMAX_DEVICE__DEVICE=auto), or install a CUDA build of torch',
        )
    count = torch.cuda.device_count()
    index = 0 if index is None else index
    if index >= count:
        raise UsageError(
            f"device {pref!r} asked for, but only {count} CUDA GPU(s) are visible", f"use cuda:0 … cuda:{count - 1}"
        )
    return _cuda_info(torch, index)


def device_from_config(config: Any) -> DeviceInfo:
    """The device `[device] device` asks for; on CUDA, seeded and deterministic if configured.

    `config` is an `engine.config.Config` (not imported here: config's rules import this
    module to check `[device] device`). The engine passes `info.name` to `Engine(device=...)`; headers and `--json` show
    `info.name` and `info.detail`. CPU paths seed themselves, so torch stays unimported.
    """
    info = select_device(config.device.device)
    if info.is_cuda and config.device.deterministic:
        set_deterministic(config.app.seed, info)
    return info


def set_deterministic(seed: int, device: str | DeviceInfo = "cpu") -> None:
    """Seed torch and ask for deterministic kernels, so a rerun gives the same numbers.

    Imports torch. On CUDA this also sets the cuBLAS workspace variable that
    deterministic matrix products need (it must be set before the first cuBLAS call).
    """
    name = device.name if isinstance(device, DeviceInfo) else str(device)
    if name.startswith("cuda"):
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    import torch

    torch.manual_seed(int(seed))
    torch.use_deterministic_algorithms(True, warn_only=True)
    if torch.backends.cudnn.is_available():
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
