"""wildfer: the facial expression of every face in every frame of in-the-wild video.

Offline (the models are inside the package), on the CPU, in the Rust library behind the
``wildfer`` command line, which this package also installs.

>>> import wildfer
>>> df = wildfer.analyze("interview.mp4")            # one row per face per frame
>>> df.groupby("face_id")["expression"].agg(lambda s: s.mode()[0])

Columns (``wildfer.COLUMNS``): ``input``, then the CSV's columns ``frame`` (1-based),
``time_s``, ``face_id`` (a track id; missing in a frame without a face), ``x``, ``y``,
``w``, ``h`` (the face box in source pixels, clipped to the frame), ``det_score``, the seven
probabilities ``neutral`` ... ``surprise`` (smoothed over ``smooth`` frames; an 8-class
trained model adds ``other`` after ``surprise``, and ``analyze_iter(...).classes`` is 8), ``expression``
(the most probable class), then the five landmarks ``eye_left_x``, ``eye_left_y``, ...,
``mouth_right_y`` (source pixels; left and right as seen in the image). A frame without a
face has one row whose face columns are NaN (``face_id``: ``<NA>``, ``expression``: None).

Errors are ``wildfer.Error`` subclasses carrying the command line's one-line message:
``InputError`` (missing, unreadable or unsupported input), ``ModelError`` (unknown model or
detector, unloadable checkpoint), ``OptionsError`` (impossible option value).
"""

from __future__ import annotations

import json as _json
import os as _os
from typing import Any, Dict, Iterable, Iterator, List, Optional, Union

from wildfer import _native
from wildfer._native import Error, InputError, ModelError, OptionsError

__version__: str = _native.__version__

__all__ = [
    "COLUMNS",
    "Error",
    "InputError",
    "ModelError",
    "OptionsError",
    "analyze",
    "analyze_iter",
    "eval",
    "eval_images",
    "models",
]

#: The columns of ``analyze``'s DataFrame (and the keys of ``analyze_iter``'s rows), in order,
#: for the built-in models and 7-class trained ones; an 8-class trained model adds ``other``
#: after ``surprise`` (``_native.columns(8)``).
COLUMNS: List[str] = list(_native.columns())

_INT_COLUMNS = ["frame"]

PathLike = Union[str, "_os.PathLike[str]"]


def analyze_iter(
    path: PathLike,
    model: str = "default",
    detector: str = "retinaface",
    smooth: int = 5,
    crops: bool = False,
    threads: Optional[int] = None,
    *,
    fps: float = 30.0,
    out: Optional[PathLike] = None,
    name: Optional[str] = None,
    device: str = "cpu",
    tta: str = "none",
) -> Iterator[Dict[str, Any]]:
    """Yield one dict per face per frame of ``path`` (keys: ``wildfer.COLUMNS``) as frames
    are analysed.

    Memory stays flat however long the video: frames are decoded, detected and classified on
    a worker thread (without the GIL) a few frames ahead of the loop. Leaving the loop early
    stops the work; Ctrl-C raises ``KeyboardInterrupt``.

    path: a video (MP4/MOV H.264; other codecs through ffmpeg when installed), an image (JPEG,
        PNG, BMP, TIFF, WebP) or a folder of numbered frames.
    model: a built-in model (``wildfer.models()``), a training run folder or a checkpoint
        folder; ``"a,b"`` averages several.
    detector: ``"retinaface"`` or ``"mtcnn"``.
    smooth: moving-average window over each face's probabilities, in frames (0 or 1: off).
    crops: every frame already is one face crop (no detection).
    threads: compute threads (default: all cores).
    fps: frame rate of a folder of numbered frames (which carries no timing).
    out: also write ``<name>.csv``, ``.json`` and the timeline here, exactly as
        ``wildfer analyze --out`` does (atomically: an interrupted input leaves nothing).
    name: the outputs' name in ``out`` (default: the input's file stem).
    device: where the networks run: ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` (CUDA needs a build
        with the ``cuda`` feature).
    tta: test-time augmentation: ``"flip"`` also scores each face's mirror image and averages
        the two answers (twice the model's work), ``"ten-crop"`` averages ten views (the four
        corner squares and the centre square of 0.9 the crop's side, and their mirror images;
        ten times the work), ``"none"``. Frame-level models only.

    Raises ``InputError``, ``ModelError`` or ``OptionsError`` at the call for a bad input or
    option, before any row.
    """
    _check_path(path)
    return _native.analyze_iter(
        _os.fspath(path),
        model=model,
        detector=detector,
        smooth=_check_int("smooth", smooth, 0),
        crops=bool(crops),
        threads=None if threads is None else _check_int("threads", threads, 1),
        fps=float(fps),
        out=None if out is None else _os.fspath(out),
        name=name,
        device=device,
        tta=tta,
    )


