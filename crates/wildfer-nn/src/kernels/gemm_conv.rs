//! 2-D convolution as im2col + GEMM on burn-flex tensors, forward and backward, as a burn
//! backend extension ([`GemmConvBackend`]) reached through [`conv2d`], which is [`crate::layers::Conv2d::forward`].
//!
//! Why not the backend's own: burn-flex converts every input to NHWC on one thread, builds
//! im2col in 512-pixel tiles per image and runs one small GEMM per tile, then scatters the
//! result back to NCHW, and its input gradient is a transposed convolution; `perf` showed
//! ~1.4 of the 2 cores busy on ResNet-18. Here the images are convolved in parallel, each
//! one's patch matrix built straight from NCHW (its rows are contiguous runs of the input) just
//! before flex's own matmul reads it, while it is in cache (maps under [`MERGED_BELOW`] pixels:
//! the whole batch's patches in one GEMM, then a reorder). The weight gradient is one GEMM
//! over the batch (`dW = dY·colᵀ`; per image and summed for maps of [`PER_IMAGE_DW_FROM`]
//! pixels and up); the input gradient of a stride-1 convolution is the forward convolution of
//! `dY` with the flipped kernel, of the others and of small maps `dcol = Wᵀ·dY` then col2im.
//! 1x1 stride-1 convolutions (but on small maps) and those with at most 4x16 channels keep
//! flex's own fast paths; grouped convolutions, other dtypes and other backends use burn's
//! `conv2d`. No unsafe code: the GEMMs are flex's matmul.
//!
//! Layouts: `x` `[batch, c_in, h, w]`, `weight` `[c_out, c_in, kh, kw]` (groups = 1), output
//! `[batch, c_out, oh, ow]`, all contiguous row-major. The patch matrix `col` is
//! `[c_in·kh·kw, batch·oh·ow]`: row `(ci·kh + i)·kw + j`, column `b·oh·ow + oy·ow + ox`.

use crate::kernels::flex_ops::f32_contiguous;
use crate::layers::Conv2d;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::ops::{ConvOptions, FloatTensorOps, ModuleOps};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, DType, Dispatch, Flex, backend_extension};
use burn::nn::PaddingConfig2d;
use burn::tensor::{Shape, Tensor};
use burn_flex::{FlexTensor, Layout};
use rayon::prelude::*;

/// Shape of one convolution: input, kernel and the geometry options (padding may differ at the
/// start and the end of an axis, as TensorFlow's "same" needs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvShape {
    pub batch: usize,
    pub c_in: usize,
    pub h: usize,
    pub w: usize,
    pub c_out: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: [usize; 2],
    pub dilation: [usize; 2],
    pub pad_begin: [usize; 2],
    pub pad_end: [usize; 2],
}

/// A [`ConvShape`] whose output size is known to be at least 1x1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeom {
    pub shape: ConvShape,
    pub oh: usize,
    pub ow: usize,
}

impl std::ops::Deref for ConvGeom {
    type Target = ConvShape;
    fn deref(&self) -> &ConvShape {
        &self.shape
    }
}

impl ConvShape {
    /// The geometry with its output size; `None` when the kernel does not fit, a stride is
    /// zero or a size is zero.
    pub fn plan(self) -> Option<ConvGeom> {
        let (oh, ow) = self.out_hw()?;
        Some(ConvGeom {
            shape: self,
            oh,
            ow,
        })
    }

    fn out_hw(&self) -> Option<(usize, usize)> {
        let axis = |len: usize, k: usize, ax: usize| {
            let span = self.dilation[ax].checked_mul(k.checked_sub(1)?)? + 1;
            let padded = len
                .checked_add(self.pad_begin[ax])?
                .checked_add(self.pad_end[ax])?;
            if self.stride[ax] == 0 || span > padded {
                return None;
            }
            Some((padded - span) / self.stride[ax] + 1)
        };
        if self.batch == 0 || self.c_in == 0 || self.c_out == 0 {
            return None;
        }
        Some((axis(self.h, self.kh, 0)?, axis(self.w, self.kw, 1)?))
    }

    /// Rows of the patch matrix: `c_in·kh·kw`.
    pub fn k(&self) -> usize {
        self.c_in * self.kh * self.kw
    }

    /// A 1x1, stride-1, unpadded convolution: each image is already its own patch matrix.
    fn is_pointwise(&self) -> bool {
        self.kh == 1
            && self.kw == 1
            && self.stride == [1, 1]
            && self.pad_begin == [0, 0]
            && self.pad_end == [0, 0]
    }

    pub fn input_len(&self) -> usize {
        self.batch * self.c_in * self.h * self.w
    }
}

impl ConvGeom {
    /// Output pixels per image.
    fn p(&self) -> usize {
        self.oh * self.ow
    }

    pub fn output_len(&self) -> usize {
        self.batch * self.c_out * self.p()
    }
}

/// For kernel offset `off` (already multiplied by the dilation), the output positions whose
/// input coordinate `o·stride + off − pad` falls inside `[0, len)`: `lo..hi`.
fn valid_range(len: usize, out: usize, stride: usize, off: usize, pad: usize) -> (usize, usize) {
    // o·s + off >= pad  <=>  o >= ceil((pad - off) / s)
    let lo = if off >= pad {
        0
    } else {
        (pad - off).div_ceil(stride)
    };
    // o·s + off - pad < len  <=>  o·s < len + pad - off
    let lim = len + pad;
    let hi = if lim <= off {
        0
    } else {
        (lim - off).div_ceil(stride)
    };
    (lo.min(out), hi.min(out).max(lo.min(out)))
}

