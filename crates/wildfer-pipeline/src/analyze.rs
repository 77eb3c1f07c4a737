//! `analyze`: any video or image -> every face's expression in every frame, as
//! `<stem>.csv` (one row per face per frame; one empty-face row for a frame without a face) and
//! `<stem>.json` (the same rows plus run metadata and per-track summaries), and
//! `<stem>.timeline.svg`. The tables are streamed to temporary files and renamed when the input
//! is finished.

use crate::PipelineError;
use crate::expression::{ExpressionModel, FaceKey, LabelSet, Probs};
use crate::faces::{FrameFaces, FrameStats, for_each_frame};
use crate::report::{Timeline, timeline_svg};
use crate::smooth::{FaceRecord, FrameRecord, Smoother};
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use wildfer_face::{FaceDetector, TrackerConfig};
use wildfer_files::AtomicFile;
use wildfer_labels::argmax;
use wildfer_video::FrameSource;

/// One output row: one face in one frame, or a frame where no face was found (`face: None`).
/// The one definition behind the CSV (`<stem>.csv`), the JSON rows and the Python API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// 1-based frame number.
    pub frame: usize,
    pub time_s: f64,
    pub face_id: Option<usize>,
    #[serde(flatten)]
    pub face: Option<RowFace>,
}

/// The face of a [`Row`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RowFace {
    /// x, y, w, h: top-left corner, width and height in source pixels, clipped to the frame.
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    pub det_score: f32,
    /// Eye, eye, nose tip, mouth corner, mouth corner as `[x, y]` in source pixels, each pair
    /// image-left first; not clipped.
    pub landmarks: [[f32; 2]; 5],
    /// The classes' probabilities (as written: smoothed), by key in ABAW order; `other` only
    /// from an 8-class model.
    pub probabilities: Probs,
    /// The most probable class's key (ties: the first).
    pub expression: &'static str,
}

impl Row {
    /// The rows of a classified (and smoothed) frame: one per face, or one without a face.
    pub fn of_frame(f: &FrameRecord) -> Vec<Row> {
        if f.faces.is_empty() {
            return vec![Row {
                frame: f.index,
                time_s: f.time_s,
                face_id: None,
                face: None,
            }];
        }
        f.faces
            .iter()
            .map(|face| {
                let b = face.detection.bbox;
                Row {
                    frame: f.index,
                    time_s: f.time_s,
                    face_id: Some(face.track),
                    face: Some(RowFace {
                        bbox: [b.x1, b.y1, b.width(), b.height()],
                        det_score: face.detection.score,
                        landmarks: face.detection.landmarks.map(|q| [q.x, q.y]),
                        probabilities: face.probs,
                        expression: face.probs.top().key(),
                    }),
                }
            })
            .collect()
    }

    /// The CSV's column names, in order, for a model answering `classes` (`other` only for an
    /// 8-class one).
    pub fn csv_columns(classes: LabelSet) -> Vec<&'static str> {
        let mut c = vec![
            "frame",
            "time_s",
            "face_id",
            "x",
            "y",
            "w",
            "h",
            "det_score",
        ];
        c.extend(classes.keys());
        c.push("expression");
        c
    }

    /// The CSV header line (without the newline).
    pub fn csv_header(classes: LabelSet) -> String {
        Row::csv_columns(classes).join(",")
    }

    /// Append this row as a CSV line (with its newline) of a table of `classes`; a frame
    /// without a face leaves the face columns empty.
    pub fn write_csv(&self, classes: LabelSet, line: &mut String) {
        let _ = write!(line, "{},{:.6},", self.frame, self.time_s);
        match &self.face {
            None => {
                // Every column after `time_s` is empty.
                line.push_str(&",".repeat(Row::csv_columns(classes).len() - 3));
            }
            Some(f) => {
                let [x, y, w, h] = f.bbox;
                let _ = write!(
                    line,
                    "{},{x:.1},{y:.1},{w:.1},{h:.1},{:.4}",
                    self.face_id.unwrap_or_default(),
                    f.det_score
                );
                for v in f.probabilities.iter() {
                    let _ = write!(line, ",{v:.6}");
                }
                let _ = write!(line, ",{}", f.expression);
            }
        }
        line.push('\n');
    }
}

/// Per-track totals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrackSummary {
    pub face_id: usize,
    pub frames: usize,
    pub first_frame: usize,
    pub last_frame: usize,
    /// Share of the track's frames won by each class (ABAW order keys).
    pub share: BTreeMap<&'static str, f64>,
    /// Mean probability of each class over the track's frames (as written, smoothed).
    pub mean: BTreeMap<&'static str, f64>,
    pub dominant: &'static str,
}

/// What `analyze` did for one input.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalyzeSummary {
    pub input: PathBuf,
    /// The outputs' name (`<name>.csv`, ...).
    pub name: String,
    pub csv: PathBuf,
    pub json: PathBuf,
    pub model: String,
    pub detector: String,
    /// The smoothing window used, in frames (1: none).
    pub smooth_frames: usize,
    #[serde(flatten)]
    pub stats: FrameStats,
    pub track_summaries: Vec<TrackSummary>,
    /// `<stem>.timeline.svg`.
    pub timeline_svg: PathBuf,
    /// The annotated video or still, when asked for.
    pub annotated: Option<PathBuf>,
    /// Binned probabilities and thumbnails per track (for the HTML report), and the classes
    /// the model answers (`timeline.classes`: `other` only from an 8-class model).
    #[serde(skip)]
    pub timeline: Timeline,
}

#[derive(Default)]
struct TrackAcc {
    frames: usize,
    first: usize,
    last: usize,
    /// Per class, ABAW order (the model's classes first).
    wins: [usize; 8],
    sums: [f64; 8],
}

