//! Batch normalisation on burn-flex tensors in fused passes, forward and backward, as a burn
//! backend extension ([`FusedNormBackend`]) reached through [`batch_norm_train`] and
//! [`batch_norm`], which every [`crate::norm::BatchNorm`] calls.
//!
//! Why not burn's: flex has no batch norm of its own, so burn's generic one runs — in training
//! a channel-first copy of the input (`swap_dims` + `reshape`) for the mean, another of the
//! squared deviations for the variance, then four elementwise passes (subtract, divide,
//! multiply, add), each a fresh tensor; its backward makes two more copies and about ten
//! passes. Here the statistics are per-channel sums over contiguous runs (channels in
//! parallel), the normalisation one pass over the runs, and the backward one reduction and one
//! pass.
//!
//! Layout: `x` `[batch, c, ...]` contiguous, read as `[batch, c, n]` runs of `n` (the product
//! of the trailing sizes); statistics `[2, c]`: mean, then biased variance.

use crate::kernels::flex_ops::f32_contiguous;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, DType, Dispatch, Flex, TensorMetadata, backend_extension};
use burn::tensor::{Shape, Tensor};
use burn_flex::FlexTensor;
use rayon::prelude::*;

/// `[batch, c, n]` of a non-empty f32 tensor of rank >= 2.
fn dims(x: &FlexTensor) -> Option<[usize; 3]> {
    let s = x.layout().shape();
    if x.dtype() != DType::F32 || s.num_dims() < 2 {
        return None;
    }
    let n: usize = s.as_slice()[2..].iter().product();
    (s[0] * s[1] * n > 0).then_some([s[0], s[1], n])
}

/// `[batch, c, n]` when the normalisation is this module's: `x` as [`dims`], and the
/// per-channel tensors f32 too.
fn norm_dims(x: &FlexTensor, per_channel: [&FlexTensor; 3]) -> Option<[usize; 3]> {
    per_channel
        .iter()
        .all(|t| t.dtype() == DType::F32)
        .then(|| dims(x))
        .flatten()
}

