//! The training loop, in four parts: setup (`open_data`, `start`: fresh or resumed), `step`
//! (loss, backward, optimizer step with the scheduled learning rate, the backbone at its own
//! rate), `evaluate` (the whole validation split, the best checkpoint by the run's metric) and
//! `save_checkpoint` (every N steps, for resume); `train` runs them and keeps the metrics log.

use crate::TrainError;
use crate::checkpoint::{self, RunDir, RunState, iter_name};
use crate::config::{Metric, OptimKind, OptimSection, Task, TrainConfig};
use crate::loader::{self, Draw, ImageSampler, LoaderConfig, WindowSampler, stream};
use crate::loss::Loss;
use crate::replicas::{Part, Replicas, part_gradients, split};
use crate::schedule::lr_at;
use burn::module::Module;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamWConfig, ModuleOptimizer, SgdConfig};
use burn::tensor::{Bytes, Device};
use serde::Serialize;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use wildfer_data::{AffWild2, ImageSet};
use wildfer_eval::EvalReport;
use wildfer_files::write_atomic;
use wildfer_runtime::predict::{predict, predict_images, score, to_annotations};
use wildfer_runtime::{Net, Runner, WindowSpec};

/// What the trainer reports as it goes (the CLI draws progress from these).
#[derive(Debug, Clone)]
pub enum Event {
    /// `model.init` was read into a fresh network: what of it was loaded.
    Initialised {
        from: std::path::PathBuf,
        account: String,
    },
    Started {
        first: usize,
        iterations: usize,
        /// Training and validation videos, or images of a still-image run (`unit`).
        train_items: usize,
        val_items: usize,
        unit: &'static str,
        params: usize,
    },
    Step(StepLog),
    Evaluating {
        done: usize,
        total: usize,
    },
    Evaluated(EvalLog),
    Checkpoint {
        iteration: usize,
        path: std::path::PathBuf,
    },
}

/// One logged training step.
#[derive(Debug, Clone, Serialize)]
pub struct StepLog {
    pub iteration: usize,
    pub loss: f64,
    pub lr: f64,
    /// Frames per second of the step (data wait included).
    pub frames_per_s: f64,
    /// Seconds the step waited for its batch.
    pub wait_s: f64,
}

/// One evaluation on the validation split.
#[derive(Debug, Clone, Serialize)]
pub struct EvalLog {
    pub iteration: usize,
    pub metric: &'static str,
    pub score: f64,
    pub f1_macro: f64,
    pub accuracy: f64,
    pub abaw2020: f64,
    pub frames: u64,
    /// Validation crops that could not be decoded (shown as blank, counted).
    pub bad_crops: usize,
    pub best: bool,
}

/// Options of one invocation.
#[derive(Debug, Clone, Default)]
pub struct TrainOptions {
    /// Continue from the run directory's latest checkpoint.
    pub resume: bool,
    /// Stop (after checkpointing) once this many steps are done, as if killed there.
    pub stop_after: Option<usize>,
    /// Where to train (`None`: the CPU). Checkpoints are device-independent.
    pub device: Option<Device>,
    /// Devices of data-parallel replicas after the first (which is on `device`): with some,
    /// the run has at least `1 + replica_devices.len()` replicas (`run.replicas` may ask for
    /// more; they share the devices in turn). Empty: `run.replicas` replicas on `device`.
    pub replica_devices: Vec<Device>,
    /// Set from elsewhere (a SIGINT/SIGTERM handler) to stop after the current step with a
    /// checkpoint of it, from which `resume` continues exactly.
    pub stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

/// The outcome of [`train`].
#[derive(Debug, Clone)]
pub struct TrainSummary {
    pub state: RunState,
    pub last_eval: Option<EvalLog>,
    pub best_checkpoint: Option<std::path::PathBuf>,
}

pub fn metric_name(m: Metric) -> &'static str {
    match m {
        Metric::Auto | Metric::Abaw2020 => "abaw2020",
        Metric::Abaw2022 => "abaw2022",
        Metric::F1 => "f1",
        Metric::Accuracy => "accuracy",
    }
}

pub fn metric_value(m: Metric, r: &EvalReport) -> f64 {
    match m {
        Metric::Auto | Metric::Abaw2020 => r.abaw2020_score,
        Metric::Abaw2022 => r.abaw2022_score.unwrap_or(r.f1_macro),
        Metric::F1 => r.f1_macro,
        Metric::Accuracy => r.accuracy,
    }
}

