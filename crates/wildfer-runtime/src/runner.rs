//! A trained network at work: backbone features per frame, the one windowing rule
//! ([`crate::windows`]), the head over each window, softmax. `analyze` (streaming, per face
//! track), `predict` (whole videos), image scoring and `pseudo-label` all go through it, so the
//! same crops give the same probabilities whichever command reads them.

use crate::input::{InputSpec, prepare};
use crate::windows::{Features, Window, Windows};
use crate::{Checkpoint, ModelSection, Net, RuntimeError, WindowSpec};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor, TensorData};

/// Windows per head pass (bounds memory whatever the queue).
const HEAD_BATCH: usize = 64;

/// See the module documentation. `K` keys the frames whose probabilities come out.
pub struct Runner<K> {
    net: Net,
    spec: WindowSpec,
    input: InputSpec,
    device: Device,
    windows: Windows<K>,
    queued: Vec<Window<K>>,
}

impl<K: Clone> Runner<K> {
    /// `net` in validation mode, its window and input preparation.
    pub fn new(net: Net, spec: WindowSpec, input: InputSpec, device: Device) -> Self {
        Runner {
            net,
            spec,
            input,
            device,
            windows: Windows::new(spec),
            queued: Vec::new(),
        }
    }

    /// The network of a `[model]` table (a loaded checkpoint's, or a built-in's).
    pub fn of_model(model: &ModelSection, net: Net, device: Device) -> Result<Self, RuntimeError> {
        let spec = WindowSpec::of(&model.network()?)?;
        Ok(Runner::new(net, spec, model.input(), device))
    }

    /// A loaded checkpoint.
    pub fn of_checkpoint(ck: Checkpoint, device: Device) -> Result<Self, RuntimeError> {
        Runner::of_model(&ck.model, ck.net, device)
    }

    pub fn spec(&self) -> WindowSpec {
        self.spec
    }

    pub fn input(&self) -> &InputSpec {
        &self.input
    }

    /// Prepare one RGB8 image `w` x `h` as the network's input (`3 * s * s` values, appended
    /// to `out`).
    pub fn prepare_into(&self, rgb: &[u8], w: usize, h: usize, out: &mut Vec<f32>) {
        let s = self.input.size;
        let at = out.len();
        out.resize(at + 3 * s * s, 0.0);
        prepare(rgb, w, h, s, &self.input.draw, &mut out[at..]);
    }

    /// Backbone features of `n` prepared images (`px`: `n * 3 * s * s` values).
    pub fn features(&self, px: Vec<f32>, n: usize) -> Result<Vec<Features>, RuntimeError> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let s = self.input.size;
        let x = Tensor::<4>::from_data(TensorData::new(px, [n, 3, s, s]), &self.device);
        let f = self.net.features(x);
        let d = f.dims()[1];
        let v = f
            .into_data()
            .try_into_vec::<f32>()
            .map_err(|e| RuntimeError::Invalid(format!("features: {e:?}")))?;
        Ok(v.chunks_exact(d).map(Features::from).collect())
    }

    /// The next frame of `track` (see [`Windows::push`]); completed windows wait for
    /// [`Runner::outputs`].
    pub fn push(&mut self, track: usize, key: K, features: Features) {
        let w = self.windows.push(track, key, features);
        self.queued.extend(w);
    }

    /// A frame is over with these tracks in it ([`Windows::end_frame`]).
    pub fn end_frame(&mut self, present: &[usize]) {
        let w = self.windows.end_frame(present);
        self.queued.extend(w);
    }

    /// The input is over ([`Windows::finish`]).
    pub fn finish(&mut self) {
        let w = self.windows.finish();
        self.queued.extend(w);
    }

    /// Forget the input's tracks and anything queued.
    pub fn reset(&mut self) {
        self.windows.reset();
        self.queued.clear();
    }

    /// The head over every queued window: each labelled frame's class probabilities.
    pub fn outputs(&mut self) -> Result<Vec<(K, Vec<f32>)>, RuntimeError> {
        let windows = std::mem::take(&mut self.queued);
        self.heads(windows)
    }

    /// Probabilities of faces with no context (each a one-frame segment), in order.
    pub fn alone(&self, features: Vec<Features>) -> Result<Vec<Vec<f32>>, RuntimeError> {
        let mut w = Windows::new(self.spec);
        let mut windows = Vec::with_capacity(features.len());
        for (i, f) in features.into_iter().enumerate() {
            windows.extend(w.push(i, i, f));
            windows.extend(w.close(i));
        }
        let mut out = self.heads(windows)?;
        out.sort_by_key(|(i, _)| *i);
        Ok(out.into_iter().map(|(_, p)| p).collect())
    }

    fn heads<J>(&self, windows: Vec<Window<J>>) -> Result<Vec<(J, Vec<f32>)>, RuntimeError> {
        let mut out = Vec::new();
        let t = self.spec.len.max(1);
        let mut windows = windows.into_iter().peekable();
        while windows.peek().is_some() {
            let batch: Vec<Window<J>> = windows.by_ref().take(HEAD_BATCH).collect();
            let b = batch.len();
            let d = batch[0].rows[0].len();
            let mut x = Vec::with_capacity(b * t * d);
            let mut mask = Vec::with_capacity(b * t);
            for w in &batch {
                for (row, &m) in w.rows.iter().zip(&w.mask) {
                    x.extend_from_slice(row);
                    mask.push(if m { 1f32 } else { 0.0 });
                }
            }
            let x = Tensor::<3>::from_data(TensorData::new(x, [b, t, d]), &self.device);
            let mask = Tensor::<2>::from_data(TensorData::new(mask, [b, t]), &self.device);
            let logits = self.net.head(x, Some(mask));
            let [_, o, c] = logits.dims();
            let p = softmax(logits, 2)
                .into_data()
                .try_into_vec::<f32>()
                .map_err(|e| RuntimeError::Invalid(format!("probabilities: {e:?}")))?;
            for (wi, w) in batch.into_iter().enumerate() {
                for (at, key) in w.outputs {
                    let at = at.min(o - 1);
                    let s = (wi * o + at) * c;
                    out.push((key, p[s..s + c].to_vec()));
                }
            }
        }
        Ok(out)
    }
}
