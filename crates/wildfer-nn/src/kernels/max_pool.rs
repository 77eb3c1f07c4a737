//! 2-D max pooling on burn-flex tensors, forward and backward, as a burn backend extension
//! ([`MaxPoolBackend`]) reached through [`max_pool2d`], which is [`crate::layers::MaxPool2d::forward`].
//!
//! Why not the backend's own: burn-flex pools every output element through a generic 3-D
//! window loop that also tracks an `i64` argmax, even when no gradient is wanted; `perf` put
//! ResNet-18's single stem pool at 8% of the whole forward pass. Here each output row is the
//! running maximum of the window's input rows (contiguous, vectorised) followed by the maximum
//! over the window's columns, planes in parallel. No indices are kept: the backward pass finds
//! each window's maximum again as the first input element, in row-major window order, equal to
//! the pooled output (the last NaN if it is NaN), which is the element PyTorch's argmax picks.
//!
//! Layouts: `x` `[batch, channels, h, w]`, output `[batch, channels, oh, ow]`, contiguous.

use crate::kernels::flex_ops::{f32_contiguous, pmax};
use crate::layers::MaxPool2d;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, DType, Dispatch, Flex, backend_extension};
use burn::nn::PaddingConfig2d;
use burn::tensor::Tensor;
use burn_flex::FlexTensor;
use rayon::prelude::*;

/// One pooling: window, stride, dilation and padding (the same at both ends of an axis, as
/// burn's backend pooling takes it), `ceil_mode` rounding the output size up as PyTorch does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolOptions {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub dilation: [usize; 2],
    pub padding: [usize; 2],
    pub ceil_mode: bool,
}

/// A pooling of a known input whose output has at least one pixel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PoolGeom {
    planes: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
    o: PoolOptions,
}

impl PoolOptions {
    /// Output length of axis `ax` for an input of `len`: PyTorch's rule, including ceil
    /// mode's "no window may start in the end padding". `None` when no window fits or a size
    /// is zero (the backend's pooling handles those).
    fn out_len(&self, len: usize, ax: usize) -> Option<usize> {
        let (k, s, d, pad) = (
            self.kernel[ax],
            self.stride[ax],
            self.dilation[ax],
            self.padding[ax],
        );
        if k == 0 || s == 0 || d == 0 || len == 0 {
            return None;
        }
        let span = d.checked_mul(k - 1)?.checked_add(1)?;
        let padded = len.checked_add(pad)?.checked_add(pad)?;
        if padded < span {
            return None;
        }
        let room = padded - span;
        if !self.ceil_mode {
            return Some(room / s + 1);
        }
        let out = room.div_ceil(s) + 1;
        Some(if (out - 1) * s >= len + pad {
            out - 1
        } else {
            out
        })
    }

    fn plan(&self, shape: &[usize]) -> Option<PoolGeom> {
        let &[batch, c, h, w] = shape else {
            return None;
        };
        let planes = batch.checked_mul(c)?;
        if planes == 0 {
            return None;
        }
        Some(PoolGeom {
            planes,
            h,
            w,
            oh: self.out_len(h, 0)?,
            ow: self.out_len(w, 1)?,
            o: *self,
        })
    }
}

/// Input indices `o·stride + t·dilation − pad` of the window of output `o` that fall inside
/// `[0, len)`, as `(first tap, taps)`: the window is clipped, never padded with values.
fn taps(o: usize, len: usize, k: usize, s: usize, d: usize, pad: usize) -> (usize, usize) {
    let start = o * s; // in padded coordinates
    // t·d + start >= pad  <=>  t >= ceil((pad − start) / d)
    let lo = if start >= pad {
        0
    } else {
        (pad - start).div_ceil(d)
    };
    // t·d + start − pad < len  <=>  t·d < len + pad − start
    let lim = len + pad;
    let hi = if lim <= start {
        0
    } else {
        (lim - start).div_ceil(d)
    };
    let (lo, hi) = (lo.min(k), hi.min(k));
    (lo, hi.saturating_sub(lo))
}

