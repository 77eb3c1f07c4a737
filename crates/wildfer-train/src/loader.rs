//! Training batches: clips drawn as the config says, decoded and augmented on worker threads
//! ahead of the model (a bounded queue keeps memory flat), each step's draw derived from the
//! seed and the step number alone, so a resumed run sees exactly the batches of an
//! uninterrupted one.

use crate::TrainError;
use crate::augment::{AugDraw, InputSpec, load_crop};
use crate::config::{AugmentSection, Sampling};
use rayon::prelude::*;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};
use wildfer_data::splitmix::Rng;
use wildfer_data::{AffWild2, ClipSampler, ImageSet, Video};
use wildfer_runtime::WindowSpec;

/// One window to load: per position the crop frame (1-based; `None`: padding, shown as the
/// nearest crop and masked) and the training target of each output.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub video: usize,
    /// A still image shown at every position instead of the video's crops.
    pub image: Option<std::path::PathBuf>,
    pub crops: Vec<usize>,
    pub real: Vec<bool>,
    pub targets: Vec<Option<usize>>,
}

/// Draws training windows.
pub struct WindowSampler {
    data: Arc<AffWild2>,
    spec: WindowSpec,
    sampling: Sampling,
    method_a: ClipSampler,
    tables: Vec<Vec<usize>>,
    /// Videos with a usable frame, and those frames.
    usable: Vec<(usize, Vec<usize>)>,
    /// Per class, the (video, frame) pairs usable for training.
    by_class: Vec<Vec<(u32, u32)>>,
    /// Sequential sampling: the (video, start) of every window with a usable frame.
    sequential: Vec<(u32, u32)>,
    /// Seeds the sequential order of each epoch.
    seed: u64,
}

impl WindowSampler {
    /// `stride`: frames between sequential windows (default: the window length).
    pub fn new(
        data: Arc<AffWild2>,
        spec: WindowSpec,
        sampling: Sampling,
        max_gap: usize,
        stride: Option<usize>,
        seed: u64,
    ) -> Result<Self, TrainError> {
        let classes = data.label_set.num_classes();
        let tables = data.videos.iter().map(Video::crop_table).collect();
        let mut usable = Vec::new();
        let mut by_class = vec![Vec::new(); classes];
        for (vi, v) in data.videos.iter().enumerate() {
            let frames: Vec<usize> = (1..=v.frames()).filter(|&f| v.usable(f)).collect();
            for &f in &frames {
                if let Some(e) = v.labels[f - 1]
                    && e.index() < classes
                {
                    by_class[e.index()].push((vi as u32, f as u32));
                }
            }
            if !frames.is_empty() {
                usable.push((vi, frames));
            }
        }
        if usable.is_empty() {
            return Err(TrainError::Invalid(format!(
                "the {:?} split has no frame with both a label and a crop",
                data.split
            )));
        }
        let method_a = ClipSampler::new(&data, spec.len, max_gap, 0);
        let mut sequential = Vec::new();
        if sampling == Sampling::Sequential {
            let stride = stride.unwrap_or(spec.len).max(1);
            for (vi, v) in data.videos.iter().enumerate() {
                for start in (1..=v.frames()).step_by(stride) {
                    let end = (start + spec.len - 1).min(v.frames());
                    let useful = if spec.middle {
                        v.usable(start + spec.len / 2)
                    } else {
                        (start..=end).any(|f| v.usable(f))
                    };
                    if useful {
                        sequential.push((vi as u32, start as u32));
                    }
                }
            }
        }
        Ok(WindowSampler {
            data,
            spec,
            sampling,
            method_a,
            tables,
            usable,
            by_class,
            sequential,
            seed,
        })
    }

    /// A window centred on (middle heads) or containing (per-frame heads) frame `f` of `vi`.
    fn around(&self, vi: usize, f: usize, rng: &mut Rng) -> Window {
        let v = &self.data.videos[vi];
        let (n, t) = (v.frames(), self.spec.len);
        let positions: Vec<usize> = if self.spec.middle {
            let h = t / 2;
            (0..t)
                .map(|i| (f + i).saturating_sub(h).clamp(1, n))
                .collect()
        } else {
            let latest = n.saturating_sub(t - 1).max(1);
            let start = f.saturating_sub(rng.below(t)).clamp(1, latest);
            (start..start + t).collect()
        };
        self.window_at(vi, &positions)
    }

