"""`make demo`'s options: the training budget reaches tools/make_demo.py, and a reused checkpoint says its budget."""

import importlib.util
import json
import subprocess

import pytest
from tool_helpers import REPO


def _make_demo():
    spec = importlib.util.spec_from_file_location("make_demo", REPO / "tools" / "make_demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_demo_passes_minutes_and_fresh_to_the_script():
    dry_run = subprocess.run(
        ["make", "-n", "demo", "MINUTES=3", "FRESH=1"], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert "tools/make_demo.py --fresh --minutes 3" in dry_run.stdout
    default = subprocess.run(["make", "-n", "demo"], cwd=REPO, capture_output=True, text=True, check=True)
    assert "--minutes" not in default.stdout and "--fresh" not in default.stdout


def test_a_budget_that_is_not_positive_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        _make_demo().run(["--work-dir", str(tmp_path / "demo"), "--minutes", "0"])
    assert "--minutes must be positive, got 0" in capsys.readouterr().err
    assert not (tmp_path / "demo").exists()


def test_a_reused_checkpoint_names_its_budget_and_how_to_train_again(tmp_path, capsys):
    (tmp_path / "train").mkdir()
    checkpoint = tmp_path / "train" / "1_fusion" / "iter_9.pth"
    (tmp_path / "train" / "done.json").write_text(json.dumps({"checkpoint": str(checkpoint), "minutes": 8.0}))
    assert _make_demo().train(tmp_path, tmp_path / "data", 3.0) == checkpoint
    out = capsys.readouterr().out
    assert f"reusing {checkpoint}, trained for about 8.0 minutes" in out
    assert "`make demo FRESH=1 MINUTES=3` trains again" in out