/// `Σ f(a[i], b[i])` over a run in eight lanes (vectorised), then `f64`.
fn run_sum2(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f64 {
    let mut acc = [0.0f32; 8];
    let (al, bl) = (a.chunks_exact(8), b.chunks_exact(8));
    let rest: f64 = (al.remainder().iter().zip(bl.remainder()))
        .map(|(&u, &v)| f(u, v) as f64)
        .sum();
    for (u, v) in al.zip(bl) {
        for l in 0..8 {
            acc[l] += f(u[l], v[l]);
        }
    }
    acc.iter().map(|&a| a as f64).sum::<f64>() + rest
}

/// `Σ f(v)` over a run, as [`run_sum2`].
fn run_sum(run: &[f32], f: impl Fn(f32) -> f32) -> f64 {
    run_sum2(run, run, |v, _| f(v))
}

/// Per channel: mean and biased variance (two passes over the channel's runs, the second on
/// deviations from the mean, as PyTorch does).
fn stats(x: &[f32], [b, c, n]: [usize; 3]) -> Vec<[f32; 2]> {
    let count = (b * n) as f64;
    (0..c)
        .into_par_iter()
        .map(|ch| {
            let runs = || (0..b).map(|i| &x[(i * c + ch) * n..][..n]);
            let mean = (runs().map(|r| run_sum(r, |v| v)).sum::<f64>() / count) as f32;
            let var = runs()
                .map(|r| run_sum(r, |v| (v - mean) * (v - mean)))
                .sum::<f64>()
                / count;
            [mean, var as f32]
        })
        .collect()
}

/// Per channel `(mean, scale = gamma / sqrt(var + eps), beta)`.
fn affine(stats: &[[f32; 2]], gamma: &[f32], beta: &[f32], eps: f64) -> Vec<[f32; 3]> {
    stats
        .iter()
        .zip(gamma.iter().zip(beta))
        .map(|(&[m, v], (&g, &bt))| [m, g / (v as f64 + eps).sqrt() as f32, bt])
        .collect()
}

/// `y = (x − mean) · scale + beta`, runs in parallel; in place when `x` is `None`.
fn normalise(x: Option<&[f32]>, coef: &[[f32; 3]], [_, c, n]: [usize; 3], y: &mut [f32]) {
    let runs = y.par_chunks_mut(n).enumerate();
    match x {
        Some(x) => runs.zip(x.par_chunks(n)).for_each(|((r, dst), src)| {
            let [m, s, bt] = coef[r % c];
            for (d, &v) in dst.iter_mut().zip(src) {
                *d = (v - m) * s + bt;
            }
        }),
        None => runs.for_each(|(r, dst)| {
            let [m, s, bt] = coef[r % c];
            for d in dst.iter_mut() {
                *d = (*d - m) * s + bt;
            }
        }),
    }
}

/// Gradients of `normalise` with respect to `x`, `gamma` and `beta`. With `batch_stats` the
/// mean and variance are `x`'s own, so `dx` has the two extra terms of their dependence on
/// `x`: `dx = scale·(dy − Σdy/N) − scale·(x − mean)·Σ(dy·(x − mean))/(N·(var + eps))`.
#[allow(clippy::too_many_arguments)]
fn backward(
    x: &[f32],
    dy: &[f32],
    stats: &[[f32; 2]],
    gamma: &[f32],
    eps: f64,
    batch_stats: bool,
    [b, c, n]: [usize; 3],
    dx: &mut [f32],
) -> (Vec<f32>, Vec<f32>) {
    // Per channel: Σdy and Σdy·(x − mean).
    let sums: Vec<[f64; 2]> = (0..c)
        .into_par_iter()
        .map(|ch| {
            let m = stats[ch][0];
            let mut s = [0.0f64; 2];
            for i in 0..b {
                let at = (i * c + ch) * n;
                let (xr, dr) = (&x[at..][..n], &dy[at..][..n]);
                s[0] += run_sum(dr, |g| g);
                s[1] += run_sum2(xr, dr, |v, g| g * (v - m));
            }
            s
        })
        .collect();
    let count = (b * n) as f64;
    // Per channel: dx = a·dy − k1 − k2·(x − mean).
    let coef: Vec<[f32; 4]> = (0..c)
        .map(|ch| {
            let [m, v] = stats[ch];
            let inv_var = 1.0 / (v as f64 + eps);
            let scale = gamma[ch] as f64 * inv_var.sqrt();
            let (k1, k2) = if batch_stats {
                (
                    scale * sums[ch][0] / count,
                    scale * inv_var * sums[ch][1] / count,
                )
            } else {
                (0.0, 0.0)
            };
            [scale as f32, k1 as f32, k2 as f32, m]
        })
        .collect();
    dx.par_chunks_mut(n)
        .zip(x.par_chunks(n).zip(dy.par_chunks(n)))
        .enumerate()
        .for_each(|(r, (dst, (xr, dr)))| {
            let [a, k1, k2, m] = coef[r % c];
            for ((d, &v), &g) in dst.iter_mut().zip(xr).zip(dr) {
                *d = a * g - k1 - k2 * (v - m);
            }
        });
    let dgamma = (0..c)
        .map(|ch| (sums[ch][1] / (stats[ch][1] as f64 + eps).sqrt()) as f32)
        .collect();
    let dbeta = sums.iter().map(|s| s[0] as f32).collect();
    (dgamma, dbeta)
}

fn f32_vec(t: &FlexTensor) -> Vec<f32> {
    t.to_contiguous().storage::<f32>().to_vec()
}

fn stats_pairs(t: &FlexTensor) -> Vec<[f32; 2]> {
    let v = f32_vec(t);
    let c = v.len() / 2;
    (0..c).map(|ch| [v[ch], v[c + ch]]).collect()
}

fn flex_stats(x: &FlexTensor, d: [usize; 3]) -> FlexTensor {
    let s = stats(x.to_contiguous().storage::<f32>(), d);
    let data = s
        .iter()
        .map(|p| p[0])
        .chain(s.iter().map(|p| p[1]))
        .collect();
    f32_contiguous(data, Shape::from(vec![2, d[1]]))
}

/// The normalisation of `x`, written over `x`'s own buffer when nothing else holds it
/// (inference: no fresh allocation per layer).
fn flex_normalise(
    mut x: FlexTensor,
    gamma: &FlexTensor,
    beta: &FlexTensor,
    stats: &FlexTensor,
    eps: f64,
    d: [usize; 3],
) -> FlexTensor {
    let coef = affine(&stats_pairs(stats), &f32_vec(gamma), &f32_vec(beta), eps);
    let len = d[0] * d[1] * d[2];
    let in_place = x.is_contiguous() && x.layout().start_offset() == 0;
    if in_place && let Some(buf) = x.try_storage_mut::<f32>().filter(|b| b.len() == len) {
        normalise(None, &coef, d, buf);
        return x;
    }
    let mut y = vec![0.0f32; len];
    normalise(Some(x.to_contiguous().storage::<f32>()), &coef, d, &mut y);
    f32_contiguous(y, x.layout().shape().clone())
}

/// Statistics with the backend's own operations (what burn's `batch_norm_train` computes).
fn backend_stats<B: Backend>(x: FloatTensor<B>) -> FloatTensor<B> {
    let shape = x.shape();
    let c = shape[1];
    let rows = B::float_reshape(
        B::float_swap_dims(x, 0, 1),
        Shape::new([c, shape.num_elements() / c]),
    );
    let mean = B::float_mean_dim(rows.clone(), 1);
    let centred = B::float_sub(rows, mean.clone());
    let var = B::float_mean_dim(B::float_mul(centred.clone(), centred), 1);
    let row = |t| B::float_reshape(t, Shape::new([1, c]));
    B::float_cat(vec![row(mean), row(var)], 0)
}

/// The normalisation with burn's own operations: `batch_norm_train`'s output when the
/// statistics are the batch's (so its gradient is right), `batch_norm` otherwise.
fn backend_norm<B: Backend>(
    x: FloatTensor<B>,
    gamma: FloatTensor<B>,
    beta: FloatTensor<B>,
    stats: FloatTensor<B>,
    epsilon: f64,
    batch_stats: bool,
) -> FloatTensor<B> {
    if batch_stats {
        return B::batch_norm_train(x, gamma, beta, epsilon).output;
    }
    let (mean, var) = split_stats::<B>(stats);
    B::batch_norm(x, gamma, beta, mean, var, epsilon)
}

fn split_stats<B: Backend>(stats: FloatTensor<B>) -> (FloatTensor<B>, FloatTensor<B>) {
    let c = stats.shape()[1];
    let mean = B::float_slice(stats.clone(), &[(0..1).into(), (0..c).into()]);
    let var = B::float_slice(stats, &[(1..2).into(), (0..c).into()]);
    (
        B::float_reshape(mean, Shape::new([c])),
        B::float_reshape(var, Shape::new([c])),
    )
}

/// Batch normalisation as a burn backend extension: flex computes it here, autodiff on flex
/// gets the matching backward; other backends (the default bodies) use burn's own.
#[backend_extension(Flex, Autodiff)]
pub trait FusedNormBackend: Backend {
    /// `[batch, c, ...] -> [2, c]`: per-channel mean and biased variance; no gradient flows
    /// through them.
    fn channel_stats(x: FloatTensor<Self>) -> FloatTensor<Self> {
        backend_stats::<Self>(x)
    }

    /// `(x − mean) / sqrt(var + eps) · gamma + beta` with `stats` `[2, c]` from
    /// [`FusedNormBackend::channel_stats`]; `batch_stats`: they are `x`'s own (training), so
    /// the gradient accounts for their dependence on `x`.
    fn norm_affine(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        stats: FloatTensor<Self>,
        epsilon: f64,
        batch_stats: bool,
    ) -> FloatTensor<Self> {
        backend_norm::<Self>(x, gamma, beta, stats, epsilon, batch_stats)
    }
}

impl FusedNormBackend for Flex {
    fn channel_stats(x: FlexTensor) -> FlexTensor {
        match dims(&x) {
            Some(d) => flex_stats(&x, d),
            None => backend_stats::<Flex>(x),
        }
    }

    fn norm_affine(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        stats: FlexTensor,
        epsilon: f64,
        batch_stats: bool,
    ) -> FlexTensor {
        match norm_dims(&x, [&gamma, &beta, &stats]) {
            Some(d) => flex_normalise(x, &gamma, &beta, &stats, epsilon, d),
            None => backend_norm::<Flex>(x, gamma, beta, stats, epsilon, batch_stats),
        }
    }
}

#[derive(Debug)]
struct NormBackward;

#[derive(Debug)]
struct StatsOp;

impl Backward<Flex, 0> for StatsOp {
    type State = ();

    fn backward(self, _: Ops<(), 0>, _: &mut Gradients, _: &mut Checkpointer) {}
}

/// What the backward pass needs of the forward.
#[derive(Clone, Debug)]
struct NormState {
    x: FlexTensor,
    gamma: FlexTensor,
    stats: FlexTensor,
    epsilon: f64,
    batch_stats: bool,
    dims: [usize; 3],
}

impl Backward<Flex, 3> for NormBackward {
    type State = NormState;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let st = ops.state;
        let d = st.dims;
        let mut dx = vec![0.0f32; d[0] * d[1] * d[2]];
        let (dgamma, dbeta) = backward(
            st.x.to_contiguous().storage::<f32>(),
            dy.to_contiguous().storage::<f32>(),
            &stats_pairs(&st.stats),
            &f32_vec(&st.gamma),
            st.epsilon,
            st.batch_stats,
            d,
            &mut dx,
        );
        let c = Shape::new([d[1]]);
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, f32_contiguous(dx, st.x.layout().shape().clone()));
        }
        if let Some(node) = node_gamma {
            grads.register::<Flex>(node.id, f32_contiguous(dgamma, c.clone()));
        }
        if let Some(node) = node_beta {
            grads.register::<Flex>(node.id, f32_contiguous(dbeta, c));
        }
    }
}