/// The configured optimizer (PyTorch semantics; checked in `tests/torch_parity.rs`).
pub fn optimizer(o: &OptimSection) -> ModuleOptimizer {
    let wd = (o.weight_decay > 0.0).then(|| WeightDecayConfig::new(o.weight_decay));
    match o.kind {
        OptimKind::Sgd => SgdConfig::new()
            .with_weight_decay(wd)
            .with_momentum((o.momentum > 0.0).then(|| {
                MomentumConfig::new()
                    .with_momentum(o.momentum)
                    .with_dampening(0.0)
                    .with_nesterov(o.nesterov)
            }))
            .init(),
        OptimKind::Adamw => AdamWConfig::new()
            .with_beta_1(o.betas[0])
            .with_beta_2(o.betas[1])
            .with_epsilon(o.eps)
            .with_weight_decay(o.weight_decay)
            .init(),
    }
}

/// Append lines to the metrics log.
fn log_line(path: &Path, value: &impl Serialize) -> Result<(), TrainError> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| TrainError::io(path, e))?;
    let mut line = serde_json::to_vec(value).map_err(|e| TrainError::io(path, e))?;
    line.push(b'\n');
    f.write_all(&line).map_err(|e| TrainError::io(path, e))
}

/// Keep only the log lines of steps up to `iteration` (a resumed run re-logs the rest).
fn truncate_log(path: &Path, iteration: usize) -> Result<(), TrainError> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(());
    };
    let kept: String = text
        .lines()
        .filter(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .ok()
                .and_then(|v| v.get("iteration").and_then(|i| i.as_u64()))
                .is_some_and(|i| i as usize <= iteration)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    write_atomic(path, kept.as_bytes())?;
    Ok(())
}

#[derive(Serialize)]
struct Tagged<'a, T: Serialize> {
    kind: &'a str,
    #[serde(flatten)]
    inner: &'a T,
}

/// What a run is validated on.
enum Validation {
    Videos(AffWild2),
    Images(ImageSet),
}

impl Validation {
    fn len(&self) -> usize {
        match self {
            Validation::Videos(v) => v.videos.len(),
            Validation::Images(s) => s.images.len(),
        }
    }

    fn unit(&self) -> &'static str {
        match self {
            Validation::Videos(_) => "videos",
            Validation::Images(_) => "images",
        }
    }

    /// Evaluate `net` (every frame of the video split, or every image): the report and the
    /// number of undecodable crops.
    fn evaluate(
        &self,
        net: &Net,
        spec: WindowSpec,
        cfg: &TrainConfig,
        device: &Device,
        on_progress: &mut dyn FnMut(usize, usize),
    ) -> Result<(EvalReport, usize), TrainError> {
        let mut runner = Runner::new(net.valid(), spec, cfg.input(), device.clone());
        match self {
            Validation::Videos(val) => {
                let probs = predict(&mut runner, val, cfg.eval.batch, on_progress)?;
                let bad = probs.iter().map(|v| v.bad_crops).sum();
                let ann =
                    to_annotations(&probs, val.label_set, cfg.eval.smooth, cfg.eval.smooth_kind);
                Ok((score(val, &ann)?, bad))
            }
            Validation::Images(set) => {
                let p = predict_images(&runner, set, cfg.eval.batch, on_progress)?;
                Ok((p.report(set, cfg.label_set()), p.bad))
            }
        }
    }
}

/// What a run learns from and is validated on (setup).
struct Data {
    draw: Draw,
    val: Validation,
    /// Still images mixed into clip steps, and how many per step.
    images: Option<(Arc<ImageSet>, usize)>,
    /// Training examples per class (for class weights).
    counts: Vec<usize>,
}

