//! CBAM's two poolings on burn-flex tensors, forward and backward, as a burn backend extension
//! ([`CbamPoolBackend`]):
//! - [`channel_pool`], the spatial gate's input: the maximum and the mean over the channels
//!   of every pixel, `[batch, c, h, w] -> [batch, 2, h, w]`;
//! - [`spatial_pool`], the channel gate's input: the mean and the maximum over the pixels of
//!   every channel, `[batch, c, h, w] -> [2, batch, c]`.
//!
//! Why not burn's `max_dim` / `mean_dim` / `max_dims`: burn-flex reduces a non-last axis one
//! output element at a time, striding across the input, and rows shorter than 512 without
//! SIMD; `perf` put these reductions at ~12% of method A's forward pass. Here the channel
//! pooling walks each channel plane contiguously (vectorised) with pixel blocks in parallel,
//! and the spatial pooling reduces each contiguous row in eight lanes, rows in parallel. The
//! backward passes spread a mean's gradient evenly and give a maximum's to the first element
//! holding it (the first NaN when it is NaN), found again from the input and the pooled
//! maximum.

use crate::kernels::flex_ops::{f32_contiguous, pmax};
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, DType, Dispatch, Flex, TensorMetadata, backend_extension};
use burn::tensor::{Shape, Tensor};
use burn_flex::FlexTensor;
use rayon::prelude::*;

/// Pixels per task: a block's running maximum and sum stay in L1 while the channels stream by.
const BLOCK: usize = 512;

/// `[b, c, hw]` -> `[b, 2, hw]`: channel maximum (NaN propagates, as PyTorch's `max`) then
/// channel mean.
fn channel_forward(x: &[f32], [b, c, hw]: [usize; 3], y: &mut [f32]) {
    let inv = 1.0 / c as f32;
    y.par_chunks_mut(2 * hw)
        .zip(x.par_chunks(c * hw))
        .take(b)
        .for_each(|(out, planes)| {
            let (mx, mean) = out.split_at_mut(hw);
            mx.par_chunks_mut(BLOCK)
                .zip(mean.par_chunks_mut(BLOCK))
                .enumerate()
                .for_each(|(blk, (mx, sm))| {
                    let at = blk * BLOCK;
                    let n = mx.len();
                    mx.copy_from_slice(&planes[at..at + n]);
                    sm.copy_from_slice(&planes[at..at + n]);
                    for ch in 1..c {
                        let src = &planes[ch * hw + at..][..n];
                        for ((m, s), &v) in mx.iter_mut().zip(sm.iter_mut()).zip(src) {
                            *m = pmax(*m, v);
                            *s += v;
                        }
                    }
                    sm.iter_mut().for_each(|s| *s *= inv);
                });
        });
}

/// Input gradient from `dy` (`[b, 2, hw]`, gradients of the maximum and the mean) and the
/// pooled maximum `y`: each channel gets `d_mean / c`, the maximum's channel also `d_max`.
/// Images in parallel (training batches have several).
fn channel_backward(x: &[f32], y: &[f32], dy: &[f32], [b, c, hw]: [usize; 3], dx: &mut [f32]) {
    let inv = 1.0 / c as f32;
    dx.par_chunks_mut(c * hw)
        .zip(x.par_chunks(c * hw))
        .zip(y.par_chunks(2 * hw).zip(dy.par_chunks(2 * hw)))
        .take(b)
        .for_each(|((dx, x), (y, dy))| {
            let (mx, (dmax, dmean)) = (&y[..hw], dy.split_at(hw));
            let mut found = vec![false; hw];
            for ch in 0..c {
                let (src, dst) = (&x[ch * hw..][..hw], &mut dx[ch * hw..][..hw]);
                for i in 0..hw {
                    let m = mx[i];
                    let hit = !found[i] && (src[i] == m || (m.is_nan() && src[i].is_nan()));
                    found[i] |= hit;
                    dst[i] = dmean[i] * inv + if hit { dmax[i] } else { 0.0 };
                }
            }
        });
}

/// `[b, c, hw]` -> `[2, b·c]`: each row's mean, then its maximum.
fn spatial_forward(x: &[f32], [b, c, hw]: [usize; 3], y: &mut [f32]) {
    let (mean, max) = y.split_at_mut(b * c);
    mean.par_iter_mut()
        .zip(max.par_iter_mut())
        .zip(x.par_chunks(hw))
        .for_each(|((mean, max), row)| {
            let (sum, m) = sum_max(row);
            *mean = sum / hw as f32;
            *max = m;
        });
}

