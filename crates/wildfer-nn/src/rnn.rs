//! LSTM and GRU with PyTorch's fused gate layout and names, batch-first.
//!
//! `weight_ih_l{k}[_reverse]` is `[gates * hidden, input]`, `weight_hh_l{k}[_reverse]` is
//! `[gates * hidden, hidden]`; LSTM gates are (input, forget, cell, output), GRU gates are
//! (reset, update, new) with the reset gate applied to `W_hn h + b_hn` as PyTorch does.
//! Zero initial state.

use crate::{NnError, shape};
use burn::module::{Module, Param};
use burn::tensor::activation::{sigmoid, tanh};
use burn::tensor::{Device, Distribution, Tensor};
use serde::{Deserialize, Serialize};

/// Recurrent cell type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RnnKind {
    Lstm,
    Gru,
}

impl RnnKind {
    fn gates(self) -> usize {
        match self {
            RnnKind::Lstm => 4,
            RnnKind::Gru => 3,
        }
    }
}

/// Recurrent layer configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RnnConfig {
    pub kind: RnnKind,
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

impl RnnConfig {
    pub fn lstm(input_size: usize, hidden_size: usize) -> Self {
        RnnConfig {
            kind: RnnKind::Lstm,
            input_size,
            hidden_size,
            num_layers: 1,
            bidirectional: false,
        }
    }

    pub fn gru(input_size: usize, hidden_size: usize) -> Self {
        RnnConfig {
            kind: RnnKind::Gru,
            ..Self::lstm(input_size, hidden_size)
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
    pub fn init(&self, device: &Device) -> Result<Rnn, NnError> {
        if self.input_size == 0 || self.hidden_size == 0 || self.num_layers == 0 {
            return Err(NnError::Config(format!(
                "RNN sizes must be positive: {self:?}"
            )));
        }
        let k = 1.0 / (self.hidden_size as f64).sqrt();
        let (h, g) = (self.hidden_size, self.kind.gates());
        let dist = Distribution::Uniform(-k, k);
        let dir = |input: usize| RnnDirection {
            weight_ih: Param::from_tensor(Tensor::random([g * h, input], dist, device)),
            weight_hh: Param::from_tensor(Tensor::random([g * h, h], dist, device)),
            bias_ih: Param::from_tensor(Tensor::random([g * h], dist, device)),
            bias_hh: Param::from_tensor(Tensor::random([g * h], dist, device)),
        };
        let layers = (0..self.num_layers)
            .map(|l| {
                let input = if l == 0 {
                    self.input_size
                } else {
                    self.output_size()
                };
                RnnLayer {
                    forward: dir(input),
                    reverse: self.bidirectional.then(|| dir(input)),
                }
            })
            .collect();
        Ok(Rnn {
            layers,
            kind: self.kind,
            input_size: self.input_size,
            hidden_size: h,
        })
    }
}

/// One direction of one layer; PyTorch names `weight_ih_l{k}` etc. (see [`crate::weights`]).
#[derive(Module, Debug)]
pub struct RnnDirection {
    pub weight_ih: Param<Tensor<2>>,
    pub weight_hh: Param<Tensor<2>>,
    pub bias_ih: Param<Tensor<1>>,
    pub bias_hh: Param<Tensor<1>>,
}

#[derive(Module, Debug)]
pub struct RnnLayer {
    pub forward: RnnDirection,
    pub reverse: Option<RnnDirection>,
}

/// Multi-layer, optionally bidirectional LSTM or GRU.
#[derive(Module, Debug)]
pub struct Rnn {
    pub layers: Vec<RnnLayer>,
    #[module(skip)]
    kind: RnnKind,
    input_size: usize,
    hidden_size: usize,
}

impl RnnDirection {
    /// `[batch, time, input] -> [batch, time, hidden]`, reading time backwards if `reverse`.
    fn run(&self, kind: RnnKind, x: Tensor<3>, hidden: usize, reverse: bool) -> Tensor<3> {
        let [b, t, i] = x.dims();
        let g = kind.gates();
        let device = x.device();
        // Input projections of all steps at once; only the recurrent product stays in the loop.
        let xw = (x
            .reshape([b * t, i])
            .matmul(self.weight_ih.val().transpose())
            + self.bias_ih.val().unsqueeze::<2>())
        .reshape([b, t, g * hidden]);
        let w_hh = self.weight_hh.val().transpose();
        let b_hh = self.bias_hh.val().unsqueeze::<2>();
        let mut h = Tensor::<2>::zeros([b, hidden], &device);
        let mut c = Tensor::<2>::zeros([b, hidden], &device);
        let mut outs: Vec<Option<Tensor<2>>> = vec![None; t];
        let gate = |m: &Tensor<2>, k: usize| m.clone().narrow(1, k * hidden, hidden);
        for step in 0..t {
            let s = if reverse { t - 1 - step } else { step };
            let xs = xw.clone().narrow(1, s, 1).reshape([b, g * hidden]);
            let hs = h.clone().matmul(w_hh.clone()) + b_hh.clone();
            match kind {
                RnnKind::Lstm => {
                    let z = xs + hs;
                    let (ig, fg) = (sigmoid(gate(&z, 0)), sigmoid(gate(&z, 1)));
                    let (cg, og) = (tanh(gate(&z, 2)), sigmoid(gate(&z, 3)));
                    c = fg * c + ig * cg;
                    h = og * tanh(c.clone());
                }
                RnnKind::Gru => {
                    let r = sigmoid(gate(&xs, 0) + gate(&hs, 0));
                    let z = sigmoid(gate(&xs, 1) + gate(&hs, 1));
                    let n = tanh(gate(&xs, 2) + r * gate(&hs, 2));
                    h = (z.clone().neg() + 1.0) * n + z * h;
                }
            }
            outs[s] = Some(h.clone());
        }
        Tensor::stack(outs.into_iter().flatten().collect(), 1)
    }
}

impl Rnn {
    /// `[batch, time, input_size] -> [batch, time, hidden (x2 if bidirectional)]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let i = Some(self.input_size);
        shape::check(
            "Rnn",
            "[batch, time, input_size]",
            x.dims(),
            [None, None, i],
        );
        let mut x = x;
        for layer in &self.layers {
            let f = layer
                .forward
                .run(self.kind, x.clone(), self.hidden_size, false);
            x = match &layer.reverse {
                Some(r) => Tensor::cat(vec![f, r.run(self.kind, x, self.hidden_size, true)], 2),
                None => f,
            };
        }
        x
    }

    pub fn kind(&self) -> RnnKind {
        self.kind
    }
}
