//! `wildfer._native`: the Rust library under the `wildfer` Python package (maturin builds it
//! into the wheel; `python/wildfer/__init__.py` is the public API over it).
//!
//! Analysis runs on a worker thread that hands each frame's rows over a bounded channel, so a
//! Python loop over [`RowIter`] holds only a few frames however long the video, the GIL is
//! released while frames are processed, and Ctrl-C (checked while waiting) stops the worker
//! through the same stop flag the CLI's SIGINT handler sets.

// The same allocator as the `wildfer` command, so that the package runs as fast (see the
// command's main.rs for the measurement).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyKeyboardInterrupt};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::Duration;
use wildfer_nn::burn::tensor::Device;
use wildfer_pipeline::PipelineError;
use wildfer_pipeline::analyze::{AnalyzeOptions, Row};
use wildfer_pipeline::expression::{LabelSet, Tta, load_model_with_tta};
use wildfer_pipeline::faces::{DetectOptions, DetectorKind};

create_exception!(
    _native,
    Error,
    PyException,
    "A wildfer error; the message is the command line's one-line error, naming the file."
);
create_exception!(
    _native,
    InputError,
    Error,
    "An input that is missing, unreadable or of a kind wildfer cannot decode."
);
create_exception!(
    _native,
    ModelError,
    Error,
    "An unknown model or detector name, or a checkpoint that cannot be loaded."
);
create_exception!(_native, OptionsError, Error, "An impossible option value.");

fn py_err(e: PipelineError) -> PyErr {
    let msg = e.to_string();
    match e {
        PipelineError::Video(_)
        | PipelineError::Face { .. }
        | PipelineError::Io { .. }
        | PipelineError::Data(_) => InputError::new_err(msg),
        PipelineError::Model(_) | PipelineError::Detector(_) => ModelError::new_err(msg),
        PipelineError::Options(_) => OptionsError::new_err(msg),
        PipelineError::Interrupted => PyKeyboardInterrupt::new_err(msg),
        PipelineError::Output(_) => Error::new_err(msg),
    }
}

/// `device="cpu"`, `"cuda"` or `"cuda:N"`.
fn parse_device(spec: &str) -> PyResult<Device> {
    wildfer_nn::parse_device(spec).map_err(|e| OptionsError::new_err(e.to_string()))
}

/// `detector="retinaface"` or `"mtcnn"`.
fn parse_detector(name: &str) -> PyResult<DetectorKind> {
    name.parse()
        .map_err(|e: PipelineError| ModelError::new_err(e.to_string()))
}

/// `tta=`: `none`, `flip` or `ten-crop`.
fn parse_tta(name: &str) -> PyResult<Tta> {
    name.parse()
        .map_err(|e: PipelineError| OptionsError::new_err(e.to_string()))
}

/// The compute pool of `threads=` (`None`: rayon's global pool, all cores).
fn thread_pool(threads: Option<usize>) -> PyResult<Option<rayon::ThreadPool>> {
    match threads {
        None => Ok(None),
        Some(0) => Err(OptionsError::new_err("threads must be at least 1")),
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .map(Some)
            .map_err(|e| Error::new_err(format!("threads: {e}"))),
    }
}

/// `f` in `pool`, if any.
fn in_pool<T: Send>(pool: Option<&rayon::ThreadPool>, f: impl FnOnce() -> T + Send) -> T {
    match pool {
        Some(p) => p.install(f),
        None => f(),
    }
}

/// Wait up to 100 ms for `rx`'s next message without holding the GIL; the receiver comes back
/// with the outcome (it cannot be shared with the waiting thread, only moved).
fn recv_detached<T: Send>(
    py: Python<'_>,
    rx: mpsc::Receiver<T>,
) -> (mpsc::Receiver<T>, Result<T, mpsc::RecvTimeoutError>) {
    py.detach(move || {
        let got = rx.recv_timeout(Duration::from_millis(100));
        (rx, got)
    })
}

/// What the worker thread says.
enum Msg {
    /// The model (answering these classes) and detector are loaded and the input is open.
    Ready(LabelSet),
    /// One frame's rows.
    Rows(Vec<Row>),
    Done,
    Failed(PipelineError),
}

/// Frames the worker may run ahead of the Python loop (bounds memory).
const AHEAD: usize = 64;