    fn window_at(&self, vi: usize, positions: &[usize]) -> Window {
        let v = &self.data.videos[vi];
        let table = &self.tables[vi];
        let real: Vec<bool> = positions.iter().map(|&p| p <= v.frames()).collect();
        let crops = positions
            .iter()
            .map(|&p| table[p.min(v.frames()) - 1])
            .collect();
        let label = |p: usize| {
            (p <= v.frames() && v.has_crop[p - 1])
                .then(|| v.labels[p - 1].map(|e| e.index()))
                .flatten()
        };
        let targets = if self.spec.middle {
            vec![label(positions[positions.len() / 2])]
        } else {
            positions.iter().map(|&p| label(p)).collect()
        };
        Window {
            video: vi,
            image: None,
            crops,
            real,
            targets,
        }
    }

    /// The window at `position` (the running window count: step * batch + index) for
    /// sequential sampling, else a random one drawn with `rng`.
    pub fn sample(&self, position: u64, rng: &mut Rng) -> Window {
        if self.sampling == Sampling::Sequential && !self.sequential.is_empty() {
            let k = epoch_order(self.seed, position, self.sequential.len());
            let (vi, start) = self.sequential[k];
            let (vi, start) = (vi as usize, start as usize);
            let n_frames = self.data.videos[vi].frames();
            // Padding past the end shows the last frame (masked: `real` is false there).
            let positions: Vec<usize> = (start..start + self.spec.len).collect();
            let mut w = self.window_at(
                vi,
                &positions
                    .iter()
                    .map(|&p| p.min(n_frames))
                    .collect::<Vec<_>>(),
            );
            for (i, &p) in positions.iter().enumerate() {
                if p > n_frames {
                    w.real[i] = false;
                    if !self.spec.middle {
                        w.targets[i] = None;
                    }
                }
            }
            return w;
        }
        if self.sampling == Sampling::Video
            && !self.spec.middle
            && let Some(c) = self.method_a.sample_with(&self.data, rng)
        {
            let real = c.positions.iter().map(Option::is_some).collect();
            return Window {
                video: c.video,
                image: None,
                crops: c.frames,
                real,
                targets: c.labels.iter().map(|l| l.map(|e| e.index())).collect(),
            };
        }
        let (vi, f) = match self.sampling {
            Sampling::Balanced => {
                let (vi, f) = balanced_pick(&self.by_class, rng);
                (vi as usize, f as usize)
            }
            Sampling::Video | Sampling::Sequential => {
                let (vi, frames) = &self.usable[rng.below(self.usable.len())];
                (*vi, frames[rng.below(frames.len())])
            }
        };
        self.around(vi, f, rng)
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Class balance: a class with items uniformly at random, then one of its items.
fn balanced_pick<T: Copy>(by_class: &[Vec<T>], rng: &mut Rng) -> T {
    let present: Vec<&Vec<T>> = by_class.iter().filter(|c| !c.is_empty()).collect();
    let class = present[rng.below(present.len())];
    class[rng.below(class.len())]
}

/// The item of `n` visited at running `position`: every item once per epoch, in a different
/// order every epoch (k -> (a k + b) mod n with a coprime to n, drawn from the epoch).
fn epoch_order(seed: u64, position: u64, n: usize) -> usize {
    let n = n as u64;
    let (epoch, k) = (position / n, position % n);
    let mut r = stream(seed, epoch, 3);
    let mut a = 1 + r.next_u64() % n.max(2);
    while gcd(a, n) != 1 {
        a += 1;
    }
    let b = r.next_u64() % n;
    ((a % n * k + b) % n) as usize
}

/// Mix a seed and a step into an independent stream.
pub fn stream(seed: u64, step: u64, salt: u64) -> Rng {
    Rng::new(
        seed ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt.wrapping_mul(0xD1B5_4A32_D192_ED69),
    )
}

/// A decoded batch of `b` windows of `t` frames.
pub struct Batch {
    pub step: usize,
    /// `[b, t, 3, size, size]`, normalised.
    pub pixels: Vec<f32>,
    pub b: usize,
    pub t: usize,
    pub size: usize,
    /// `[b, t]`: 1 for real frames, 0 for padding.
    pub mask: Vec<f32>,
    /// `b * outputs` targets.
    pub targets: Vec<Option<usize>>,
    /// Frames whose crop could not be decoded (shown grey, no target), with the first error.
    pub bad_frames: usize,
    pub first_error: Option<String>,
}

/// Decode windows into a batch (in parallel on the current rayon pool).
pub fn load_windows(
    data: Option<&AffWild2>,
    windows: &[Window],
    draws: &[AugDraw],
    size: usize,
    outputs: usize,
) -> Batch {
    let b = windows.len();
    let t = windows.first().map_or(0, |w| w.crops.len());
    let frame = 3 * size * size;
    let mut pixels = vec![0f32; b * t * frame];
    let errors: Vec<(usize, String)> = pixels
        .par_chunks_mut(frame)
        .enumerate()
        .filter_map(|(i, out)| {
            let (wi, pi) = (i / t, i % t);
            let w = &windows[wi];
            if let Some(img) = &w.image {
                return load_crop(img, size, &draws[wi], out)
                    .err()
                    .map(|e| (i, e.to_string()));
            }
            let Some(v) = data.map(|d| &d.videos[w.video]) else {
                return Some((i, "a video window without video data".to_string()));
            };
            if w.crops[pi] == 0 {
                return Some((i, format!("{}: no crop in the video", v.name)));
            }
            load_crop(&v.crop_path(w.crops[pi]), size, &draws[wi], out)
                .err()
                .map(|e| (i, e.to_string()))
        })
        .collect();
    let mut targets: Vec<Option<usize>> = windows.iter().flat_map(|w| w.targets.clone()).collect();
    for &(i, _) in &errors {
        let (wi, pi) = (i / t, i % t);
        // A middle head's only target is its middle frame.
        let slot = if outputs == 1 {
            (pi == t / 2).then_some(wi)
        } else {
            Some(wi * outputs + pi)
        };
        if let Some(s) = slot {
            targets[s] = None;
        }
    }
    Batch {
        step: 0,
        pixels,
        b,
        t,
        size,
        mask: windows
            .iter()
            .flat_map(|w| w.real.iter().map(|&r| if r { 1.0 } else { 0.0 }))
            .collect(),
        targets,
        bad_frames: errors.len(),
        first_error: errors.into_iter().next().map(|(_, e)| e),
    }
}

/// A random still image as a static clip, labelled at every output.
pub fn still_window(set: &ImageSet, spec: WindowSpec, rng: &mut Rng) -> Window {
    image_window(set, rng.below(set.images.len()), spec)
}

/// Image `i` of `set` as a static clip, labelled at every output.
fn image_window(set: &ImageSet, i: usize, spec: WindowSpec) -> Window {
    let (path, class) = &set.images[i];
    Window {
        video: 0,
        image: Some(path.clone()),
        crops: vec![0; spec.len],
        real: vec![true; spec.len],
        targets: vec![Some(class.index()); spec.outputs()],
    }
}

/// Draws the images of a still-image run.
pub struct ImageSampler {
    pub set: Arc<ImageSet>,
    spec: WindowSpec,
    balanced: bool,
    /// Per class, the indices of its images.
    by_class: Vec<Vec<u32>>,
    seed: u64,
}

impl ImageSampler {
    /// `Video` sampling visits every image once per epoch (shuffled per epoch), `Balanced` draws
    /// a class uniformly, then one of its images.
    pub fn new(set: Arc<ImageSet>, spec: WindowSpec, sampling: Sampling, seed: u64) -> Self {
        let classes = set
            .images
            .iter()
            .map(|(_, e)| e.index() + 1)
            .max()
            .unwrap_or(0);
        let mut by_class = vec![Vec::new(); classes];
        for (i, (_, e)) in set.images.iter().enumerate() {
            by_class[e.index()].push(i as u32);
        }
        ImageSampler {
            set,
            spec,
            balanced: sampling == Sampling::Balanced,
            by_class,
            seed,
        }
    }

    /// The image at running `position` (step * batch + index), or a balanced draw from `rng`.
    pub fn sample(&self, position: u64, rng: &mut Rng) -> Window {
        let i = if self.balanced {
            balanced_pick(&self.by_class, rng) as usize
        } else {
            epoch_order(self.seed, position, self.set.images.len())
        };
        image_window(&self.set, i, self.spec)
    }
}

/// Where a run's training windows come from.
#[derive(Clone)]
pub enum Draw {
    /// Aff-Wild2 clips, with still images mixed into every step (`LoaderConfig::images`).
    Clips(Arc<WindowSampler>),
    /// Still images only.
    Images(Arc<ImageSampler>),
}

impl Draw {
    fn spec(&self) -> WindowSpec {
        match self {
            Draw::Clips(s) => s.spec,
            Draw::Images(s) => s.spec,
        }
    }

    fn sample(&self, position: u64, rng: &mut Rng) -> Window {
        match self {
            Draw::Clips(s) => s.sample(position, rng),
            Draw::Images(s) => s.sample(position, rng),
        }
    }

    /// Training videos, or images of a still-image run.
    pub fn items(&self) -> usize {
        match self {
            Draw::Clips(s) => s.data.videos.len(),
            Draw::Images(s) => s.set.images.len(),
        }
    }

    fn data(&self) -> Option<&AffWild2> {
        match self {
            Draw::Clips(s) => Some(&s.data),
            Draw::Images(_) => None,
        }
    }
}

/// Settings of the background loader.
pub struct LoaderConfig {
    pub seed: u64,
    /// Still images shown as static clips, and how many per step.
    pub images: Option<(Arc<ImageSet>, usize)>,
    pub batch_size: usize,
    /// The network's input (side; grey for `model.grey` runs), augmented as `augment` says.
    pub input: InputSpec,
    pub workers: usize,
    pub augment: AugmentSection,
}

/// Start producing the batches of steps `first..last` on a background thread.
pub fn spawn(
    sampler: Draw,
    cfg: LoaderConfig,
    first: usize,
    last: usize,
) -> Result<Receiver<Batch>, TrainError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cfg.workers)
        .thread_name(|i| format!("wildfer-load-{i}"))
        .build()
        .map_err(|e| TrainError::Invalid(format!("cannot start loader threads: {e}")))?;
    let (tx, rx) = sync_channel(2);
    std::thread::Builder::new()
        .name("wildfer-batches".into())
        .spawn(move || {
            for step in first..last {
                let mut rng = stream(cfg.seed, step as u64, 1);
                let mut windows: Vec<Window> = (0..cfg.batch_size)
                    .map(|i| sampler.sample((step * cfg.batch_size + i) as u64, &mut rng))
                    .collect();
                if let Some((set, n)) = &cfg.images {
                    for _ in 0..*n {
                        windows.push(still_window(set, sampler.spec(), &mut rng));
                    }
                }
                let draws: Vec<AugDraw> = (0..windows.len())
                    .map(|_| {
                        let mut d = crate::augment::draw(&cfg.augment, &mut rng);
                        d.grey |= cfg.input.draw.grey;
                        d
                    })
                    .collect();
                let mut batch = pool.install(|| {
                    load_windows(
                        sampler.data(),
                        &windows,
                        &draws,
                        cfg.input.size,
                        sampler.spec().outputs(),
                    )
                });
                batch.step = step;
                if tx.send(batch).is_err() {
                    return; // the trainer stopped
                }
            }
        })
        .map_err(|e| TrainError::Invalid(format!("cannot start the loader thread: {e}")))?;
    Ok(rx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wildfer_labels::abaw::Split;
    use wildfer_labels::{Expression, LabelSet};

    fn video(labels: &[i8], crops: &[bool]) -> Video {
        Video {
            name: "v".into(),
            labels: labels
                .iter()
                .map(|&l| (l >= 0).then(|| Expression::from_index(l as usize).unwrap()))
                .collect(),
            has_crop: crops.to_vec(),
            crops: "v".into(),
        }
    }

    fn data() -> Arc<AffWild2> {
        Arc::new(AffWild2 {
            label_set: LabelSet::Seven,
            split: Split::Train,
            videos: vec![video(
                &[0, 1, 2, 3, 4, 5, -1, 0, 1, 2],
                &[false, true, true, false, true, true, true, true, true, true],
            )],
        })
    }

    #[test]
    fn crop_table_fills_from_earlier_then_first() {
        assert_eq!(
            data().videos[0].crop_table(),
            vec![2, 2, 3, 3, 5, 6, 7, 8, 9, 10]
        );
    }

    #[test]
    fn middle_windows_are_centred_and_clamped() {
        let spec = WindowSpec {
            len: 5,
            middle: true,
        };
        let s = WindowSampler::new(data(), spec, Sampling::Video, 0, None, 1).unwrap();
        let w = s.window_at(0, &[1, 1, 1, 2, 3]);
        assert_eq!(w.crops, vec![2, 2, 2, 2, 3]);
        assert_eq!(w.targets, vec![None]); // frame 1 has no crop
        let mut rng = Rng::new(3);
        for _ in 0..100 {
            let w = s.sample(0, &mut rng);
            assert_eq!(w.crops.len(), 5);
            assert!(w.targets[0].is_some(), "the middle frame is a usable frame");
        }
    }

    #[test]
    fn balanced_sampling_draws_every_class_evenly() {
        let spec = WindowSpec {
            len: 2,
            middle: false,
        };
        let s = WindowSampler::new(data(), spec, Sampling::Balanced, 0, None, 1).unwrap();
        let mut rng = Rng::new(5);
        let mut seen = [0usize; 7];
        for _ in 0..700 {
            let w = s.sample(0, &mut rng);
            for t in w.targets.iter().flatten() {
                seen[*t] += 1;
            }
        }
        // Usable frames show classes 0, 1, 2, 4 and 5 (frame 4, class 3, has no crop).
        for c in [0, 1, 2, 4, 5] {
            assert!(seen[c] > 120, "{seen:?}");
        }
        assert_eq!((seen[3], seen[6]), (0, 0), "{seen:?}");
    }

    #[test]
    fn sequential_windows_visit_every_window_once_per_epoch() {
        let spec = WindowSpec {
            len: 3,
            middle: false,
        };
        let s = WindowSampler::new(data(), spec, Sampling::Sequential, 0, Some(2), 1).unwrap();
        // Starts 1, 3, 5, 7, 9 of the 10-frame video; each has a usable frame.
        assert_eq!(s.sequential.len(), 5);
        let mut rng = Rng::new(1);
        let epoch0: Vec<usize> = (0..5).map(|p| s.sample(p, &mut rng).crops[0]).collect();
        let mut sorted = epoch0.clone();
        sorted.sort();
        // Crop of the first position: frame 1 has none (first crop 2), 3, 5, 7, 9.
        assert_eq!(sorted, vec![2, 3, 5, 7, 9]);
        let epoch1: Vec<usize> = (5..10).map(|p| s.sample(p, &mut rng).crops[0]).collect();
        let mut sorted1 = epoch1.clone();
        sorted1.sort();
        assert_eq!(sorted1, sorted);
        // The window starting at 9 runs past the end: its third position is padding.
        let last = (0..5)
            .map(|p| s.sample(p, &mut rng))
            .find(|w| w.crops[0] == 9)
            .unwrap();
        assert_eq!(last.real, vec![true, true, false]);
        assert_eq!(last.targets[2], None);
    }

    #[test]
    fn still_images_become_static_clips() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("happy");
        std::fs::create_dir_all(&d).unwrap();
        image::RgbImage::from_fn(20, 20, |x, y| {
            image::Rgb([(x * 10) as u8, (y * 10) as u8, 7])
        })
        .save(d.join("a.png"))
        .unwrap();
        let set = ImageSet::open_folders(tmp.path(), wildfer_labels::LabelSet::Seven).unwrap();
        let spec = WindowSpec {
            len: 3,
            middle: false,
        };
        let w = still_window(&set, spec, &mut Rng::new(1));
        assert_eq!(w.targets, vec![Some(4); 3]);
        let b = load_windows(Some(&data()), &[w], &[AugDraw::IDENTITY], 8, 3);
        let frame = 3 * 8 * 8;
        assert_eq!(b.bad_frames, 0);
        assert_eq!(&b.pixels[..frame], &b.pixels[frame..2 * frame]);
        assert!(b.pixels[..frame].iter().any(|&x| x != 0.0));
        let m = still_window(
            &set,
            WindowSpec {
                len: 3,
                middle: true,
            },
            &mut Rng::new(1),
        );
        assert_eq!(m.targets, vec![Some(4)]);
    }

    #[test]
    fn same_step_same_draw() {
        let spec = WindowSpec {
            len: 3,
            middle: false,
        };
        let s = WindowSampler::new(data(), spec, Sampling::Video, 0, None, 1).unwrap();
        let a: Vec<Window> = (0..5).map(|_| s.sample(0, &mut stream(7, 42, 1))).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        let mut r1 = stream(7, 42, 1);
        let mut r2 = stream(7, 43, 1);
        let (x, y): (Vec<_>, Vec<_>) = (0..20)
            .map(|_| (s.sample(0, &mut r1), s.sample(0, &mut r2)))
            .unzip();
        assert_ne!(x, y);
    }
}
