"""Load progress (pure): rchar, the model's parts and size, rate/ETA, the estimate, the history file."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from gb10dash.core.load_progress import (
    LoadHistory,
    ReadTracker,
    estimated,
    measured,
    model_parts,
    parse_rchar,
    parse_sizes,
    reads_count_load,
    served_model_path,
    sizes_argv,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "proc"
GIB = 2**30


def test_rchar_from_a_recorded_proc_io() -> None:
    assert parse_rchar((FIXTURES / "io-cat.txt").read_text()) == 6976
    with pytest.raises(ValueError):
        parse_rchar((FIXTURES / "status-lab-cat.txt").read_text())  # not /proc/PID/io
    with pytest.raises(ValueError):
        parse_rchar("rchar: lots\n")


def test_the_served_model_is_the_units_m_path_and_all_split_parts_count() -> None:
    argv = ["/opt/llama-server", "-m", "/mnt/models/gpt-oss-120b-mxfp4-00001-of-00003.gguf", "-c", "8192"]
    path = served_model_path(argv, "/mnt/models/configured.gguf")
    assert model_parts(path) == tuple(f"/mnt/models/gpt-oss-120b-mxfp4-0000{n}-of-00003.gguf" for n in (1, 2, 3))
    assert served_model_path(["llama-server", "--model=/m/a.gguf"], "/c.gguf") == "/m/a.gguf"
    assert served_model_path(None, "/c.gguf") == "/c.gguf"
    assert model_parts("/m/Qwen3-8B-Q8_0.gguf") == ("/m/Qwen3-8B-Q8_0.gguf",)
    assert model_parts("/m/x-00001-of-00001.gguf") == ("/m/x-00001-of-00001.gguf",)
    argv = sizes_argv(model_parts(path))
    assert argv[:4] == ["stat", "-L", "--printf=%s\\n", "--"] and len(argv) == 7  # argv, never a shell string
    assert parse_sizes("1000\n2000\n500\n", 3) == 3500
    with pytest.raises(ValueError):
        parse_sizes("1000\n", 3)  # a part missing


def test_only_a_load_that_reads_is_measured_by_rchar() -> None:
    assert reads_count_load(["llama-server", "--load-mode", "none"])
    assert reads_count_load(["llama-server", "-lm", "dio"])
    assert reads_count_load(["llama-server", "--no-mmap"])  # older builds (the GB10 hosts)
    assert not reads_count_load(["llama-server", "--load-mode", "mmap"])
    assert not reads_count_load(["llama-server", "-m", "x.gguf"])  # default: mapped


def test_rate_and_eta_over_the_last_seconds() -> None:
    tracker = ReadTracker(total_bytes=3 * GIB, window_s=5.0)
    first = tracker.add(100.0, 0)
    assert first.fraction == 0 and first.rate_bps is None and first.eta_s is None
    p = None
    for second in range(1, 11):  # 100 MiB/s for 10 s
        p = tracker.add(100.0 + second, second * 100 * 2**20)
    assert p is not None and p.rate_bps == pytest.approx(100 * 2**20)
    assert p.fraction == pytest.approx(1000 / 3072) and p.eta_s == pytest.approx(20.72, abs=0.01)
    assert p.describe() == "loading 33 % · 1000.0 MiB of 3.0 GiB · 100 MiB/s · ETA 21 s"
    assert tracker.samples[0][0] >= 105.0  # only the window is kept
    # faster now: the rate follows within the window
    for second in range(11, 17):
        p = tracker.add(100.0 + second, p.read_bytes + 400 * 2**20)
    assert p.rate_bps == pytest.approx(400 * 2**20)
    assert not p.estimated and p.fraction <= 1.0
    # a smaller count: another process; never a negative rate
    assert tracker.add(120.0, 10).rate_bps is None


def test_progress_never_passes_100_percent() -> None:
    p = measured([(0.0, 0), (1.0, 5000)], 4000)  # rchar also counts other reads
    assert p.fraction == 1.0 and p.eta_s == 0.0


def test_the_estimate_rests_on_the_median_of_past_loads() -> None:
    p = estimated(6.0, [10.0, 30.0, 12.0], "/proc/1/io not readable (permission denied)")
    assert p.estimated and p.past_loads == 3 and p.fraction == pytest.approx(0.5) and p.eta_s == pytest.approx(6.0)
    assert p.describe() == "loading ~50 % (estimate from 3 past loads) · ETA ~6 s"
    late = estimated(40.0, [10.0], "x")
    assert late.fraction == 0.99 and late.eta_s is None  # longer than usual: no guess
    none = estimated(3.0, [], "/proc/1/io not readable (permission denied)")
    assert (
        none.fraction is None
        and none.describe() == "loading (no progress known: /proc/1/io not readable (permission denied))"
    )


def test_the_history_file_is_private_kept_short_and_survives_junk(tmp_path: Path) -> None:
    history = LoadHistory(tmp_path / "state" / "load-times.json")
    assert history.past("pegasus", "/m/a.gguf") == []
    for n in range(25):
        history.record("pegasus", "/m/a.gguf", 10.0 + n, 1000.0 + n)
    history.record("stella", "/m/a.gguf", 3.0, 2000.0)
    assert history.past("pegasus", "/m/a.gguf") == [10.0 + n for n in range(5, 25)]  # the last 20
    assert history.past("stella", "/m/a.gguf") == [3.0] and history.past("stella", "/m/b.gguf") == []
    assert stat.S_IMODE(history.path.stat().st_mode) == 0o600
    data = json.loads(history.path.read_text())
    assert data["version"] == 1 and data["loads"]["stella"]["/m/a.gguf"] == [{"seconds": 3.0, "at": 2000.0}]
    history.path.write_text("{not json")
    assert history.past("pegasus", "/m/a.gguf") == []
    history.record("pegasus", "/m/a.gguf", 5.0, 3000.0)  # replaced, not appended to junk
    assert history.past("pegasus", "/m/a.gguf") == [5.0]
