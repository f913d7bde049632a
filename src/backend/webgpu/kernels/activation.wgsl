// The MLP activation, elementwise, and optionally its derivative at the same point (the backward
// pass multiplies by it). `kind`: 0 = quick_gelu x·σ(1.702x), 1 = gelu x·Φ(x) (exact, via erf),
// 2 = gelu_tanh (the tanh approximation), 3 = silu x·σ(x).
// Dispatch: ceil(count / 256) workgroups (flattened over x and y), 256 threads each.

struct Params {
    count: u32,
    kind: u32,
    write_derivative: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// (count)
@group(0) @binding(1) var<storage, read> x: array<f32>;
// (count)
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
// (count) when write_derivative is 1; a placeholder otherwise
@group(0) @binding(3) var<storage, read_write> derivative: array<f32>;

const QUICK_GELU_ALPHA: f32 = 1.702;
const SQRT_2_OVER_PI: f32 = 0.7978846;
const GELU_TANH_CUBIC: f32 = 0.044715;
const INV_SQRT_2: f32 = 0.70710678;
const INV_SQRT_2PI: f32 = 0.39894228;

// WGSL has no erf. This is the complementary error function of Numerical Recipes (Chebyshev
// fit of erfc, |relative error| < 1.2e-7 in exact arithmetic, about 1e-7 absolute in f32), the
// same formula the CPU backend evaluates, so both backends agree to f32 rounding.
fn erf(x: f32) -> f32 {
    let z = abs(x);
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
        + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
        + t * (-0.82215223 + t * 0.17087277))))))));
    let erfc = t * exp(poly);
    return select(erfc - 1.0, 1.0 - erfc, x >= 0.0);
}

// tanh through exp, with the argument clamped where tanh is ±1 in f32 (avoids inf / inf).
fn stable_tanh(x: f32) -> f32 {
    let e = exp(2.0 * clamp(x, -15.0, 15.0));
    return (e - 1.0) / (e + 1.0);
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = id.x + id.y * groups.x * 256u;
    if (i >= p.count) {
        return;
    }
    let v = x[i];
    var value: f32;
    var slope: f32;
    if (p.kind == 0u) {
        let s = 1.0 / (1.0 + exp(-QUICK_GELU_ALPHA * v));
        value = v * s;
        slope = s * (1.0 + QUICK_GELU_ALPHA * v * (1.0 - s));
    } else if (p.kind == 1u) {
        let cdf = 0.5 * (1.0 + erf(v * INV_SQRT_2));
        value = v * cdf;
        slope = cdf + v * exp(-0.5 * v * v) * INV_SQRT_2PI;
    } else if (p.kind == 3u) {
        let s = 1.0 / (1.0 + exp(-v));
        value = v * s;
        slope = s * (1.0 + v * (1.0 - s));
    } else {
        let t = stable_tanh(SQRT_2_OVER_PI * (v + GELU_TANH_CUBIC * v * v * v));
        let d_inner = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_TANH_CUBIC * v * v);
        value = 0.5 * v * (1.0 + t);
        slope = 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * d_inner;
    }
    y[i] = value;
    if (p.write_derivative == 1u) {
        derivative[i] = slope;
    }
}
