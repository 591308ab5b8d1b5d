"""The foundation CLI: datasets, encode, runs, prepare; errors are one line with exit status 2."""

from __future__ import annotations

import pytest

from core.cli.common import COMMANDS
from core.cli.main import build_parser, main
from core.store.runs import RunStore


def test_every_subcommand_has_help(capsys):
    build_parser()
    for name in COMMANDS:
        with pytest.raises(SystemExit) as exc:
            main([name, "--help"])
        assert exc.value.code == 0
        assert "usage" in capsys.readouterr().out


def test_datasets_lists_the_builtins(capsys):
    assert main(["datasets", "--encoders"]) == 0
    out = capsys.readouterr().out
    for name in ("stdlib-docs", "pydocs", "glove-6b-50d", "synthetic", "minilm", "tfidf-svd", "glove-avg"):
        assert name in out


def test_encode_a_user_csv_then_load_it_from_cache(fresh_home, tmp_path, capsys):
    f = tmp_path / "notes.csv"
    f.write_text("body,topic\n" + "".join(f"note number {i} about topic {i % 3},t{i % 3}\n" for i in range(40)))
    args = ["encode", "--path", str(f), "--text-column", "body", "--encoder", "tfidf-svd"]
    assert main(args) == 0
    assert "passages/s" in capsys.readouterr().out
    assert main(args) == 0
    assert "cached: loaded" in capsys.readouterr().out
    # a corrupted cache file is reported and re-encoded, not passed off as a cache hit
    (npy,) = (fresh_home / "artifacts" / "embeddings").glob("*.npy")
    data = bytearray(npy.read_bytes())
    data[-1] ^= 0xFF
    npy.write_bytes(bytes(data))
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert "cached embeddings were corrupt (checksum); re-encoded" in err
    assert out.startswith("re-encoded 40 x") and "cached: loaded" not in out


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (["encode", "--path", "/no/such/file.csv"], "no/such/file.csv"),
        (["encode", "--dataset", "nope"], "nope"),
        (["runs", "show", "999"], "no run #999"),
        (["runs", "show"], "needs a run number"),
        (["encode", "--dataset", "synthetic", "--param", "broken"], "KEY=VALUE"),
    ],
)
def test_errors_are_one_line_and_exit_2(fresh_home, capsys, args, phrase):
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    assert phrase in err


def test_bad_text_file_exits_2_with_the_reason(fresh_home, tmp_path, capsys):
    f = tmp_path / "latin1.csv"
    f.write_bytes("text\ncaf\xe9 au lait is a drink\n".encode("latin-1"))
    assert main(["encode", "--path", str(f), "--encoder", "tfidf-svd"]) == 2
    err = capsys.readouterr().err
    assert "UTF-8" in err or "utf-8" in err


def test_runs_list_show_export_delete(fresh_home, tmp_path, capsys):
    store = RunStore()
    rid = store.start_run("sweep", "d", "e", {"k": 10}, environment={})
    store.add_rows(rid, [{"method": "flat", "recall_at_k": 1.0}])
    store.finish_run(rid)
    assert main(["runs"]) == 0 and "sweep" in capsys.readouterr().out
    assert main(["runs", "show", str(rid)]) == 0 and "flat" in capsys.readouterr().out
    out = tmp_path / "rows.parquet"
    assert main(["runs", "export", str(rid), "--out", str(out)]) == 0 and out.exists()
    assert main(["runs", "delete", str(rid)]) == 0
    assert RunStore().list_runs() == []


def test_the_installed_console_script_and_python_m_core_give_the_same_commands():
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    script = Path(sys.executable).with_name("densescope")
    if not script.exists():
        script = shutil.which("densescope")
    if script is None:
        pytest.skip("the project is not installed (make installs it editable into .venv)")
    as_script = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    as_module = subprocess.run([sys.executable, "-m", "core", "--help"], capture_output=True, text=True, timeout=60)
    assert as_script.returncode == 0 and as_module.returncode == 0, as_script.stderr + as_module.stderr
    assert as_script.stdout.startswith("usage: densescope")
    for name in COMMANDS:
        assert name in as_script.stdout and name in as_module.stdout


def test_order_accepts_jobs_and_rejects_zero(fresh_home, capsys):
    data = ["--dataset", "synthetic", "--param", "n=400", "--param", "dim=16", "--param", "n_clusters=0"]
    study = ["--backend", "hnswlib", "--orders", "original,random", "--seeds", "2", "--efs", "10", "--queries", "40",
             "--lid-k", "20", "--M", "8", "--efc", "32"]
    assert main(["order", *data, *study, "--jobs", "2"]) == 0
    out = capsys.readouterr().out
    assert "3 builds, 2 at a time" in out and "hnswlib" in out
    (run,) = RunStore().list_runs(kind="order")
    assert "jobs" not in run.params and run.n_rows == 3
    assert main(["order", *data, *study, "--jobs", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: --jobs must be at least 1, got 0"


def test_output_cut_short_by_a_reader_exits_quietly(tmp_path):
    """`densescope runs show N --manifest | head` (issue 20): no BrokenPipeError traceback."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from core.store.runs import RunStore

    env = {**os.environ, "DENSESCOPE_HOME": str(tmp_path / "home")}
    store = RunStore(tmp_path / "home" / "runs.sqlite")
    run_id = store.start_run("sweep", "d", "e", {"pad": ["x" * 100] * 2000}, environment={})  # ~200 kB of JSON
    store.finish_run(run_id)
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(f"{sys.executable} -m core runs show {run_id} --manifest | head -c 100", shell=True,
                          cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert len(done.stdout) == 100
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr


def test_every_command_says_which_cached_files_it_recomputed(tmp_path):
    """Issue 19: a corrupt artifact found by any command (not only `encode`) is reported."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import numpy as np

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "DENSESCOPE_HOME": str(tmp_path / "home")}
    base = tmp_path / "base.npy"
    np.save(base, np.random.default_rng(0).standard_normal((300, 8)).astype(np.float32))
    cmd = [sys.executable, "-m", "core", "id", "--path", str(base)]
    first = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-1500:]
    assert "note: cached" not in first.stderr
    corrupted = 0
    for artifact in (tmp_path / "home" / "artifacts").rglob("*.npy"):
        with open(artifact, "r+b") as f:
            f.truncate(max(1, artifact.stat().st_size // 2))
        corrupted += 1
    assert corrupted
    again = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-1500:]
    assert "note: cached" in again.stderr and "deleted and recomputed" in again.stderr, again.stderr[-1500:]
