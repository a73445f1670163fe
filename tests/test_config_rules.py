"""Every configuration rule stops the real `pmax` at load: exit 2, one line naming the
file or variable and the key, no secret echoed, no database created.

The environment cases call `pmax`'s entry point in this process (`call_pmax`); a user
file's rule and the secret go through a real `pmax` subprocess (exit code, stderr)."""

from __future__ import annotations

import dataclasses
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from pmax_cli import call_pmax

from engine.config import load_config
from engine.config_model import leaf_keys, model_class
from engine.config_rules import MODELS, RULES, THEMES, UNCHECKED
from engine.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent


def run_pmax(
    args: list[str], env_extra: dict[str, str], home: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMAX_")}
    env.update(
        {
            "PYTHONPATH": str(REPO),
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / "cfg"),
            "XDG_DATA_HOME": str(home / "data"),
            **env_extra,
        }
    )
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args], cwd=REPO, env=env, text=True, capture_output=True, timeout=timeout
    )


ENV_CASES = [
    ("PMAX_PORTFOLIO__ORDER_TYPE", "stop", "portfolio.order_type must be one of market, limit"),
    ("PMAX_DEVICE__DEVICE", "tpu", "device.device must be auto, cpu, cuda or cuda:N"),
    ("PMAX_SIGNALS__HORIZON", "7", "signals.horizon = 7 is not one of forecast.horizons"),
    ("PMAX_FORECAST__MODELS", "", "forecast.models must not be empty"),
    ("PMAX_FORECAST__MODELS", "naive,prophet", "forecast.models names unknown model 'prophet'"),
    ("PMAX_FORECAST__HORIZONS", "", "forecast.horizons must not be empty"),
    ("PMAX_FORECAST__REFIT_EVERY", "0", "forecast.refit_every must be at least 1"),
    ("PMAX_FORECAST__LEVEL", "1.5", "forecast.level must lie in (0, 1)"),
    ("PMAX_FORECAST__FIT_WINDOW", "0", "forecast.fit_window must be at least 252"),
    ("PMAX_PORTFOLIO__LOOKBACK", "1", "portfolio.lookback must be at least 20"),
    ("PMAX_FORECAST__GARCH__DIST", "cauchy", "forecast.garch.dist must be one of t, normal"),
    ("PMAX_DATA__SOURCES", "bloomberg", "data.sources must be one of local, yfinance, finnhub"),
    ("PMAX_TUI__THEME", "pink", "tui.theme must be one of"),
    ("PMAX_BROKER__SLIPPAGE_BPS", "inf", "broker.slippage_bps must be a finite number"),
    ("PMAX_PORTFOLIO__INITIAL_CASH", "nan", "portfolio.initial_cash must be a finite number"),
    ("PMAX_RISK__DRAWDOWN_HALVE", "0.2", "risk.drawdown_halve (0.2) must be below risk.drawdown_flatten"),
    ("PMAX_DATA__WATCHLIST", "AAPL,ÄPPL", "data.watchlist has an invalid ticker 'ÄPPL'"),
    ("PMAX_APP__LOG_LEVEL", "loud", "app.log_level must be one of"),
    ("PMAX_REPLAY_START", "2016-02-01", "PMAX_REPLAY_START is not a pmax setting"),
    ("PMAX_FORECST__MODELS", "naive", "PMAX_FORECST__MODELS is not a pmax setting"),
]


@pytest.mark.parametrize(("name", "value", "fragment"), ENV_CASES, ids=[f"{n}={v}" for n, v, _ in ENV_CASES])
def test_bad_setting_in_environment_stops_pmax_before_the_database(
    tmp_path: Path, name: str, value: str, fragment: str
) -> None:
    db = tmp_path / "x.duckdb"
    result = call_pmax(tmp_path, "--run", "--cycles", "1", "--db", str(db), env={name: value})
    assert result.returncode == 2, result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"pmax: environment variable {name}") and fragment in first, first
    assert "Traceback" not in result.stderr
    assert not db.exists()