/// Open the training and validation data `cfg` names.
fn open_data(cfg: &TrainConfig, spec: WindowSpec) -> Result<Data, TrainError> {
    let label_set = cfg.label_set();
    match cfg.task() {
        Task::Videos => {
            let root = cfg.data.root.as_deref().unwrap_or(Path::new("."));
            let open = |split: crate::config::SplitName| -> Result<AffWild2, TrainError> {
                let d = AffWild2::open(root, split.split())?;
                if d.label_set != label_set {
                    return Err(TrainError::Invalid(format!(
                        "{}: the {:?} annotations have {} classes but model.classes = {}",
                        root.display(),
                        split,
                        d.label_set.num_classes(),
                        cfg.model.classes
                    )));
                }
                Ok(d)
            };
            let train_data = Arc::new(open(cfg.data.train_split)?);
            let val = open(cfg.data.val_split)?;
            let images = match &cfg.data.images {
                None => None,
                Some(im) => Some((Arc::new(im.open(label_set)?), im.per_step())),
            };
            let mut counts = train_data.class_counts();
            if let Some((set, _)) = &images {
                for (c, n) in counts.iter_mut().zip(set.class_counts(label_set)) {
                    *c += n;
                }
            }
            let sampler = Arc::new(WindowSampler::new(
                train_data,
                spec,
                cfg.data.sampling,
                cfg.data.max_gap,
                cfg.data.stride,
                cfg.seed,
            )?);
            Ok(Data {
                draw: Draw::Clips(sampler),
                val: Validation::Videos(val),
                images,
                counts,
            })
        }
        Task::Images => {
            let open = |im: &Option<crate::config::ImagesSection>| match im {
                Some(im) => im.open(label_set),
                None => Err(TrainError::Invalid(
                    "a still-image run needs [data.images] and [data.val_images]".into(),
                )),
            };
            let set = Arc::new(open(&cfg.data.images)?);
            let val = open(&cfg.data.val_images)?;
            let counts = set.class_counts(label_set);
            let sampler = ImageSampler::new(set, spec, cfg.data.sampling, cfg.seed);
            Ok(Data {
                draw: Draw::Images(Arc::new(sampler)),
                val: Validation::Images(val),
                images: None,
                counts,
            })
        }
    }
}

/// The network, optimizer and bookkeeping to go on from: the run's latest checkpoint with
/// `resume`, else fresh (the run folder started, `model.init` read).
fn start(
    cfg: &TrainConfig,
    run: &RunDir,
    resume: bool,
    device: &Device,
    on_event: &mut dyn FnMut(Event),
) -> Result<(Net, ModuleOptimizer, RunState), TrainError> {
    let net_cfg = cfg.network()?;
    let run_dir = run.root.as_path();
    if resume {
        let dir = run.resolve("latest")?.ok_or_else(|| {
            TrainError::checkpoint(
                run_dir,
                "nothing to resume: no checkpoint yet (run without --resume)",
            )
        })?;
        let saved = TrainConfig::load(&dir.join(checkpoint::CONFIG_FILE))?;
        if &saved != cfg {
            return Err(TrainError::config(
                run.config(),
                "differs from the configuration given; resume with the run's own config.toml",
            ));
        }
        let mut net = Net::for_checkpoint(&net_cfg, device)?;
        checkpoint::load_model_into(&mut net, &dir.join(checkpoint::MODEL_FILE))?;
        let path = dir.join(checkpoint::OPTIM_FILE);
        let bytes = std::fs::read(&path).map_err(|e| TrainError::io(&path, e))?;
        let optim = optimizer(&cfg.optim)
            .from_bytes(Bytes::from_bytes_vec(bytes))
            .map_err(|e| TrainError::checkpoint(&path, e.to_string()))?;
        let sp = dir.join(checkpoint::STATE_FILE);
        let state: RunState =
            serde_json::from_slice(&std::fs::read(&sp).map_err(|e| TrainError::io(&sp, e))?)
                .map_err(|e| TrainError::checkpoint(&sp, e.to_string()))?;
        truncate_log(&run.metrics(), state.iteration)?;
        return Ok((net, optim, state));
    }
    if run.resolve("latest")?.is_some() {
        return Err(TrainError::checkpoint(
            run_dir,
            "already holds a run; pass --resume to continue it or choose another --out",
        ));
    }
    std::fs::create_dir_all(run_dir).map_err(|e| TrainError::io(run_dir, e))?;
    write_atomic(&run.config(), cfg.to_toml().as_bytes())?;
    let _ = std::fs::remove_file(run.metrics());
    let mut net = Net::init(&net_cfg, device, cfg.seed)?;
    if let Some(init) = &cfg.model.init {
        let account = net.load_init(init)?;
        on_event(Event::Initialised {
            from: init.clone(),
            account,
        });
    }
    let state = RunState {
        iteration: 0,
        best_score: None,
        best_iteration: None,
        bad_frames: 0,
        elapsed_s: 0.0,
    };
    Ok((net, optimizer(&cfg.optim), state))
}