/// One analysis: which input, how, and where (if anywhere) the files go.
struct Job {
    input: PathBuf,
    model: Option<String>,
    tta: Tta,
    detect: DetectOptions,
    device: Device,
    smooth: usize,
    crops: bool,
    fps: f64,
    out: Option<PathBuf>,
    name: Option<String>,
}

impl Job {
    fn run(&self, tx: &mpsc::SyncSender<Msg>, stop: &Arc<AtomicBool>) -> Result<(), PipelineError> {
        let mut detector = wildfer_pipeline::faces::load_detector(&self.detect, &self.device)?;
        let mut model =
            load_model_with_tta(self.model.as_deref().map(Path::new), self.tta, &self.device)?;
        let mut source = wildfer_video::open_at(&self.input, self.fps)?;
        if let Some(out) = &self.out {
            std::fs::create_dir_all(out).map_err(|e| PipelineError::Io {
                path: out.clone(),
                msg: format!("cannot create the output folder: {e}"),
            })?;
        }
        // The Python side has gone (or stopped): a failed send ends the analysis.
        let _ = tx.send(Msg::Ready(model.label_set()));
        let opts = AnalyzeOptions {
            smooth: self.smooth,
            crops: self.crops,
            name: self.name.clone(),
            stop: Some(Arc::clone(stop)),
            ..AnalyzeOptions::default()
        };
        let send = |rows: &[Row]| {
            tx.send(Msg::Rows(rows.to_vec()))
                .map_err(|_| PipelineError::Interrupted)
        };
        match &self.out {
            None => wildfer_pipeline::analyze::analyze_rows(
                &self.input,
                source.as_mut(),
                detector.as_mut(),
                model.as_mut(),
                &opts,
                send,
                |_| {},
            )
            .map(drop),
            Some(out) => wildfer_pipeline::analyze::analyze_with_rows(
                &self.input,
                source.as_mut(),
                detector.as_mut(),
                model.as_mut(),
                &opts,
                out,
                send,
                |_| {},
            )
            .map(drop),
        }
    }
}

/// The rows of one input, as they are computed (see `wildfer.analyze_iter`).
#[pyclass(module = "wildfer._native")]
struct RowIter {
    input: String,
    /// `None` once the worker was stopped. (A mutex only to make the class `Sync`, as Python
    /// classes must be: it is only reached through `&mut self`.)
    rx: Mutex<Option<mpsc::Receiver<Msg>>>,
    pending: VecDeque<Row>,
    /// The model's classes (known once the worker is ready).
    classes: LabelSet,
    stop: Arc<AtomicBool>,
    worker: Option<std::thread::JoinHandle<()>>,
    finished: bool,
}

impl RowIter {
    fn rx(&mut self) -> &mut Option<mpsc::Receiver<Msg>> {
        self.rx.get_mut().unwrap_or_else(PoisonError::into_inner)
    }

    /// The worker's next message, waiting without the GIL; `Err` on Ctrl-C (the worker is
    /// stopped first).
    fn recv(&mut self, py: Python<'_>) -> PyResult<Option<Msg>> {
        loop {
            let Some(rx) = self.rx().take() else {
                return Ok(None);
            };
            let (rx, got) = recv_detached(py, rx);
            *self.rx() = Some(rx);
            match got {
                Ok(m) => return Ok(Some(m)),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Err(e) = py.check_signals() {
                        self.halt(py);
                        return Err(e);
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    self.halt(py);
                    return Err(Error::new_err(format!(
                        "{}: the analysis stopped unexpectedly",
                        self.input
                    )));
                }
            }
        }
    }

    /// Take in the worker's next message: rows are queued; the end or a failure finishes the
    /// iterator (a failure as the Python exception).
    fn accept(&mut self, py: Python<'_>) -> PyResult<()> {
        match self.recv(py)? {
            None => Ok(()),
            Some(Msg::Ready(classes)) => {
                self.classes = classes;
                Ok(())
            }
            Some(Msg::Rows(rows)) => {
                self.pending.extend(rows);
                Ok(())
            }
            Some(Msg::Done) => {
                self.done(py);
                Ok(())
            }
            Some(Msg::Failed(e)) => {
                self.done(py);
                Err(py_err(e))
            }
        }
    }