def analyze(
    path_or_paths: Union[PathLike, Iterable[PathLike]],
    model: str = "default",
    detector: str = "retinaface",
    smooth: int = 5,
    crops: bool = False,
    threads: Optional[int] = None,
    *,
    fps: float = 30.0,
    out: Optional[PathLike] = None,
    device: str = "cpu",
    tta: str = "none",
) -> Any:
    """Every face's expression in every frame of one or several inputs.

    Returns a ``pandas.DataFrame`` with the columns ``wildfer.COLUMNS`` (one row per face per
    frame, one row with NaN face columns for a frame without a face; ``face_id`` is a
    nullable ``Int64``). Without pandas installed (``pip install wildfer[pandas]``), a list of
    dicts with the same keys.

    The options are ``analyze_iter``'s. With ``out``, each input's files are also written
    there (outputs of inputs that share a file stem are told apart by their folders, as on the
    command line), and then the folder's ``summary.csv`` and ``report.html``.
    """
    if isinstance(path_or_paths, (str, _os.PathLike)):
        paths = [path_or_paths]
    else:
        paths = list(path_or_paths)
    for p in paths:
        _check_path(p)
    names = _native.output_names([_os.fspath(p) for p in paths])
    rows: List[Dict[str, Any]] = []
    for p, n in zip(paths, names):
        rows.extend(
            analyze_iter(
                p,
                model,
                detector,
                smooth,
                crops,
                threads,
                fps=fps,
                out=out,
                name=n,
                device=device,
                tta=tta,
            )
        )
    if out is not None:
        _native.write_summary(_os.fspath(out))
    return _frame(rows)


def eval(
    pred: PathLike,
    truth: PathLike,
    classes: Optional[int] = None,
    allow_missing: bool = False,
) -> Dict[str, Any]:
    """Score predictions against ground truth with the ABAW metrics (``wildfer eval``).

    pred, truth: a folder of per-video ``<video>.txt`` files (ABAW 2020/21) or a
        ``predictions.txt`` (ABAW 2022+). classes: 7 or 8 (default: the truth's header).
    allow_missing: count annotated frames without a prediction as wrong instead of failing.

    Returns the same fields as the command's JSON: ``accuracy``, ``f1_macro``, per-class
    scores, the confusion matrix and the ABAW scores.
    """
    _check_path(pred)
    _check_path(truth)
    return _json.loads(
        _native.eval_json(
            _os.fspath(pred),
            _os.fspath(truth),
            classes=classes,
            allow_missing=bool(allow_missing),
        )
    )


def eval_images(
    data: PathLike,
    model: str = "default",
    crops: bool = False,
    files: Optional[str] = None,
    detector: str = "retinaface",
    skip_unreadable: bool = False,
    threads: Optional[int] = None,
    device: str = "cpu",
    tta: str = "none",
) -> Dict[str, Any]:
    """Score a model on a labelled still-image set (``wildfer eval-images``).

    data: a folder with a folder per class (``happy/``, ``Happiness/``, ``4/``, ...) or a
        ``path label`` list file. files: keep only file names matching a pattern
        (``"PrivateTest_*"``). crops: every image already is one face crop (no detection;
        its largest centred square is fitted to the model's crop). Otherwise the largest face
        found is scored, and an image without a face counts as wrong.
    skip_unreadable: count unreadable images as wrong instead of raising ``InputError``.
    tta: ``"flip"`` or ``"ten-crop"``: views of each face averaged, as in ``analyze_iter``.

    Returns the command's JSON as a dict (``accuracy``, ``f1_macro``, per-class scores,
    ``confusion``, ``no_face``, ``unreadable``, ...) plus ``"rows"``: one row per image
    (``path``, ``truth``, ``prediction``, the seven probabilities, ``note``), a DataFrame when
    pandas is installed. Ctrl-C stops it.
    """
    _check_path(data)
    report, rows = _native.eval_images_json(
        _os.fspath(data),
        model=model,
        crops=bool(crops),
        files=files,
        detector=detector,
        skip_unreadable=bool(skip_unreadable),
        threads=None if threads is None else _check_int("threads", threads, 1),
        device=device,
        tta=tta,
    )
    out = _json.loads(report)
    rows = _json.loads(rows)
    try:
        import pandas as pd
    except ImportError:
        out["rows"] = rows
    else:
        out["rows"] = pd.DataFrame(
            rows,
            columns=["path", "truth", "prediction"] + _classes_of(rows) + ["note"],
        )
    return out


def models() -> List[Dict[str, str]]:
    """The built-in models: ``[{"name": ..., "description": ...}, ...]``; ``"default"``
    first. Any of the names goes to ``model=``."""
    return [{"name": n, "description": d} for n, d in _native.models()]


def _check_path(p: Any) -> None:
    if not isinstance(p, (str, _os.PathLike)):
        raise TypeError(f"expected a path (str or os.PathLike), got {type(p).__name__}")


def _check_int(what: str, v: Any, least: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{what} must be an int, got {type(v).__name__}")
    if v < least:
        raise OptionsError(f"{what} must be at least {least}, got {v}")
    return v


def _classes_of(rows: List[Dict[str, Any]]) -> List[str]:
    """The probability keys of ``rows`` (``other`` only from an 8-class model)."""
    eight = bool(rows) and "other" in rows[0]
    return list(_native.class_keys(8 if eight else 7))


def _frame(rows: List[Dict[str, Any]]) -> Any:
    try:
        import pandas as pd
    except ImportError:
        return rows
    columns = list(_native.columns(len(_classes_of(rows))))
    floats = [c for c in columns if c not in ("input", "frame", "face_id", "expression")]
    df = pd.DataFrame(rows, columns=columns)
    df[_INT_COLUMNS] = df[_INT_COLUMNS].astype("int64")
    df[floats] = df[floats].astype("float64")
    df["face_id"] = df["face_id"].astype("Int64")
    df["expression"] = df["expression"].astype(object)
    return df
