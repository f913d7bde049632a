//! The op vocabulary as one table of cases, read by two harnesses: tests/op_gradients.rs checks
//! the CPU backend's forward against a naive f64 reference and its VJP against central
//! differences of that reference; tests/webgpu_kernels.rs checks every WGSL kernel against the
//! CPU op. A case is an op on random inputs of an awkward shape: its forward (written once, run
//! on both backends), its f64 reference and, where gradients flow through it, its VJP as the
//! vocabulary computes it. A new op is one more case.
#![allow(dead_code)]

pub mod reference;

/// A `Runner` from one body, compiled for both backends: `|b, x| body` where `b` is the backend
/// and `x` the uploaded inputs, the body evaluating to the outputs (`?` allowed). Values the
/// body captures are listed first when they are not `Copy` (`on_both!([positions] |b, x| ...)`).
macro_rules! on_both {
    ([$($captured:ident),*] |$b:ident, $x:ident| $body:expr) => {
        $crate::op_cases::Runner {
            cpu: {
                $(let $captured = $captured.clone();)*
                Box::new(move |$b: &$crate::op_cases::CpuBackend, $x: &[$crate::op_cases::CpuTensor]| Ok($body))
            },
            gpu: {
                $(let $captured = $captured.clone();)*
                Box::new(move |$b: &$crate::op_cases::WebGpuBackend, $x: &[$crate::op_cases::GpuTensor]| Ok($body))
            },
        }
    };
    (|$b:ident, $x:ident| $body:expr) => {
        on_both!([] |$b, $x| $body)
    };
}

mod attention;
pub mod bad_calls;
mod batch;
pub mod layers;
mod tokens;
mod vision;

pub use sightline::backend::cpu::CpuBackend;
use sightline::backend::prelude::*;
pub use sightline::backend::webgpu::{GpuTensor, WebGpuBackend};
use sightline::explain::noise::standard_normals;
use sightline::loader::HostTensor;
use sightline::Result;

pub type CpuTensor = <CpuBackend as TensorStore>::Tensor;

/// Ops run on backend `B`: its tensors in, its tensors out.
pub type Body<B> = dyn Fn(&B, &[<B as TensorStore>::Tensor]) -> Result<Vec<<B as TensorStore>::Tensor>>;

/// One body of ops for each backend.
pub struct Runner {
    pub cpu: Box<Body<CpuBackend>>,
    pub gpu: Box<Body<WebGpuBackend>>,
}

/// Values in f64 with their shape: the references' inputs and outputs.
#[derive(Clone, Debug)]
pub struct Exact {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

impl Exact {
    pub fn new(shape: Vec<usize>, data: Vec<f64>) -> Self {
        assert_eq!(shape.iter().product::<usize>(), data.len(), "a reference built {shape:?} wrongly");
        Exact { shape, data }
    }

    pub fn of(t: &HostTensor) -> Self {
        Exact::new(t.shape.clone(), t.data.iter().map(|&v| v as f64).collect())
    }
}

pub type Reference = Box<dyn Fn(&[Exact]) -> Vec<Exact>>;

pub struct OpCase {
    /// The op and its shape, as failures name it.
    pub name: String,
    pub inputs: Vec<HostTensor>,
    /// `None` for a case that only checks a VJP (of a function no single op computes).
    pub forward: Option<Runner>,
    /// The forward's outputs from the inputs, in f64.
    pub reference: Reference,
    pub vjp: Option<Vjp>,
}

/// The vector-Jacobian product of a case: for the loss Σₖ ⟨wₖ, yₖ⟩ over some of the forward's
/// outputs yₖ, the gradients with respect to some of its inputs.
pub struct Vjp {
    /// The inputs differentiated, in the order the runner returns their gradients.
    pub inputs: Vec<usize>,
    /// The outputs in the loss; the runner gets their cotangents wₖ after the case's inputs.
    pub outputs: Vec<usize>,
    pub runner: Runner,
}

impl OpCase {
    pub fn new(
        name: impl Into<String>,
        inputs: Vec<HostTensor>,
        forward: Runner,
        reference: impl Fn(&[Exact]) -> Vec<Exact> + 'static,
    ) -> Self {
        OpCase { name: name.into(), inputs, forward: Some(forward), reference: Box::new(reference), vjp: None }
    }