/// Fill `col` (`[k, batch·p]`) with the input patches.
fn im2col(x: &[f32], g: &ConvGeom, col: &mut [f32]) {
    let (oh, ow) = (g.oh, g.ow);
    let p = oh * ow;
    let n = g.batch * p;
    let plane = g.h * g.w;
    col.par_chunks_mut(n).enumerate().for_each(|(r, row)| {
        let j = r % g.kw;
        let i = (r / g.kw) % g.kh;
        let ci = r / (g.kw * g.kh);
        let (x_lo, x_hi) = valid_range(g.w, ow, g.stride[1], j * g.dilation[1], g.pad_begin[1]);
        let (y_lo, y_hi) = valid_range(g.h, oh, g.stride[0], i * g.dilation[0], g.pad_begin[0]);
        for b in 0..g.batch {
            let src = &x[(b * g.c_in + ci) * plane..][..plane];
            let dst = &mut row[b * p..][..p];
            for oy in 0..oh {
                let out_row = &mut dst[oy * ow..][..ow];
                if oy < y_lo || oy >= y_hi {
                    out_row.fill(0.0);
                    continue;
                }
                let iy = oy * g.stride[0] + i * g.dilation[0] - g.pad_begin[0];
                if x_lo >= x_hi {
                    out_row.fill(0.0);
                    continue;
                }
                let in_row = &src[iy * g.w..][..g.w];
                out_row[..x_lo].fill(0.0);
                out_row[x_hi..].fill(0.0);
                let ix0 = x_lo * g.stride[1] + j * g.dilation[1] - g.pad_begin[1];
                if g.stride[1] == 1 {
                    out_row[x_lo..x_hi].copy_from_slice(&in_row[ix0..ix0 + (x_hi - x_lo)]);
                } else {
                    for (k, o) in out_row[x_lo..x_hi].iter_mut().enumerate() {
                        *o = in_row[ix0 + k * g.stride[1]];
                    }
                }
            }
        }
    });
}

/// Add the patch gradients `dcol` onto the input gradient `dx`. The `p` values of image `b`,
/// patch row `r` start at `b·step_b + r·step_r`: `[batch, k, p]` is `(k·p, p)`, `[k, batch·p]`
/// is `(p, batch·p)`.
fn col2im(dcol: &[f32], g: &ConvGeom, step_b: usize, step_r: usize, dx: &mut [f32]) {
    let (oh, ow) = (g.oh, g.ow);
    let p = oh * ow;
    let plane = g.h * g.w;
    let kk = g.kh * g.kw;
    // One task per input plane: the rows it receives are its own, so no two tasks write the
    // same element.
    dx.par_chunks_mut(plane).enumerate().for_each(|(bc, dst)| {
        let b = bc / g.c_in;
        let ci = bc % g.c_in;
        for i in 0..g.kh {
            let (y_lo, y_hi) = valid_range(g.h, oh, g.stride[0], i * g.dilation[0], g.pad_begin[0]);
            for j in 0..g.kw {
                let (x_lo, x_hi) =
                    valid_range(g.w, ow, g.stride[1], j * g.dilation[1], g.pad_begin[1]);
                if x_lo >= x_hi {
                    continue;
                }
                let r = ci * kk + i * g.kw + j;
                let src = &dcol[b * step_b + r * step_r..][..p];
                for oy in y_lo..y_hi {
                    let iy = oy * g.stride[0] + i * g.dilation[0] - g.pad_begin[0];
                    let in_row = &mut dst[iy * g.w..][..g.w];
                    let ix0 = x_lo * g.stride[1] + j * g.dilation[1] - g.pad_begin[1];
                    let from = &src[oy * ow + x_lo..oy * ow + x_hi];
                    if g.stride[1] == 1 {
                        for (d, s) in in_row[ix0..ix0 + from.len()].iter_mut().zip(from) {
                            *d += s;
                        }
                    } else {
                        for (k, s) in from.iter().enumerate() {
                            in_row[ix0 + k * g.stride[1]] += s;
                        }
                    }
                }
            }
        }
    });
}

// ---------------------------------------------------------------------------------------------
// On burn-flex tensors: the patch matrix is handed to flex's matmul (gemm, batch-parallel) as a
// strided view, so no copy is made beyond im2col itself.
// ---------------------------------------------------------------------------------------------

fn contiguous_f32(t: &FlexTensor) -> Option<FlexTensor> {
    if t.dtype() != DType::F32 {
        return None;
    }
    Some(t.to_contiguous())
}

/// `t` (`[batch, c, p]`) as `[c, batch·p]`: each channel's maps of the whole batch side by
/// side, the column order of the patch matrix.
fn channel_major(t: &FlexTensor, batch: usize, c: usize, p: usize) -> Option<FlexTensor> {
    let tc = contiguous_f32(t)?;
    let ts = tc.as_slice::<f32>()?;
    let n = batch * p;
    let mut out = vec![0.0f32; c * n];
    out.par_chunks_mut(n).enumerate().for_each(|(ch, row)| {
        for b in 0..batch {
            row[b * p..][..p].copy_from_slice(&ts[(b * c + ch) * p..][..p]);
        }
    });
    Some(f32_contiguous(out, vec![c, n]))
}

/// The geometry of `conv(x, w)` when this module computes it: f32, 4-D, groups 1, and an
/// output of at least one pixel; `None` sends the call to the backend's own convolution.
fn plan(x: &[usize], w: &[usize], o: &ConvOptions<2>) -> Option<ConvGeom> {
    let (&[batch, c_in, h, wd], &[c_out, w_in, kh, kw]) = (x, w) else {
        return None;
    };
    if o.groups != 1 || w_in != c_in || kh == 0 || kw == 0 {
        return None;
    }
    // A GEMM with at most 4x16 channels is mostly overhead; flex convolves those directly
    // (CBAM's 2 -> 1 spatial gate, MTCNN's and RetinaFace's first layers).
    if c_in <= 4 && c_out <= 16 {
        return None;
    }
    ConvShape {
        batch,
        c_in,
        h,
        w: wd,
        c_out,
        kh,
        kw,
        stride: o.stride,
        dilation: o.dilation,
        pad_begin: o.padding_begin(),
        pad_end: o.padding_end(),
    }
    .plan()
}

