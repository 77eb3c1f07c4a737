//! Shape checks on entry to `forward`: a wrong shape is a bug upstream, reported with the
//! module's name and the expected layout rather than deep inside a kernel.

/// Panic with `module: expected [layout], got [dims]` unless every `Some` entry of `want` equals
/// the corresponding dimension.
pub(crate) fn check<const D: usize>(
    module: &str,
    layout: &str,
    got: [usize; D],
    want: [Option<usize>; D],
) {
    let ok = got
        .iter()
        .zip(want.iter())
        .all(|(g, w)| w.is_none_or(|w| w == *g));
    assert!(ok, "{module}: expected input {layout}, got {got:?}");
}

/// Global average pool: `[batch, channels, h, w] -> [batch, channels]`.
pub(crate) fn global_avg_pool(x: burn::tensor::Tensor<4>) -> burn::tensor::Tensor<2> {
    let [b, c, _, _] = x.dims();
    x.mean_dims(&[2, 3]).reshape([b, c])
}

/// Run a per-image embedding on every frame of a clip:
/// `[batch, time, 3, h, w] -> [batch, time, features]`.
pub(crate) fn per_frame(
    module: &str,
    x: burn::tensor::Tensor<5>,
    embed: impl FnOnce(burn::tensor::Tensor<4>) -> burn::tensor::Tensor<2>,
) -> burn::tensor::Tensor<3> {
    let [b, t, c, h, w] = x.dims();
    check(
        module,
        "[batch, time, 3, h, w]",
        [b, t, c, h, w],
        [None, None, Some(3), None, None],
    );
    let f = embed(x.reshape([b * t, c, h, w]));
    let d = f.dims()[1];
    f.reshape([b, t, d])
}

/// Pad as TensorFlow's "same" padding does for a `k`-wide window moving by `s`: total
/// `max((ceil(n/s)-1)*s + k - n, 0)`, the smaller half before, the larger after (PyTorch pads
/// symmetrically, so strided TensorFlow layers need this before a padding-free op).
pub(crate) fn tf_same_pad(
    x: burn::tensor::Tensor<4>,
    k: usize,
    s: usize,
    value: f32,
) -> burn::tensor::Tensor<4> {
    let [_, _, h, w] = x.dims();
    let total = |n: usize| ((n.div_ceil(s).max(1) - 1) * s + k).saturating_sub(n);
    let (th, tw) = (total(h), total(w));
    if th == 0 && tw == 0 {
        return x;
    }
    x.pad(
        [(th / 2, th - th / 2), (tw / 2, tw - tw / 2)],
        burn::tensor::ops::PadMode::Constant(value),
    )
}

/// Three per-channel values as a `[1, 3, 1, 1]` tensor, to broadcast over `[batch, 3, h, w]`.
pub(crate) fn per_channel(v: [f32; 3], device: &burn::tensor::Device) -> burn::tensor::Tensor<4> {
    burn::tensor::Tensor::<1>::from_data(burn::tensor::TensorData::new(v.to_vec(), [3]), device)
        .reshape([1, 3, 1, 1])
}