/// Sum and maximum (NaN propagates) of a row, in eight independent lanes the compiler keeps in
/// one vector register each.
fn sum_max(row: &[f32]) -> (f32, f32) {
    let (mut s, mut m) = ([0.0f32; 8], [f32::NEG_INFINITY; 8]);
    let lanes = row.chunks_exact(8);
    let rest = lanes.remainder();
    for v in lanes {
        for l in 0..8 {
            s[l] += v[l];
            m[l] = pmax(m[l], v[l]);
        }
    }
    let sum = s.iter().sum::<f32>() + rest.iter().sum::<f32>();
    let max = m
        .into_iter()
        .chain(rest.iter().copied())
        .fold(f32::NEG_INFINITY, pmax);
    (sum, max)
}

/// Input gradient from `dy` (`[2, b·c]`, gradients of the means and the maxima) and the
/// pooled `y`: each element gets `d_mean / hw`, the row maximum's first holder also `d_max`.
fn spatial_backward(y: &[f32], dy: &[f32], x: &[f32], [b, c, hw]: [usize; 3], dx: &mut [f32]) {
    let rows = b * c;
    dx.par_chunks_mut(hw)
        .zip(x.par_chunks(hw))
        .enumerate()
        .for_each(|(r, (d, row))| {
            d.fill(dy[r] / hw as f32);
            let m = y[rows + r];
            let at = if m.is_nan() {
                row.iter().position(|v| v.is_nan())
            } else {
                row.iter().position(|&v| v == m)
            };
            if let Some(i) = at {
                d[i] += dy[rows + r];
            }
        });
}

/// `[b, c, h·w]` of a non-empty f32 `[b, c, h, w]` tensor, the inputs this module pools.
fn dims(x: &FlexTensor) -> Option<[usize; 3]> {
    match *x.layout().shape().as_slice() {
        [b, c, h, w] if x.dtype() == DType::F32 && b * c * h * w > 0 => Some([b, c, h * w]),
        _ => None,
    }
}

/// Which of the two poolings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pooling {
    /// Over the channels: `[b, c, h, w] -> [b, 2, h, w]` (maximum, mean).
    Channel,
    /// Over the pixels: `[b, c, h, w] -> [2, b, c]` (mean, maximum).
    Spatial,
}

impl Pooling {
    fn out_shape(self, [b, c, _]: [usize; 3], x: &FlexTensor) -> Shape {
        match self {
            Pooling::Channel => {
                let mut shape = x.layout().shape().to_vec();
                shape[1] = 2;
                Shape::from(shape)
            }
            Pooling::Spatial => Shape::from(vec![2, b, c]),
        }
    }

    fn out_len(self, [b, c, hw]: [usize; 3]) -> usize {
        match self {
            Pooling::Channel => b * 2 * hw,
            Pooling::Spatial => 2 * b * c,
        }
    }

    /// The same with the backend's own operations.
    fn backend<B: Backend>(self, x: FloatTensor<B>) -> FloatTensor<B> {
        match self {
            Pooling::Channel => {
                let max = B::float_max_dim(x.clone(), 1);
                B::float_cat(vec![max, B::float_mean_dim(x, 1)], 1)
            }
            Pooling::Spatial => {
                let shape = x.shape();
                let (b, c) = (shape[0], shape[1]);
                let rows = B::float_reshape(x, Shape::from(vec![1, b, c, shape[2] * shape[3]]));
                let mean = B::float_mean_dim(rows.clone(), 3);
                let max = B::float_max_dim(rows, 3);
                B::float_reshape(B::float_cat(vec![mean, max], 0), Shape::from(vec![2, b, c]))
            }
        }
    }
}

fn flex_forward(p: Pooling, x: &FlexTensor, d: [usize; 3]) -> FlexTensor {
    let xc = x.to_contiguous();
    let mut y = vec![0.0f32; p.out_len(d)];
    match p {
        Pooling::Channel => channel_forward(xc.storage::<f32>(), d, &mut y),
        Pooling::Spatial => spatial_forward(xc.storage::<f32>(), d, &mut y),
    }
    f32_contiguous(y, p.out_shape(d, x))
}

/// The tensors are the forward pass's f32 input and output and the output's gradient (f32:
/// autodiff keeps a gradient in its tensor's dtype).
fn flex_backward(
    p: Pooling,
    x: &FlexTensor,
    y: &FlexTensor,
    dy: &FlexTensor,
    d: [usize; 3],
) -> FlexTensor {
    let (xc, yc, dyc) = (x.to_contiguous(), y.to_contiguous(), dy.to_contiguous());
    let (xs, ys, dys) = (
        xc.storage::<f32>(),
        yc.storage::<f32>(),
        dyc.storage::<f32>(),
    );
    let mut dx = vec![0.0f32; d[0] * d[1] * d[2]];
    match p {
        Pooling::Channel => channel_backward(xs, ys, dys, d, &mut dx),
        Pooling::Spatial => spatial_backward(ys, dys, xs, d, &mut dx),
    }
    f32_contiguous(dx, x.layout().shape().clone())
}

