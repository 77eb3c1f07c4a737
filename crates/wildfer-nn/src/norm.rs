//! BatchNorm with PyTorch's semantics.
//!
//! burn's `BatchNorm` updates the running variance with the biased batch variance; PyTorch
//! uses the unbiased one (`n / (n - 1)`). Running statistics trained here must be the ones
//! PyTorch would have, so this module follows PyTorch. Named `BatchNorm` with burn's field
//! names so that burn's PyTorch adapters map `weight`/`bias` to `gamma`/`beta` as usual.

use burn::module::{Flag, Module, Param, RunningState};
use burn::tensor::{Device, Tensor};

#[derive(Module, Debug)]
pub struct BatchNorm {
    pub gamma: Param<Tensor<1>>,
    pub beta: Param<Tensor<1>>,
    /// Train/eval switch; batch statistics are used only on an autodiff device with this on.
    pub training: Param<Flag>,
    pub running_mean: RunningState<Tensor<1>>,
    pub running_var: RunningState<Tensor<1>>,
    /// PyTorch convention: `running = (1 - momentum) * running + momentum * batch`.
    pub momentum: f64,
    pub epsilon: f64,
}

impl BatchNorm {
    /// `num_features` channels, epsilon 1e-5, the given momentum (PyTorch's default is 0.1).
    pub fn new(num_features: usize, momentum: f64, device: &Device) -> Self {
        BatchNorm {
            gamma: Param::from_tensor(Tensor::ones([num_features], device)),
            beta: Param::from_tensor(Tensor::zeros([num_features], device)),
            training: Param::from_bool(true),
            running_mean: RunningState::new(Tensor::zeros([num_features], device)),
            running_var: RunningState::new(Tensor::ones([num_features], device)),
            momentum,
            epsilon: 1e-5,
        }
    }

    /// Keras uses epsilon 1e-3 where PyTorch uses 1e-5.
    pub fn with_epsilon(mut self, epsilon: f64) -> Self {
        self.epsilon = epsilon;
        self
    }

    /// `[batch, channels, ...] -> same shape`.
    pub fn forward<const D: usize>(&self, input: Tensor<D>) -> Tensor<D> {
        let channels = self.gamma.dims()[0];
        let dims = input.dims();
        assert!(
            D >= 2 && dims[1] == channels,
            "BatchNorm: expected input [batch, {channels}, ...], got {dims:?}"
        );
        let device = input.device();
        if !(device.is_autodiff() && self.training.is_enabled()) {
            return crate::kernels::fused_norm::batch_norm(
                input,
                self.gamma.val(),
                self.beta.val(),
                self.running_mean.value().to_device(&device),
                self.running_var.value().to_device(&device),
                self.epsilon,
            );
        }
        let n = dims.iter().product::<usize>() / channels;
        let (output, batch_mean, batch_var) = crate::kernels::fused_norm::batch_norm_train(
            input,
            self.gamma.val(),
            self.beta.val(),
            self.epsilon,
        );
        let unbiased = if n > 1 {
            batch_var.mul_scalar(n as f64 / (n - 1) as f64)
        } else {
            batch_var
        };
        let m = self.momentum;
        let mean = self.running_mean.value_sync().to_device(&device);
        let var = self.running_var.value_sync().to_device(&device);
        self.running_mean.update(
            mean.mul_scalar(1.0 - m)
                .add(batch_mean.detach().mul_scalar(m))
                .detach(),
        );
        self.running_var.update(
            var.mul_scalar(1.0 - m)
                .add(unbiased.detach().mul_scalar(m))
                .detach(),
        );
        output
    }
}