fn flex_plan(x: &FlexTensor, w: &FlexTensor, o: &ConvOptions<2>) -> Option<ConvGeom> {
    if x.dtype() != DType::F32 || w.dtype() != DType::F32 {
        return None;
    }
    plan(x.layout().shape(), w.layout().shape(), o)
}

/// The patch matrix `[k, batch·p]` of `x`, in a recycled buffer.
fn patches(x: &FlexTensor, g: &ConvGeom) -> Option<Patches> {
    let xc = contiguous_f32(x)?;
    let xs = xc.as_slice::<f32>()?;
    let len = g.k() * g.batch * g.p();
    let mut buf = Patches::take(len);
    let storage = buf.0.as_mut()?.try_storage_mut::<f32>()?;
    im2col(xs, g, &mut storage[..len]);
    Some(buf)
}

/// Image `b`'s patch matrix `[k, p]` (`xs`: the whole batch, contiguous), in a recycled
/// buffer.
fn image_patches(xs: &[f32], g: &ConvGeom, b: usize) -> Option<Patches> {
    let one = ConvGeom {
        shape: ConvShape {
            batch: 1,
            ..g.shape
        },
        ..*g
    };
    let image = g.c_in * g.h * g.w;
    let len = g.k() * g.p();
    let mut col = Patches::take(len);
    let buf = col.0.as_mut()?.try_storage_mut::<f32>()?;
    im2col(&xs[b * image..][..image], &one, &mut buf[..len]);
    Some(col)
}

/// Buffers of patch matrices, kept for the next convolution: a patch matrix is large (ResNet's
/// layer1 on 8 frames of 112 px: 14 MB) and built twice per convolution in training, and a
/// fresh buffer is zero-filled by the allocator only for im2col to overwrite every value.
static PATCH_POOL: std::sync::Mutex<Vec<FlexTensor>> = std::sync::Mutex::new(Vec::new());

/// How many buffers the pool keeps (the largest): a convolution holds one per thread.
const PATCH_POOL_KEEP: usize = 2;

/// A 1-D f32 buffer from [`PATCH_POOL`] (at least the length asked for; its values are
/// whatever the last user left), handed back when dropped if nothing else still holds it.
struct Patches(Option<FlexTensor>);

impl Patches {
    fn take(len: usize) -> Self {
        let mut pool = PATCH_POOL.lock().unwrap_or_else(|e| e.into_inner());
        // The smallest buffer that fits, and that no view still holds.
        let fit = (0..pool.len())
            .filter(|&i| pool[i].is_unique() && pool[i].layout().num_elements() >= len)
            .min_by_key(|&i| pool[i].layout().num_elements());
        match fit {
            Some(i) => Self(Some(pool.swap_remove(i))),
            None => Self(Some(f32_contiguous(vec![0.0f32; len], vec![len]))),
        }
    }

    /// The buffer's first values as a tensor of `shape` with `strides` (no copy).
    fn view(&self, shape: Vec<usize>, strides: Vec<isize>) -> Option<FlexTensor> {
        let buf = self.0.as_ref()?;
        Some(FlexTensor::from_arc(
            buf.data_arc(),
            Layout::new(Shape::from(shape), strides, 0),
            DType::F32,
        ))
    }
}

impl Drop for Patches {
    fn drop(&mut self) {
        let Some(buf) = self.0.take() else { return };
        if !buf.is_unique() {
            return;
        }
        let mut pool = PATCH_POOL.lock().unwrap_or_else(|e| e.into_inner());
        pool.push(buf);
        if pool.len() > PATCH_POOL_KEEP {
            // Drop the smallest.
            if let Some(i) = (0..pool.len()).min_by_key(|&i| pool[i].layout().num_elements()) {
                pool.swap_remove(i);
            }
        }
    }
}

/// Output maps with fewer pixels than this are convolved in one GEMM over the whole batch.
///
/// gemm tiles the output's contiguous axis, here the pixels, with its tall micro-kernels (64
/// rows with AVX-512, 16 at the narrowest). A 4x4 map per image only ever gets the narrow one;
/// the batch's 8·16 pixels fill the tall ones. Measured per call (ResNet-18/50, 8 frames of
/// 112 px): 512->512 3x3 on 4x4 maps 3.3 -> 2.1-2.3 ms, the 1x1s on them 1.2-1.3 -> 0.9-1.1 ms.
/// On 7x7 maps the two forms tie (1.78-1.92 ms against 1.86-1.90), so they keep the per-image
/// GEMM.
const MERGED_BELOW: usize = 32;

/// `conv(x, w)` without bias: `[batch, c_out, oh, ow]`.
fn flex_forward(x: &FlexTensor, w: &FlexTensor, g: &ConvGeom) -> Option<FlexTensor> {
    if g.p() < MERGED_BELOW {
        return flex_forward_merged(x, w, g);
    }
    if g.is_pointwise() {
        // No patches to build: flex's own 1x1 path (one GEMM per image, each parallel) is
        // faster than the batch-parallel matmul here.
        let o = ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
        return Some(Flex::conv2d(x.clone(), w.clone(), None, o));
    }
    flex_forward_per_image(x, w, g)
}