fn flex_pool(p: Pooling, x: FlexTensor) -> FlexTensor {
    match dims(&x) {
        Some(d) => flex_forward(p, &x, d),
        None => p.backend::<Flex>(x),
    }
}

/// CBAM's poolings as a burn backend extension: flex computes them here, autodiff on flex gets
/// the matching backward; other backends (the default bodies) use their own reductions.
#[backend_extension(Flex, Autodiff)]
pub trait CbamPoolBackend: Backend {
    /// `[b, c, h, w] -> [b, 2, h, w]`: channel maximum, channel mean.
    fn channel_max_mean(x: FloatTensor<Self>) -> FloatTensor<Self> {
        Pooling::Channel.backend::<Self>(x)
    }

    /// `[b, c, h, w] -> [2, b, c]`: spatial mean, spatial maximum.
    fn spatial_mean_max(x: FloatTensor<Self>) -> FloatTensor<Self> {
        Pooling::Spatial.backend::<Self>(x)
    }
}

impl CbamPoolBackend for Flex {
    fn channel_max_mean(x: FlexTensor) -> FlexTensor {
        flex_pool(Pooling::Channel, x)
    }

    fn spatial_mean_max(x: FlexTensor) -> FlexTensor {
        flex_pool(Pooling::Spatial, x)
    }
}

#[derive(Debug)]
struct CbamPoolBackward;

impl Backward<Flex, 1> for CbamPoolBackward {
    /// The pooling, input and output of the forward pass, and its `[b, c, h·w]`.
    type State = (Pooling, FlexTensor, FlexTensor, [usize; 3]);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let (p, x, y, d) = ops.state;
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, flex_backward(p, &x, &y, &dy, d));
        }
    }
}

fn autodiff_pool<C: CheckpointStrategy>(
    p: Pooling,
    x: FloatTensor<Autodiff<Flex, C>>,
) -> FloatTensor<Autodiff<Flex, C>> {
    let Some(d) = dims(x.primitive()) else {
        return p.backend::<Autodiff<Flex, C>>(x);
    };
    match CbamPoolBackward
        .prepare::<C>([x.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let xp = x.primitive().clone();
            let y = flex_forward(p, &xp, d);
            prep.finish((p, xp, y.clone(), d), y)
        }
        OpsKind::UnTracked(prep) => prep.finish(flex_forward(p, x.primitive(), d)),
    }
}

impl<C: CheckpointStrategy> CbamPoolBackend for Autodiff<Flex, C> {
    fn channel_max_mean(x: FloatTensor<Self>) -> FloatTensor<Self> {
        autodiff_pool::<C>(Pooling::Channel, x)
    }

    fn spatial_mean_max(x: FloatTensor<Self>) -> FloatTensor<Self> {
        autodiff_pool::<C>(Pooling::Spatial, x)
    }
}

/// `[batch, c, h, w] -> [batch, 2, h, w]`: the maximum over the channels of every pixel, then
/// their mean (CBAM's spatial gate input), computed by this module on the CPU (flex, f32) and
/// by burn's own reductions everywhere else.
pub fn channel_pool(x: Tensor<4>) -> Tensor<4> {
    if !crate::kernels::flex_ops::use_ours(&x) {
        return Tensor::cat(vec![x.clone().max_dim(1), x.mean_dim(1)], 1);
    }
    Tensor::from_dispatch(<Dispatch as CbamPoolBackend>::channel_max_mean(
        x.into_dispatch(),
    ))
}

