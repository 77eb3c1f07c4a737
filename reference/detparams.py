"""Deterministic parameters and inputs shared by the reference scripts and the Rust tests.

Every tensor is a function of its name and shape only, so a parity test can rebuild the same
weights in Rust (`wildfer_nn::testing::det_tensor`) instead of committing megabytes of weights:
value_i = lo + (hi - lo) * u_i, with u_i = splitmix64(fnv1a64(name) + (i + 1) * GOLDEN) >> 11
scaled to [0, 1) in float64, then rounded to float32.
"""

import math

import numpy as np

GOLDEN = 0x9E3779B97F4A7C15
MASK = (1 << 64) - 1


def fnv1a64(s: str) -> int:
    h = 0xCBF29CE484222325
    for b in s.encode():
        h ^= b
        h = (h * 0x100000001B3) & MASK
    return h


def uniform(name: str, n: int) -> np.ndarray:
    i = np.arange(1, n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(fnv1a64(name)) + i * np.uint64(GOLDEN)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * (2.0**-53)


def det_tensor(name: str, shape, lo: float, hi: float) -> np.ndarray:
    n = int(np.prod(shape)) if len(shape) else 1
    return (lo + (hi - lo) * uniform(name, n)).astype(np.float32).reshape(shape)


def param_range(name: str, shape) -> tuple:
    """Value range of a parameter, by its PyTorch state_dict name (same rules in Rust)."""
    if name.endswith("running_var"):
        return (0.5, 1.5)
    if name.endswith("running_mean"):
        return (-0.2, 0.2)
    if len(shape) == 1 and name.endswith("weight"):
        return (0.4, 0.8)
    if len(shape) == 1:
        return (-0.1, 0.1)
    fan_in = int(np.prod(shape[1:]))
    b = math.sqrt(6.0 / fan_in)
    return (-b, b)


def det_param(name: str, shape) -> np.ndarray:
    lo, hi = param_range(name, shape)
    return det_tensor(name, shape, lo, hi)


def fill_module(module, prefix=""):
    """Overwrite every float parameter and buffer of a torch module with det_param values."""
    import torch

    with torch.no_grad():
        for name, t in module.state_dict().items():
            if not t.is_floating_point():
                continue
            t.copy_(torch.from_numpy(det_param(prefix + name, tuple(t.shape))))
