"""``onnxlint scan`` (issue 5): discovery, isolation (timeout, crash, memory),
streaming and resume, progress, summary, formats, exit codes, and Dask."""
from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import pty
import re
import shutil
import signal
import subprocess
import struct
import sys
import termios
import time

import pytest
from onnx import GraphProto, ModelProto, TensorProto, helper

from analyzer.commands.scan import worker as scan_worker
from analyzer.cli import main
from analyzer.commands.scan.discover import discover
from tests.wire import encode_varint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, "sample_models")
NEGATIVES = ["conv_stack_legacy.onnx", "eca_attention_dynamo.onnx", "rcan_attention_legacy.onnx"]
POSITIVE = "drln_attention_legacy.onnx"
# A chain of 600k Relu nodes takes ~30 s to analyze on the 2-core reference machine
# (300k: 8-18 s as the engine changed; protobuf alone needs ~1.5 s to parse it), so with
# --timeout 1 it times out with a wide margin even if the analysis gets much faster.
SLOW_NODES = 600_000


# -- helpers -------------------------------------------------------------------


def chain_model(n) -> bytes:
    g = GraphProto(name="chain")
    for i in range(n):
        node = g.node.add()
        node.op_type = "Relu"
        node.input.append(f"t{i}")
        node.output.append(f"t{i + 1}")
    g.input.append(helper.make_tensor_value_info("t0", TensorProto.FLOAT, [1, 4]))
    g.output.append(helper.make_tensor_value_info(f"t{n}", TensorProto.FLOAT, [1, 4]))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def write_sparse_model(path, nbytes):
    """A valid model whose one initializer holds ``nbytes`` zeros as packed int64_data
    (one byte per element on disk, eight in memory), written as a sparse file: parsing
    it needs 8 x ``nbytes`` of memory, the disk holds almost nothing.  (A raw_data
    payload would not do: the loader leaves those on disk.)"""
    tensor = TensorProto(name="w", data_type=TensorProto.INT64, dims=[nbytes]).SerializeToString()
    tensor += b"\x3a" + encode_varint(nbytes)  # field 7 (int64_data), packed; the zero varints follow
    graph = GraphProto(name="g").SerializeToString()
    graph += b"\x2a" + encode_varint(len(tensor) + nbytes) + tensor  # field 5 (initializer)
    model = ModelProto(ir_version=8, opset_import=[helper.make_opsetid("", 17)]).SerializeToString()
    model += b"\x3a" + encode_varint(len(graph) + nbytes) + graph  # field 7 (graph)
    with open(path, "wb") as f:
        f.write(model)
        f.truncate(len(model) + nbytes)


def crashing_analyzer(settings):
    """Injected at the pool level (as ``Settings.analyze``): the real analysis, except
    that a file whose name contains 'crash' segfaults the worker for real."""
    real = scan_worker.make_analyzer(settings)

    def analyze(display, abs_path):
        if "crash" in os.path.basename(display):
            import ctypes

            ctypes.string_at(0)  # NULL dereference: SIGSEGV
        return real(display, abs_path)

    return analyze


def broken_analyzer(settings):
    raise RuntimeError("cannot set up")


def inheritance_analyzer(settings):
    """What a fresh worker got from the forkserver, before it loads its analysis: the
    rule discovery's result (cached) and a frozen heap; reported as an error record."""
    import gc

    from analyzer.linter import registry

    inherited = f"discovered={registry.discover.cache_info().currsize} frozen={gc.get_freeze_count() > 0} blas={os.environ.get('OPENBLAS_NUM_THREADS')}"

    def analyze(display, abs_path):
        return scan_worker.error_record(display, "probe", inherited)

    return analyze


def cli(capsys, *args, cwd=None):
    old = os.getcwd()
    os.chdir(cwd or old)
    try:
        rc = main([str(a) for a in args])
    except SystemExit as e:
        rc = e.code
    finally:
        os.chdir(old)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return rc, out, err