def test_misspelt_variable_gets_a_did_you_mean(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(env={"PMAX_REPLAY_START": "2016-02-01"})
    assert err.value.hint and "did you mean PMAX_REPLAY__START?" in err.value.hint
    with pytest.raises(ConfigError) as err:
        load_config(env={"PMAX_FORECAST__GARCH__DSIT": "t"})
    assert err.value.hint and "PMAX_FORECAST__GARCH__DIST" in err.value.hint


def test_user_file_rule_names_the_file_and_cross_field_rules(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text("[risk]\ndrawdown_halve = 0.3\ndrawdown_flatten = 0.2\n")
    db = tmp_path / "x.duckdb"
    result = run_pmax(["--run", "--config", str(path), "--db", str(db)], {}, tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"pmax: {path}: risk.drawdown_halve (0.3) must be below")
    assert not db.exists()


def test_secret_never_echoed(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[data]\nfinnhub_api_key = 987654321\n")
    result = run_pmax(["--run", "--config", str(path), "--db", str(tmp_path / "x.duckdb")], {}, tmp_path)
    assert result.returncode == 2
    assert "data.finnhub_api_key must be a string" in result.stderr
    assert "987654321" not in result.stderr + result.stdout


def _fresh_python(code: str) -> subprocess.CompletedProcess[str]:
    """`code` run by a new interpreter on this checkout (nothing imported beforehand)."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        text=True,
        capture_output=True,
        timeout=60,
    )


def test_rules_hold_without_importing_the_modules_that_use_them(tmp_path: Path) -> None:
    """A fresh interpreter that imports only engine.config still rejects every bad value."""
    code = (
        "from engine.config import load_config\n"
        "for env in ({'PMAX_PORTFOLIO__ORDER_TYPE': 'stop'}, {'PMAX_DEVICE__DEVICE': 'tpu'},"
        " {'PMAX_COPILOT__BACKEND': 'gpt'}):\n"
        "    try:\n        load_config(env=env)\n    except Exception as e:\n        print(type(e).__name__)\n"
    )
    out = _fresh_python(code)
    assert out.stdout.split() == ["ConfigError"] * 3, out.stderr


def test_typed_model_follows_default_toml() -> None:
    """Each table is a frozen dataclass whose fields are exactly default.toml's keys."""
    cfg = load_config()
    forecast = model_class("forecast")
    names = [f.name for f in dataclasses.fields(forecast)]
    assert "level" in names and "garch" in names
    assert isinstance(cfg.forecast.model, forecast)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.forecast.model.level = 0.5  # type: ignore[attr-defined]  # the point: it must raise
    assert cfg.forecast.garch.dist == "t" and dict(cfg.forecast.garch)["window"] == 504
    fields = {f.name: f for f in dataclasses.fields(forecast)}
    assert "Two-sided interval level" in fields["level"].metadata["doc"]
    assert model_class("quality")() == cfg.quality.model  # defaults come from the TOML
    assert pickle.loads(pickle.dumps(cfg.forecast.model)) == cfg.forecast.model  # crosses processes


def test_every_rule_names_a_real_setting() -> None:
    """A renamed key must not leave its rule silently unchecked."""
    keys = set(leaf_keys())
    assert not set(RULES) - keys
    assert not set(UNCHECKED) - keys


def test_every_setting_has_a_rule() -> None:
    """A key added to default.toml needs a rule in engine/config_rules.RULES (or a place in
    UNCHECKED when any value of its type is fine); booleans need none."""
    cfg = load_config(env={})
    missing = [
        k for k in leaf_keys() if k not in RULES and k not in UNCHECKED and not isinstance(cfg.get(k), (bool, dict))
    ]
    assert not missing, f"add a rule to engine/config_rules.RULES for: {', '.join(missing)}"


def test_model_list_matches_the_registry() -> None:
    from engine.forecast.registry import available

    assert list(MODELS) == available()


def test_loading_the_config_imports_no_heavy_library() -> None:
    code = (
        "import sys\nfrom engine.config import load_config\nload_config(env={})\n"
        "print(sorted(m for m in ('pandas', 'numpy', 'duckdb', 'textual', 'torch') if m in sys.modules))"
    )
    out = _fresh_python(code)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_theme_list_matches_textual() -> None:
    from textual.theme import BUILTIN_THEMES

    assert set(THEMES) == set(BUILTIN_THEMES)