/// `[batch, c, h, w] -> [2, batch, c]`: the mean over the pixels of every channel, then their
/// maximum (CBAM's channel gate input), computed by this module on the CPU (flex, f32) and by
/// burn's own reductions everywhere else.
pub fn spatial_pool(x: Tensor<4>) -> Tensor<3> {
    if !crate::kernels::flex_ops::use_ours(&x) {
        let [b, c, h, w] = x.dims();
        let rows = x.reshape([1, b, c, h * w]);
        return Tensor::cat(vec![rows.clone().mean_dim(3), rows.max_dim(3)], 0).reshape([2, b, c]);
    }
    Tensor::from_dispatch(<Dispatch as CbamPoolBackend>::spatial_mean_max(
        x.into_dispatch(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::flex_ops::test_values as values;
    use burn::tensor::{Device, TensorData};

    fn input(shape: [usize; 4], data: Vec<f32>, dev: &Device) -> Tensor<4> {
        Tensor::from_data(TensorData::new(data, shape), dev)
    }

    fn vec(t: Tensor<4>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    fn agree(a: &[f32], b: &[f32], what: &str) {
        assert_eq!(a.len(), b.len(), "{what}");
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() <= 1e-6, "{what} [{i}]: {x} vs {y}");
        }
    }

    /// Direct per-pixel maximum (first one, NaN wins) and mean, and the maximum's channel.
    fn naive_channel(x: &[f32], [b, c, hw]: [usize; 3]) -> (Vec<f32>, Vec<usize>) {
        let (mut y, mut arg) = (vec![0.0f32; b * 2 * hw], vec![0; b * hw]);
        for i in 0..b {
            for p in 0..hw {
                let (mut m, mut at, mut s) = (f32::NEG_INFINITY, usize::MAX, 0.0f64);
                for ch in 0..c {
                    let v = x[(i * c + ch) * hw + p];
                    if at == usize::MAX || v > m || (v.is_nan() && !m.is_nan()) {
                        (m, at) = (v, ch);
                    }
                    s += v as f64;
                }
                y[i * 2 * hw + p] = m;
                y[(i * 2 + 1) * hw + p] = (s / c as f64) as f32;
                arg[i * hw + p] = at;
            }
        }
        (y, arg)
    }

    /// Shapes: one pixel block, several (with a partial one), a single image, one channel.
    const SHAPES: [[usize; 4]; 4] = [[2, 5, 3, 4], [3, 7, 33, 17], [1, 4, 40, 30], [2, 1, 3, 3]];

    #[test]
    fn channel_forward_matches_direct_pooling_and_burn() {
        let dev = crate::cpu();
        for shape in SHAPES {
            let [b, c, h, w] = shape;
            let data = values(b * c * h * w, 3);
            let (want, _) = naive_channel(&data, [b, c, h * w]);
            let x = input(shape, data, &dev);
            let ours = channel_pool(x.clone());
            assert_eq!(ours.dims(), [b, 2, h, w]);
            let ours = vec(ours);
            let burn = vec(Tensor::cat(vec![x.clone().max_dim(1), x.mean_dim(1)], 1));
            agree(&ours, &want, &format!("{shape:?} direct"));
            agree(&ours, &burn, &format!("{shape:?} burn"));
        }
    }

    /// Gradients of `sum(pool(x) · r)` equal the direct routing (`r_mean / c` everywhere, `r_max`
    /// onto the first maximum) and burn's autodiff, also with ties.
    #[test]
    fn channel_gradients_match_direct_routing_and_burn() {
        let dev = crate::cpu().autodiff();
        for shape in SHAPES {
            let [b, c, h, w] = shape;
            let hw = h * w;
            for ties in [false, true] {
                let mut data = values(b * c * hw, 4);
                if ties {
                    data.iter_mut().for_each(|v| *v = (*v * 2.0).round());
                }
                let (_, arg) = naive_channel(&data, [b, c, hw]);
                let r = values(b * 2 * hw, 8);
                let mut want = vec![0.0f32; data.len()];
                for i in 0..b {
                    for p in 0..hw {
                        for ch in 0..c {
                            want[(i * c + ch) * hw + p] = r[(i * 2 + 1) * hw + p] / c as f32;
                        }
                        want[(i * c + arg[i * hw + p]) * hw + p] += r[i * 2 * hw + p];
                    }
                }
                let r = input([b, 2, h, w], r, &dev);
                let grad = |ours: bool| {
                    let x = input(shape, data.clone(), &dev).require_grad();
                    let y = if ours {
                        channel_pool(x.clone())
                    } else {
                        Tensor::cat(vec![x.clone().max_dim(1), x.clone().mean_dim(1)], 1)
                    };
                    let grads = (y * r.clone()).sum().backward();
                    vec(x.grad(&grads).unwrap())
                };
                let ours = grad(true);
                agree(&ours, &want, &format!("{shape:?} ties {ties} direct"));
                let burn = grad(false);
                agree(&ours, &burn, &format!("{shape:?} ties {ties} burn"));
            }
        }
    }

    #[test]
    fn channel_nan_propagates() {
        let dev = crate::cpu();
        let nan = f32::NAN;
        // Pixel 0 sees a NaN in channel 1, pixel 1 none.
        let y = vec(channel_pool(input(
            [1, 3, 1, 2],
            vec![1.0, 2.0, nan, 5.0, 3.0, 4.0],
            &dev,
        )));
        assert!(y[0].is_nan() && y[2].is_nan(), "{y:?}");
        assert_eq!(y[1], 5.0);
        assert!((y[3] - 11.0 / 3.0).abs() < 1e-6, "{y:?}");
    }

    /// Direct per-row mean and maximum (first one, NaN wins) and the maximum's position.
    fn naive_spatial(x: &[f32], [b, c, hw]: [usize; 3]) -> (Vec<f32>, Vec<usize>) {
        let rows = b * c;
        let (mut y, mut arg) = (vec![0.0f32; 2 * rows], vec![0; rows]);
        for (r, row) in x.chunks(hw).enumerate() {
            let (mut m, mut at, mut s) = (f32::NEG_INFINITY, usize::MAX, 0.0f64);
            for (i, &v) in row.iter().enumerate() {
                if at == usize::MAX || v > m || (v.is_nan() && !m.is_nan()) {
                    (m, at) = (v, i);
                }
                s += v as f64;
            }
            y[r] = (s / hw as f64) as f32;
            y[rows + r] = m;
            arg[r] = at;
        }
        (y, arg)
    }

    fn burn_spatial(x: Tensor<4>) -> Tensor<3> {
        let [b, c, _, _] = x.dims();
        let avg = crate::shape::global_avg_pool(x.clone());
        let max = x.max_dims(&[2, 3]).reshape([b, c]);
        Tensor::stack(vec![avg, max], 0)
    }

    #[test]
    fn spatial_forward_matches_direct_pooling_and_burn() {
        let dev = crate::cpu();
        // Rows of 12 (one 8-lane chunk and a rest), 561, 1200 and 9 pixels.
        for shape in SHAPES {
            let [b, c, h, w] = shape;
            let data = values(b * c * h * w, 5);
            let (want, _) = naive_spatial(&data, [b, c, h * w]);
            let x = input(shape, data, &dev);
            let ours = spatial_pool(x.clone());
            assert_eq!(ours.dims(), [2, b, c]);
            let ours = ours.into_data().try_to_vec::<f32>().unwrap();
            let burn = burn_spatial(x).into_data().try_to_vec::<f32>().unwrap();
            agree(&ours, &want, &format!("{shape:?} direct"));
            agree(&ours, &burn, &format!("{shape:?} burn"));
        }
    }

    #[test]
    fn spatial_gradients_match_direct_routing_and_burn() {
        let dev = crate::cpu().autodiff();
        for shape in SHAPES {
            let [b, c, h, w] = shape;
            let hw = h * w;
            for ties in [false, true] {
                let n = b * c * hw;
                let data: Vec<f32> = if ties {
                    values(n, 6).iter().map(|v| (v * 2.0).round()).collect()
                } else {
                    // Distinct values (7919 is prime and divides no n here).
                    (0..n)
                        .map(|i| ((i * 7919) % n) as f32 / n as f32 - 0.5)
                        .collect()
                };
                let (_, arg) = naive_spatial(&data, [b, c, hw]);
                let rows = b * c;
                let r = values(2 * rows, 9);
                let mut want = vec![0.0f32; data.len()];
                for row in 0..rows {
                    want[row * hw..][..hw].fill(r[row] / hw as f32);
                    want[row * hw + arg[row]] += r[rows + row];
                }
                let r = Tensor::<3>::from_data(TensorData::new(r, [2, b, c]), &dev);
                let grad = |ours: bool| {
                    let x = input(shape, data.clone(), &dev).require_grad();
                    let y = if ours {
                        spatial_pool(x.clone())
                    } else {
                        burn_spatial(x.clone())
                    };
                    let grads = (y * r.clone()).sum().backward();
                    vec(x.grad(&grads).unwrap())
                };
                let ours = grad(true);
                agree(&ours, &want, &format!("{shape:?} ties {ties} direct"));
                if !ties {
                    // burn's max over two axes picks another of tied maxima.
                    let burn = grad(false);
                    agree(&ours, &burn, &format!("{shape:?} burn"));
                }
            }
        }
    }

    #[test]
    fn spatial_nan_propagates() {
        let dev = crate::cpu();
        let nan = f32::NAN;
        let x = input(
            [1, 2, 1, 9],
            (0..18)
                .map(|i| if i == 13 { nan } else { i as f32 })
                .collect(),
            &dev,
        );
        let y = spatial_pool(x).into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(y[0], 4.0);
        assert_eq!(y[2], 8.0);
        assert!(y[1].is_nan() && y[3].is_nan(), "{y:?}");
    }
}
