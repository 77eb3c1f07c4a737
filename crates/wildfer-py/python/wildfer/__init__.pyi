"""Type stubs of the `wildfer` package (see the module's docstring for the columns)."""

import os
from typing import Any, Dict, Iterable, Iterator, List, Optional, Union

PathLike = Union[str, "os.PathLike[str]"]

__version__: str
COLUMNS: List[str]

class Error(Exception):
    """A wildfer error; the message is the command line's one-line error, naming the file."""

class InputError(Error):
    """An input that is missing, unreadable or of a kind wildfer cannot decode."""

class ModelError(Error):
    """An unknown model or detector name, or a checkpoint that cannot be loaded."""

class OptionsError(Error):
    """An impossible option value."""

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
) -> Iterator[Dict[str, Any]]: ...
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
    """A pandas.DataFrame (columns COLUMNS), or a list of dicts without pandas."""
def eval(
    pred: PathLike,
    truth: PathLike,
    classes: Optional[int] = None,
    allow_missing: bool = False,
) -> Dict[str, Any]: ...
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
) -> Dict[str, Any]: ...
def models() -> List[Dict[str, str]]: ...