/// [`flex_forward`] for larger maps: images in parallel, each one's patch matrix `[k, p]`
/// built just before its GEMM reads it, while it is still in cache. Building the whole
/// batch's patches first (ResNet's stem on 8 frames of 112 px: 15 MB) and then multiplying
/// read them back from memory: measured per call, the stem took 8.5 -> 6.9 ms this way, the
/// 64->64 3x3 on 28x28 maps 5.4 -> 4.1 ms, 14x14 maps ~10% less, 7x7 maps the same.
fn flex_forward_per_image(x: &FlexTensor, w: &FlexTensor, g: &ConvGeom) -> Option<FlexTensor> {
    let (k, p) = (g.k(), g.p());
    let xc = contiguous_f32(x)?;
    let xs = xc.as_slice::<f32>()?;
    let w = contiguous_f32(w)?.reshape(Shape::from(vec![g.c_out, k]));
    let mut y = vec![0.0f32; g.output_len()];
    let done = y
        .par_chunks_mut(g.c_out * p)
        .enumerate()
        .map(|(b, yb)| {
            let col = image_patches(xs, g, b)?;
            let yi = Flex::float_matmul(w.clone(), col.view(vec![k, p], vec![p as isize, 1])?);
            yb.copy_from_slice(yi.as_slice::<f32>()?);
            Some(())
        })
        .all(|r| r.is_some());
    done.then(|| f32_contiguous(y, vec![g.batch, g.c_out, g.oh, g.ow]))
}

/// [`flex_forward`] for small maps: `Y = W·col` with `col` `[k, batch·p]` as one GEMM, then
/// `[c_out, batch, p]` reordered to `[batch, c_out, p]` (a copy of the small output).
fn flex_forward_merged(x: &FlexTensor, w: &FlexTensor, g: &ConvGeom) -> Option<FlexTensor> {
    let (k, p) = (g.k(), g.p());
    let n = g.batch * p;
    let mut col = None;
    let cols = if g.is_pointwise() {
        // Each image is its own `[c_in, p]` patch matrix: the batch side by side.
        channel_major(x, g.batch, k, p)?
    } else {
        col.insert(patches(x, g)?)
            .view(vec![k, n], vec![n as isize, 1])?
    };
    let w = contiguous_f32(w)?.reshape(Shape::from(vec![g.c_out, k]));
    let y = Flex::float_matmul(w, cols)
        .reshape(Shape::from(vec![g.c_out, g.batch, p]))
        .transpose(0, 1)
        .to_contiguous();
    Some(y.reshape(Shape::from(vec![g.batch, g.c_out, g.oh, g.ow])))
}

/// Gradient of the input: a forward convolution when [`transposed`] allows it, otherwise
/// `dcol = Wᵀ·dY` (per image; over the batch for maps under [`MERGED_BELOW`] pixels), then
/// col2im.
fn flex_backward_input(dy: &FlexTensor, w: &FlexTensor, g: &ConvGeom) -> Option<FlexTensor> {
    let (k, p) = (g.k(), g.p());
    let n = g.batch * p;
    let merged = p < MERGED_BELOW;
    if !merged && let Some(gt) = transposed(g) {
        return flex_forward(dy, &flipped(w, g)?, &gt);
    }
    let w = contiguous_f32(w)?.reshape(Shape::from(vec![g.c_out, k]));
    // Rows of `dcol` are indexed by (image b, patch row r): start `b·step_b + r·step_r`.
    let (dcol, step_b, step_r) = if merged {
        // Small maps: one GEMM over the batch, `dcol = Wᵀ·dY` with `dY` as `[c_out, batch·p]`
        // (as in the forward). It also spares the flipped copy of the weight, which for
        // 512x512x3x3 costs as much as the GEMM itself.
        let dy = channel_major(dy, g.batch, g.c_out, p)?;
        (Flex::float_matmul(w.transpose(0, 1), dy), p, n)
    } else {
        let dy = contiguous_f32(dy)?.reshape(Shape::from(vec![g.batch, g.c_out, p]));
        let wt = w.reshape(Shape::from(vec![1, g.c_out, k])).transpose(1, 2);
        (Flex::float_matmul(wt, dy), k * p, p)
    };
    let dcol = contiguous_f32(&dcol)?;
    let mut dx = vec![0.0f32; g.input_len()];
    col2im(dcol.as_slice::<f32>()?, g, step_b, step_r, &mut dx);
    Some(f32_contiguous(dx, vec![g.batch, g.c_in, g.h, g.w]))
}

/// For a stride-1 convolution whose padding is at most the kernel's span, the input gradient
/// is itself a convolution: of `dY` with the kernel flipped and its channel axes swapped,
/// padded by `span − pad`. That form runs as one forward (a GEMM with `c_out·kh·kw` inner
/// products) instead of a GEMM with only `c_out` of them and col2im.
fn transposed(g: &ConvGeom) -> Option<ConvGeom> {
    if g.stride != [1, 1] {
        return None;
    }
    let span = [(g.kh - 1) * g.dilation[0], (g.kw - 1) * g.dilation[1]];
    let pad = |a: usize, p: usize| span[a].checked_sub(p);
    let gt = ConvShape {
        batch: g.batch,
        c_in: g.c_out,
        h: g.oh,
        w: g.ow,
        c_out: g.c_in,
        kh: g.kh,
        kw: g.kw,
        stride: [1, 1],
        dilation: g.dilation,
        pad_begin: [pad(0, g.pad_begin[0])?, pad(1, g.pad_begin[1])?],
        pad_end: [pad(0, g.pad_end[0])?, pad(1, g.pad_end[1])?],
    }
    .plan()?;
    (gt.oh == g.h && gt.ow == g.w).then_some(gt)
}