    /// Stop the worker and wait for it: an input in progress is abandoned (with `out`, its
    /// partial files are removed).
    fn halt(&mut self, py: Python<'_>) {
        self.stop.store(true, Ordering::SeqCst);
        self.done(py);
    }

    /// No more messages: let the worker go (a blocked send fails) and wait for it.
    fn done(&mut self, py: Python<'_>) {
        self.finished = true;
        *self.rx() = None;
        if let Some(w) = self.worker.take() {
            py.detach(move || {
                let _ = w.join();
            });
        }
    }
}

/// Landmark column names, in the detector's order (image-left first in each pair).
const LANDMARKS: [&str; 5] = ["eye_left", "eye_right", "nose", "mouth_left", "mouth_right"];

fn row_dict<'py>(
    py: Python<'py>,
    input: &str,
    classes: LabelSet,
    r: &Row,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("input", input)?;
    d.set_item("frame", r.frame)?;
    d.set_item("time_s", r.time_s)?;
    d.set_item("face_id", r.face_id)?;
    let f = r.face.as_ref();
    for (k, name) in ["x", "y", "w", "h"].into_iter().enumerate() {
        d.set_item(name, f.map(|f| f.bbox[k]))?;
    }
    d.set_item("det_score", f.map(|f| f.det_score))?;
    for (k, class) in classes.keys().enumerate() {
        d.set_item(class, f.map(|f| f.probabilities[k]))?;
    }
    d.set_item("expression", f.map(|f| f.expression))?;
    for (k, name) in LANDMARKS.into_iter().enumerate() {
        d.set_item(format!("{name}_x"), f.map(|f| f.landmarks[k][0]))?;
        d.set_item(format!("{name}_y"), f.map(|f| f.landmarks[k][1]))?;
    }
    Ok(d)
}

#[pymethods]
impl RowIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        loop {
            if let Some(r) = self.pending.pop_front() {
                return row_dict(py, &self.input, self.classes, &r).map(Some);
            }
            if self.finished {
                return Ok(None);
            }
            self.accept(py)?;
        }
    }

    /// How many classes the model answers: 7, or 8 with `other` (the rows' keys follow).
    #[getter]
    fn classes(&self) -> usize {
        self.classes.num_classes()
    }

    /// Stop the analysis now (what leaving a `for` loop early should do; also on deletion).
    fn close(&mut self, py: Python<'_>) {
        if !self.finished {
            self.halt(py);
        }
    }
}

impl Drop for RowIter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        *self.rx() = None;
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

#[pyfunction]
#[pyo3(signature = (path, model=None, detector="retinaface", smooth=5, crops=false, threads=None, fps=30.0, out=None, name=None, det_max_side=1024, full_detect_every=10, device="cpu", tta="none"))]
#[allow(clippy::too_many_arguments)]
fn analyze_iter(
    py: Python<'_>,
    path: PathBuf,
    model: Option<String>,
    detector: &str,
    smooth: usize,
    crops: bool,
    threads: Option<usize>,
    fps: f64,
    out: Option<PathBuf>,
    name: Option<String>,
    det_max_side: usize,
    full_detect_every: usize,
    device: &str,
    tta: &str,
) -> PyResult<RowIter> {
    let device = parse_device(device)?;
    let tta = parse_tta(tta)?;
    let kind = parse_detector(detector)?;
    let pool = thread_pool(threads)?;
    let job = Job {
        input: path.clone(),
        model,
        tta,
        detect: DetectOptions {
            kind,
            max_side: det_max_side,
            full_every: full_detect_every,
        },
        device,
        smooth,
        crops,
        fps,
        out,
        name,
    };
    let (tx, rx) = mpsc::sync_channel(AHEAD);
    let stop = Arc::new(AtomicBool::new(false));
    let worker = {
        let stop = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("wildfer-analyze".into())
            .spawn(move || {
                let result = in_pool(pool.as_ref(), || job.run(&tx, &stop));
                let _ = tx.send(match result {
                    Ok(()) => Msg::Done,
                    Err(e) => Msg::Failed(e),
                });
            })
            .map_err(|e| Error::new_err(format!("cannot start the analysis thread: {e}")))?
    };
    let mut it = RowIter {
        input: path.display().to_string(),
        rx: Mutex::new(Some(rx)),
        pending: VecDeque::new(),
        classes: LabelSet::Seven,
        stop,
        worker: Some(worker),
        finished: false,
    };
    // Bad inputs and names fail here, at the call, not at the first row.
    it.accept(py)?;
    Ok(it)
}

