//! Calls with shapes that do not fit, one or more per op: each must fail with `Error::Internal`
//! (a bug in the caller, never a device failure the CPU could redo), on every backend, without
//! a panic.

use super::{random, Runner};
use sightline::backend::prelude::*;
use sightline::backend::{AttentionMask, AttentionShape, RotaryTables};
use sightline::loader::HostTensor;

pub struct BadCall {
    pub name: &'static str,
    pub inputs: Vec<HostTensor>,
    pub runner: Runner,
}

fn call(name: &'static str, shapes: &[&[usize]], runner: Runner) -> BadCall {
    let inputs = shapes.iter().enumerate().map(|(i, shape)| random(2000 + i as u64, shape, 1.0)).collect();
    BadCall { name, inputs, runner }
}

pub fn bad_calls() -> Vec<BadCall> {
    let tables = RotaryTables::new(&RotaryTables::default_frequencies(4, 10_000.0).unwrap(), 5, 1.0).unwrap();
    let shape =
        AttentionShape { batch: 3, queries: 2, keys: 2, heads: 2, kv_heads: 1, head_dim: 2, mask: AttentionMask::None };
    vec![
        call("linear of another width", &[&[1, 2, 3], &[5, 4]], on_both!(|b, x| vec![b.linear(&x[0], &x[1], None)?])),
        call(
            "linear backward of another width",
            &[&[1, 2, 4], &[3, 4]],
            on_both!(|b, x| vec![b.linear_backward(&x[0], &x[1])?]),
        ),
        call(
            "layer norm with a short gamma",
            &[&[1, 2, 3], &[2], &[3]],
            on_both!(|b, x| vec![b.layer_norm(&x[0], &x[1], &x[2], 1e-5)?]),
        ),
        call(
            "layer norm with a short beta",
            &[&[1, 2, 3], &[3], &[2]],
            on_both!(|b, x| vec![b.layer_norm(&x[0], &x[1], &x[2], 1e-5)?]),
        ),
        call(
            "layer norm backward, x of batch 2 for gradients of batch 3",
            &[&[2, 2, 3], &[3], &[3, 2, 3]],
            on_both!(|b, x| vec![b.layer_norm_backward(&x[0], &x[1], &x[2], 1e-5)?]),
        ),
        call(
            "rms norm with a long weight",
            &[&[1, 2, 3], &[4]],
            on_both!(|b, x| vec![b.rms_norm(&x[0], &x[1], 1e-6)?]),
        ),
        call(
            "rms norm backward, x of batch 2 for gradients of batch 3",
            &[&[2, 2, 3], &[3], &[3, 2, 3]],
            on_both!(|b, x| vec![b.rms_norm_backward(&x[0], &x[1], &x[2], 1e-6)?]),
        ),
        call(
            "rms norm backward, x of other tokens",
            &[&[1, 3, 3], &[3], &[2, 2, 3]],
            on_both!(|b, x| vec![b.rms_norm_backward(&x[0], &x[1], &x[2], 1e-6)?]),
        ),
        call("multiply of other shapes", &[&[2, 2, 3], &[1, 3, 2]], on_both!(|b, x| vec![b.multiply(&x[0], &x[1])?])),
        call(
            "multiply, the first operand of batch 1",
            &[&[1, 2, 3], &[3, 2, 3]],
            on_both!(|b, x| vec![b.multiply(&x[0], &x[1])?]),
        ),
        call("add of other shapes", &[&[2, 3], &[3, 2]], on_both!(|b, x| vec![b.add(&x[0], &x[1])?])),
        call(
            "attention of other shapes",
            &[&[3, 2, 4], &[3, 2, 4], &[3, 2, 4]],
            on_both!(|b, x| vec![b.attention(&x[0], &x[1], &x[2], &shape)?.0]),
        ),
        call(
            "attention backward, a forward of batch 2 for gradients of batch 3",
            &[&[2, 2, 4], &[2, 2, 2], &[2, 2, 2], &[2, 2, 2, 2], &[3, 2, 4]],
            on_both!(|b, x| vec![b.attention_backward(&x[0], &x[1], &x[2], &x[3], &x[4], &shape)?.d_query]),
        ),
        call(
            "attention backward with probabilities of another batch",
            &[&[1, 2, 4], &[1, 2, 2], &[1, 2, 2], &[3, 2, 2, 2], &[3, 2, 4]],
            on_both!(|b, x| vec![b.attention_backward(&x[0], &x[1], &x[2], &x[3], &x[4], &shape)?.d_query]),
        ),
        call(
            "rotary, channels that are not whole heads",
            &[&[1, 2, 6]],
            on_both!([tables] | b, x | vec![b.rotary(&x[0], &tables.upload(b)?, 0)?]),
        ),
        call(
            "rotary beyond the tables' positions",
            &[&[1, 3, 8]],
            on_both!([tables] | b, x | vec![b.rotary(&x[0], &tables.upload(b)?, 3)?]),
        ),
        call(
            "rotary backward of a matrix",
            &[&[3, 8]],
            on_both!([tables] | b, x | vec![b.rotary_backward(&x[0], &tables.upload(b)?, 0)?]),
        ),
        call("gather rows outside the table", &[&[4, 3]], on_both!(|b, x| vec![b.gather_rows(&x[0], &[4])?])),
        call("select token beyond the tokens", &[&[1, 2, 3]], on_both!(|b, x| vec![b.select_token(&x[0], 2)?])),
        call(
            "select token backward beyond the tokens",
            &[&[1, 3]],
            on_both!(|b, x| vec![b.select_token_backward(&x[0], 2, 2)?]),
        ),
        call("select rows beyond the tokens", &[&[2, 3, 4]], on_both!(|b, x| vec![b.select_rows(&x[0], &[1, 3])?])),
        call(
            "replace rows at a repeated position",
            &[&[1, 3, 4], &[1, 2, 4]],
            on_both!(|b, x| vec![b.replace_rows(&x[0], &x[1], &[1, 1])?]),
        ),
        call(
            "replace rows by rows of another width",
            &[&[1, 3, 4], &[1, 2, 3]],
            on_both!(|b, x| vec![b.replace_rows(&x[0], &x[1], &[0, 1])?]),
        ),
        call(
            "replace rows by fewer rows than positions",
            &[&[1, 3, 4], &[1, 1, 4]],
            on_both!(|b, x| vec![b.replace_rows(&x[0], &x[1], &[0, 1])?]),
        ),
        call(
            "replace rows backward beyond the tokens",
            &[&[1, 3, 4]],
            on_both!(|b, x| vec![b.replace_rows_backward(&x[0], &[3])?.0]),
        ),
        call(
            "concat tokens of other widths",
            &[&[1, 3, 4], &[1, 1, 5]],
            on_both!(|b, x| vec![b.concat_tokens(&x[0], &x[1])?]),
        ),
        call(
            "concat tokens of other batches",
            &[&[2, 3, 4], &[1, 1, 4]],
            on_both!(|b, x| vec![b.concat_tokens(&x[0], &x[1])?]),
        ),
        call("place a token past the sequence", &[&[2, 4]], on_both!(|b, x| vec![b.place_tokens(&x[0], &[0, 3], 3)?])),
        call("place two rows at one position", &[&[2, 4]], on_both!(|b, x| vec![b.place_tokens(&x[0], &[1], 3)?])),
        call("batch element past the batch", &[&[2, 4]], on_both!(|b, x| vec![b.batch_element(&x[0], 2)?])),
        call("reshape to another count", &[&[2, 4]], on_both!(|b, x| vec![b.reshape(&x[0], &[3, 3])?])),
        call("drop the first of no tokens", &[&[2, 0, 4]], on_both!(|b, x| vec![b.drop_first_token(&x[0])?])),
        call(
            "prepend a class of another width",
            &[&[1, 2, 3], &[4]],
            on_both!(|b, x| vec![b.prepend_class(&x[0], &x[1])?]),
        ),
        call("add too few positions", &[&[1, 4, 3], &[3, 3]], on_both!(|b, x| vec![b.add_positions(&x[0], &x[1])?])),
        call(
            "patch embedding with patch 0",
            &[&[1, 3, 4, 4], &[2, 3, 2, 2]],
            on_both!(|b, x| vec![b.patch_embed(&x[0], &x[1], 0)?]),
        ),
        call(
            "patch embedding of a weight with other channels",
            &[&[1, 3, 4, 4], &[2, 1, 2, 2]],
            on_both!(|b, x| vec![b.patch_embed(&x[0], &x[1], 2)?]),
        ),
        call(
            "patch embedding backward for another grid",
            &[&[1, 3, 2], &[2, 3, 2, 2]],
            on_both!(|b, x| vec![b.patch_embed_backward(&x[0], &x[1], 2, 4)?]),
        ),
        call(
            "sum over a batch with a total of another size",
            &[&[2, 3], &[4]],
            on_both!(|b, x| vec![b.sum_batch(&x[0], false, Some(&x[1]))?]),
        ),
        call(
            "scaled cosine of another width",
            &[&[2, 3], &[4]],
            on_both!(|b, x| vec![b.scaled_cosine_with_gradients(&x[0], &x[1], 1.0)?.0]),
        ),
    ]
}
