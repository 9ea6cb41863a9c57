"""``tandem validate``: output format, exit codes, summaries."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tandem_cli.main import app

ROOT = Path(__file__).resolve().parent.parent
INVALID = ROOT / "tests" / "instruments" / "invalid"
EXAMPLE = ROOT / "tests" / "instruments" / "valid" / "team_check_in.yaml"
runner = CliRunner()


def test_valid_files_exit_0_with_a_summary() -> None:
    result = runner.invoke(app, ["validate", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        f"{EXAMPLE}: ok - team_check_in 1.0 (employee): 2 pages, 8 questions, 7 items, 2 constructs, "
        "2 units, languages en, de")


def test_shipped_instruments_validate() -> None:
    paths = sorted(str(p) for p in (ROOT / "instruments").glob("*.yaml"))
    result = runner.invoke(app, ["validate", *paths])
    assert result.exit_code == 0, result.output
    assert result.output.count(": ok - ") == len(paths)


def test_errors_exit_1_and_print_file_line_rule_item_and_fix() -> None:
    path = INVALID / "unknown_scale.yaml"
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"{path}:42:16: error [unknown-scale] item 'sat_1': scale 'agre5' is not defined. "
        "Fix: Did you mean 'agree5'? Defined scales: agree5.")


def test_warnings_alone_exit_0() -> None:
    path = INVALID / "construct_two_items.yaml"
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert f"{path}:77:12: warning [construct-size]" in result.output
    assert ": ok - " in result.output


def test_every_file_is_checked_even_after_an_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(INVALID / "tab_indentation.yaml"), str(tmp_path / "missing.yaml"),
                                 str(EXAMPLE)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[0].startswith(f"{INVALID / 'tab_indentation.yaml'}:4:1: error [yaml-syntax]")
    assert lines[1].startswith(f"{tmp_path / 'missing.yaml'}:0:0: error [file] no such file")
    assert lines[2].startswith(f"{EXAMPLE}: ok - ")


@pytest.mark.parametrize("name", ["binary_bytes.yaml", "alias_bomb.yaml", "top_level_list.yaml", "empty_file.yaml"])
def test_hostile_files_give_a_message_not_a_traceback(name: str) -> None:
    result = runner.invoke(app, ["validate", str(INVALID / name)])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert result.output.startswith(f"{INVALID / name}:")


@pytest.mark.skipif(shutil.which("tandem", path=str(ROOT / ".venv" / "bin")) is None,
                    reason="the console script is not installed in .venv")
def test_console_script_validates_the_shipped_instruments() -> None:
    paths = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "instruments").glob("*.yaml"))
    done = subprocess.run([str(ROOT / ".venv" / "bin" / "tandem"), "validate", *paths], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