/// Pool every plane of `x` into `y`.
fn forward(x: &[f32], g: &PoolGeom, y: &mut [f32]) {
    let o = &g.o;
    let (h, w, oh, ow) = (g.h, g.w, g.oh, g.ow);
    y.par_chunks_mut(oh * ow)
        .zip(x.par_chunks(h * w))
        .for_each_init(
            || vec![0.0f32; w],
            |rowmax, (dst, src)| {
                for oy in 0..oh {
                    let (t0, nt) =
                        taps(oy, h, o.kernel[0], o.stride[0], o.dilation[0], o.padding[0]);
                    rowmax.fill(f32::NEG_INFINITY);
                    for t in t0..t0 + nt {
                        let iy = oy * o.stride[0] + t * o.dilation[0] - o.padding[0];
                        for (m, &v) in rowmax.iter_mut().zip(&src[iy * w..][..w]) {
                            *m = pmax(*m, v);
                        }
                    }
                    for (ox, out) in dst[oy * ow..][..ow].iter_mut().enumerate() {
                        let (t0, nt) =
                            taps(ox, w, o.kernel[1], o.stride[1], o.dilation[1], o.padding[1]);
                        let mut m = f32::NEG_INFINITY;
                        for t in t0..t0 + nt {
                            m = pmax(
                                m,
                                rowmax[ox * o.stride[1] + t * o.dilation[1] - o.padding[1]],
                            );
                        }
                        *out = m;
                    }
                }
            },
        );
}

/// Route each output gradient to the first element of its window (row-major) equal to the
/// pooled value, as PyTorch's argmax does; several windows may share an element and add.
fn backward(x: &[f32], y: &[f32], dy: &[f32], g: &PoolGeom, dx: &mut [f32]) {
    let o = &g.o;
    let (h, w, oh, ow) = (g.h, g.w, g.oh, g.ow);
    dx.par_chunks_mut(h * w)
        .zip(x.par_chunks(h * w))
        .zip(y.par_chunks(oh * ow).zip(dy.par_chunks(oh * ow)))
        .for_each(|((dst, src), (ys, dys))| {
            for oy in 0..oh {
                let (ty0, nty) = taps(oy, h, o.kernel[0], o.stride[0], o.dilation[0], o.padding[0]);
                for ox in 0..ow {
                    let (tx0, ntx) =
                        taps(ox, w, o.kernel[1], o.stride[1], o.dilation[1], o.padding[1]);
                    let (m, grad) = (ys[oy * ow + ox], dys[oy * ow + ox]);
                    let mut window = (ty0..ty0 + nty)
                        .flat_map(|ty| (tx0..tx0 + ntx).map(move |tx| (ty, tx)))
                        .map(|(ty, tx)| {
                            let iy = oy * o.stride[0] + ty * o.dilation[0] - o.padding[0];
                            let ix = ox * o.stride[1] + tx * o.dilation[1] - o.padding[1];
                            iy * w + ix
                        });
                    // PyTorch's argmax: the first maximum, or the last NaN (each NaN replaces).
                    let hit = if m.is_nan() {
                        window.rfind(|&i| src[i].is_nan())
                    } else {
                        window.find(|&i| src[i] == m)
                    };
                    if let Some(i) = hit {
                        dst[i] += grad;
                    }
                }
            }
        });
}

fn flex_plan(x: &FlexTensor, o: &PoolOptions) -> Option<PoolGeom> {
    if x.dtype() != DType::F32 {
        return None;
    }
    o.plan(x.layout().shape())
}

/// `x` is f32 ([`flex_plan`] checked it).
fn flex_forward(x: &FlexTensor, g: &PoolGeom) -> FlexTensor {
    let xc = x.to_contiguous();
    let mut y = vec![0.0f32; g.planes * g.oh * g.ow];
    forward(xc.storage::<f32>(), g, &mut y);
    let mut shape = xc.layout().shape().to_vec();
    shape[2] = g.oh;
    shape[3] = g.ow;
    f32_contiguous(y, shape)
}