/// One optimizer step on `batch` (step `it`), data-parallel over `replicas` when there are
/// several: the network after it, and the loss and learning rate (`None`: the batch had no
/// target, nothing learnt).
fn step(
    cfg: &TrainConfig,
    net: Net,
    optim: &mut ModuleOptimizer,
    loss_fn: &Loss,
    batch: loader::Batch,
    device: &Device,
    replicas: Option<&Replicas>,
) -> Result<(Net, Option<(f64, f64)>), TrainError> {
    let it = batch.step;
    let (b, t, s) = (batch.b, batch.t, batch.size);
    let classes = cfg.model.classes;
    // Dropout and other randomness of this step depend on the step alone (and the replica).
    let mut seeds = stream(cfg.seed, it as u64, 2);
    let lr = lr_at(&cfg.schedule, cfg.optim.lr, cfg.run.iterations, it);
    let denominator = loss_fn.denominator(&batch.targets, classes);
    let learnt = match replicas {
        Some(r) => {
            let seeds: Vec<u64> = (0..r.len()).map(|_| seeds.next_u64()).collect();
            let parts = split(
                &batch.pixels,
                &batch.mask,
                &batch.targets,
                (b, t, s),
                r.len(),
            );
            r.gradients(&net, parts, loss_fn, denominator, classes, &seeds)?
        }
        None => {
            let whole = Part {
                pixels: batch.pixels,
                mask: batch.mask,
                b,
                t,
                size: s,
                targets: batch.targets,
            };
            let seed = seeds.next_u64();
            part_gradients(&net, whole, loss_fn, denominator, classes, seed, device)
        }
    };
    let Some((value, backbone, rest)) = learnt else {
        return Ok((net, None));
    };
    if !value.is_finite() {
        return Err(TrainError::Diverged(format!(
            "loss is {value} at step {}; stopped, the last good checkpoint is kept (lower optim.lr?)",
            it + 1
        )));
    }
    let mut net = net;
    let mult = cfg.optim.backbone_lr_mult;
    if mult > 0.0 {
        net = optim.step(lr * mult, net, backbone);
    }
    net = optim.step(lr, net, rest);
    Ok((net, Some((value, lr))))
}

/// Validate `net`; a new best is saved as a `best-*` checkpoint (with PyTorch-named weights)
/// and pointed to. The log entry.
#[allow(clippy::too_many_arguments)]
fn evaluate(
    cfg: &TrainConfig,
    run: &RunDir,
    val: &Validation,
    net: &Net,
    spec: WindowSpec,
    state: &mut RunState,
    device: &Device,
    on_event: &mut dyn FnMut(Event),
) -> Result<EvalLog, TrainError> {
    let metric = cfg.metric();
    let (report, bad_crops) = val.evaluate(net, spec, cfg, device, &mut |done, total| {
        on_event(Event::Evaluating { done, total })
    })?;
    let value = metric_value(metric, &report);
    let best = state.best_score.is_none_or(|b| value > b);
    if best {
        state.best_score = Some(value);
        state.best_iteration = Some(state.iteration);
        let name = iter_name("best", state.iteration);
        run.save(&name, net, None, state, cfg, true)?;
        run.point("best", &name)?;
    }
    Ok(EvalLog {
        iteration: state.iteration,
        metric: metric_name(metric),
        score: value,
        f1_macro: report.f1_macro,
        accuracy: report.accuracy,
        abaw2020: report.abaw2020_score,
        frames: report.frames,
        bad_crops,
        best,
    })
}

/// Save an `iter-*` checkpoint (with the optimizer, for resume), point `latest` at it and
/// prune old ones.
fn save_checkpoint(
    cfg: &TrainConfig,
    run: &RunDir,
    net: &Net,
    optim: &ModuleOptimizer,
    state: &RunState,
) -> Result<std::path::PathBuf, TrainError> {
    let name = iter_name("iter", state.iteration);
    let path = run.save(&name, net, Some(optim), state, cfg, false)?;
    run.point("latest", &name)?;
    run.prune(cfg.run.keep_checkpoints.max(1))?;
    Ok(path)
}

