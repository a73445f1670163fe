"""Config: layering, strict types, unknown keys, environment and overrides."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from engine.config import load_config, user_config_path
from engine.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_defaults_load_with_types() -> None:
    cfg = load_config()
    assert cfg.replay.start == dt.date(2016, 1, 4)
    assert cfg.app.account == "paper"
    assert isinstance(cfg.portfolio.initial_cash, float)


def test_user_file_then_env_then_overrides(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", '[replay]\nstart = 2016-03-01\ninterval_s = 2\n[app]\naccount = "a1"\n')
    cfg = load_config(path, env={"PMAX_APP__ACCOUNT": "a2"}, overrides={"replay.data": "x.csv"})
    assert cfg.replay.start == dt.date(2016, 3, 1)
    assert cfg.replay.interval_s == 2.0 and isinstance(cfg.replay.interval_s, float)
    assert cfg.app.account == "a2"
    assert cfg.replay.data == "x.csv"


def test_user_file_discovered_in_xdg_config_home() -> None:
    path = user_config_path()
    path.parent.mkdir(parents=True)
    path.write_text('[app]\naccount = "from-user-file"\n')
    assert load_config().app.account == "from-user-file"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[replay]\nstartt = 2016-01-04\n", "unknown key replay.startt"),
        ("[nosuch]\nx = 1\n", "unknown key nosuch"),
        ('[replay]\nstart = "tomorrow"\n', "replay.start must be a date"),
        ('[portfolio]\ninitial_cash = "lots"\n', "portfolio.initial_cash must be a number"),
        ("[app]\nseed = 1.5\n", "app.seed must be an integer"),
        ('[app]\nlog_level = "loud"\n', "app.log_level must be one of"),
        ("[replay\n", "not valid TOML"),
    ],
)
def test_bad_user_file_names_file_and_key(tmp_path: Path, text: str, fragment: str) -> None:
    path = write(tmp_path / "bad.toml", text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert fragment in err.value.message
    assert "bad.toml" in err.value.message
    assert err.value.exit_code == 2


def test_bad_environment_value_names_variable() -> None:
    with pytest.raises(ConfigError, match="PMAX_REPLAY__START"):
        load_config(env={"PMAX_REPLAY__START": "not-a-date"})
    with pytest.raises(ConfigError, match=r"unknown key replay\.nope"):
        load_config(env={"PMAX_REPLAY__NOPE": "1"})


def test_missing_explicit_file_is_usage_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "absent.toml")


def test_keymap_is_an_open_table(tmp_path: Path) -> None:
    path = write(tmp_path / "k.toml", '[keymap]\nquit = "ctrl+q"\n')
    assert load_config(path).keymap["quit"] == "ctrl+q"


def test_cli_bad_config_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tui.cli import main

    path = write(tmp_path / "bad.toml", "[replay]\nstartt = 1\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["--run", "--config", str(path), "--db", str(tmp_path / "x.duckdb")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("pmax: ") and "replay.startt" in err and "Traceback" not in err
    assert not (tmp_path / "x.duckdb").exists()