/// Output file names of an input named `name`: `<name>.csv` / `<name>.json` in `out`.
pub fn output_paths(name: &str, out: &Path) -> (PathBuf, PathBuf) {
    (
        out.join(format!("{name}.csv")),
        out.join(format!("{name}.json")),
    )
}

/// `<stem>.csv`: the rows as CSV lines, the header derived from [`Row`] and the model's classes.
struct CsvSink {
    file: AtomicFile,
    classes: LabelSet,
    line: String,
}

impl CsvSink {
    fn create(path: &Path, classes: LabelSet) -> Result<Self, PipelineError> {
        let mut file = AtomicFile::create(path)?;
        file.write(format!("{}\n", Row::csv_header(classes)).as_bytes())?;
        Ok(CsvSink {
            file,
            classes,
            line: String::new(),
        })
    }
}

impl FrameSink for CsvSink {
    fn ready(&mut self, _f: &FrameRecord, rows: &[Row]) -> Result<(), PipelineError> {
        self.line.clear();
        for r in rows {
            r.write_csv(self.classes, &mut self.line);
        }
        self.file.write(self.line.as_bytes())?;
        Ok(())
    }
}

/// `<stem>.json`'s rows (its metadata is written when the input is finished).
struct JsonSink {
    file: AtomicFile,
    first_row: bool,
}

impl JsonSink {
    fn create(path: &Path) -> Result<Self, PipelineError> {
        let mut file = AtomicFile::create(path)?;
        file.write(b"{\"rows\":[\n")?;
        Ok(JsonSink {
            file,
            first_row: true,
        })
    }
}

impl FrameSink for JsonSink {
    fn ready(&mut self, _f: &FrameRecord, rows: &[Row]) -> Result<(), PipelineError> {
        for r in rows {
            let sep = if self.first_row { "" } else { ",\n" };
            self.first_row = false;
            let json =
                serde_json::to_string(r).map_err(|e| PipelineError::Options(e.to_string()))?;
            self.file.write(format!("{sep}{json}").as_bytes())?;
        }
        Ok(())
    }
}

/// Per-track totals and the timeline (with thumbnails): what the summaries and reports are
/// made of.
struct TotalsSink {
    tracks: BTreeMap<usize, TrackAcc>,
    timeline: Timeline,
}

impl FrameSink for TotalsSink {
    fn classified(&mut self, ff: &mut FrameFaces, probs: &[Probs]) {
        for (face, p) in ff.faces.iter().zip(probs) {
            if self.timeline.wants_thumb(face.track, ff.index) {
                let mut jpeg = Vec::new();
                let side = face.crop.size();
                // A thumbnail that fails to encode is left out of the report, nothing else.
                if crate::encode_jpeg(&mut jpeg, &face.crop.rgb, side, side, 85).is_ok() {
                    self.timeline.add_thumb(face.track, ff.index, jpeg, p);
                }
            }
        }
    }

    fn ready(&mut self, f: &FrameRecord, _rows: &[Row]) -> Result<(), PipelineError> {
        for face in &f.faces {
            let p = &face.probs;
            let acc = self.tracks.entry(face.track).or_insert(TrackAcc {
                first: f.index,
                ..TrackAcc::default()
            });
            acc.frames += 1;
            acc.last = f.index;
            acc.wins[argmax(p)] += 1;
            for (s, v) in acc.sums.iter_mut().zip(p.iter()) {
                *s += f64::from(*v);
            }
            self.timeline.add(face.track, f.index, p);
        }
        Ok(())
    }
}

/// The annotated video or still (`--annotate`): each frame's pixels kept until its smoothed
/// faces are known, then drawn and written.
struct AnnotationSink {
    /// Frames waiting for their (smoothed) faces to be drawn, oldest first.
    pixels: VecDeque<(usize, usize, usize, Vec<u8>)>,
    target: Annotated,
    fps: f64,
}

impl FrameSink for AnnotationSink {
    fn classified(&mut self, ff: &mut FrameFaces, _probs: &[Probs]) {
        let rgb = std::mem::take(&mut ff.rgb);
        self.pixels.push_back((ff.index, ff.width, ff.height, rgb));
    }

    fn ready(&mut self, f: &FrameRecord, _rows: &[Row]) -> Result<(), PipelineError> {
        while let Some((index, w, h, mut rgb)) = self.pixels.pop_front() {
            if index != f.index {
                continue;
            }
            crate::annotate::draw(&mut rgb, w, h, &f.faces);
            match &mut self.target {
                Annotated::Still(path) => {
                    let mut jpeg = Vec::new();
                    crate::encode_jpeg(&mut jpeg, &rgb, w, h, 90)
                        .map_err(|e| PipelineError::io(path, e))?;
                    wildfer_files::write_atomic(path, &jpeg)?;
                }
                Annotated::Video(path, audio, writer) => {
                    if writer.is_none() {
                        *writer = Some(crate::annotate::VideoWriter::create(
                            path,
                            w,
                            h,
                            self.fps,
                            audio.as_deref(),
                        )?);
                    }
                    if let Some(wr) = writer.as_mut() {
                        wr.write(&rgb)?;
                    }
                }
            }
            break;
        }
        Ok(())
    }
}

/// Where annotated frames go.
enum Annotated {
    /// The annotated video, the file whose audio it carries, the writer once started.
    Video(
        PathBuf,
        Option<PathBuf>,
        Option<crate::annotate::VideoWriter>,
    ),
    Still(PathBuf),
}

/// Rows handed to a caller (the Python API's stream, `analyze_rows`).
struct RowsSink<F>(F);

impl<F: FnMut(&[Row]) -> Result<(), PipelineError>> FrameSink for RowsSink<F> {
    fn ready(&mut self, _f: &FrameRecord, rows: &[Row]) -> Result<(), PipelineError> {
        (self.0)(rows)
    }
}