/// `w[co, ci, i, j]` as `[c_in, c_out, kh, kw]`, flipped in both spatial axes.
fn flipped(w: &FlexTensor, g: &ConvGeom) -> Option<FlexTensor> {
    // Input channels in blocks: each output channel's run of a block's kernels is read in one
    // contiguous piece and the block's output stays in cache. Reading one input channel at a
    // time strode through the whole weight per channel: for ResNet's 512x512x3x3 that made
    // the flip ~1.5x slower (2.9 against 2.0 ms here).
    const BLOCK: usize = 16;
    let wc = contiguous_f32(w)?;
    let ws = wc.as_slice::<f32>()?;
    let kk = g.kh * g.kw;
    let row = g.c_out * kk;
    let mut out = vec![0.0f32; ws.len()];
    out.par_chunks_mut(BLOCK * row)
        .enumerate()
        .for_each(|(blk, dst)| {
            let ci0 = blk * BLOCK;
            let nci = dst.len() / row;
            for co in 0..g.c_out {
                let src = &ws[(co * g.c_in + ci0) * kk..][..nci * kk];
                for (c, kern) in src.chunks_exact(kk).enumerate() {
                    // Both spatial axes flipped: the kh·kw kernel read backwards.
                    let d = &mut dst[(c * g.c_out + co) * kk..][..kk];
                    for (o, v) in d.iter_mut().zip(kern.iter().rev()) {
                        *o = *v;
                    }
                }
            }
        });
    Some(f32_contiguous(out, vec![g.c_in, g.c_out, g.kh, g.kw]))
}

/// Gradient of the weight: `dW = dY·colᵀ` over the whole batch in one GEMM.
fn flex_backward_weight(x: &FlexTensor, dy: &FlexTensor, g: &ConvGeom) -> Option<FlexTensor> {
    let (k, p) = (g.k(), g.p());
    let n = g.batch * p;
    if p >= PER_IMAGE_DW_FROM {
        return flex_backward_weight_per_image(x, dy, g);
    }
    let lhs = channel_major(dy, g.batch, g.c_out, p)?;
    // colᵀ: [batch·p, k] as a strided view of [k, batch·p].
    let col = patches(x, g)?;
    let colt = col.view(vec![n, k], vec![1, n as isize])?;
    let dw = Flex::float_matmul(lhs, colt);
    Some(dw.reshape(Shape::from(vec![g.c_out, g.c_in, g.kh, g.kw])))
}

/// `acc += v`, element by element.
fn add_into(acc: &mut [f32], v: &[f32]) {
    for (a, v) in acc.iter_mut().zip(v) {
        *a += v;
    }
}

/// Output maps of at least this many pixels get their weight gradient per image.
///
/// The one GEMM over the batch reduces over `batch·p` (6272 for ResNet's 28x28 layer1 on 8
/// frames) into a `[c_out, k]` result too small to keep both cores busy: measured per call,
/// layer1's 64->64 3x3 took 4.1-4.6 ms against 2.3-2.4 ms for its forward. Per image (batch
/// parallel, each GEMM on one core), then summed: 2.6-3.0 ms, and the 7x7 stem 8.7-9.7 ->
/// 5.3-6.0 ms. At 14x14 (196 pixels) the two tie.
const PER_IMAGE_DW_FROM: usize = 400;

/// [`flex_backward_weight`] for large maps: `dW_b = dY_b·col_bᵀ` per image, then `Σ_b dW_b`.
/// Building each image's patches just before its GEMM measured 6.2 -> 5.8 ms for layer1's
/// 64->64 3x3 and 8.2 -> 7.8 ms for the stem (medians over 4 interleaved invocations).
fn flex_backward_weight_per_image(
    x: &FlexTensor,
    dy: &FlexTensor,
    g: &ConvGeom,
) -> Option<FlexTensor> {
    let (k, p) = (g.k(), g.p());
    let xc = contiguous_f32(x)?;
    let xs = xc.as_slice::<f32>()?;
    let dy = contiguous_f32(dy)?;
    let len = g.c_out * k;
    // Images in parallel, each one's patches built just before its GEMM (as in
    // [`flex_forward_per_image`]); each thread sums its images' `dY_b·col_bᵀ`.
    let dw = (0..g.batch)
        .into_par_iter()
        .try_fold(
            || vec![0.0f32; len],
            |mut acc, b| {
                let col = image_patches(xs, g, b)?;
                let colt = col.view(vec![p, k], vec![1, p as isize])?;
                let dyb = FlexTensor::from_arc(
                    dy.data_arc(),
                    Layout::new(
                        Shape::from(vec![g.c_out, p]),
                        vec![p as isize, 1],
                        b * g.c_out * p,
                    ),
                    DType::F32,
                );
                let per = Flex::float_matmul(dyb, colt);
                add_into(&mut acc, per.as_slice::<f32>()?);
                Some(acc)
            },
        )
        .try_reduce(
            || vec![0.0f32; len],
            |mut a, b| {
                add_into(&mut a, &b);
                Some(a)
            },
        )?;
    Some(f32_contiguous(dw, vec![g.c_out, g.c_in, g.kh, g.kw]))
}

/// The convolution of this module as a burn backend extension: flex computes it with im2col +
/// one batched GEMM, and autodiff on flex gets its matching backward; other backends (the
/// default body) use their own `conv2d`.
#[backend_extension(Flex, Autodiff)]
pub trait GemmConvBackend: Backend {
    /// `conv2d(x, weight)` without bias.
    fn gemm_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        Self::conv2d(x, weight, None, options)
    }
}

