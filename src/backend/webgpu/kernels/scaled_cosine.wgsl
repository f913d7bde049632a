// The explained score of each image in a batch and its gradient, without a readback between the
// forward and the backward pass: for each row u of the image embeddings and the one text
// embedding v, s = c · cos(u, v) and ∂s/∂u = c · (v / |v| − cos · u / |u|) / |u|.
// Dispatch: one workgroup per row, 256 threads striding over the embedding.

struct Params {
    rows: u32,
    width: u32,
    // c, the logit multiplier exp(logit_scale)
    multiplier: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
// (rows, width)
@group(0) @binding(1) var<storage, read> image: array<f32>;
// (width)
@group(0) @binding(2) var<storage, read> text: array<f32>;
// (rows)
@group(0) @binding(3) var<storage, read_write> scores: array<f32>;
// (rows, width)
@group(0) @binding(4) var<storage, read_write> d_image: array<f32>;

// The workgroup size; reduce_sum comes from workgroup_reduce.wgsl, appended by the launcher.
const THREADS: u32 = 256u;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let row = group.x;
    if (row >= p.rows) {
        return;
    }
    let start = row * p.width;
    var dot = 0.0;
    var image_squares = 0.0;
    var text_squares = 0.0;
    for (var i = lane; i < p.width; i += THREADS) {
        let u = image[start + i];
        let v = text[i];
        dot += u * v;
        image_squares += u * u;
        text_squares += v * v;
    }
    let image_norm = sqrt(reduce_sum(lane, image_squares));
    let text_norm = sqrt(reduce_sum(lane, text_squares));
    let cosine = reduce_sum(lane, dot) / (image_norm * text_norm);
    if (lane == 0u) {
        scores[row] = p.multiplier * cosine;
    }
    for (var i = lane; i < p.width; i += THREADS) {
        let gradient = text[i] / text_norm - cosine * image[start + i] / image_norm;
        d_image[start + i] = p.multiplier * gradient / image_norm;
    }
}