/// The names `analyze` gives the outputs of these inputs (their stems, told apart by their
/// folders when two share one).
#[pyfunction]
fn output_names(paths: Vec<PathBuf>) -> PyResult<Vec<String>> {
    wildfer_pipeline::inputs::output_names(&paths).map_err(py_err)
}

/// Write `summary.csv` and `report.html` over every finished input in `out`; their paths
/// (`None`: the folder holds no finished input).
#[pyfunction]
fn write_summary(out: PathBuf) -> PyResult<Option<(PathBuf, PathBuf)>> {
    Ok(wildfer_pipeline::analyze::summarize_folder(&out)
        .map_err(py_err)?
        .paths)
}

/// Run `f` on a worker thread while this thread waits without the GIL; Ctrl-C sets the stop
/// flag `f` is given and, once `f` has returned, raises `KeyboardInterrupt`.
fn interruptible<T: Send>(
    py: Python<'_>,
    f: impl FnOnce(Arc<AtomicBool>) -> Result<T, PipelineError> + Send,
) -> PyResult<T> {
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|scope| {
        let flag = Arc::clone(&stop);
        scope.spawn(move || {
            let _ = tx.send(f(flag));
        });
        let mut rx = rx;
        let mut interrupted: Option<PyErr> = None;
        loop {
            let (back, got) = recv_detached(py, rx);
            rx = back;
            match got {
                Ok(result) => {
                    return match interrupted {
                        Some(e) => Err(e),
                        None => result.map_err(py_err),
                    };
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if interrupted.is_none()
                        && let Err(e) = py.check_signals()
                    {
                        stop.store(true, Ordering::SeqCst);
                        interrupted = Some(e);
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(Error::new_err("the work stopped unexpectedly"));
                }
            }
        }
    })
}

/// `wildfer eval-images`' JSON and one JSON row per image.
#[pyfunction]
#[pyo3(signature = (data, model=None, crops=false, files=None, detector="retinaface", skip_unreadable=false, threads=None, device="cpu", tta="none"))]
#[allow(clippy::too_many_arguments)]
fn eval_images_json(
    py: Python<'_>,
    data: PathBuf,
    model: Option<String>,
    crops: bool,
    files: Option<String>,
    detector: &str,
    skip_unreadable: bool,
    threads: Option<usize>,
    device: &str,
    tta: &str,
) -> PyResult<(String, String)> {
    let device = parse_device(device)?;
    let tta = parse_tta(tta)?;
    let kind = parse_detector(detector)?;
    let pool = thread_pool(threads)?;
    interruptible(py, move |stop| {
        let work = || -> Result<(String, String), PipelineError> {
            let set = wildfer_pipeline::image_scoring::open_image_set(&data, files.as_deref())?;
            let mut m = load_model_with_tta(model.as_deref().map(Path::new), tta, &device)?;
            let mut det = if crops {
                None
            } else {
                Some(wildfer_pipeline::faces::load_detector(
                    &DetectOptions {
                        kind,
                        ..DetectOptions::default()
                    },
                    &device,
                )?)
            };
            let input = match &mut det {
                None => wildfer_pipeline::image_scoring::FaceInput::Crops,
                Some(d) => wildfer_pipeline::image_scoring::FaceInput::Detect(d.as_mut()),
            };
            let scores = wildfer_pipeline::image_scoring::score_images(
                &set.images,
                wildfer_labels::LabelSet::Seven,
                m.as_mut(),
                input,
                skip_unreadable,
                Some(&stop),
                |_, _| {},
            )?;
            let json = serde_json::to_string(&scores.json(m.name(), crops, None))
                .map_err(|e| PipelineError::Options(e.to_string()))?;
            let rows: Vec<serde_json::Value> = scores
                .rows
                .iter()
                .map(|r| {
                    let mut o = serde_json::Map::new();
                    o.insert("path".into(), r.path.display().to_string().into());
                    o.insert("truth".into(), r.truth.key().into());
                    o.insert("prediction".into(), r.prediction().map(|e| e.key()).into());
                    for (k, class) in m.label_set().keys().enumerate() {
                        o.insert(class.into(), r.probs.map(|p| f64::from(p[k])).into());
                    }
                    o.insert("note".into(), r.note().into());
                    serde_json::Value::Object(o)
                })
                .collect();
            let rows =
                serde_json::to_string(&rows).map_err(|e| PipelineError::Options(e.to_string()))?;
            Ok((json, rows))
        };
        in_pool(pool.as_ref(), work)
    })
}