def run_cli(*args, cwd, **kw):
    return subprocess.run([sys.executable, "-m", "analyzer", *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=120, **kw)


def lines_of(path):
    with open(path) as f:
        return [json.loads(x) for x in f.read().splitlines()]


def table_of(stderr):
    return stderr[stderr.index("scan summary"):]


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    """Good models, a truncated file, a text file named .onnx, a FIFO named .onnx, a
    link loop named .onnx, a folder symlink loop, a folder named .onnx, a slow model."""
    root = tmp_path_factory.mktemp("scan") / "zoo"
    root.mkdir()
    for name in NEGATIVES + [POSITIVE]:
        shutil.copy(os.path.join(SAMPLES, name), root / name)
    data = open(os.path.join(SAMPLES, POSITIVE), "rb").read()
    (root / "truncated.onnx").write_bytes(data[: len(data) // 3])
    (root / "notes.onnx").write_text("this is not a model\n")
    os.mkfifo(root / "pipe.onnx")
    os.symlink("self.onnx", root / "self.onnx")
    os.symlink(".", root / "loop")
    sub = root / "nested.onnx"
    sub.mkdir()
    shutil.copy(os.path.join(SAMPLES, NEGATIVES[0]), sub / "inner.onnx")
    (sub / "slow.onnx").write_bytes(chain_model(SLOW_NODES))
    return root


EXPECTED_ERRORS = {
    "truncated.onnx": "truncated",
    "notes.onnx": "not-onnx",
    "pipe.onnx": "not-a-file",
    "self.onnx": "symlink-loop",
    "slow.onnx": "timeout",
}


# -- discovery -----------------------------------------------------------------


def test_discovery_reports_hazards_without_following_them(zoo):
    found = discover([str(zoo)])
    names = [os.path.basename(c.display) for c in found.candidates]
    assert sorted(names) == sorted(NEGATIVES + [POSITIVE, "truncated.onnx", "notes.onnx", "pipe.onnx", "self.onnx", "inner.onnx", "slow.onnx"])
    by_name = {os.path.basename(c.display): c for c in found.candidates}
    assert by_name["pipe.onnx"].record["error"]["kind"] == "not-a-file"  # known without opening it
    assert by_name["self.onnx"].record["error"]["kind"] == "symlink-loop"
    assert by_name["inner.onnx"].record is None and by_name["inner.onnx"].identity["size"] > 0
    assert found.skipped == [{"path": str(zoo / "loop"), "reason": "symlink loop"}]


def test_discovery_list_file_and_unreadable_folder(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    shutil.copy(os.path.join(SAMPLES, POSITIVE), tmp_path / "a" / "m.onnx")
    (tmp_path / "locked").mkdir()
    listing = tmp_path / "models.txt"
    listing.write_text(f"# zoo\n\n{tmp_path / 'a' / 'm.onnx'}\n{tmp_path / 'a' / 'm.onnx'}\n{tmp_path / 'gone.onnx'}\n{tmp_path / 'locked'}\n")
    real = os.scandir

    def scandir(path):  # tests run as root, which chmod 000 cannot stop
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    found = discover([str(listing)])
    kinds = [(os.path.basename(c.display), c.record and c.record["error"]["kind"]) for c in found.candidates]
    assert kinds == [("m.onnx", None), ("gone.onnx", "not-found"), ("locked", "unreadable")]


# -- a mixed zoo: isolation, reasons, exit code ----------------------------------


def test_mixed_zoo_every_file_analyzed_or_reported(zoo, capsys):
    rc, out, err = cli(capsys, "scan", zoo, "--timeout", "1", "--jobs", "2")
    assert rc == 2
    records = [json.loads(x) for x in out.splitlines()]
    by_name = {os.path.basename(r["path"]): r for r in records}
    assert len(records) == len(by_name) == 10  # one line per file, no duplicates
    for name, kind in EXPECTED_ERRORS.items():
        assert by_name[name]["status"] == "error" and by_name[name]["error"]["kind"] == kind, name
        assert by_name[name]["error"]["message"]
    good = [r for r in records if os.path.basename(r["path"]) not in EXPECTED_ERRORS]
    assert len(good) == 5 and all(r["status"] == "ok" for r in good)
    assert by_name[POSITIVE]["findings"] and by_name[POSITIVE]["file"]["size"] == os.path.getsize(zoo / POSITIVE)
    assert "symlink loop: " + str(zoo / "loop") in err
    table = table_of(err)
    assert re.search(r"\n  errors +5  \(not-a-file: 1, not-onnx: 1, symlink-loop: 1, timeout: 1, truncated: 1\)\n", table)
    assert "top 1 files by dead weights" in table


def test_scan_gives_check_per_file_objects(zoo, capsys, tmp_path):
    rc, out, _ = cli(capsys, "scan", zoo, "--format", "json", "--timeout", "1", "--output", tmp_path / "scan.json")
    assert rc == 2 and out == ""
    doc = json.load(open(tmp_path / "scan.json"))
    good = [os.path.join(str(zoo), n) for n in NEGATIVES + [POSITIVE]]
    _, check_out, _ = cli(capsys, "check", *good, "--format", "json")
    check_files = json.loads(check_out)["files"]
    scan_files = {f["path"]: f for f in doc["files"]}
    assert [scan_files[f["path"]] for f in check_files] == check_files
    s = doc["summary"]
    assert (s["files"], s["ok"], s["errors"]) == (10, 5, 5)
    assert s["errors_by_kind"]["timeout"] == 1
    assert s["dead_weights"] == sum(f["details"]["dead_weights"] for f in check_files[-1]["findings"] if f["rule"] == "DT001")
    assert 0 < s["dead_weight_share"] < 1 and s["top_dead_weights"][0]["path"].endswith(POSITIVE)
    assert s["skipped"] == [{"path": str(zoo / "loop"), "reason": "symlink loop"}]


def test_exit_codes_as_for_check(tmp_path, capsys):
    for name in NEGATIVES + [POSITIVE]:
        shutil.copy(os.path.join(SAMPLES, name), tmp_path / name)
    negatives = [tmp_path / n for n in NEGATIVES]
    assert cli(capsys, "scan", *negatives, "-q")[0] == 0
    assert cli(capsys, "scan", tmp_path, "-q")[0] == 1
    assert cli(capsys, "scan", tmp_path, "-q", "--exit-zero")[0] == 0
    assert cli(capsys, "scan", tmp_path, "-q", "--fail-on", "error")[0] == 0
    assert cli(capsys, "scan", tmp_path, "-q", "--ignore", "DT001,DT002")[0] == 0
    (tmp_path / "empty").mkdir()
    rc, _, err = cli(capsys, "scan", tmp_path / "empty")
    assert rc == 2 and "no .onnx files found" in err
    assert cli(capsys, "scan", tmp_path, "--resume")[0] == 2  # needs --output
    assert cli(capsys, "scan", tmp_path, "--max-memory", "lots")[0] == 2
    assert cli(capsys, "scan", tmp_path, "--select", "XX9")[0] == 2


def test_crash_is_reported_and_the_worker_replaced(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(scan_worker, "DEFAULT_ANALYZE", "tests.test_scan:crashing_analyzer")
    for i in range(3):
        shutil.copy(os.path.join(SAMPLES, POSITIVE), tmp_path / f"crash{i}.onnx")
    for name in NEGATIVES:
        shutil.copy(os.path.join(SAMPLES, name), tmp_path / name)
    rc, out, err = cli(capsys, "scan", tmp_path, "--jobs", "1")
    records = {os.path.basename(r["path"]): r for r in map(json.loads, out.splitlines())}
    assert rc == 2 and len(records) == 6
    for i in range(3):  # one worker: each crash needed a replacement to go on
        assert records[f"crash{i}.onnx"]["error"]["kind"] == "crashed"
        assert "SIGSEGV" in records[f"crash{i}.onnx"]["error"]["message"]
    assert all(records[n]["status"] == "ok" for n in NEGATIVES)


def test_worker_that_cannot_start_stops_the_scan(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(scan_worker, "DEFAULT_ANALYZE", "tests.test_scan:broken_analyzer")
    shutil.copy(os.path.join(SAMPLES, POSITIVE), tmp_path / "m.onnx")
    rc, out, err = cli(capsys, "scan", tmp_path, "-q")
    assert rc == 2 and out == ""
    assert "a scan worker could not start: RuntimeError: cannot set up" in err


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers come from a forkserver (Linux)")
def test_workers_inherit_the_rule_discovery_and_a_frozen_heap(tmp_path, capsys, monkeypatch):
    """The forkserver discovers the rules once (with their plugins' entry points) and
    freezes what it imported, so that workers start without either cost; it imported
    numpy with BLAS thread pools off (started before the scan reads its configuration,
    it must still see the scan's environment)."""
    monkeypatch.setattr(scan_worker, "DEFAULT_ANALYZE", "tests.test_scan:inheritance_analyzer")
    shutil.copy(os.path.join(SAMPLES, POSITIVE), tmp_path / "m.onnx")
    rc, out, _ = cli(capsys, "scan", tmp_path, "-q")
    (rec,) = map(json.loads, out.splitlines())
    assert rc == 2 and rec["error"] == {"kind": "probe", "message": f"discovered=1 frozen=True blas={os.environ['OPENBLAS_NUM_THREADS']}"}


def test_fallback_inference_does_not_import_the_onnx_package():
    """onnx's shape inference (the engine's fallback) runs through onnx's C extension: the
    package (0.6 s to import, paid by every scan worker that meets such a model) is not
    imported, and the result is the one onnx.shape_inference gives."""
    import onnx
    import onnx.shape_inference

    model = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "simple", "test_gradient_of_add", "model.onnx")
    code = (
        "import sys\n"
        "from analyzer.io.proto import ModelProto\n"
        "from analyzer.shapes.sandbox import onnx_inference\n"
        f"g = onnx_inference(ModelProto.FromString(open({model!r}, 'rb').read()))\n"
        "sys.stdout.buffer.write(g.SerializeToString()); sys.stdout.flush()\n"
        "sys.stderr.write(str(sorted(m for m in sys.modules if m == 'onnx' or m.startswith(('onnx.helper', 'ml_dtypes')))))\n"
    )
    p = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0 and p.stderr.decode().splitlines()[-1] == "[]", p.stderr.decode()[-2000:]
    expected = onnx.shape_inference.infer_shapes(onnx.load(model), data_prop=True).graph
    assert len(expected.value_info) + len(expected.output) > 0
    got = GraphProto.FromString(p.stdout)
    assert list(got.value_info) == list(expected.value_info) and list(got.output) == list(expected.output)


def test_memory_limit(tmp_path, capsys):
    write_sparse_model(tmp_path / "huge.onnx", 1_900_000_000)  # < 2 GiB: a parsable size
    assert os.stat(tmp_path / "huge.onnx").st_blocks * 512 < 1 << 20
    rc, out, _ = cli(capsys, "scan", tmp_path, "--max-memory", "1G", "-q")
    (rec,) = map(json.loads, out.splitlines())
    assert rc == 2 and rec["error"] == {"kind": "out-of-memory", "message": "out of memory while analyzing (--max-memory 1G)"}


# -- streaming and resume ------------------------------------------------------


def _resume_zoo(root):
    root.mkdir()
    for name in NEGATIVES + [POSITIVE]:
        shutil.copy(os.path.join(SAMPLES, name), root / name)
    (root / "notes.onnx").write_text("not a model")
    os.symlink(".", root / "loop")
    medium = chain_model(2500)  # ~0.15 s each: the scan is still running when killed
    for i in range(30):
        (root / f"chain{i:02d}.onnx").write_bytes(medium)


def test_killed_scan_resumes_to_the_same_result(tmp_path):
    zoo = tmp_path / "zoo"
    _resume_zoo(zoo)
    full = run_cli("scan", "zoo", "-j", "2", "-o", "full.jsonl", cwd=tmp_path)
    assert full.returncode == 2, full.stderr
    total = len(lines_of(tmp_path / "full.jsonl"))
    assert total == 35

    part = tmp_path / "part.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "analyzer", "scan", "zoo", "-j", "1", "-o", "part.jsonl", "-q"], cwd=tmp_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if part.exists() and part.read_bytes().count(b"\n") >= 8:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = part.read_bytes().count(b"\n")
    assert 8 <= done < total  # killed halfway
    with open(part, "ab") as f:  # as if killed in the middle of writing a line
        f.write(b'{"path":"zoo/chain29.onnx","status":"ok","findi')

    resumed = run_cli("scan", "zoo", "-j", "2", "-o", "part.jsonl", "--resume", cwd=tmp_path)
    assert resumed.returncode == full.returncode
    assert "dropped 1 partial last line" in resumed.stderr
    assert f"resuming: {done} file(s) already recorded, {total - done} to analyze" in resumed.stderr
    assert table_of(resumed.stderr) == table_of(full.stderr)
    assert sorted(part.read_text().splitlines()) == sorted((tmp_path / "full.jsonl").read_text().splitlines())

    again = run_cli("scan", "zoo", "-o", "part.jsonl", "--resume", cwd=tmp_path)  # nothing left to do
    assert "0 to analyze" in again.stderr and table_of(again.stderr) == table_of(full.stderr)
    assert len(lines_of(part)) == total


def test_resume_skips_unchanged_and_redoes_changed_new_and_errors(tmp_path, capsys, monkeypatch):
    for name in NEGATIVES:
        shutil.copy(os.path.join(SAMPLES, name), tmp_path / name)
    shutil.copy(os.path.join(SAMPLES, POSITIVE), tmp_path / "crash_once.onnx")
    out = tmp_path / "out.jsonl"
    monkeypatch.setattr(scan_worker, "DEFAULT_ANALYZE", "tests.test_scan:crashing_analyzer")
    assert cli(capsys, "scan", tmp_path, "-o", out, "-q")[0] == 2
    monkeypatch.undo()
    first = {r["path"]: r for r in lines_of(out)}
    assert first[str(tmp_path / "crash_once.onnx")]["error"]["kind"] == "crashed"

    # An unchanged file that failed is kept as it was without --retry-errors.
    shutil.copy(os.path.join(SAMPLES, POSITIVE), tmp_path / "new.onnx")
    shutil.copy(os.path.join(SAMPLES, POSITIVE), tmp_path / NEGATIVES[0])  # changed content and size
    os.unlink(tmp_path / NEGATIVES[1])
    rc, _, err = cli(capsys, "scan", tmp_path, "-o", out, "--resume")
    second = {r["path"]: r for r in lines_of(out)}
    assert rc == 2 and len(second) == len(lines_of(out)) == 4
    assert "resuming: 2 file(s) already recorded, 2 to analyze" in err
    assert "dropped 1 record(s) of files that are no longer found" in err
    assert second[str(tmp_path / "crash_once.onnx")] == first[str(tmp_path / "crash_once.onnx")]
    assert second[str(tmp_path / NEGATIVES[0])]["findings"]  # re-analyzed: now the positive model
    assert second[str(tmp_path / "new.onnx")]["status"] == "ok"
    assert second[str(tmp_path / NEGATIVES[2])] == first[str(tmp_path / NEGATIVES[2])]

    rc, _, err = cli(capsys, "scan", tmp_path, "-o", out, "--resume", "--retry-errors")
    third = lines_of(out)
    assert rc == 1 and len(third) == 4 and all(r["status"] == "ok" for r in third)
    assert "1 to analyze" in err

    other = tmp_path / "report.json"  # not a scan's JSONL: never rewritten
    other.write_text('{\n  "files": []\n}\n')
    rc, _, err = cli(capsys, "scan", tmp_path, "-o", other, "--resume")
    assert rc == 2 and "not a JSON Lines file of onnxlint scan" in err and other.read_text() == '{\n  "files": []\n}\n'


# -- formats and progress ------------------------------------------------------


def test_text_and_csv_formats(zoo, capsys, tmp_path):
    rc, out, err = cli(capsys, "scan", zoo, "--format", "text", "--timeout", "1")
    assert rc == 2
    assert f"{zoo / 'notes.onnx'}: error: not-onnx: " in out
    # grouped as check prints them: the 4 DT001 findings of one shape on one line
    assert f"{zoo / POSITIVE}: DT001 [warning] 4 findings: " in out
    assert out.index("DT001 [warning]") < out.index("scan summary") and "scan summary" not in err
    rc, out, err = cli(capsys, "scan", zoo / POSITIVE, "--format", "full")  # no 1 s limit: no flake on a busy machine
    assert rc == 1 and f"{zoo / POSITIVE}:/branches.0/branches.0.0/Conv: DT001 [warning]" in out
    assert out.count(f"{zoo / POSITIVE}:") == 5 and "scan summary" not in err
    rc, out, err = cli(capsys, "scan", zoo, "--format", "csv", "--timeout", "1", "-o", tmp_path / "r.csv")
    rows = list(csv.DictReader(io.StringIO((tmp_path / "r.csv").read_text())))
    assert rc == 2 and len(rows) == 10 and "scan summary" in err
    row = next(r for r in rows if r["path"].endswith(POSITIVE))
    assert row["status"] == "ok" and int(row["DT001"]) > 0 and int(row["dead_weights"]) > 0
    assert next(r for r in rows if r["path"].endswith("slow.onnx"))["error_kind"] == "timeout"


def test_csv_cells_cannot_become_formulas(tmp_path, capsys):
    (tmp_path / "=cmd.onnx").write_text("x")
    rc, _, _ = cli(capsys, "scan", "=cmd.onnx", "--format", "csv", "-o", "r.csv", "-q", cwd=tmp_path)
    (row,) = csv.DictReader(open(tmp_path / "r.csv"))
    assert rc == 2 and row["path"] == "'=cmd.onnx"


def test_progress_plain_lines_bar_and_quiet(tmp_path):
    for i in range(12):
        shutil.copy(os.path.join(SAMPLES, NEGATIVES[i % 3]), tmp_path / f"m{i:02d}.onnx")
    plain = run_cli("scan", ".", "-o", "out.jsonl", cwd=tmp_path)
    assert plain.returncode == 0
    assert "onnxlint scan: 12/12 files (100%)" in plain.stderr and "files/s" in plain.stderr
    assert "scan summary" in plain.stderr
    quiet = run_cli("scan", ".", "-o", "out.jsonl", "-q", cwd=tmp_path)
    assert quiet.returncode == 0 and quiet.stderr == ""

    master, slave = pty.openpty()  # stderr on a terminal: a tqdm bar
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "analyzer", "scan", ".", "-o", "out.jsonl"], cwd=tmp_path, stderr=slave, stdout=subprocess.DEVNULL)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(60)
    os.close(master)
    screen = b"".join(chunks).decode("utf-8", "replace")
    assert proc.returncode == 0 and "12/12" in screen and "file/s" in screen and "\r" in screen


def test_list_on_stdin(tmp_path):
    shutil.copy(os.path.join(SAMPLES, POSITIVE), tmp_path / "m.onnx")
    p = run_cli("scan", "-", "-q", "--format", "csv", cwd=tmp_path, input="# models\nm.onnx\n\nmissing.onnx\n")
    rows = list(csv.DictReader(io.StringIO(p.stdout)))
    assert p.returncode == 2 and [(r["path"], r["status"], r["error_kind"]) for r in rows] == [("m.onnx", "ok", ""), ("missing.onnx", "error", "not-found")]


def test_check_does_not_import_scan():
    code = f"import sys; from analyzer.cli import main; main(['check', {os.path.join(SAMPLES, POSITIVE)!r}]); print(sorted(m for m in sys.modules if m.startswith(('analyzer.commands.scan.command', 'tqdm', 'distributed', 'dask'))))"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert p.stdout.splitlines()[-1] == "[]"


# -- Dask ------------------------------------------------------------------------


def test_dask_gives_the_same_results_as_the_local_pool(zoo, tmp_path, capsys, monkeypatch):
    distributed = pytest.importorskip("distributed")
    monkeypatch.setattr(scan_worker, "DEFAULT_ANALYZE", "tests.test_scan:crashing_analyzer")
    crash = zoo.parent / "crash_zoo"
    shutil.copytree(zoo, crash, symlinks=True, ignore=lambda d, names: ["pipe.onnx"])
    os.mkfifo(crash / "pipe.onnx")
    shutil.copy(os.path.join(SAMPLES, POSITIVE), crash / "crash.onnx")
    local_rc, _, local_err = cli(capsys, "scan", crash, "--timeout", "1", "-o", tmp_path / "local.jsonl")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            before = sorted(client.run(os.getpid).values())
            rc, _, err = cli(capsys, "scan", crash, "--timeout", "1", "--dask", cluster.scheduler_address, "-o", tmp_path / "dask.jsonl")
            after = sorted(client.run(os.getpid).values())
    assert before == after  # the crash and the hang cost subprocesses, not Dask workers
    assert rc == local_rc == 2
    local = sorted((tmp_path / "local.jsonl").read_text().splitlines())
    remote = sorted((tmp_path / "dask.jsonl").read_text().splitlines())
    assert remote == local and len(local) == 11
    kinds = {os.path.basename(r["path"]): r["error"]["kind"] for r in map(json.loads, local) if r["status"] == "error"}
    assert kinds == {**EXPECTED_ERRORS, "crash.onnx": "crashed"}
    assert table_of(err) == table_of(local_err)


def test_configuration_applies_as_in_check(tmp_path, capsys):
    (tmp_path / "models").mkdir()
    for name in [POSITIVE, "drln_attention_dynamo.onnx"]:
        shutil.copy(os.path.join(SAMPLES, name), tmp_path / "models" / name)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.onnxlint]\nfail-on = "error"\n[tool.onnxlint.per-path-ignores]\n"models/drln_attention_legacy.onnx" = ["DT001"]\n'
        "[tool.onnxlint.rules.DT001]\nmin-dead-weights = 5000\n"
    )
    rc, out, _ = cli(capsys, "scan", "models", "--format", "json", "-q", cwd=tmp_path)
    _, check_out, _ = cli(capsys, "check", "models", "--format", "json", cwd=tmp_path)
    assert rc == 0  # fail-on error from the configuration: warnings do not fail
    assert json.loads(out)["files"] == json.loads(check_out)["files"]
    assert any("per-path-ignores" in n for f in json.loads(out)["files"] for n in f["notes"])
