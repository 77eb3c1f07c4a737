//! Data-parallel steps: the global batch is split into K contiguous parts, replica k computes
//! the gradient of its part (on its own device, on its own long-lived thread), the gradients
//! are summed on the first device and one optimizer step is taken.
//!
//! Each part's loss is divided by the whole batch's denominator ([`Loss::denominator`]), so the
//! parts' losses add up to the batch's loss and their gradients to its gradient: for a network
//! without batch norm, a K-replica step equals the 1-replica step up to float summation order
//! (tested with K = 2). What differs, as in PyTorch's DistributedDataParallel:
//! - **Batch norm** normalises each part with that part's own statistics (no synchronised batch
//!   norm). Its running averages are updated by every replica from the same values and then
//!   averaged (burn's `RunningState` keeps one update per thread: that is why each replica has
//!   its own thread), so the running mean moves towards the mean of the parts' means, which is
//!   the batch mean when the parts are equal.
//! - **Dropout** draws each replica's masks from its own seed (replica 0 uses the 1-replica
//!   step's), the same distribution but not the same masks.
//!
//! On one CPU the replicas take turns (forward passes are serialised by the seeded random
//! generator; the arithmetic equals K devices'), and the gradients are summed on the first
//! device. With one replica per GPU (`--device cuda:0,cuda:1`) each replica runs on its own
//! and the replicas sum their gradients with burn's collective all-reduce
//! (`burn::tensor::distributed`, NCCL on CUDA), every replica calling it for the same
//! parameters in the same order; a step where some part has nothing to learn (it would not
//! take part) falls back to the sum on the first device. That path type-checks in every build
//! but has never run: there is no GPU here (burn's CPU backend has no collective operations).

use crate::TrainError;
use crate::loss::Loss;
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::tensor::distributed::{
    DistributedConfig, DistributedContext, ReduceOperation, all_reduce,
};
use burn::tensor::{Device, Tensor, TensorData};
use std::sync::mpsc;
use wildfer_runtime::Net;

/// One part of a batch for one replica.
pub struct Part {
    /// `[b, t, 3, size, size]`, normalised.
    pub pixels: Vec<f32>,
    pub mask: Vec<f32>,
    pub b: usize,
    pub t: usize,
    pub size: usize,
    /// `b * outputs` targets.
    pub targets: Vec<Option<usize>>,
}

/// Split a batch of `b` windows (pixels `[b, t, 3, s, s]`, mask `[b, t]`, `b * outputs`
/// targets) into `k` contiguous parts whose sizes differ by at most one (empty parts left out).
pub fn split(
    pixels: &[f32],
    mask: &[f32],
    targets: &[Option<usize>],
    (b, t, size): (usize, usize, usize),
    k: usize,
) -> Vec<Part> {
    let per_window = t * 3 * size * size;
    let outputs = targets.len() / b.max(1);
    let mut parts = Vec::new();
    let mut start = 0;
    for i in 0..k {
        let n = b / k + usize::from(i < b % k);
        if n == 0 {
            continue;
        }
        let end = start + n;
        parts.push(Part {
            pixels: pixels[start * per_window..end * per_window].to_vec(),
            mask: mask[start * t..end * t].to_vec(),
            b: n,
            t,
            size,
            targets: targets[start * outputs..end * outputs].to_vec(),
        });
        start = end;
    }
    parts
}

/// What one part's step computed: its loss value and gradients (backbone, the rest), on its
/// device.
pub type PartOut = Option<(f64, GradientsParams, GradientsParams)>;