/// The forward pass's f32 input and output and the output's gradient (f32: autodiff keeps a
/// gradient in its tensor's dtype).
fn flex_backward(x: &FlexTensor, y: &FlexTensor, dy: &FlexTensor, g: &PoolGeom) -> FlexTensor {
    let (xc, yc, dyc) = (x.to_contiguous(), y.to_contiguous(), dy.to_contiguous());
    let mut dx = vec![0.0f32; g.planes * g.h * g.w];
    backward(
        xc.storage::<f32>(),
        yc.storage::<f32>(),
        dyc.storage::<f32>(),
        g,
        &mut dx,
    );
    f32_contiguous(dx, xc.layout().shape().clone())
}

/// The backend's own pooling, for what this module does not compute.
fn backend_pool<B: Backend>(x: FloatTensor<B>, o: &PoolOptions) -> FloatTensor<B> {
    B::max_pool2d(x, o.kernel, o.stride, o.padding, o.dilation, o.ceil_mode)
}

/// Max pooling as a burn backend extension: flex computes it here, autodiff on flex gets the
/// matching backward; other backends (the default body) use their own `max_pool2d`.
#[backend_extension(Flex, Autodiff)]
pub trait MaxPoolBackend: Backend {
    /// `max_pool2d(x)`.
    fn fast_max_pool2d(x: FloatTensor<Self>, options: PoolOptions) -> FloatTensor<Self> {
        backend_pool::<Self>(x, &options)
    }
}

impl MaxPoolBackend for Flex {
    fn fast_max_pool2d(x: FlexTensor, options: PoolOptions) -> FlexTensor {
        match flex_plan(&x, &options) {
            Some(g) => flex_forward(&x, &g),
            None => backend_pool::<Flex>(x, &options),
        }
    }
}

#[derive(Debug)]
struct MaxPoolBackward;

impl Backward<Flex, 1> for MaxPoolBackward {
    /// Input, output and the plan the forward ran with.
    type State = (FlexTensor, FlexTensor, PoolGeom);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let (x, y, g) = ops.state;
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, flex_backward(&x, &y, &dy, &g));
        }
    }
}

impl<C: CheckpointStrategy> MaxPoolBackend for Autodiff<Flex, C> {
    fn fast_max_pool2d(x: FloatTensor<Self>, options: PoolOptions) -> FloatTensor<Self> {
        let Some(g) = flex_plan(x.primitive(), &options) else {
            return backend_pool::<Self>(x, &options);
        };
        match MaxPoolBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let xp = x.primitive().clone();
                let y = Flex::fast_max_pool2d(xp.clone(), options);
                prep.finish((xp, y.clone(), g), y)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(Flex::fast_max_pool2d(x.into_primitive(), options))
            }
        }
    }
}