/// `wildfer eval`'s JSON.
#[pyfunction]
#[pyo3(signature = (pred, truth, classes=None, allow_missing=false))]
fn eval_json(
    py: Python<'_>,
    pred: PathBuf,
    truth: PathBuf,
    classes: Option<usize>,
    allow_missing: bool,
) -> PyResult<String> {
    let label_set = classes.map(label_set).transpose()?;
    py.detach(|| {
        let read = |p: &Path, what: &str| {
            wildfer_labels::abaw::read_labels(p)
                .map_err(|e| InputError::new_err(format!("reading the {what}: {e}")))
        };
        let t = read(&truth, "truth")?;
        let p = read(&pred, "predictions")?;
        let report = wildfer_eval::evaluate(
            &t,
            &p,
            wildfer_eval::EvalOptions {
                label_set,
                allow_missing,
            },
        )
        .map_err(|e| {
            Error::new_err(format!(
                "{} against {}: {e}",
                pred.display(),
                truth.display()
            ))
        })?;
        serde_json::to_string(&report).map_err(|e| Error::new_err(e.to_string()))
    })
}

/// The built-in models: `(name, one line on it)`.
#[pyfunction]
fn models() -> Vec<(&'static str, &'static str)> {
    wildfer_pipeline::BUILTIN_MODELS
        .into_iter()
        .zip(wildfer_pipeline::expression::BUILTIN_MODEL_NOTES)
        .collect()
}

/// The keys of `analyze_iter`'s rows from a model of `classes` (7 or 8) classes, in order:
/// `input`, the CSV's columns, then each landmark's x and y (the order `row_dict` fills them
/// in).
#[pyfunction]
#[pyo3(signature = (classes=7))]
fn columns(classes: usize) -> PyResult<Vec<String>> {
    let classes = label_set(classes)?;
    let mut c = vec!["input".to_string()];
    c.extend(Row::csv_columns(classes).into_iter().map(String::from));
    for name in LANDMARKS {
        c.push(format!("{name}_x"));
        c.push(format!("{name}_y"));
    }
    Ok(c)
}

/// The keys of `classes` (7 or 8) classes (`neutral`, ..., `surprise`[, `other`]), in the
/// probabilities' order.
#[pyfunction]
#[pyo3(signature = (classes=7))]
fn class_keys(classes: usize) -> PyResult<Vec<&'static str>> {
    Ok(label_set(classes)?.keys().collect())
}

fn label_set(classes: usize) -> PyResult<LabelSet> {
    LabelSet::from_count(classes)
        .ok_or_else(|| OptionsError::new_err(format!("classes must be 7 or 8, got {classes}")))
}

/// The `wildfer` command line with these arguments (`argv[0]` is the program name); its exit
/// status. Runs without the GIL.
#[pyfunction]
fn cli(py: Python<'_>, argv: Vec<String>) -> u8 {
    py.detach(move || wildfer_cli::main_with_args(argv))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("Error", py.get_type::<Error>())?;
    m.add("InputError", py.get_type::<InputError>())?;
    m.add("ModelError", py.get_type::<ModelError>())?;
    m.add("OptionsError", py.get_type::<OptionsError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<RowIter>()?;
    m.add_function(wrap_pyfunction!(analyze_iter, m)?)?;
    m.add_function(wrap_pyfunction!(output_names, m)?)?;
    m.add_function(wrap_pyfunction!(write_summary, m)?)?;
    m.add_function(wrap_pyfunction!(eval_json, m)?)?;
    m.add_function(wrap_pyfunction!(eval_images_json, m)?)?;
    m.add_function(wrap_pyfunction!(models, m)?)?;
    m.add_function(wrap_pyfunction!(columns, m)?)?;
    m.add_function(wrap_pyfunction!(class_keys, m)?)?;
    m.add_function(wrap_pyfunction!(cli, m)?)?;
    Ok(())
}
