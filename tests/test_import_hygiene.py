"""The core stays headless and start-up stays light (checked in fresh interpreters)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("textual", "torch", "transformers", "lightgbm", "shap", "statsmodels", "arch")


def modules_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_engine_and_copilot_never_import_textual() -> None:
    loaded = modules_after(
        "import engine, engine.loop, engine.runtime, engine.stages, engine.feeds, engine.store, copilot\n"
        "import pkgutil, importlib\n"
        "for pkg in ('engine', 'copilot'):\n"
        "    for m in pkgutil.walk_packages(importlib.import_module(pkg).__path__, pkg + '.'):\n"
        "        importlib.import_module(m.name)"
    )
    assert not any(name == "textual" or name.startswith("textual.") for name in loaded)


def test_cli_start_up_imports_no_heavy_library() -> None:
    loaded = modules_after("import tui.cli")
    assert not [name for name in HEAVY if name in loaded]
    assert "duckdb" not in loaded and "pandas" not in loaded


def test_headless_path_imports_no_textual() -> None:
    loaded = modules_after("import tui.headless, engine.runtime")
    assert "textual" not in loaded


def test_the_app_defers_what_its_first_frame_does_not_draw() -> None:
    """Markdown answers (markdown-it, pygments) load with the first question, the risk
    stage with the first engine event and plotext with the first chart drawn: none is on
    the path to the first data row."""
    loaded = modules_after("import tui.served, tui.reads")
    assert "tui.app" in loaded
    late = ("markdown_it", "pygments", "engine.stages.risk", "plotext", "textual_plotext")
    assert not [name for name in late if name in loaded]