impl GemmConvBackend for Flex {
    fn gemm_conv2d(x: FlexTensor, weight: FlexTensor, options: ConvOptions<2>) -> FlexTensor {
        match flex_plan(&x, &weight, &options).and_then(|g| flex_forward(&x, &weight, &g)) {
            Some(y) => y,
            None => Flex::conv2d(x, weight, None, options),
        }
    }
}

#[derive(Debug)]
struct GemmConvBackward;

impl Backward<Flex, 2> for GemmConvBackward {
    type State = (FlexTensor, FlexTensor, ConvOptions<2>);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_w] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let (x, w, options) = ops.state;
        // The forward ran this module's kernel, so the geometry plans; the backend's own
        // gradients stand in should it not.
        let g = flex_plan(&x, &w, &options);
        if let Some(node) = node_w {
            let dw = g
                .as_ref()
                .and_then(|g| flex_backward_weight(&x, &dy, g))
                .unwrap_or_else(|| {
                    Flex::conv2d_weight_backward(x.clone(), w.clone(), dy.clone(), options.clone())
                });
            grads.register::<Flex>(node.id, dw);
        }
        if let Some(node) = node_x {
            let dx = g
                .as_ref()
                .and_then(|g| flex_backward_input(&dy, &w, g))
                .unwrap_or_else(|| Flex::conv2d_x_backward(x, w, dy, options));
            grads.register::<Flex>(node.id, dx);
        }
    }
}

impl<C: CheckpointStrategy> GemmConvBackend for Autodiff<Flex, C> {
    fn gemm_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        if flex_plan(x.primitive(), weight.primitive(), &options).is_none() {
            return <Self as ModuleOps<Self>>::conv2d(x, weight, None, options);
        }
        match GemmConvBackward
            .prepare::<C>([x.node(), weight.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (xp, wp) = (x.primitive().clone(), weight.primitive().clone());
                let y = Flex::gemm_conv2d(xp.clone(), wp.clone(), options.clone());
                prep.finish((xp, wp, options), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::gemm_conv2d(
                x.into_primitive(),
                weight.into_primitive(),
                options,
            )),
        }
    }
}

/// TensorFlow/burn "same" padding of one axis: `(begin, end)`.
fn same_padding(kernel: usize, stride: usize, len: usize) -> (usize, usize) {
    let out = len.div_ceil(stride);
    let total = if out > 0 {
        ((out - 1) * stride + kernel).saturating_sub(len)
    } else {
        0
    };
    (total / 2, total - total / 2)
}

