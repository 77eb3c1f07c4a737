//! LSTM with PyTorch's fused gate layout (`weight_ih_l{k}[_reverse]`: `[4 * hidden, input]`,
//! gates in the order input, forget, cell, output), batch-first.

use crate::{NnError, shape};
use burn::module::{Module, Param};
use burn::tensor::activation::{sigmoid, tanh};
use burn::tensor::{Device, Distribution, Tensor};
use serde::{Deserialize, Serialize};

/// LSTM configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LstmConfig {
    pub input_size: usize,
    pub hidden_size: usize,
    #[serde(default = "one")]
    pub num_layers: usize,
    #[serde(default)]
    pub bidirectional: bool,
}

fn one() -> usize {
    1
}

impl LstmConfig {
    pub fn new(input_size: usize, hidden_size: usize) -> Self {
        LstmConfig {
            input_size,
            hidden_size,
            num_layers: 1,
            bidirectional: false,
        }
    }

    pub fn with_bidirectional(mut self, b: bool) -> Self {
        self.bidirectional = b;
        self
    }

    pub fn with_num_layers(mut self, n: usize) -> Self {
        self.num_layers = n;
        self
    }

    /// Width of the output: `hidden_size`, doubled when bidirectional.
    pub fn output_size(&self) -> usize {
        self.hidden_size * if self.bidirectional { 2 } else { 1 }
    }

    /// PyTorch's initialisation: uniform(-1/sqrt(hidden), 1/sqrt(hidden)) for every tensor.
    pub fn init(&self, device: &Device) -> Result<Lstm, NnError> {
        if self.input_size == 0 || self.hidden_size == 0 || self.num_layers == 0 {
            return Err(NnError::Config(format!(
                "LSTM sizes must be positive: {self:?}"
            )));
        }
        let k = 1.0 / (self.hidden_size as f64).sqrt();
        let h = self.hidden_size;
        let dir = |input: usize| LstmDirection {
            weight_ih: Param::from_tensor(Tensor::random(
                [4 * h, input],
                Distribution::Uniform(-k, k),
                device,
            )),
            weight_hh: Param::from_tensor(Tensor::random(
                [4 * h, h],
                Distribution::Uniform(-k, k),
                device,
            )),
            bias_ih: Param::from_tensor(Tensor::random(
                [4 * h],
                Distribution::Uniform(-k, k),
                device,
            )),
            bias_hh: Param::from_tensor(Tensor::random(
                [4 * h],
                Distribution::Uniform(-k, k),
                device,
            )),
        };
        let layers = (0..self.num_layers)
            .map(|l| {
                let input = if l == 0 {
                    self.input_size
                } else {
                    self.output_size()
                };
                LstmLayer {
                    forward: dir(input),
                    reverse: self.bidirectional.then(|| dir(input)),
                }
            })
            .collect();
        Ok(Lstm {
            layers,
            input_size: self.input_size,
            hidden_size: h,
        })
    }
}

/// One direction of one layer; PyTorch names `weight_ih_l{k}` etc. (see [`crate::weights`]).
#[derive(Module, Debug)]
pub struct LstmDirection {
    pub weight_ih: Param<Tensor<2>>,
    pub weight_hh: Param<Tensor<2>>,
    pub bias_ih: Param<Tensor<1>>,
    pub bias_hh: Param<Tensor<1>>,
}

#[derive(Module, Debug)]
pub struct LstmLayer {
    pub forward: LstmDirection,
    pub reverse: Option<LstmDirection>,
}

/// Multi-layer, optionally bidirectional LSTM; zero initial state.
#[derive(Module, Debug)]
pub struct Lstm {
    pub layers: Vec<LstmLayer>,
    input_size: usize,
    hidden_size: usize,
}

impl LstmDirection {
    /// `[batch, time, input] -> [batch, time, hidden]`, reading time backwards if `reverse`.
    fn run(&self, x: Tensor<3>, hidden: usize, reverse: bool) -> Tensor<3> {
        let [b, t, i] = x.dims();
        let device = x.device();
        // Input projections of all steps at once; only the recurrent product stays in the loop.
        let bias = (self.bias_ih.val() + self.bias_hh.val()).unsqueeze::<2>();
        let xw = (x
            .reshape([b * t, i])
            .matmul(self.weight_ih.val().transpose())
            + bias)
            .reshape([b, t, 4 * hidden]);
        let w_hh = self.weight_hh.val().transpose();
        let mut h = Tensor::<2>::zeros([b, hidden], &device);
        let mut c = Tensor::<2>::zeros([b, hidden], &device);
        let mut outs: Vec<Option<Tensor<2>>> = vec![None; t];
        for step in 0..t {
            let s = if reverse { t - 1 - step } else { step };
            let g = xw.clone().narrow(1, s, 1).reshape([b, 4 * hidden]) + h.matmul(w_hh.clone());
            let ig = sigmoid(g.clone().narrow(1, 0, hidden));
            let fg = sigmoid(g.clone().narrow(1, hidden, hidden));
            let cg = tanh(g.clone().narrow(1, 2 * hidden, hidden));
            let og = sigmoid(g.narrow(1, 3 * hidden, hidden));
            c = fg * c + ig * cg;
            h = og * tanh(c.clone());
            outs[s] = Some(h.clone());
        }
        Tensor::stack(outs.into_iter().flatten().collect(), 1)
    }
}

impl Lstm {
    /// `[batch, time, input_size] -> [batch, time, hidden (x2 if bidirectional)]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let i = Some(self.input_size);
        shape::check(
            "Lstm",
            "[batch, time, input_size]",
            x.dims(),
            [None, None, i],
        );
        let mut x = x;
        for layer in &self.layers {
            let f = layer.forward.run(x.clone(), self.hidden_size, false);
            x = match &layer.reverse {
                Some(r) => Tensor::cat(vec![f, r.run(x, self.hidden_size, true)], 2),
                None => f,
            };
        }
        x
    }
}
