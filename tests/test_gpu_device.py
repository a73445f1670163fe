"""engine.device: device choice, bad values, the torch-free CPU path, determinism."""

from __future__ import annotations

import subprocess
import sys

import pytest

from engine.config import load_config
from engine.device import DeviceInfo, device_from_config, parse_device, select_device, set_deterministic
from engine.errors import ConfigError, UsageError


def _cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def test_cpu_never_imports_torch() -> None:
    code = (
        "import sys; from engine.device import select_device; "
        "info = select_device('cpu'); "
        "print(info.name, info.kind, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["cpu", "cpu", "False"]


@pytest.mark.parametrize("pref", ["gpu", "cuda:", "cuda:x", "cuda:-1", "", "CPU0", "mps", "cuda 0"])
def test_bad_values_are_usage_errors_with_a_hint(pref: str) -> None:
    with pytest.raises(UsageError) as err:
        select_device(pref)
    assert err.value.exit_code == 2
    assert err.value.hint and "cuda:N" in err.value.hint


@pytest.mark.parametrize(
    ("pref", "parsed"),
    [("auto", ("auto", None)), ("CPU", ("cpu", None)), ("cuda", ("cuda", None)), ("cuda:3", ("cuda", 3))],
)
def test_parse_device(pref: str, parsed: tuple[str, int | None]) -> None:
    assert parse_device(pref) == parsed


def test_auto_picks_cuda_only_when_torch_sees_it() -> None:
    info = select_device("auto")
    assert isinstance(info, DeviceInfo)
    if _cuda_available():
        assert (info.name, info.kind) == ("cuda:0", "cuda")
    else:
        assert (info.name, info.kind, info.is_cuda) == ("cpu", "cpu", False)
        assert "CPU" in info.detail


@pytest.mark.parametrize("pref", ["cuda", "cuda:0", "cuda:7"])
def test_cuda_requested(pref: str) -> None:
    import torch

    count = torch.cuda.device_count() if _cuda_available() else 0
    index = 0 if pref == "cuda" else int(pref.split(":")[1])
    if index < count:
        assert select_device(pref).name == f"cuda:{index}"
    else:
        with pytest.raises(UsageError) as err:
            select_device(pref)
        assert err.value.hint


def test_config_rejects_a_bad_device_and_accepts_good_ones() -> None:
    with pytest.raises(ConfigError, match=r"device\.device"):
        load_config(env={"PMAX_DEVICE__DEVICE": "gpu"})
    for good in ("auto", "cpu", "cuda", "cuda:1"):
        assert load_config(env={"PMAX_DEVICE__DEVICE": good}).device.device == good


def test_set_deterministic_repeats_draws() -> None:
    import torch

    set_deterministic(123)
    a = torch.randn(5)
    set_deterministic(123)
    b = torch.randn(5)
    set_deterministic(124)
    c = torch.randn(5)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    torch.use_deterministic_algorithms(False)


def test_device_from_config_follows_the_setting() -> None:
    assert device_from_config(load_config(env={"PMAX_DEVICE__DEVICE": "cpu"})).name == "cpu"
    cfg = load_config(env={"PMAX_DEVICE__DEVICE": "cuda:0"})
    if _cuda_available():
        assert device_from_config(cfg).name == "cuda:0"
    else:
        with pytest.raises(UsageError):
            device_from_config(cfg)


def test_gpu_modules_import_without_torch_or_arch() -> None:
    code = (
        "import sys; import engine.device, engine.gpu.montecarlo, engine.portfolio.stress, engine.portfolio.mc_models, "
        "engine.gpu.neural_net, engine.forecast.models.neural; "
        "print(sorted(m for m in ('torch', 'arch', 'textual') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