/// [`Conv2d::forward`](crate::layers::Conv2d::forward): the convolution computed by this module's im2col + GEMM convolution on the CPU (flex,
/// f32, groups 1) and by burn's own everywhere else. Same result, same parameters.
pub fn conv2d(layer: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    if layer.groups != 1 || !crate::kernels::flex_ops::use_ours(&x) {
        return layer.to_burn().forward(x);
    }
    let [_, _, h, w] = x.dims();
    let ((top, bottom), (left, right)) = match &layer.padding {
        PaddingConfig2d::Valid => ((0, 0), (0, 0)),
        PaddingConfig2d::Same => (
            same_padding(layer.kernel_size[0], layer.stride[0], h),
            same_padding(layer.kernel_size[1], layer.stride[1], w),
        ),
        PaddingConfig2d::Explicit(top, left, bottom, right) => ((*top, *bottom), (*left, *right)),
    };
    let options = ConvOptions::new_with_padding(
        layer.stride,
        [(top, bottom), (left, right)],
        layer.dilation,
        1,
    );
    let y = Tensor::<4>::from_dispatch(<Dispatch as GemmConvBackend>::gemm_conv2d(
        x.into_dispatch(),
        layer.weight.val().into_dispatch(),
        options,
    ));
    match &layer.bias {
        Some(b) => {
            let c = b.dims()[0];
            y + b.val().reshape([1, c, 1, 1])
        }
        None => y,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::flex_ops::test_close as close;
    use crate::kernels::flex_ops::test_values as values;
    use burn::module::Param;
    use burn::nn::conv::Conv2dConfig;
    use burn::tensor::{Device, TensorData};

    /// Direct 7-loop convolution: the independent computation the GEMM form is checked against.
    fn naive(x: &[f32], w: &[f32], g: &ConvGeom) -> Vec<f32> {
        let (oh, ow) = (g.oh, g.ow);
        let mut out = vec![0.0f32; g.batch * g.c_out * oh * ow];
        for b in 0..g.batch {
            for co in 0..g.c_out {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let mut s = 0.0f64;
                        for ci in 0..g.c_in {
                            for i in 0..g.kh {
                                for j in 0..g.kw {
                                    let iy = (oy * g.stride[0] + i * g.dilation[0]) as isize
                                        - g.pad_begin[0] as isize;
                                    let ix = (ox * g.stride[1] + j * g.dilation[1]) as isize
                                        - g.pad_begin[1] as isize;
                                    if iy < 0 || ix < 0 || iy >= g.h as isize || ix >= g.w as isize
                                    {
                                        continue;
                                    }
                                    let xv = x[((b * g.c_in + ci) * g.h + iy as usize) * g.w
                                        + ix as usize];
                                    let wv = w[((co * g.c_in + ci) * g.kh + i) * g.kw + j];
                                    s += (xv * wv) as f64;
                                }
                            }
                        }
                        out[((b * g.c_out + co) * oh + oy) * ow + ox] = s as f32;
                    }
                }
            }
        }
        out
    }

    /// Shapes covering every GEMM form: per image (63-pixel maps and up) and merged over the
    /// batch (under [`MERGED_BELOW`] pixels), the weight gradient in one GEMM and per image
    /// (from [`PER_IMAGE_DW_FROM`] pixels).
    fn shapes() -> Vec<ConvShape> {
        let base = ConvShape {
            batch: 2,
            c_in: 5,
            h: 9,
            w: 7,
            c_out: 6,
            kh: 3,
            kw: 3,
            stride: [1, 1],
            dilation: [1, 1],
            pad_begin: [1, 1],
            pad_end: [1, 1],
        };
        vec![
            base,
            ConvShape {
                stride: [2, 2],
                ..base
            },
            ConvShape {
                kh: 7,
                kw: 5,
                stride: [2, 3],
                pad_begin: [3, 2],
                pad_end: [3, 2],
                ..base
            },
            // Pointwise: no patch matrix in forward.
            ConvShape {
                kh: 1,
                kw: 1,
                pad_begin: [0, 0],
                pad_end: [0, 0],
                ..base
            },
            // A map large enough for the per-image weight gradient.
            ConvShape {
                h: 21,
                w: 20,
                ..base
            },
            // Pointwise on a small map: one GEMM over the batch.
            ConvShape {
                h: 3,
                w: 5,
                kh: 1,
                kw: 1,
                pad_begin: [0, 0],
                pad_end: [0, 0],
                ..base
            },
            // ResNet's strided 1x1 shortcut.
            ConvShape {
                kh: 1,
                kw: 1,
                stride: [2, 2],
                pad_begin: [0, 0],
                pad_end: [0, 0],
                ..base
            },
            // A column stride wider than the input.
            ConvShape {
                h: 3,
                w: 2,
                kh: 1,
                kw: 1,
                stride: [1, 4],
                pad_begin: [0, 0],
                pad_end: [0, 0],
                ..base
            },
            // TensorFlow "same" with stride 2: padding only at the end.
            ConvShape {
                stride: [2, 2],
                pad_begin: [0, 0],
                pad_end: [1, 1],
                ..base
            },
            ConvShape {
                dilation: [2, 3],
                pad_begin: [2, 3],
                pad_end: [2, 3],
                ..base
            },
            // A kernel wider than the input (CBAM's 7x7 on a 2x2 map): some kernel columns
            // never meet the input.
            ConvShape {
                h: 2,
                w: 2,
                kh: 7,
                kw: 7,
                pad_begin: [3, 3],
                pad_end: [3, 3],
                ..base
            },
            // More input channels than one block of the flipped kernel (16), not a multiple.
            ConvShape { c_in: 20, ..base },
            // One image, valid padding, a single output row.
            ConvShape {
                batch: 1,
                h: 3,
                pad_begin: [0, 0],
                pad_end: [0, 0],
                ..base
            },
        ]
    }

    fn layer(s: &ConvShape, bias: bool, dev: &Device) -> Conv2d {
        let mut conv = Conv2dConfig::new([s.c_in, s.c_out], [s.kh, s.kw])
            .with_stride(s.stride)
            .with_dilation(s.dilation)
            .with_padding(PaddingConfig2d::Explicit(
                s.pad_begin[0],
                s.pad_begin[1],
                s.pad_end[0],
                s.pad_end[1],
            ))
            .with_bias(bias)
            .init(dev);
        let w = values(s.c_out * s.c_in * s.kh * s.kw, 2);
        conv.weight = Param::from_tensor(Tensor::from_data(
            TensorData::new(w, [s.c_out, s.c_in, s.kh, s.kw]),
            dev,
        ));
        if bias {
            conv.bias = Some(Param::from_tensor(Tensor::from_data(
                TensorData::new(values(s.c_out, 3), [s.c_out]),
                dev,
            )));
        }
        conv.into()
    }

    fn input(s: &ConvShape, dev: &Device) -> Tensor<4> {
        Tensor::from_data(
            TensorData::new(
                values(s.batch * s.c_in * s.h * s.w, 1),
                [s.batch, s.c_in, s.h, s.w],
            ),
            dev,
        )
    }

    fn vec(t: Tensor<4>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn forward_matches_direct_convolution_and_burn() {
        let dev = crate::cpu();
        for s in shapes() {
            let g = s.plan().unwrap();
            // The shapes are the GEMM path's, not flex's fallback.
            let o = ConvOptions::new_with_padding(
                s.stride,
                [
                    (s.pad_begin[0], s.pad_end[0]),
                    (s.pad_begin[1], s.pad_end[1]),
                ],
                s.dilation,
                1,
            );
            assert!(
                plan(
                    &[s.batch, s.c_in, s.h, s.w],
                    &[s.c_out, s.c_in, s.kh, s.kw],
                    &o
                )
                .is_some()
            );
            let x = input(&s, &dev);
            let conv = layer(&s, false, &dev);
            let want = naive(&vec(x.clone()), &vec(conv.weight.val()), &g);
            close(
                &vec(conv2d(&conv, x.clone())),
                &want,
                1e-5,
                &format!("{s:?}"),
            );
            close(&vec(conv.forward(x.clone())), &want, 1e-5, "burn");
            let conv = layer(&s, true, &dev);
            close(
                &vec(conv2d(&conv, x.clone())),
                &vec(conv.forward(x)),
                1e-5,
                &format!("bias {s:?}"),
            );
        }
    }

    /// Gradients of `sum(conv(x) · r)` with respect to input, weight and bias equal those of
    /// burn's own convolution (its autodiff through `conv2d_x_backward` / `_weight_backward`).
    #[test]
    fn gradients_match_burn() {
        let dev = crate::cpu().autodiff();
        for s in shapes() {
            let conv = layer(&s, true, &dev);
            let g = s.plan().unwrap();
            let r = Tensor::<4>::from_data(
                TensorData::new(values(g.output_len(), 6), [s.batch, s.c_out, g.oh, g.ow]),
                &dev,
            );
            let run = |ours: bool| {
                let x = input(&s, &dev).require_grad();
                let y = if ours {
                    conv2d(&conv, x.clone())
                } else {
                    conv.forward(x.clone())
                };
                let grads = (y * r.clone()).sum().backward();
                let gw = conv.weight.val().grad(&grads).unwrap();
                let gb = conv.bias.as_ref().unwrap().val().grad(&grads).unwrap();
                let gx = x.grad(&grads).unwrap();
                (
                    gx.into_data().try_to_vec::<f32>().unwrap(),
                    gw.into_data().try_to_vec::<f32>().unwrap(),
                    gb.into_data().try_to_vec::<f32>().unwrap(),
                )
            };
            let (ours, theirs) = (run(true), run(false));
            close(&ours.0, &theirs.0, 1e-4, &format!("dx {s:?}"));
            close(&ours.1, &theirs.1, 1e-4, &format!("dw {s:?}"));
            close(&ours.2, &theirs.2, 1e-4, &format!("db {s:?}"));
        }
    }

    #[test]
    fn grouped_convolutions_use_burn() {
        let dev = crate::cpu();
        let conv = Conv2dConfig::new([4, 4], [3, 3])
            .with_groups(4)
            .with_padding(PaddingConfig2d::Same)
            .init(&dev);
        let x = Tensor::<4>::random([1, 4, 5, 6], burn::tensor::Distribution::Default, &dev);
        close(
            &vec(conv2d(&conv.clone().into(), x.clone())),
            &vec(conv.forward(x)),
            0.0,
            "groups",
        );
    }

    #[test]
    fn same_padding_like_burn() {
        let dev = crate::cpu();
        for (k, stride, h, w) in [(3, 2, 8, 7), (3, 1, 5, 5), (4, 2, 9, 6), (1, 2, 5, 4)] {
            let conv = Conv2dConfig::new([6, 8], [k, k])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Same)
                .init(&dev);
            let x = Tensor::<4>::random([2, 6, h, w], burn::tensor::Distribution::Default, &dev);
            close(
                &vec(conv2d(&conv.clone().into(), x.clone())),
                &vec(conv.forward(x)),
                1e-5,
                "same",
            );
        }
    }

    #[test]
    fn valid_ranges() {
        // len 5, pad 1, kernel offset 0, stride 1, 5 outputs: o=0 reads -1 (pad) .. o=4 reads 3.
        assert_eq!(valid_range(5, 5, 1, 0, 1), (1, 5));
        // offset 2: o reads o+1; o=4 reads 5 (pad).
        assert_eq!(valid_range(5, 5, 1, 2, 1), (0, 4));
        // stride 2, 3 outputs, offset 0, pad 1: reads -1, 1, 3.
        assert_eq!(valid_range(5, 3, 2, 0, 1), (1, 3));
        // nothing valid.
        assert_eq!(valid_range(1, 3, 1, 5, 0), (0, 0));
        // stride 2, pad 3, offset 0, len 2: reads -3, -1, 1: only o=2.
        assert_eq!(valid_range(2, 3, 2, 0, 3), (2, 3));
    }

    /// A recycled patch buffer holds the last user's values: im2col must overwrite every one,
    /// padding zeros included. Buffers poisoned with NaN, then every shape's forward and
    /// gradients against the direct convolution / burn's.
    #[test]
    fn recycled_patch_buffers_are_fully_overwritten() {
        let poison = || {
            // All taken at once, so that each is a different buffer; back to the pool on drop.
            let mut held: Vec<Patches> = (0..PATCH_POOL_KEEP)
                .map(|_| Patches::take(1 << 16))
                .collect();
            for b in &mut held {
                if let Some(v) = b.0.as_mut().and_then(|t| t.try_storage_mut::<f32>()) {
                    v.fill(f32::NAN);
                }
            }
        };
        let dev = crate::cpu();
        for s in shapes() {
            poison();
            let g = s.plan().unwrap();
            let x = input(&s, &dev);
            let conv = layer(&s, false, &dev);
            let want = naive(&vec(x.clone()), &vec(conv.weight.val()), &g);
            close(&vec(conv2d(&conv, x)), &want, 1e-5, &format!("{s:?}"));
        }
        let dev = crate::cpu().autodiff();
        for s in shapes() {
            poison();
            let conv = layer(&s, false, &dev);
            let grads = |ours: bool| {
                let x = input(&s, &dev).require_grad();
                let y = if ours {
                    conv2d(&conv, x.clone())
                } else {
                    conv.forward(x.clone())
                };
                let g = y.sum().backward();
                let gw = conv.weight.val().grad(&g).unwrap().into_data();
                gw.try_to_vec::<f32>().unwrap()
            };
            close(&grads(true), &grads(false), 1e-4, &format!("dw {s:?}"));
        }
    }

    #[test]
    fn plans() {
        let o = ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
        assert!(plan(&[1, 3, 4, 4], &[32, 3, 3, 3], &o).is_some());
        assert!(plan(&[1, 8, 4, 4], &[2, 8, 3, 3], &o).is_some());
        // tiny channel counts go to flex's direct convolution.
        assert!(plan(&[1, 3, 4, 4], &[2, 3, 3, 3], &o).is_none());
        // kernel larger than the input, channel mismatch, groups.
        assert!(plan(&[1, 8, 2, 4], &[32, 8, 3, 3], &o).is_none());
        assert!(plan(&[1, 9, 4, 4], &[32, 8, 3, 3], &o).is_none());
        let o = ConvOptions::new([1, 1], [0, 0], [1, 1], 8);
        assert!(plan(&[1, 8, 4, 4], &[32, 1, 3, 3], &o).is_none());
    }
}