    /// A case whose VJP (added with `vjp`) differentiates `reference` directly.
    pub fn vjp_only(
        name: impl Into<String>,
        inputs: Vec<HostTensor>,
        reference: impl Fn(&[Exact]) -> Vec<Exact> + 'static,
    ) -> Self {
        OpCase { name: name.into(), inputs, forward: None, reference: Box::new(reference), vjp: None }
    }

    /// The case with a VJP: gradients of `inputs` for a loss over `outputs`.
    pub fn vjp(mut self, inputs: &[usize], outputs: &[usize], runner: Runner) -> Self {
        self.vjp = Some(Vjp { inputs: inputs.to_vec(), outputs: outputs.to_vec(), runner });
        self
    }

    pub fn exact_inputs(&self) -> Vec<Exact> {
        self.inputs.iter().map(Exact::of).collect()
    }

    /// Random cotangents (deterministic per case) for the outputs in the VJP's loss, shaped as
    /// the reference's outputs.
    pub fn cotangents(&self, vjp: &Vjp) -> Vec<HostTensor> {
        let outputs = (self.reference)(&self.exact_inputs());
        let seed =
            self.name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
        vjp.outputs.iter().map(|&k| random(seed.wrapping_add(k as u64), &outputs[k].shape, 1.0)).collect()
    }
}

/// Uploads `inputs` to `backend`, runs `body` and reads its outputs back.
pub fn run_on<B: TensorStore>(backend: &B, body: &Body<B>, inputs: &[HostTensor], what: &str) -> Vec<HostTensor> {
    let uploaded: Vec<_> = inputs.iter().map(|t| backend.upload(t).unwrap()).collect();
    let outputs = body(backend, &uploaded).unwrap_or_else(|e| panic!("{what} on {}: {e}", backend.name()));
    outputs.iter().map(|t| backend.download(t).unwrap()).collect()
}

/// Standard normal values times `scale`, the same for the same seed.
pub fn random(seed: u64, shape: &[usize], scale: f32) -> HostTensor {
    let n = shape.iter().product();
    HostTensor::new(standard_normals(seed, n).into_iter().map(|z| z as f32 * scale).collect(), shape.to_vec())
}

/// `copies` copies of a batch of one (1, ...) as a batch (copies, ...): the forward inputs that
/// a backward op reading one saved forward stands for.
pub fn repeated(t: &HostTensor, copies: usize) -> HostTensor {
    assert_eq!(t.shape[0], 1, "repeats a batch of one");
    HostTensor::new(t.data.repeat(copies), [&[copies], &t.shape[1..]].concat())
}

/// A tensor of zeros on `backend`.
pub fn zeros<B: TensorStore>(backend: &B, shape: &[usize]) -> Result<B::Tensor> {
    backend.upload(&HostTensor::new(vec![0.0; shape.iter().product()], shape.to_vec()))
}

/// Positions as the ops take them (u32) and as the references index (usize).
pub fn as_indices(positions: &[u32]) -> Vec<usize> {
    positions.iter().map(|&p| p as usize).collect()
}

/// The groups of cases, by part of the vocabulary, each run as a test of its own.
pub fn linear_and_norm_cases() -> Vec<OpCase> {
    layers::linear_and_norm_cases()
}

pub fn activation_and_product_cases() -> Vec<OpCase> {
    layers::activation_and_product_cases()
}

pub fn attention_cases() -> Vec<OpCase> {
    attention::cases()
}

pub fn token_cases() -> Vec<OpCase> {
    tokens::cases()
}

pub fn vision_cases() -> Vec<OpCase> {
    vision::cases()
}

pub fn batch_cases() -> Vec<OpCase> {
    batch::cases()
}
