//! The finite-difference harness of the op vocabulary on the CPU backend, the reference every
//! other backend is held to: each case's forward against a naive f64 loop, and each VJP against
//! central differences of that loop (in f64, so the differences are exact to ~1e-9 and the
//! tolerance measures the backend alone). The cases are in tests/op_cases/; tests/webgpu_kernels.rs
//! runs the same table on the GPU.

mod op_cases;

use op_cases::{run_on, Exact, OpCase};
use sightline::backend::cpu::CpuBackend;
use sightline::explain::noise::standard_normals;
use sightline::Error;

/// f32 forward against f64, relative to the largest magnitude of the output.
const FORWARD_TOLERANCE: f64 = 2e-6;
/// f32 VJP against the f64 differences, relative to the largest magnitude of the gradient.
const VJP_TOLERANCE: f64 = 5e-6;
/// The central differences' step, relative to the root mean square of the input perturbed: small
/// enough that the truncation error (∝ h²) is ~1e-10, large enough that f64 rounding (∝ 1/h) is too.
const STEP: f64 = 1e-5;
/// Elements of each gradient checked one by one (all of them below this count, evenly spread
/// otherwise), and random directions that check all elements at once.
const SAMPLED_ELEMENTS: usize = 48;
const DIRECTIONS: u64 = 2;

fn check(cases: Vec<OpCase>) {
    assert!(!cases.is_empty());
    for case in &cases {
        check_forward(case);
        check_vjp(case);
    }
}

fn check_forward(case: &OpCase) {
    let Some(forward) = &case.forward else { return };
    let actual = run_on(&CpuBackend, &*forward.cpu, &case.inputs, &case.name);
    let expected = (case.reference)(&case.exact_inputs());
    assert_eq!(actual.len(), expected.len(), "{}: number of outputs", case.name);
    for (k, (a, e)) in actual.iter().zip(&expected).enumerate() {
        let what = format!("{} forward output {k}", case.name);
        assert_eq!(a.shape, e.shape, "{what}: shape");
        let scale = largest(&e.data);
        for (i, (a, e)) in a.data.iter().zip(&e.data).enumerate() {
            let error = (*a as f64 - e).abs();
            assert!(
                error <= FORWARD_TOLERANCE * scale,
                "{what}: element {i} is {a} but the f64 reference is {e} (error {error:.2e} > {FORWARD_TOLERANCE} × {scale:.3e})"
            );
        }
    }
}

fn check_vjp(case: &OpCase) {
    let Some(vjp) = &case.vjp else { return };
    let cotangents = case.cotangents(vjp);
    let inputs = [case.inputs.clone(), cotangents.clone()].concat();
    let gradients = run_on(&CpuBackend, &*vjp.runner.cpu, &inputs, &format!("{} VJP", case.name));
    assert_eq!(gradients.len(), vjp.inputs.len(), "{}: one gradient per differentiated input", case.name);
    let weights: Vec<Exact> = cotangents.iter().map(Exact::of).collect();
    let loss = |x: &[Exact]| -> f64 {
        let outputs = (case.reference)(x);
        vjp.outputs.iter().zip(&weights).map(|(&k, w)| dot(&outputs[k].data, &w.data)).sum()
    };
    let point = case.exact_inputs();
    for (gradient, &input) in gradients.iter().zip(&vjp.inputs) {
        let what = format!("{}: gradient of input {input}", case.name);
        assert_eq!(gradient.shape, case.inputs[input].shape, "{what}: shape");
        let analytic: Vec<f64> = gradient.data.iter().map(|&g| g as f64).collect();
        assert!(analytic.iter().all(|g| g.is_finite()), "{what}: not finite");
        let step = STEP * (norm(&point[input].data) / (point[input].data.len() as f64).sqrt()).max(1e-6);
        // ∂loss along a direction (`perturb` adds s · direction to the input), centrally.
        let difference = |perturb: &dyn Fn(&mut [f64], f64)| {
            let mut x = point.clone();
            perturb(&mut x[input].data, step);
            let above = loss(&x);
            let mut x = point.clone();
            perturb(&mut x[input].data, -step);
            (above - loss(&x)) / (2.0 * step)
        };
        let n = analytic.len();
        let elements: Vec<usize> = if n <= SAMPLED_ELEMENTS {
            (0..n).collect()
        } else {
            (0..SAMPLED_ELEMENTS).map(|s| s * (n - 1) / (SAMPLED_ELEMENTS - 1)).collect()
        };
        let numeric: Vec<f64> = elements.iter().map(|&e| difference(&|x, s| x[e] += s)).collect();
        let scale = largest(&analytic).max(largest(&numeric));
        for (&e, numeric) in elements.iter().zip(&numeric) {
            let error = (analytic[e] - numeric).abs();
            assert!(
                error <= VJP_TOLERANCE * scale,
                "{what}: element {e} is {} but the central difference is {numeric} (error {error:.2e} > {VJP_TOLERANCE} × {scale:.3e})",
                analytic[e]
            );
        }
        for seed in 0..DIRECTIONS.min(n as u64) {
            let direction = standard_normals(7000 + seed, n);
            let numeric = difference(&|x, s| x.iter_mut().zip(&direction).for_each(|(x, d)| *x += s * d));
            let projected = dot(&analytic, &direction);
            let bound = VJP_TOLERANCE * norm(&analytic) * norm(&direction);
            assert!(
                (projected - numeric).abs() <= bound,
                "{what}: along random direction {seed} the VJP gives {projected} but the central difference is {numeric}"
            );
        }
    }
}

fn largest(values: &[f64]) -> f64 {
    values.iter().fold(f64::MIN_POSITIVE, |m, v| m.max(v.abs()))
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(v: &[f64]) -> f64 {
    dot(v, v).sqrt()
}

#[test]
fn linear_and_norms() {
    check(op_cases::linear_and_norm_cases());
}

#[test]
fn activations_and_products() {
    check(op_cases::activation_and_product_cases());
}

#[test]
fn attention() {
    check(op_cases::attention_cases());
}

#[test]
fn token_rows_and_positions() {
    check(op_cases::token_cases());
}

#[test]
fn vision_embeddings() {
    check(op_cases::vision_cases());
}

#[test]
fn batched_methods_ops() {
    check(op_cases::batch_cases());
}

#[test]
fn bad_shapes_are_internal_errors() {
    for call in op_cases::bad_calls::bad_calls() {
        let inputs: Vec<_> = call
            .inputs
            .iter()
            .map(|t| sightline::backend::prelude::TensorStore::upload(&CpuBackend, t).unwrap())
            .collect();
        let result = (call.runner.cpu)(&CpuBackend, &inputs);
        assert!(matches!(result, Err(Error::Internal(_))), "{}: {:?}", call.name, result.err());
    }
}

#[test]
fn the_reference_erf_is_exact() {
    use op_cases::reference::erf;
    // To 16 digits (as Python's math.erf gives them).
    for (x, expected) in [
        (0.5, 0.520_499_877_813_046_5),
        (1.0, 0.842_700_792_949_714_9),
        (2.4, 0.999_311_486_103_355),
        (3.0, 0.999_977_909_503_001_4),
    ] {
        assert!((erf(x) - expected).abs() < 1e-15, "erf({x}) = {} vs {expected}", erf(x));
        assert_eq!(erf(-x), -erf(x));
    }
}