/// Several sinks fed the same frames, in order.
struct Sinks<'a>(Vec<&'a mut dyn FrameSink>);

impl FrameSink for Sinks<'_> {
    fn classified(&mut self, ff: &mut FrameFaces, probs: &[Probs]) {
        for s in &mut self.0 {
            s.classified(ff, probs);
        }
    }

    fn ready(&mut self, f: &FrameRecord, rows: &[Row]) -> Result<(), PipelineError> {
        self.0.iter_mut().try_for_each(|s| s.ready(f, rows))
    }
}

/// Settings of `analyze`.
#[derive(Debug, Clone)]
pub struct AnalyzeOptions {
    pub tracker: TrackerConfig,
    /// Moving-average window over each face's probabilities, in frames (0 or 1: off).
    pub smooth: usize,
    /// Also write `<stem>.annotated.mp4` (ffmpeg) or, for a still, `<stem>.annotated.jpg`.
    pub annotate: bool,
    /// The outputs' name (`<name>.csv`, ...); `None`: the input's stem. A run of several
    /// inputs names them with [`crate::inputs::output_names`], which keeps them apart.
    pub name: Option<String>,
    /// Every frame already is one face crop: no detection (the `detector` is not used); each
    /// frame's largest centred square is fitted to the model's crop, as `eval-images --crops`
    /// does.
    pub crops: bool,
    /// Checked before every frame: once set, the input is abandoned (its partial files
    /// removed) with [`PipelineError::Interrupted`].
    pub stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        AnalyzeOptions {
            tracker: TrackerConfig::default(),
            smooth: 5,
            annotate: false,
            name: None,
            crops: false,
            stop: None,
        }
    }
}

/// `Err` when `--annotate` cannot make videos here (ffmpeg missing): checked before anything
/// is written, so that asking for an annotated video never costs an input its tables.
pub fn annotation_possible() -> Result<(), PipelineError> {
    if wildfer_video::ffmpeg::available() {
        Ok(())
    } else {
        Err(PipelineError::Options(
            "--annotate: annotated videos are encoded by ffmpeg, which is not installed: install it (e.g. `apt-get install ffmpeg`) or leave out --annotate (stills are annotated without it)".into(),
        ))
    }
}

/// One output of `analyze` (the CSV, the JSON rows, the annotated video, the totals and
/// timeline, a caller's row stream), fed the frames of [`run_frames`].
trait FrameSink {
    /// A frame's faces with their probabilities before smoothing: the only time the faces'
    /// crops and the frame's pixels are at hand (a sink may take the pixels).
    fn classified(&mut self, _frame: &mut FrameFaces, _probs: &[Probs]) {}
    /// A frame to write, classified and smoothed, in frame order, with its rows.
    fn ready(&mut self, f: &FrameRecord, rows: &[Row]) -> Result<(), PipelineError>;
}

/// Classified frames waiting for their faces' probabilities (temporal models answer a few
/// frames late), released in frame order.
#[derive(Default)]
struct Waiting {
    /// Each frame, the key of its first face, and its faces' probabilities so far.
    frames: VecDeque<(FrameFaces, FaceKey, Vec<Option<Probs>>)>,
}

impl Waiting {
    fn push(&mut self, ff: FrameFaces, first_key: FaceKey) {
        let n = ff.faces.len();
        self.frames.push_back((ff, first_key, vec![None; n]));
    }

