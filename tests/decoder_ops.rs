//! The decoder's ops on the CPU backend against transformers' Llama (fixtures from
//! tools/make_decoder_op_fixtures.py, in float64): RMSNorm, rotary embeddings (rotate-half, a
//! head_dim that is not hidden / heads, a position offset, grouped key/value heads), SiLU and the
//! gated MLP, each with the gradient of ⟨w, output⟩ with respect to its input. The harness
//! (tests/op_gradients.rs) checks the same ops' gradients against finite differences; this
//! checks that they are Llama's ops.

mod common;
mod op_cases;

use common::{assert_close, fixture, floats, read_json};
use op_cases::layers::{swiglu, swiglu_backward};
use sightline::backend::cpu::CpuBackend;
use sightline::backend::prelude::*;
use sightline::backend::{Activation, RotaryTables};
use sightline::loader::HostTensor;

/// transformers computes RMSNorm's statistics and the rotary tables in float32.
const TOLERANCE: f32 = 1e-5;

fn fixtures() -> serde_json::Value {
    read_json(&fixture("decoder-ops/expected.json"))
}

fn host(value: &serde_json::Value) -> HostTensor {
    let shape =
        value["shape"].as_array().expect("a shape").iter().map(|d| d.as_u64().expect("a size") as usize).collect();
    HostTensor::new(floats(&value["values"]), shape)
}

/// The fixture's tensors `names` of `op`, on the CPU backend.
fn tensors<const N: usize>(op: &serde_json::Value, names: [&str; N]) -> [<CpuBackend as TensorStore>::Tensor; N] {
    names.map(|name| CpuBackend.upload(&host(&op[name])).unwrap())
}

fn check(what: &str, actual: &<CpuBackend as TensorStore>::Tensor, expected: &serde_json::Value) {
    let actual = CpuBackend.download(actual).unwrap();
    assert_eq!(actual.shape, host(expected).shape, "{what}: shape");
    assert_close(what, &actual.data, &floats(&expected["values"]), TOLERANCE);
}

#[test]
fn rms_norm_is_llamas() {
    let all = fixtures();
    let (op, eps) = (&all["rms_norm"], all["config"]["rms_norm_eps"].as_f64().unwrap());
    let [x, weight, w] = tensors(op, ["x", "weight", "w"]);
    check("rms norm", &CpuBackend.rms_norm(&x, &weight, eps).unwrap(), &op["y"]);
    check("rms norm gradient", &CpuBackend.rms_norm_backward(&x, &weight, &w, eps).unwrap(), &op["dx"]);
}

#[test]
fn rotary_embeddings_are_llamas() {
    let all = fixtures();
    let config = &all["config"];
    let op = &all["rotary"];
    let head_dim = config["head_dim"].as_u64().unwrap() as usize;
    let offset = config["offset"].as_u64().unwrap() as usize;
    let frequencies = RotaryTables::default_frequencies(head_dim, config["rope_theta"].as_f64().unwrap()).unwrap();
    let tables = RotaryTables::new(&frequencies, 16, 1.0).unwrap().upload(&CpuBackend).unwrap();
    let [q, k, w] = tensors(op, ["q", "k", "w"]);
    check("rotated queries", &CpuBackend.rotary(&q, &tables, offset).unwrap(), &op["q_embed"]);
    check("rotated keys (one head)", &CpuBackend.rotary(&k, &tables, offset).unwrap(), &op["k_embed"]);
    check("rotary gradient", &CpuBackend.rotary_backward(&w, &tables, offset).unwrap(), &op["dq"]);
}

#[test]
fn silu_is_torchs() {
    let op = &fixtures()["silu"];
    let [x, w] = tensors(op, ["x", "w"]);
    check("silu", &CpuBackend.activation(&x, Activation::Silu).unwrap(), &op["y"]);
    let (_, slope) = CpuBackend.activation_with_derivative(&x, Activation::Silu).unwrap();
    check("silu gradient", &CpuBackend.multiply(&w, &slope).unwrap(), &op["dx"]);
}

#[test]
fn the_gated_mlp_is_llamas() {
    let op = &fixtures()["mlp"];
    let [x, gate, up, down, w] = tensors(op, ["x", "gate", "up", "down", "w"]);
    check("mlp", &swiglu(&CpuBackend, &x, [&gate, &up, &down]).unwrap(), &op["y"]);
    check("mlp gradient", &swiglu_backward(&CpuBackend, &x, [&gate, &up, &down], &w).unwrap(), &op["dx"]);
}
