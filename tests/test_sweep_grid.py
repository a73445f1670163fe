"""GRID.toml loading: the cartesian product, and every bad key or value refused at load (exit 2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import ConfigError
from engine.sweep.grid import load_grid
from tui.commands.common import load_cli_config

PMAX = [sys.executable, "-m", "tui.cli"]


def _grid(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "grid.toml"
    path.write_text(text)
    return path


def test_product_in_file_order_over_fixed(tmp_path: Path) -> None:
    path = _grid(
        tmp_path,
        """
[grid]
"broker.commission_bps" = [5.0, 30]
[grid.portfolio]
cash_buffer = [0.02, 0.1, 0.2]
[fixed]
"forecast.models" = ["naive", "drift"]
""",
    )
    grid = load_grid(path, load_cli_config(None))
    assert grid.keys == ("broker.commission_bps", "portfolio.cash_buffer")
    assert len(grid.trials) == 6
    assert grid.trials[1].params == {"broker.commission_bps": 5.0, "portfolio.cash_buffer": 0.1}
    last = grid.trials[-1].config
    assert last.broker.commission_bps == 30.0 and isinstance(last.broker.commission_bps, float)
    assert last.portfolio.cash_buffer == 0.2 and list(last.forecast.models) == ["naive", "drift"]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('[grid]\n"broker.comission_bps" = [1.0]\n', "unknown key broker.comission_bps"),
        ('[grid]\n"broker.commission_bps" = ["high"]\n', "broker.commission_bps must be a number"),
        ('[grid]\n"portfolio.order_type" = ["market", "stop"]\n', "portfolio.order_type must be one of"),
        ('[grid]\n"broker.commission_bps" = 5.0\n', "must be a non-empty list"),
        ('[grid]\n"broker.commission_bps" = []\n', "must be a non-empty list"),
        ("[grid]\n", "[grid] is empty"),
        ('[grid]\n"a.b" = [1]\n[extra]\nx = 1\n', "unknown table [extra]"),
        ('[grid]\n"app.db_path" = ["x.duckdb"]\n', "app.db_path cannot be swept"),
        ('[grid]\n"risk.mc_paths" = [10]\n[fixed]\n"risk.mc_paths" = 5\n', "in both [grid] and [fixed]"),
        ('[grid]\n"risk.mc_paths" = [10]\n[fixed]\n"forecast.modls" = ["naive"]\n', "unknown key forecast.modls"),
        ("[grid\n", "not valid TOML"),
    ],
)
def test_bad_grids_are_refused_naming_the_key(tmp_path: Path, text: str, needle: str) -> None:
    path = _grid(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_grid(path, load_cli_config(None))
    assert needle in info.value.message and str(path) in info.value.message


def _pmax(*args: str, pre: str = "") -> subprocess.CompletedProcess[str]:
    code = f"import sys; {pre}from tui.cli import main; main(sys.argv[1:])"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=os.environ.copy(), timeout=120
    )


def test_cli_bad_grid_exits_2_with_one_line_and_no_database(tmp_path: Path) -> None:
    path = _grid(tmp_path, '[grid]\n"signals.prob_bnd" = [0.01, 0.02]\n')
    db = tmp_path / "ledger.duckdb"
    result = _pmax("sweep", str(path), "--db", str(db))
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"pmax: {path} [grid]: unknown key signals.prob_bnd")
    assert "Traceback" not in result.stderr and not db.exists()
    missing = _pmax("sweep", str(tmp_path / "nope.toml"), "--db", str(db))
    assert missing.returncode == 2 and "does not exist" in missing.stderr and not db.exists()
    models = _grid(tmp_path, '[grid]\n"forecast.models" = [["naive"], ["bogus"]]\n')
    bogus = _pmax("sweep", str(models), "--db", str(db))
    assert bogus.returncode == 2 and "unknown model 'bogus'" in bogus.stderr and not db.exists()


def test_cli_bad_data_file_exits_2_before_the_database(tmp_path: Path) -> None:
    path = _grid(tmp_path, '[grid]\n"risk.mc_paths" = [0, 10]\n')
    bad = tmp_path / "bad.csv"
    bad.write_text("date,ticker\n2016-01-04,A\n")
    db = tmp_path / "ledger.duckdb"
    result = _pmax("sweep", str(path), "--data", str(bad), "--db", str(db))
    assert result.returncode == 2 and result.stderr.startswith("pmax: data file")
    assert not db.exists()


def test_cli_ray_without_ray_is_one_line(tmp_path: Path) -> None:
    path = _grid(tmp_path, '[grid]\n"risk.mc_paths" = [0, 10]\n')
    db = tmp_path / "ledger.duckdb"
    result = _pmax("sweep", str(path), "--engine", "ray", "--db", str(db), pre="sys.modules['ray'] = None; ")
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == "pmax: --engine ray needs Ray, which is not installed"
    assert "pmax[cluster]" in result.stderr and not db.exists()


def test_cli_until_before_the_start_exits_2(tmp_path: Path) -> None:
    path = _grid(tmp_path, '[grid]\n"risk.mc_paths" = [0, 10]\n')
    db = tmp_path / "ledger.duckdb"
    result = _pmax("sweep", str(path), "--until", "2015-06-30", "--db", str(db))
    assert result.returncode == 2
    assert result.stderr.startswith("pmax: --until 2015-06-30 is before the replay start 2016-01-04")
    address = _pmax("sweep", str(path), "--address", "auto", "--db", str(db))
    assert address.returncode == 2 and "--address works with --engine ray" in address.stderr
    assert not db.exists()


def test_cli_unreachable_ray_address_exits_2_before_the_database(tmp_path: Path) -> None:
    path = _grid(tmp_path, '[grid]\n"risk.mc_paths" = [0, 10]\n')
    db = tmp_path / "ledger.duckdb"
    result = _pmax("sweep", str(path), "--engine", "ray", "--address", "127.0.0.1:1", "--db", str(db))
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == "pmax: cannot reach the Ray cluster at 127.0.0.1:1"
    assert not db.exists()


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("PMAX_SWEEP__ENGINE", "spark", "sweep.engine must be one of local, ray"),
        ("PMAX_SWEEP__PBO_BLOCKS", "3", "sweep.pbo_blocks must be an even number"),
        ("PMAX_SWEEP__DSR_THRESHOLD", "1.0", "sweep.dsr_threshold must lie in (0, 1)"),
    ],
)
def test_sweep_settings_are_checked_at_load(name: str, value: str, needle: str) -> None:
    from engine.config import load_config

    with pytest.raises(ConfigError) as info:
        load_config(env={name: value})
    assert needle in info.value.message
