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