    fn answer(&mut self, answered: Vec<(FaceKey, Probs)>) -> Result<(), PipelineError> {
        for (key, p) in answered {
            let slot = self
                .frames
                .iter_mut()
                .find(|(_, first, probs)| key >= *first && key < first + probs.len() as FaceKey)
                .and_then(|(_, first, probs)| probs.get_mut((key - *first) as usize));
            match slot {
                Some(s) => *s = Some(p),
                None => {
                    return Err(PipelineError::Model(format!(
                        "the model answered face {key}, which is not waiting"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Every frame at the front whose faces are all answered: to the sink, then smoothed.
    fn release(
        &mut self,
        smoother: &mut Smoother,
        sink: &mut dyn FrameSink,
    ) -> Result<(), PipelineError> {
        while self
            .frames
            .front()
            .is_some_and(|(_, _, probs)| probs.iter().all(Option::is_some))
        {
            let Some((mut ff, _, probs)) = self.frames.pop_front() else {
                break;
            };
            let probs: Vec<Probs> = probs.into_iter().flatten().collect();
            sink.classified(&mut ff, &probs);
            let (index, width, height) = (ff.index, ff.width, ff.height);
            let record = FrameRecord {
                index,
                time_s: ff.time_s,
                faces: ff
                    .faces
                    .into_iter()
                    .zip(probs)
                    .map(|(f, probs)| FaceRecord {
                        track: f.track,
                        detection: wildfer_face::Detection {
                            bbox: f.detection.bbox.clipped(width, height),
                            ..f.detection
                        },
                        probs,
                    })
                    .collect(),
            };
            for ready in smoother.push(record) {
                sink.ready(&ready, &Row::of_frame(&ready))?;
            }
        }
        Ok(())
    }
}

/// Frames a frame-level model's faces are gathered over before one batched call: a batch of
/// a few faces runs up to twice as fast as one call per face (`bench faces`, BENCHMARKS.md),
/// and only this many frames wait for their answers.
const BATCH_FRAMES: usize = 8;

/// The faces of the last few frames, waiting for one batched call of a frame-level model.
#[derive(Default)]
struct Batch {
    keys: Vec<FaceKey>,
    /// Aligned faces, or (with `--crops`) whole frames that each are one face crop.
    faces: Vec<wildfer_face::AlignedFace>,
    crops: Vec<wildfer_video::Frame>,
    frames: usize,
}

impl Batch {
    /// Every face gathered, classified in one call.
    fn run(
        &mut self,
        model: &mut dyn ExpressionModel,
    ) -> Result<Vec<(FaceKey, Probs)>, PipelineError> {
        self.frames = 0;
        if self.keys.is_empty() {
            return Ok(Vec::new());
        }
        let probs = if self.crops.is_empty() {
            model.predict(&self.faces)?
        } else {
            model.predict_crops(&self.crops)?
        };
        self.faces.clear();
        self.crops.clear();
        if probs.len() != self.keys.len() {
            return Err(PipelineError::Model(format!(
                "{}: {} answers for {} faces",
                model.name(),
                probs.len(),
                self.keys.len()
            )));
        }
        Ok(self.keys.drain(..).zip(probs).collect())
    }
}

/// The one frame loop of `analyze`: detect (or take each frame as the face crop with
/// `opts.crops`), track, classify, smooth; `progress` after every frame.
fn run_frames(
    input: &Path,
    source: &mut dyn FrameSource,
    detector: &mut dyn FaceDetector,
    model: &mut dyn ExpressionModel,
    opts: &AnalyzeOptions,
    sink: &mut dyn FrameSink,
    progress: &mut dyn FnMut(usize),
) -> Result<FrameStats, PipelineError> {
    opts.tracker
        .validate()
        .map_err(|e| PipelineError::Options(e.to_string()))?;
    let crop = model.crop();
    model.reset();
    let mut smoother = Smoother::new(opts.smooth);
    let mut waiting = Waiting::default();
    let mut next_key: FaceKey = 0;
    let temporal = model.temporal();
    let mut batch = Batch::default();
    let mut crop_is_face = wildfer_face::CropIsFace { spec: crop };
    let detector: &mut dyn FaceDetector = if opts.crops {
        &mut crop_is_face
    } else {
        detector
    };
    let stats = for_each_frame(input, source, detector, opts.tracker.clone(), crop, |ff| {
        if opts
            .stop
            .as_ref()
            .is_some_and(|s| s.load(std::sync::atomic::Ordering::SeqCst))
        {
            return Err(PipelineError::Interrupted);
        }
        let tracks: Vec<usize> = ff.faces.iter().map(|f| f.track).collect();
        let n = tracks.len();
        let keys: Vec<FaceKey> = (next_key..next_key + n as FaceKey).collect();
        next_key += n as FaceKey;
        let frame = || wildfer_video::Frame {
            index: ff.index,
            time_s: ff.time_s,
            width: ff.width,
            height: ff.height,
            rgb: ff.rgb.clone(),
        };
        let crops = || ff.faces.iter().map(|f| f.crop.clone());
        let answered = if temporal && opts.crops {
            model.submit_crops(&keys, &tracks, &vec![frame(); n])?
        } else if temporal {
            model.submit(&keys, &tracks, &crops().collect::<Vec<_>>())?
        } else {
            // A frame-level model: each face alone, so faces of several frames go in one call.
            batch.keys.extend(&keys);
            if opts.crops {
                batch.crops.extend(std::iter::repeat_n(frame(), n));
            } else {
                batch.faces.extend(crops());
            }
            batch.frames += 1;
            if batch.frames >= BATCH_FRAMES {
                batch.run(model)?
            } else {
                Vec::new()
            }
        };
        let index = ff.index;
        waiting.push(ff, keys.first().copied().unwrap_or(next_key));
        waiting.answer(answered)?;
        waiting.release(&mut smoother, sink)?;
        progress(index);
        Ok(())
    })?;
    waiting.answer(batch.run(model)?)?;
    waiting.answer(model.flush()?)?;
    waiting.release(&mut smoother, sink)?;
    if !waiting.frames.is_empty() {
        return Err(PipelineError::Model(format!(
            "{}: left faces without probabilities at the end of the input",
            model.name()
        )));
    }
    for ready in smoother.finish() {
        sink.ready(&ready, &Row::of_frame(&ready))?;
    }
    Ok(stats)
}

/// Every row of one input, handed to `on_rows` frame by frame as soon as it is final (after
/// smoothing), nothing written: what the Python API streams. `opts.annotate` is refused (it
/// needs an output folder). `progress` is called after every frame.
pub fn analyze_rows(
    input: &Path,
    source: &mut dyn FrameSource,
    detector: &mut dyn FaceDetector,
    model: &mut dyn ExpressionModel,
    opts: &AnalyzeOptions,
    on_rows: impl FnMut(&[Row]) -> Result<(), PipelineError>,
    mut progress: impl FnMut(usize),
) -> Result<FrameStats, PipelineError> {
    if opts.annotate {
        return Err(PipelineError::Options(
            "annotating needs an output folder".into(),
        ));
    }
    run_frames(
        input,
        source,
        detector,
        model,
        opts,
        &mut RowsSink(on_rows),
        &mut progress,
    )
}

/// Analyse one input into `out`. `progress` is called after every frame.
pub fn analyze(
    input: &Path,
    source: &mut dyn FrameSource,
    detector: &mut dyn FaceDetector,
    model: &mut dyn ExpressionModel,
    opts: &AnalyzeOptions,
    out: &Path,
    progress: impl FnMut(usize),
) -> Result<AnalyzeSummary, PipelineError> {
    analyze_with_rows(
        input,
        source,
        detector,
        model,
        opts,
        out,
        |_| Ok(()),
        progress,
    )
}

/// [`analyze`], also handing every row to `on_rows` as it is written (see [`analyze_rows`]).
/// An `Err` from `on_rows` abandons the input like any other error: its partial files are
/// removed.
#[allow(clippy::too_many_arguments)]
pub fn analyze_with_rows(
    input: &Path,
    source: &mut dyn FrameSource,
    detector: &mut dyn FaceDetector,
    model: &mut dyn ExpressionModel,
    opts: &AnalyzeOptions,
    out: &Path,
    mut on_rows: impl FnMut(&[Row]) -> Result<(), PipelineError>,
    mut progress: impl FnMut(usize),
) -> Result<AnalyzeSummary, PipelineError> {
    let stem = output_name(input, opts);
    let (csv_path, json_path) = output_paths(&stem, out);
    if opts.annotate && !wildfer_video::stills::is_image(input) {
        annotation_possible()?;
    }
    let target = opts.annotate.then(|| {
        if wildfer_video::stills::is_image(input) {
            Annotated::Still(out.join(format!("{stem}.annotated.jpg")))
        } else {
            // A numbered image sequence (a folder) has no sound.
            let audio = input.is_file().then(|| input.to_path_buf());
            Annotated::Video(out.join(format!("{stem}.annotated.mp4")), audio, None)
        }
    });
    let info = source.info().clone();
    let classes = model.label_set();
    let mut csv = CsvSink::create(&csv_path, classes)?;
    let mut json = JsonSink::create(&json_path)?;
    let mut totals = TotalsSink {
        tracks: BTreeMap::new(),
        timeline: Timeline::new(info.frames, info.fps, classes),
    };
    let mut annotation = target.map(|target| AnnotationSink {
        pixels: VecDeque::new(),
        target,
        fps: info.fps,
    });
    let mut caller = RowsSink(&mut on_rows);
    let crop = model.crop();
    let stats = {
        let mut sinks: Vec<&mut dyn FrameSink> = vec![&mut totals, &mut csv, &mut json];
        if let Some(a) = annotation.as_mut() {
            // Drawn first: a frame's pixels are released as soon as it is written.
            sinks.insert(0, a);
        }
        sinks.push(&mut caller);
        run_frames(
            input,
            source,
            detector,
            model,
            opts,
            &mut Sinks(sinks),
            &mut progress,
        )?
    };
    let TotalsSink { tracks, timeline } = totals;
    let (csv, mut json) = (csv.file, json.file);
    let annotated = match annotation.map(|a| a.target) {
        Some(Annotated::Video(path, _, Some(writer))) => {
            writer.finish()?;
            Some(path)
        }
        Some(Annotated::Still(path)) => Some(path),
        _ => None,
    };

    let track_summaries: Vec<TrackSummary> = tracks
        .iter()
        .map(|(id, t)| {
            let classes = timeline.classes.classes();
            let share = classes
                .iter()
                .zip(t.wins)
                .map(|(c, n)| (c.key(), n as f64 / t.frames as f64))
                .collect();
            let mean = classes
                .iter()
                .zip(t.sums)
                .map(|(c, s)| (c.key(), s / t.frames as f64))
                .collect();
            let dom = argmax(&t.wins[..classes.len()]);
            TrackSummary {
                face_id: *id,
                frames: t.frames,
                first_frame: t.first,
                last_frame: t.last,
                share,
                mean,
                dominant: classes[dom].key(),
            }
        })
        .collect();
    let svg_path = out.join(format!("{stem}.timeline.svg"));
    let summary = AnalyzeSummary {
        input: input.to_path_buf(),
        name: stem.clone(),
        csv: csv_path,
        json: json_path,
        timeline_svg: svg_path,
        annotated,
        model: model.name().to_string(),
        detector: detector_name(opts, detector).to_string(),
        smooth_frames: opts.smooth.max(1),
        stats,
        track_summaries,
        timeline,
    };
    let meta = serde_json::json!({
        "wildfer_version": env!("CARGO_PKG_VERSION"),
        "input": summary.input, "name": summary.name,
        "model": summary.model, "detector": summary.detector,
        "classes": summary.timeline.classes.keys().collect::<Vec<_>>(),
        "frames_expected": summary.stats.frames_expected,
        "frames_read": summary.stats.frames_read,
        "complete": summary.stats.missing_frames() == 0,
        "frames_with_face": summary.stats.frames_with_face,
        "faces": summary.stats.faces, "bad_frames": summary.stats.bad_frames,
        "first_bad_frame": summary.stats.first_bad_frame,
        "annotated": summary.annotated,
        "smooth_frames": summary.smooth_frames,
        // What the input is (as its header says) and how it was analysed.
        "codec": info.codec,
        "width": info.width, "height": info.height, "fps": info.fps,
        "duration_s": if info.fps > 0.0 { info.frames as f64 / info.fps } else { 0.0 },
        "options": {
            "smooth": opts.smooth,
            "crop": { "size": crop.size, "zoom": crop.zoom, "shift": crop.shift },
            "tracker": {
                "min_iou": opts.tracker.min_iou,
                "max_center_shift": opts.tracker.max_center_shift,
                "max_gap": opts.tracker.max_gap,
            },
        },
        "conventions": {
            "box": "x, y, w, h: top-left corner, width and height in source pixels, clipped to the frame",
            "landmarks": "[x, y] in source pixels: eye, eye, nose tip, mouth corner, mouth corner; each pair image-left first (the subject's right, for a frontal face); not clipped",
        },
        "tracks": summary.track_summaries,
        // What the folder's summary.csv and report.html are rebuilt from.
        "timeline": summary.timeline.to_record(),
    });
    json.write(format!("\n],\n\"metadata\":{meta}}}\n").as_bytes())?;
    wildfer_files::write_atomic(
        &summary.timeline_svg,
        timeline_svg(&stem, &summary.timeline).as_bytes(),
    )?;
    let png_path = summary.timeline_svg.with_extension("png");
    let png = crate::report::timeline_png(&stem, &summary.timeline)
        .map_err(|e| PipelineError::io(&png_path, e))?;
    wildfer_files::write_atomic(&png_path, &png)?;
    csv.commit()?;
    json.commit()?;
    Ok(summary)
}

/// `summary.csv`'s header line for a model answering `classes`.
fn summary_csv_header(classes: LabelSet) -> String {
    let mut s = String::from("input,face_id,frames,first_frame,last_frame");
    for c in classes.keys() {
        let _ = write!(s, ",share_{c}");
    }
    for c in classes.keys() {
        let _ = write!(s, ",mean_{c}");
    }
    s.push_str(",dominant\n");
    s
}

/// `summary.csv`'s rows of one input: one per track.
fn summary_csv_rows(a: &AnalyzeSummary, s: &mut String) {
    for t in &a.track_summaries {
        let _ = write!(
            s,
            "{},{},{},{},{}",
            csv_field(&a.input.display().to_string()),
            t.face_id,
            t.frames,
            t.first_frame,
            t.last_frame
        );
        for c in a.timeline.classes.keys() {
            let _ = write!(s, ",{:.4}", t.share[c]);
        }
        for c in a.timeline.classes.keys() {
            let _ = write!(s, ",{:.4}", t.mean[c]);
        }
        let _ = writeln!(s, ",{}", t.dominant);
    }
}

/// Inputs whose report section has the timeline and thumbnails; later inputs get their table
/// only, so that the report of a corpus stays a page a browser can open (each input's timeline
/// is also its `<name>.timeline.svg`).
pub const REPORT_FULL_INPUTS: usize = 200;

/// `summary.csv` and `report.html` written one input at a time (streamed to temporary files,
/// renamed by [`FolderSummary::finish`]): memory stays flat however many inputs a folder or a
/// merge holds.
pub struct FolderSummary {
    csv: AtomicFile,
    html: AtomicFile,
    csv_path: PathBuf,
    html_path: PathBuf,
    detectors: std::collections::BTreeSet<String>,
    inputs: usize,
    /// The classes of the inputs' models; the CSV's header is written with the first input.
    classes: Option<LabelSet>,
}

impl FolderSummary {
    /// Start `summary.csv` and `report.html` in `out`.
    pub fn create(out: &Path) -> Result<Self, PipelineError> {
        let (csv_path, html_path) = (out.join("summary.csv"), out.join("report.html"));
        let mut w = FolderSummary {
            csv: AtomicFile::create(&csv_path)?,
            html: AtomicFile::create(&html_path)?,
            csv_path,
            html_path,
            detectors: Default::default(),
            inputs: 0,
            classes: None,
        };
        w.html.write(crate::report::html_head().as_bytes())?;
        Ok(w)
    }

    /// Add one input (in the order they should appear). All inputs' models must answer the
    /// same classes (one table).
    pub fn add(&mut self, a: &AnalyzeSummary) -> Result<(), PipelineError> {
        let classes = a.timeline.classes;
        match self.classes {
            None => {
                self.csv.write(summary_csv_header(classes).as_bytes())?;
                self.classes = Some(classes);
            }
            Some(c) if c != classes => {
                return Err(PipelineError::io(
                    &a.json,
                    format!(
                        "analysed with {} classes, the folder's other inputs with {}: summarise them apart",
                        classes.num_classes(),
                        c.num_classes()
                    ),
                ));
            }
            Some(_) => {}
        }
        let mut rows = String::new();
        summary_csv_rows(a, &mut rows);
        self.csv.write(rows.as_bytes())?;
        let full = self.inputs < REPORT_FULL_INPUTS;
        if self.inputs == REPORT_FULL_INPUTS {
            let note = format!(
                "<p><i>Inputs after the first {REPORT_FULL_INPUTS}: their tables only (each input's timeline is its &lt;name&gt;.timeline.svg beside its outputs).</i></p>\n"
            );
            self.html.write(note.as_bytes())?;
        }
        self.html
            .write(crate::report::html_section(&report_section(a, full)).as_bytes())?;
        self.detectors.insert(a.detector.clone());
        self.inputs += 1;
        Ok(())
    }

    /// Inputs added so far.
    pub fn inputs(&self) -> usize {
        self.inputs
    }

    /// Finish both files: the paths of `summary.csv` and `report.html`.
    pub fn finish(mut self) -> Result<(PathBuf, PathBuf), PipelineError> {
        if self.classes.is_none() {
            self.csv
                .write(summary_csv_header(LabelSet::Seven).as_bytes())?;
        }
        let detectors: Vec<&str> = self.detectors.iter().map(String::as_str).collect();
        self.html
            .write(crate::report::html_foot(&report_footer(&detectors)).as_bytes())?;
        self.csv.commit()?;
        self.html.commit()?;
        Ok((self.csv_path, self.html_path))
    }
}

/// The metadata of an `analyze` JSON, as read back.
#[derive(serde::Deserialize)]
struct MetadataIn {
    wildfer_version: String,
    input: PathBuf,
    name: String,
    model: String,
    /// Absent from outputs of wildfer before 8-class models were reported (always 7).
    #[serde(default)]
    classes: Option<Vec<String>>,
    detector: String,
    smooth_frames: usize,
    frames_expected: usize,
    frames_read: usize,
    frames_with_face: usize,
    faces: usize,
    bad_frames: usize,
    first_bad_frame: Option<String>,
    annotated: Option<PathBuf>,
    tracks: Vec<TrackIn>,
    timeline: crate::report::TimelineRecord,
}

#[derive(serde::Deserialize)]
struct TrackIn {
    face_id: usize,
    frames: usize,
    first_frame: usize,
    last_frame: usize,
    share: BTreeMap<String, f64>,
    mean: BTreeMap<String, f64>,
    dominant: String,
}

/// An `analyze` JSON's top level; the rows are skipped as they stream past (memory stays flat
/// however long the input was).
#[derive(serde::Deserialize)]
struct OutputIn {
    #[allow(dead_code)]
    rows: serde::de::IgnoredAny,
    metadata: MetadataIn,
}

/// The label set an output's `classes` list names (absent: the seven of outputs written before
/// 8-class models were reported).
fn classes_of(keys: Option<&[String]>) -> Option<LabelSet> {
    let Some(keys) = keys else {
        return Some(LabelSet::Seven);
    };
    let set = LabelSet::from_count(keys.len())?;
    set.keys()
        .eq(keys.iter().map(String::as_str))
        .then_some(set)
}

/// Read back what `analyze` wrote for one input from its `<name>.json` (the per-frame rows are
/// skipped). `Err` names the file and what is wrong; a JSON written by a wildfer without
/// timelines in it (before 0.1's report rebuild) is such an error too.
pub fn read_output(json: &Path) -> Result<AnalyzeSummary, PipelineError> {
    // Streamed, so no size cap is needed for memory; a device or FIFO is still refused.
    let (file, _) =
        wildfer_files::open_regular(json, u64::MAX).map_err(|e| PipelineError::io(json, e))?;
    let parsed: OutputIn = serde_json::from_reader(std::io::BufReader::new(file))
        .map_err(|e| PipelineError::io(json, format!("not a wildfer analyze output: {e}")))?;
    let m = parsed.metadata;
    let bad = |what: String| PipelineError::io(json, what);
    let classes = classes_of(m.classes.as_deref())
        .ok_or_else(|| bad(format!("unknown classes {:?}", m.classes)))?;
    let class_key = |k: &str| classes.class_of_key(k).map(|c| c.key());
    let timeline = crate::report::Timeline::from_record(&m.timeline, classes).map_err(bad)?;
    let keyed = |map: BTreeMap<String, f64>| -> Result<BTreeMap<&'static str, f64>, PipelineError> {
        map.into_iter()
            .map(|(k, v)| {
                class_key(&k)
                    .map(|k| (k, v))
                    .ok_or_else(|| bad(format!("unknown class {k:?}")))
            })
            .collect()
    };
    let track_summaries = m
        .tracks
        .into_iter()
        .map(|t| {
            Ok(TrackSummary {
                face_id: t.face_id,
                frames: t.frames,
                first_frame: t.first_frame,
                last_frame: t.last_frame,
                share: keyed(t.share)?,
                mean: keyed(t.mean)?,
                dominant: class_key(&t.dominant)
                    .ok_or_else(|| bad(format!("unknown class {:?}", t.dominant)))?,
            })
        })
        .collect::<Result<Vec<_>, PipelineError>>()?;
    let _ = m.wildfer_version;
    let dir = json.parent().unwrap_or(Path::new("."));
    let (csv, json_path) = output_paths(&m.name, dir);
    Ok(AnalyzeSummary {
        input: m.input,
        csv,
        json: json_path,
        timeline_svg: dir.join(format!("{}.timeline.svg", m.name)),
        name: m.name,
        model: m.model,
        detector: m.detector,
        smooth_frames: m.smooth_frames,
        stats: FrameStats {
            frames_expected: m.frames_expected,
            frames_read: m.frames_read,
            frames_with_face: m.frames_with_face,
            faces: m.faces,
            bad_frames: m.bad_frames,
            first_bad_frame: m.first_bad_frame,
            tracks: track_summaries.len(),
        },
        track_summaries,
        annotated: m.annotated,
        timeline,
    })
}

/// The outputs' name of `input` under `opts`: `opts.name`, else the input's stem.
fn output_name(input: &Path, opts: &AnalyzeOptions) -> String {
    opts.name
        .clone()
        .unwrap_or_else(|| crate::inputs::stem(input))
}

/// The detector `analyze` records for `opts`: none with `crops`.
fn detector_name<'a>(opts: &AnalyzeOptions, detector: &'a dyn FaceDetector) -> &'a str {
    if opts.crops {
        wildfer_face::CropIsFace::NAME
    } else {
        detector.name()
    }
}

/// The analysis of `input` already in `out`, when it is finished (every frame the input
/// announces was read) and was made as [`analyze`] would make it now: same `model`, detector
/// (as `opts` chooses it) and smoothing. A re-run (a requeued array task, a second batch)
/// skips it. `None`: do it (again).
pub fn finished_before(
    out: &Path,
    input: &Path,
    model: &dyn ExpressionModel,
    detector: &dyn FaceDetector,
    opts: &AnalyzeOptions,
) -> Option<AnalyzeSummary> {
    let (_, json) = output_paths(&output_name(input, opts), out);
    let done = read_output(&json).ok()?;
    (done.input == input
        && done.model == model.name()
        && done.detector == detector_name(opts, detector)
        && done.smooth_frames == opts.smooth.max(1)
        && done.stats.missing_frames() == 0)
        .then_some(done)
}

/// `summary.csv` and `report.html` in `out` over `summaries`, in their order; the paths.
pub fn write_folder_summary(
    out: &Path,
    summaries: &[AnalyzeSummary],
) -> Result<(PathBuf, PathBuf), PipelineError> {
    let mut w = FolderSummary::create(out)?;
    for a in summaries {
        w.add(a)?;
    }
    w.finish()
}

/// The `<name>.json` files at the top level of `dir`, in name order (hidden files left out):
/// the candidates for finished inputs' outputs.
pub fn output_jsons(dir: &Path) -> Result<Vec<PathBuf>, PipelineError> {
    let mut jsons: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| PipelineError::io(dir, e))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                && p.is_file()
        })
        .collect();
    jsons.sort();
    Ok(jsons)
}

/// A finished input's outputs read back from `json`: `Ok(None)` when the file is not an
/// `analyze` output at all, `Err` when it claims to be one but cannot be read.
pub fn read_output_if_any(json: &Path) -> Result<Option<AnalyzeSummary>, PipelineError> {
    match read_output(json) {
        Ok(s) => Ok(Some(s)),
        Err(e) if claims_to_be_output(json) => Err(e),
        Err(_) => Ok(None),
    }
}

/// What [`summarize_folder`] wrote.
#[derive(Debug, Default)]
pub struct FolderSummaryOutcome {
    /// `summary.csv` and `report.html`, when the folder holds any finished input.
    pub paths: Option<(PathBuf, PathBuf)>,
    /// Finished inputs in the summary.
    pub inputs: usize,
    /// Outputs left out of it (unreadable), with why.
    pub left_out: Vec<(PathBuf, String)>,
}

/// `summary.csv` and `report.html` over every finished input in `out`, whichever run wrote it,
/// read and written one input at a time (memory stays flat however many inputs the folder has).
pub fn summarize_folder(out: &Path) -> Result<FolderSummaryOutcome, PipelineError> {
    let mut o = FolderSummaryOutcome::default();
    let mut w: Option<FolderSummary> = None;
    for p in output_jsons(out)? {
        match read_output_if_any(&p) {
            Ok(Some(s)) => {
                if w.is_none() {
                    w = Some(FolderSummary::create(out)?);
                }
                if let Some(w) = w.as_mut() {
                    w.add(&s)?;
                }
                o.inputs += 1;
            }
            Ok(None) => {}
            Err(e) => o.left_out.push((p, e.to_string())),
        }
    }
    if let Some(w) = w {
        o.paths = Some(w.finish()?);
    }
    Ok(o)
}

/// Whether a JSON file has `"metadata"` with `"wildfer_version"` (streamed, flat memory).
fn claims_to_be_output(p: &Path) -> bool {
    #[derive(serde::Deserialize)]
    struct Top {
        metadata: Option<Version>,
    }
    #[derive(serde::Deserialize)]
    struct Version {
        #[allow(dead_code)]
        wildfer_version: String,
    }
    wildfer_files::open_regular(p, u64::MAX)
        .ok()
        .and_then(|(f, _)| serde_json::from_reader::<_, Top>(std::io::BufReader::new(f)).ok())
        .is_some_and(|t| t.metadata.is_some())
}

/// Quote a CSV field when it holds a comma, quote or line break.
pub(crate) fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The report's footer: what was run and how to read the figures.
fn report_footer(detectors: &[&str]) -> String {
    format!(
        "wildfer {}: face detection ({}), 5-point alignment, per-frame expression probabilities. Timelines show each face's class probabilities over time (mean per time bin) and the winning class as a colour band; a still's faces show one bar per class. Percentages: for a video, the share of a face's frames its dominant expression won and that expression's mean probability; for a still and under each thumbnail, the model's probability of the winning expression.",
        env!("CARGO_PKG_VERSION"),
        detectors.join(", ")
    )
}

/// One input's report section; `full`: with its timeline and thumbnails, else its table only.
fn report_section(a: &AnalyzeSummary, full: bool) -> crate::report::ReportSection {
    let title = a.name.clone();
    let still = a.timeline.is_still();
    crate::report::ReportSection {
        stats_line: if still {
            format!(
                "{}: a still, {}; model {}, detector {}",
                a.input.display(),
                wildfer_labels::count(a.track_summaries.len(), "face"),
                a.model,
                a.detector
            )
        } else {
            format!(
                "{}: {}, {} with a face, {}; model {}, detector {}",
                a.input.display(),
                wildfer_labels::count(a.stats.frames_read, "frame"),
                a.stats.frames_with_face,
                wildfer_labels::count(a.track_summaries.len(), "track"),
                a.model,
                a.detector
            )
        },
        summary_header: if still {
            ["face", "expression", "its probability"]
                .map(String::from)
                .to_vec()
        } else {
            [
                "face",
                "frames",
                "first frame",
                "last frame",
                "dominant expression",
                "share of the face's frames it won",
                "its mean probability",
            ]
            .map(String::from)
            .to_vec()
        },
        summary_rows: a
            .track_summaries
            .iter()
            .map(|t| {
                let d = t.dominant;
                let pct = |v: f64| format!("{:.0}%", 100.0 * v);
                if still {
                    vec![t.face_id.to_string(), d.to_string(), pct(t.mean[d])]
                } else {
                    vec![
                        t.face_id.to_string(),
                        t.frames.to_string(),
                        t.first_frame.to_string(),
                        t.last_frame.to_string(),
                        d.to_string(),
                        pct(t.share[d]),
                        pct(t.mean[d]),
                    ]
                }
            })
            .collect(),
        svg: if full {
            timeline_svg(&title, &a.timeline)
        } else {
            String::new()
        },
        thumbs: if !full {
            Vec::new()
        } else {
            a.timeline
                .tracks
                .iter()
                .map(|(id, t)| {
                    (
                        *id,
                        t.thumbs
                            .iter()
                            .map(|th| {
                                let said =
                                    format!("{} {:.0}%", th.class.key(), 100.0 * th.probability);
                                crate::report::Thumb {
                                    frame: th.frame,
                                    jpeg_base64: crate::report::base64(&th.jpeg),
                                    caption: if still {
                                        said
                                    } else {
                                        format!("frame {}: {said}", th.frame)
                                    },
                                }
                            })
                            .collect(),
                    )
                })
                .collect()
        },
        title,
    }
}