/// A replica's long-lived thread, running one job at a time.
struct Worker {
    jobs: Option<mpsc::Sender<Box<dyn FnOnce() + Send>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Worker {
    fn spawn(k: usize) -> Result<Worker, TrainError> {
        let (tx, rx) = mpsc::channel::<Box<dyn FnOnce() + Send>>();
        let thread = std::thread::Builder::new()
            .name(format!("wildfer-replica-{k}"))
            .spawn(move || {
                for job in rx {
                    job();
                }
            })
            .map_err(|e| TrainError::Invalid(format!("cannot start replica {k}: {e}")))?;
        Ok(Worker {
            jobs: Some(tx),
            thread: Some(thread),
        })
    }

    /// Run `f` on this worker; its result arrives on the returned channel.
    fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<mpsc::Receiver<T>, TrainError> {
        let (tx, rx) = mpsc::channel();
        self.jobs
            .as_ref()
            .ok_or_else(|| TrainError::Invalid("replica stopped".into()))?
            .send(Box::new(move || {
                let _ = tx.send(f());
            }))
            .map_err(|_| TrainError::Invalid("a replica thread stopped unexpectedly".into()))?;
        Ok(rx)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// K replicas, replica k on `devices[k % devices.len()]` (autodiff devices).
pub struct Replicas {
    workers: Vec<Worker>,
    devices: Vec<Device>,
    /// One replica per accelerator: gradients summed by all-reduce among them.
    collective: Option<DistributedContext>,
}

impl Replicas {
    /// `k` replicas (at least 1) over `devices` (at least one; the first gathers gradients).
    pub fn new(k: usize, devices: Vec<Device>) -> Result<Replicas, TrainError> {
        if k == 0 || devices.is_empty() {
            return Err(TrainError::Invalid(
                "data-parallel training needs at least one replica and one device".into(),
            ));
        }
        let cpu = [wildfer_nn::cpu(), wildfer_nn::cpu().autodiff()];
        let collective = (k > 1
            && devices.len() == k
            && devices.iter().all(|d| !cpu.contains(d))
            && (1..k).all(|i| !devices[..i].contains(&devices[i])))
        .then(|| {
            DistributedContext::init(
                devices.clone(),
                DistributedConfig {
                    all_reduce_op: ReduceOperation::Sum,
                },
            )
        });
        Ok(Replicas {
            workers: (0..k).map(Worker::spawn).collect::<Result<_, _>>()?,
            devices,
            collective,
        })
    }

    pub fn len(&self) -> usize {
        self.workers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.workers.is_empty()
    }

    /// The summed gradients (backbone, rest; on the first device) and the loss of `parts` (one
    /// per replica, at most K) under `net`, each part's loss divided by `denominator` (the
    /// whole batch's, `None` when it has nothing to learn); replica k seeds its randomness
    /// with `seeds[k]`. `None`: no part had anything to learn.
    #[allow(clippy::too_many_arguments)]
    pub fn gradients(
        &self,
        net: &Net,
        parts: Vec<Part>,
        loss_fn: &Loss,
        denominator: Option<f32>,
        classes: usize,
        seeds: &[u64],
    ) -> Result<Option<(f64, GradientsParams, GradientsParams)>, TrainError> {
        assert!(parts.len() <= self.workers.len() && seeds.len() >= parts.len());
        // All-reduce only when every replica takes part: each has a part with a target.
        let reduce_on_devices = self.collective.is_some()
            && denominator.is_some()
            && parts.len() == self.devices.len()
            && parts.iter().all(|p| p.targets.iter().any(Option::is_some));
        let mut pending = Vec::new();
        for (k, part) in parts.into_iter().enumerate() {
            let device = self.devices[k % self.devices.len()].clone();
            let replica = net.clone().fork(&device);
            let loss_fn = loss_fn.clone();
            let seed = seeds[k];
            let devices = self.devices.clone();
            pending.push(self.workers[k].run(move || -> PartOut {
                let out = part_gradients(
                    &replica,
                    part,
                    &loss_fn,
                    denominator,
                    classes,
                    seed,
                    &device,
                );
                match out {
                    Some((loss, b, r)) if reduce_on_devices => Some((
                        loss,
                        all_reduce_grads(&replica, b, &devices),
                        all_reduce_grads(&replica, r, &devices),
                    )),
                    out => out,
                }
            })?);
        }
        let primary = &self.devices[0];
        let (mut backbone, mut rest) = (
            GradientsAccumulator::<Net>::new(),
            GradientsAccumulator::<Net>::new(),
        );
        // After an all-reduce every replica holds the sum: the first one's is the step's.
        let mut reduced = None;
        let mut total = None;
        // Gathered in replica order, so the sums are the same every run.
        for (k, rx) in pending.into_iter().enumerate() {
            let out = rx
                .recv()
                .map_err(|_| TrainError::Invalid("a replica failed during its step".into()))?;
            if let Some((loss, b, r)) = out {
                *total.get_or_insert(0.0) += loss;
                if !reduce_on_devices {
                    backbone.accumulate(net, b.to_device(primary, net));
                    rest.accumulate(net, r.to_device(primary, net));
                } else if k == 0 {
                    reduced = Some((b, r));
                }
            }
        }
        Ok(total.map(|loss| {
            let (b, r) = reduced.unwrap_or_else(|| (backbone.grads(), rest.grads()));
            (loss, b, r)
        }))
    }
}

/// `grads` summed over `devices` by burn's collective all-reduce; every replica calls this with
/// its own gradients of the same parameters, visited in the same order.
fn all_reduce_grads(net: &Net, grads: GradientsParams, devices: &[Device]) -> GradientsParams {
    struct Reduce<'a> {
        grads: GradientsParams,
        devices: &'a [Device],
    }
    impl ModuleVisitor for Reduce<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.remove::<D>(param.id) {
                let sum = all_reduce(g, ReduceOperation::Sum, self.devices.to_vec()).resolve();
                self.grads.register(param.id, sum);
            }
        }
    }
    let mut reduce = Reduce { grads, devices };
    net.visit(&mut reduce);
    reduce.grads
}