/// Train as `cfg` says into `run_dir`: set up, then step, evaluate and checkpoint as the run
/// file says until the last step or a stop.
pub fn train(
    cfg: &TrainConfig,
    run_dir: &Path,
    opts: &TrainOptions,
    on_event: &mut dyn FnMut(Event),
) -> Result<TrainSummary, TrainError> {
    let run = RunDir::new(run_dir);
    // One writer per run folder: two trainings into one folder would mix their checkpoints.
    let _lock = wildfer_files::lock_folder(run_dir, "`wildfer train`")?;
    let spec = WindowSpec::of(&cfg.network()?)?;
    let data = open_data(cfg, spec)?;
    let loss_fn = Loss::new(&cfg.loss, cfg.model.classes, &data.counts);
    let device = opts
        .device
        .clone()
        .unwrap_or_else(wildfer_nn::cpu)
        .autodiff();
    let (mut net, mut optim, mut state) = start(cfg, &run, opts.resume, &device, on_event)?;
    let k = cfg.run.replicas.max(1 + opts.replica_devices.len());
    let replicas = if k > 1 {
        let mut devices = vec![device.clone()];
        devices.extend(opts.replica_devices.iter().map(|d| d.clone().autodiff()));
        Some(Replicas::new(k, devices)?)
    } else {
        None
    };

    let total = cfg.run.iterations;
    let last = opts.stop_after.map_or(total, |s| s.min(total));
    on_event(Event::Started {
        first: state.iteration,
        iterations: total,
        train_items: data.draw.items(),
        val_items: data.val.len(),
        unit: data.val.unit(),
        params: net.num_params(),
    });
    let batches = loader::spawn(
        data.draw,
        LoaderConfig {
            seed: cfg.seed,
            images: data.images,
            batch_size: cfg.run.batch_size,
            input: cfg.input(),
            workers: cfg.data.workers,
            augment: cfg.augment.clone(),
        },
        state.iteration,
        last,
    )?;
    let mut last_eval = None;
    let started = Instant::now();
    let elapsed_before = state.elapsed_s;
    while state.iteration < last {
        let t0 = Instant::now();
        let batch = batches
            .recv()
            .map_err(|_| TrainError::Invalid("the data loader stopped unexpectedly".into()))?;
        let wait_s = t0.elapsed().as_secs_f64();
        let it = state.iteration;
        debug_assert_eq!(batch.step, it);
        state.bad_frames += batch.bad_frames;
        let frames = batch.b * batch.t;
        let learnt;
        (net, learnt) = step(
            cfg,
            net,
            &mut optim,
            &loss_fn,
            batch,
            &device,
            replicas.as_ref(),
        )?;
        if let Some((loss, lr)) = learnt {
            let s = StepLog {
                iteration: it + 1,
                loss,
                lr,
                frames_per_s: frames as f64 / t0.elapsed().as_secs_f64().max(1e-9),
                wait_s,
            };
            log_line(
                &run.metrics(),
                &Tagged {
                    kind: "step",
                    inner: &s,
                },
            )?;
            on_event(Event::Step(s));
        }
        state.iteration = it + 1;
        state.elapsed_s = elapsed_before + started.elapsed().as_secs_f64();

        let eval_now = state.iteration == total
            || (cfg.run.eval_every > 0 && state.iteration % cfg.run.eval_every == 0);
        if eval_now {
            let e = evaluate(
                cfg, &run, &data.val, &net, spec, &mut state, &device, on_event,
            )?;
            log_line(
                &run.metrics(),
                &Tagged {
                    kind: "eval",
                    inner: &e,
                },
            )?;
            on_event(Event::Evaluated(e.clone()));
            last_eval = Some(e);
        }
        let stopping = opts
            .stop
            .as_ref()
            .is_some_and(|f| f.load(std::sync::atomic::Ordering::SeqCst));
        if state.iteration % cfg.run.checkpoint_every == 0
            || state.iteration == last
            || eval_now
            || stopping
        {
            let path = save_checkpoint(cfg, &run, &net, &optim, &state)?;
            on_event(Event::Checkpoint {
                iteration: state.iteration,
                path,
            });
        }
        if stopping {
            break;
        }
    }
    Ok(TrainSummary {
        best_checkpoint: run.resolve("best")?,
        state,
        last_eval,
    })
}