impl<C: CheckpointStrategy> FusedNormBackend for Autodiff<Flex, C> {
    fn channel_stats(x: FloatTensor<Self>) -> FloatTensor<Self> {
        // Statistics carry no gradient (the normalisation's backward accounts for them): an
        // operation without parents, never tracked.
        StatsOp
            .prepare::<C>([])
            .compute_bound()
            .stateless(Flex::channel_stats(x.primitive().clone()))
    }

    fn norm_affine(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        stats: FloatTensor<Self>,
        epsilon: f64,
        batch_stats: bool,
    ) -> FloatTensor<Self> {
        let per_channel = [gamma.primitive(), beta.primitive(), stats.primitive()];
        let Some(d) = norm_dims(x.primitive(), per_channel) else {
            return backend_norm::<Self>(x, gamma, beta, stats, epsilon, batch_stats);
        };
        let stats = stats.primitive().clone();
        match NormBackward
            .prepare::<C>([x.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (xp, gp, bp) = (x.primitive(), gamma.primitive(), beta.primitive());
                let y = flex_normalise(xp.clone(), gp, bp, &stats, epsilon, d);
                let state = NormState {
                    x: xp.clone(),
                    gamma: gp.clone(),
                    stats,
                    epsilon,
                    batch_stats,
                    dims: d,
                };
                prep.finish(state, y)
            }
            OpsKind::UnTracked(prep) => {
                let (gp, bp) = (gamma.primitive().clone(), beta.primitive().clone());
                prep.finish(flex_normalise(
                    x.into_primitive(),
                    &gp,
                    &bp,
                    &stats,
                    epsilon,
                    d,
                ))
            }
        }
    }
}