/// `layer.forward(x)`, computed by this module on the CPU (flex, f32) and by burn's own
/// pooling everywhere else, and for "same" or asymmetric padding (which burn-nn resolves).
pub fn max_pool2d(layer: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
    let padding = match &layer.padding {
        PaddingConfig2d::Valid => [0, 0],
        PaddingConfig2d::Explicit(top, left, bottom, right) if top == bottom && left == right => {
            [*top, *left]
        }
        _ => return layer.to_burn().forward(x),
    };
    if !crate::kernels::flex_ops::use_ours(&x) {
        return layer.to_burn().forward(x);
    }
    let options = PoolOptions {
        kernel: layer.kernel_size,
        stride: layer.stride,
        dilation: layer.dilation,
        padding,
        ceil_mode: layer.ceil_mode,
    };
    Tensor::from_dispatch(<Dispatch as MaxPoolBackend>::fast_max_pool2d(
        x.into_dispatch(),
        options,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::flex_ops::test_values as values;
    use burn::nn::pool::MaxPool2dConfig;
    use burn::tensor::{Device, TensorData};

    /// Direct pooling over the clipped window in row-major order with its argmax: the
    /// independent computation both passes are checked against.
    fn naive(x: &[f32], shape: [usize; 4], o: &PoolOptions) -> (Vec<f32>, Vec<usize>) {
        let [b, c, h, w] = shape;
        let (oh, ow) = (o.out_len(h, 0).unwrap(), o.out_len(w, 1).unwrap());
        let (mut y, mut arg) = (Vec::new(), Vec::new());
        for plane in 0..b * c {
            for oy in 0..oh {
                for ox in 0..ow {
                    let (mut m, mut at) = (f32::NEG_INFINITY, usize::MAX);
                    for i in 0..o.kernel[0] {
                        for j in 0..o.kernel[1] {
                            let iy = (oy * o.stride[0] + i * o.dilation[0]) as isize
                                - o.padding[0] as isize;
                            let ix = (ox * o.stride[1] + j * o.dilation[1]) as isize
                                - o.padding[1] as isize;
                            if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                continue;
                            }
                            let k = plane * h * w + iy as usize * w + ix as usize;
                            // PyTorch's CPU kernel: `val > maxval || isnan(val)`.
                            if at == usize::MAX || x[k] > m || x[k].is_nan() {
                                (m, at) = (x[k], k);
                            }
                        }
                    }
                    y.push(m);
                    arg.push(at);
                }
            }
        }
        (y, arg)
    }

    /// Layers as the networks configure them, and odd corners.
    fn cases() -> Vec<([usize; 4], MaxPool2dConfig)> {
        let c = |k: usize, s: usize| MaxPool2dConfig::new([k, k]).with_strides([s, s]);
        vec![
            // ResNet's stem.
            (
                [2, 3, 11, 10],
                c(3, 2).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)),
            ),
            // SENet's and MTCNN's: ceil mode, odd and even sizes.
            ([2, 3, 11, 10], c(3, 2).with_ceil_mode(true)),
            ([1, 2, 9, 7], c(2, 2).with_ceil_mode(true)),
            // face-api's and mini-Xception's: valid.
            ([2, 2, 9, 8], c(3, 2)),
            (
                [1, 2, 10, 9],
                MaxPool2dConfig::new([3, 2])
                    .with_strides([1, 2])
                    .with_dilation([2, 1])
                    .with_padding(PaddingConfig2d::Explicit(2, 1, 2, 1)),
            ),
            // Padding as wide as half the window, ceil mode: windows mostly outside.
            (
                [1, 1, 5, 4],
                c(4, 3)
                    .with_padding(PaddingConfig2d::Explicit(2, 2, 2, 2))
                    .with_ceil_mode(true),
            ),
        ]
    }

    fn options(p: &MaxPool2d) -> PoolOptions {
        let padding = match p.padding {
            PaddingConfig2d::Explicit(t, l, _, _) => [t, l],
            _ => [0, 0],
        };
        PoolOptions {
            kernel: p.kernel_size,
            stride: p.stride,
            dilation: p.dilation,
            padding,
            ceil_mode: p.ceil_mode,
        }
    }

    fn input(shape: [usize; 4], data: Vec<f32>, dev: &Device) -> Tensor<4> {
        Tensor::from_data(TensorData::new(data, shape), dev)
    }

    fn vec(t: Tensor<4>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn forward_matches_direct_pooling_and_burn() {
        let dev = crate::cpu();
        for (shape, cfg) in cases() {
            let pool = cfg.init();
            let ours_pool: MaxPool2d = pool.clone().into();
            let o = options(&ours_pool);
            assert!(o.plan(&shape).is_some(), "{cfg:?} must be this module's");
            let data = values(shape.iter().product(), 1);
            let (want, _) = naive(&data, shape, &o);
            let ours = max_pool2d(&ours_pool, input(shape, data.clone(), &dev));
            let burn = pool.forward(input(shape, data, &dev));
            assert_eq!(ours.dims(), burn.dims(), "{cfg:?}");
            assert_eq!(vec(ours), want, "{cfg:?}");
            assert_eq!(vec(burn), want, "burn {cfg:?}");
        }
    }

    /// Gradients of `sum(pool(x) · r)` equal the direct argmax routing and burn's autodiff,
    /// also on values with many ties (the first maximum of a window takes it).
    #[test]
    fn gradients_match_direct_routing_and_burn() {
        let dev = crate::cpu().autodiff();
        for (shape, cfg) in cases() {
            let pool = cfg.init();
            let ours_pool: MaxPool2d = pool.clone().into();
            let o = options(&ours_pool);
            let n: usize = shape.iter().product();
            for ties in [false, true] {
                let mut data = values(n, 2);
                if ties {
                    // Five levels only: most windows hold their maximum more than once.
                    data.iter_mut().for_each(|v| *v = (*v * 2.0).round());
                }
                let (y, arg) = naive(&data, shape, &o);
                let r = values(y.len(), 7);
                let mut want = vec![0.0f32; n];
                for (a, g) in arg.iter().zip(&r) {
                    want[*a] += g;
                }
                let [b, c, _, _] = shape;
                let (oh, ow) = (
                    o.out_len(shape[2], 0).unwrap(),
                    o.out_len(shape[3], 1).unwrap(),
                );
                let r = input([b, c, oh, ow], r, &dev);
                let grad = |ours: bool| {
                    let x = input(shape, data.clone(), &dev).require_grad();
                    let y = if ours {
                        max_pool2d(&ours_pool, x.clone())
                    } else {
                        pool.forward(x.clone())
                    };
                    let grads = (y * r.clone()).sum().backward();
                    vec(x.grad(&grads).unwrap())
                };
                let ours = grad(true);
                for (i, (a, b)) in ours.iter().zip(&want).enumerate() {
                    assert!(
                        (a - b).abs() <= 1e-6,
                        "{cfg:?} ties {ties} [{i}]: {a} vs {b}"
                    );
                }
                assert_eq!(ours, grad(false), "burn {cfg:?} ties {ties}");
            }
        }
    }

    #[test]
    fn nan_propagates_like_pytorch() {
        let dev = crate::cpu().autodiff();
        let pool = MaxPool2dConfig::new([2, 2]).init();
        let nan = f32::NAN;
        // Windows: [1, NaN; 3, 0.5], [5, 2; 2, 9], [NaN, 4; NaN, 1].
        let x = input(
            [1, 1, 2, 6],
            vec![1.0, nan, 5.0, 2.0, nan, 4.0, 3.0, 0.5, 2.0, 9.0, nan, 1.0],
            &dev,
        )
        .require_grad();
        let y = max_pool2d(&pool.into(), x.clone());
        let got = vec(y.clone());
        assert!(got[0].is_nan() && got[2].is_nan(), "{got:?}");
        assert_eq!(got[1], 9.0);
        let grads = y.sum().backward();
        let gx = vec(x.grad(&grads).unwrap());
        assert_eq!(gx[1], 1.0, "the NaN takes its window's gradient: {gx:?}");
        assert_eq!(gx[9], 1.0, "{gx:?}");
        assert_eq!(gx[10], 1.0, "the last NaN of a window, as PyTorch: {gx:?}");
        assert_eq!(gx.iter().filter(|g| **g != 0.0).count(), 3, "{gx:?}");
    }

    #[test]
    fn taps_clip_windows() {
        // ResNet's stem on 4 pixels: 3 taps, stride 2, padding 1.
        assert_eq!(taps(0, 4, 3, 2, 1, 1), (1, 2));
        assert_eq!(taps(1, 4, 3, 2, 1, 1), (0, 3));
        // Ceil mode's last window hangs over the end.
        assert_eq!(taps(2, 5, 3, 2, 1, 0), (0, 1));
        // Dilated: taps 0 and 2 of 3 fall inside.
        assert_eq!(taps(0, 3, 3, 1, 2, 2), (1, 2));
    }

    #[test]
    fn output_sizes_follow_pytorch() {
        let o = |k: usize, s: usize, p: usize, ceil: bool| PoolOptions {
            kernel: [k, k],
            stride: [s, s],
            dilation: [1, 1],
            padding: [p, p],
            ceil_mode: ceil,
        };
        // torch.nn.functional.max_pool2d output sizes.
        assert_eq!(o(3, 2, 1, false).out_len(56, 0), Some(28));
        assert_eq!(o(3, 2, 0, true).out_len(112, 0), Some(56));
        assert_eq!(o(3, 2, 0, false).out_len(112, 0), Some(55));
        assert_eq!(o(2, 2, 0, true).out_len(9, 0), Some(5));
        // The last ceil-mode window would start in the padding: dropped.
        assert_eq!(o(2, 2, 1, true).out_len(4, 0), Some(3));
        assert_eq!(o(3, 1, 0, false).out_len(2, 0), None);
    }
}