/// One part's gradients under `net` on `device` (a replica's part, or the whole batch of a
/// 1-replica step): forward (its randomness seeded with `seed`), loss over the batch's
/// `denominator`, backward. `None`: nothing to learn (no frame of the part has a target, or
/// the batch's denominator is `None`); the forward pass runs all the same, as a step's does.
pub fn part_gradients(
    net: &Net,
    part: Part,
    loss_fn: &Loss,
    denominator: Option<f32>,
    classes: usize,
    seed: u64,
    device: &Device,
) -> PartOut {
    let Part {
        pixels,
        mask,
        b,
        t,
        size,
        targets,
    } = part;
    let x = Tensor::<5>::from_data(TensorData::new(pixels, [b, t, 3, size, size]), device);
    let mask = Tensor::<2>::from_data(TensorData::new(mask, [b, t]), device);
    let logits = wildfer_nn::seeding::seeded(device, seed, || net.forward(x, Some(mask)));
    let logits = logits.reshape([targets.len(), classes]);
    let loss = loss_fn.forward_over(logits, &targets, denominator?)?;
    let value = f64::from(loss.clone().into_scalar::<f32>());
    let (backbone, rest) = net.split_grads(loss.backward());
    Some((value, backbone, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cover_the_batch_in_order() {
        let (b, t, s) = (5, 2, 1);
        let pixels: Vec<f32> = (0..b * t * 3 * s * s).map(|i| i as f32).collect();
        let mask: Vec<f32> = (0..b * t).map(|i| i as f32).collect();
        let targets: Vec<Option<usize>> = (0..b * t).map(|i| Some(i % 7)).collect();
        let parts = split(&pixels, &mask, &targets, (b, t, s), 2);
        assert_eq!(parts.iter().map(|p| p.b).collect::<Vec<_>>(), vec![3, 2]);
        let joined: Vec<f32> = parts.iter().flat_map(|p| p.pixels.clone()).collect();
        assert_eq!(joined, pixels);
        let joined: Vec<Option<usize>> = parts.iter().flat_map(|p| p.targets.clone()).collect();
        assert_eq!(joined, targets);
        assert_eq!(parts[1].mask, mask[6..].to_vec());
        // More replicas than windows: the empty parts are left out.
        assert_eq!(split(&pixels, &mask, &targets, (b, t, s), 8).len(), 5);
    }
}