fn ours<const D: usize>(x: &Tensor<D>) -> bool {
    D >= 2 && crate::kernels::flex_ops::use_ours(x)
}

/// Batch normalisation with the batch's own statistics: output, per-channel mean and biased
/// variance (detached). burn's `batch_norm_train`, computed by this module on the CPU (flex,
/// f32) and by burn everywhere else.
pub fn batch_norm_train<const D: usize>(
    x: Tensor<D>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    epsilon: f64,
) -> (Tensor<D>, Tensor<1>, Tensor<1>) {
    if !ours(&x) {
        let r = burn::tensor::module::batch_norm_train(x, gamma, beta, epsilon);
        return (r.output, r.mean, r.variance);
    }
    let stats = Tensor::<2>::from_dispatch(<Dispatch as FusedNormBackend>::channel_stats(
        x.clone().into_dispatch(),
    ));
    let c = gamma.dims()[0];
    let y = Tensor::from_dispatch(<Dispatch as FusedNormBackend>::norm_affine(
        x.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        stats.clone().into_dispatch(),
        epsilon,
        true,
    ));
    let mean = stats.clone().slice([0..1, 0..c]).reshape([c]);
    let var = stats.slice([1..2, 0..c]).reshape([c]);
    (y, mean, var)
}

/// Batch normalisation with given statistics (inference). burn's `batch_norm`, computed by
/// this module on the CPU (flex, f32) and by burn everywhere else.
pub fn batch_norm<const D: usize>(
    x: Tensor<D>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    mean: Tensor<1>,
    var: Tensor<1>,
    epsilon: f64,
) -> Tensor<D> {
    if !ours(&x) {
        return burn::tensor::module::batch_norm(x, gamma, beta, mean, var, epsilon);
    }
    let c = mean.dims()[0];
    let stats = Tensor::cat(vec![mean.reshape([1, c]), var.reshape([1, c])], 0);
    Tensor::from_dispatch(<Dispatch as FusedNormBackend>::norm_affine(
        x.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        stats.into_dispatch(),
        epsilon,
        false,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::flex_ops::test_close as close;
    use crate::kernels::flex_ops::test_values as values;
    use burn::tensor::{Device, TensorData};

    fn t<const D: usize>(data: Vec<f32>, shape: [usize; D], dev: &Device) -> Tensor<D> {
        Tensor::from_data(TensorData::new(data, shape), dev)
    }

    fn vec<const D: usize>(x: Tensor<D>) -> Vec<f32> {
        x.into_data().try_to_vec::<f32>().unwrap()
    }

    /// Direct batch statistics in f64 over `[b, c, n]`: mean and biased variance.
    fn naive_stats(x: &[f32], [b, c, n]: [usize; 3]) -> Vec<(f64, f64)> {
        (0..c)
            .map(|ch| {
                let v: Vec<f64> = (0..b)
                    .flat_map(|i| x[(i * c + ch) * n..][..n].iter().map(|&v| v as f64))
                    .collect();
                let m = v.iter().sum::<f64>() / v.len() as f64;
                (
                    m,
                    v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / v.len() as f64,
                )
            })
            .collect()
    }

    /// Inputs: offset from zero (as activations after ReLU are), runs shorter and longer than
    /// the eight lanes.
    fn input(shape: &[usize]) -> Vec<f32> {
        let n: usize = shape.iter().product();
        values(n, 11).iter().map(|v| 2.0 * v + 0.7).collect()
    }

    const EPS: f64 = 1e-5;

    #[test]
    fn training_forward_matches_direct_and_burn() {
        let dev = crate::cpu();
        let (b, c, h, w) = (3, 5, 7, 6);
        let x = input(&[b, c, h, w]);
        let gamma = values(c, 12);
        let beta = values(c, 13);
        let st = naive_stats(&x, [b, c, h * w]);
        let want: Vec<f32> = x
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let ch = (i / (h * w)) % c;
                let (m, var) = st[ch];
                (((v as f64 - m) / (var + EPS).sqrt()) * gamma[ch] as f64 + beta[ch] as f64) as f32
            })
            .collect();
        let run = || {
            (
                t(x.clone(), [b, c, h, w], &dev),
                t(gamma.clone(), [c], &dev),
                t(beta.clone(), [c], &dev),
            )
        };
        let (xt, g, bt) = run();
        let (y, mean, var) = batch_norm_train(xt, g, bt, EPS);
        close(&vec(y), &want, 1e-5, "output vs direct");
        let direct_mean: Vec<f32> = st.iter().map(|s| s.0 as f32).collect();
        let direct_var: Vec<f32> = st.iter().map(|s| s.1 as f32).collect();
        close(&vec(mean), &direct_mean, 1e-6, "mean");
        close(&vec(var), &direct_var, 1e-6, "variance");
        let (xt, g, bt) = run();
        let r = burn::tensor::module::batch_norm_train(xt, g, bt, EPS);
        close(&vec(r.output), &want, 1e-5, "burn's output vs direct");
    }

    #[test]
    fn inference_matches_burn_and_leaves_a_shared_input_alone() {
        let dev = crate::cpu();
        for shape in [vec![2, 4, 3, 5], vec![6, 3], vec![2, 3, 9]] {
            let c = shape[1];
            let x = input(&shape);
            let (g, bt) = (values(c, 14), values(c, 15));
            let mean = values(c, 16);
            let var: Vec<f32> = values(c, 17).iter().map(|v| v.abs() + 0.1).collect();
            let args = || {
                (
                    t(g.clone(), [c], &dev),
                    t(bt.clone(), [c], &dev),
                    t(mean.clone(), [c], &dev),
                    t(var.clone(), [c], &dev),
                )
            };
            let check =
                |ours: Vec<f32>, burn: Vec<f32>| close(&ours, &burn, 1e-5, &format!("{shape:?}"));
            match shape.len() {
                4 => {
                    let xt = t(x.clone(), [shape[0], shape[1], shape[2], shape[3]], &dev);
                    let (a, b, m, v) = args();
                    // `xt` stays alive: the kernel must not write over it.
                    let ours = batch_norm(xt.clone(), a, b, m, v, EPS);
                    let (a, b, m, v) = args();
                    let burn = burn::tensor::module::batch_norm(xt.clone(), a, b, m, v, EPS);
                    assert_eq!(vec(xt), x, "input changed");
                    check(vec(ours), vec(burn));
                    // Sole owner: computed in place, same values.
                    let (a, b, m, v) = args();
                    let xt = t(x.clone(), [shape[0], shape[1], shape[2], shape[3]], &dev);
                    let (a2, b2, m2, v2) = args();
                    let xt2 = t(x.clone(), [shape[0], shape[1], shape[2], shape[3]], &dev);
                    check(
                        vec(batch_norm(xt, a, b, m, v, EPS)),
                        vec(burn::tensor::module::batch_norm(xt2, a2, b2, m2, v2, EPS)),
                    );
                }
                3 => {
                    let xt = t(x.clone(), [shape[0], shape[1], shape[2]], &dev);
                    let (a, b, m, v) = args();
                    let ours = batch_norm(xt.clone(), a, b, m, v, EPS);
                    let (a, b, m, v) = args();
                    check(
                        vec(ours),
                        vec(burn::tensor::module::batch_norm(xt, a, b, m, v, EPS)),
                    );
                }
                _ => {
                    let xt = t(x.clone(), [shape[0], shape[1]], &dev);
                    let (a, b, m, v) = args();
                    let ours = batch_norm(xt.clone(), a, b, m, v, EPS);
                    let (a, b, m, v) = args();
                    check(
                        vec(ours),
                        vec(burn::tensor::module::batch_norm(xt, a, b, m, v, EPS)),
                    );
                }
            }
        }
    }

    /// Gradients of `sum(bn(x) · r)` with respect to `x`, `gamma` and `beta` equal burn's
    /// autodiff of its own batch norm, with batch statistics (training) and given ones.
    #[test]
    fn gradients_match_burn() {
        let dev = crate::cpu().autodiff();
        let (b, c, h, w) = (4, 3, 5, 5);
        let x = input(&[b, c, h, w]);
        let (g, bt) = (values(c, 18), values(c, 19));
        let r = t(values(x.len(), 20), [b, c, h, w], &dev);
        let mean = values(c, 21);
        let var: Vec<f32> = values(c, 22).iter().map(|v| v.abs() + 0.1).collect();
        for training in [true, false] {
            let grads = |ours: bool| {
                let xt = t(x.clone(), [b, c, h, w], &dev).require_grad();
                let gt = t(g.clone(), [c], &dev).require_grad();
                let btt = t(bt.clone(), [c], &dev).require_grad();
                let (m, v) = (t(mean.clone(), [c], &dev), t(var.clone(), [c], &dev));
                let y = match (training, ours) {
                    (true, true) => batch_norm_train(xt.clone(), gt.clone(), btt.clone(), EPS).0,
                    (true, false) => {
                        burn::tensor::module::batch_norm_train(
                            xt.clone(),
                            gt.clone(),
                            btt.clone(),
                            EPS,
                        )
                        .output
                    }
                    (false, true) => batch_norm(xt.clone(), gt.clone(), btt.clone(), m, v, EPS),
                    (false, false) => burn::tensor::module::batch_norm(
                        xt.clone(),
                        gt.clone(),
                        btt.clone(),
                        m,
                        v,
                        EPS,
                    ),
                };
                let gr = (y * r.clone()).sum().backward();
                (
                    vec(xt.grad(&gr).unwrap()),
                    vec(gt.grad(&gr).unwrap()),
                    vec(btt.grad(&gr).unwrap()),
                )
            };
            let (ours, burn) = (grads(true), grads(false));
            close(&ours.0, &burn.0, 1e-4, &format!("dx training {training}"));
            close(
                &ours.1,
                &burn.1,
                1e-4,
                &format!("dgamma training {training}"),
            );
            close(
                &ours.2,
                &burn.2,
                1e-4,
                &format!("dbeta training {training}"),
            );
        }
    }
}
