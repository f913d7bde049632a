//! Cases of the ops on token rows: rotary positions, embedding lookups, reading and replacing
//! the rows at given positions, and appending to a key/value cache.

use super::reference as exact;
use super::{as_indices, random, zeros, Exact, OpCase};
use candle_core::quantized::GgmlDType;
use sightline::backend::prelude::*;
use sightline::backend::RotaryTables;
use sightline::loader::QuantizedMatrix;

pub fn cases() -> Vec<OpCase> {
    let mut cases = rotary_cases();
    cases.extend(lookup_cases());
    cases.extend(row_cases());
    cases
}

/// (batch, tokens, heads, head_dim, offset, rope_theta, attention factor): one token of one head
/// of 2 channels, a head_dim unrelated to any hidden size, above 64, offsets into the tables, and
/// a scaled variant's attention factor (the transposed rotation keeps it).
fn rotary_cases() -> Vec<OpCase> {
    let shapes = [
        (1, 1, 1, 2, 0, 10_000.0, 1.0),
        (2, 5, 3, 8, 3, 10_000.0, 1.0),
        (1, 4, 2, 130, 7, 500_000.0, 1.0),
        (3, 6, 4, 6, 0, 100.0, 1.3),
    ];
    let mut cases = Vec::new();
    for (i, &(batch, tokens, heads, head_dim, offset, theta, factor)) in shapes.iter().enumerate() {
        let frequencies = RotaryTables::default_frequencies(head_dim, theta).unwrap();
        let tables = RotaryTables::new(&frequencies, offset + tokens + 2, factor).unwrap();
        let (cos, sin) = (Exact::of(tables.cos()), Exact::of(tables.sin()));
        let x = random(1000 + i as u64, &[batch, tokens, heads * head_dim], 1.0);
        cases.push(
            OpCase::new(
                format!(
                    "rotary {batch}x{tokens}x{heads} heads of {head_dim} from {offset} (θ {theta}, factor {factor})"
                ),
                vec![x],
                on_both!([tables] | b, x | vec![b.rotary(&x[0], &tables.upload(b)?, offset)?]),
                move |x| vec![exact::rotary(&x[0], &cos, &sin, offset)],
            )
            .vjp(
                &[0],
                &[0],
                on_both!([tables] | b, x | vec![b.rotary_backward(&x[1], &tables.upload(b)?, offset)?]),
            ),
        );
    }
    cases
}

/// Token embedding lookups: the gradient of the looked-up vectors is the output's gradient, so
/// only the forward is an op.
fn lookup_cases() -> Vec<OpCase> {
    let table = random(1100, &[11, 6], 1.0);
    let quantized_values = random(1101, &[5, 64], 1.0);
    let quantized = QuantizedMatrix::quantize(&quantized_values.data, 5, 64, GgmlDType::Q8_0).unwrap();
    let expanded = Exact::of(&quantized.dequantize().unwrap());
    let mut cases = Vec::new();
    for ids in [vec![0u32], vec![10, 0, 3, 3, 7]] {
        let indices = as_indices(&ids);
        cases.push(OpCase::new(
            format!("gather rows {ids:?}"),
            vec![table.clone()],
            on_both!([ids] | b, x | vec![b.gather_rows(&x[0], &ids)?]),
            move |x| vec![exact::gather_rows(&x[0], &indices)],
        ));
        let ids: Vec<u32> = ids.into_iter().map(|id| id % 5).collect();
        let (indices, expanded) = (as_indices(&ids), expanded.clone());
        cases.push(OpCase::new(
            format!("gather q8_0 rows {ids:?}"),
            vec![],
            on_both!([ids, quantized] | b, _x | vec![b.gather_quantized_rows(&quantized, &ids)?]),
            move |_| vec![exact::gather_rows(&expanded, &indices)],
        ));
    }
    cases
}

fn row_cases() -> Vec<OpCase> {
    let mut cases = Vec::new();
    for (i, &(batch, tokens, hidden)) in [(1, 1, 1), (1, 2, 3), (4, 50, 33)].iter().enumerate() {
        let x = random(1200 + i as u64, &[batch, tokens, hidden], 1.0);
        for position in [0, tokens - 1] {
            cases.push(
                OpCase::new(
                    format!("select token {position} of {batch}x{tokens}x{hidden}"),
                    vec![x.clone()],
                    on_both!(|b, x| vec![b.select_token(&x[0], position)?]),
                    move |x| vec![exact::select_token(&x[0], position)],
                )
                .vjp(
                    &[0],
                    &[0],
                    on_both!(|b, x| vec![b.select_token_backward(&x[1], position, tokens)?]),
                ),
            );
        }
    }
    // (batch, tokens, hidden, positions): the rows of one token, all tokens in another order,
    // some; none.
    let replaced: [(usize, usize, usize, Vec<u32>); 4] =
        [(1, 1, 3, vec![0]), (2, 7, 5, vec![4, 0, 6]), (1, 9, 70, vec![8, 7, 6, 5, 4, 3, 2, 1, 0]), (2, 3, 4, vec![])];
    for (i, (batch, tokens, hidden, positions)) in replaced.into_iter().enumerate() {
        let x = random(1300 + i as u64, &[batch, tokens, hidden], 1.0);
        let rows = random(1310 + i as u64, &[batch, positions.len(), hidden], 1.0);
        let indices = as_indices(&positions);
        let shape = [batch, tokens, hidden];
        cases.push(
            OpCase::new(
                format!("select rows {positions:?} of {shape:?}"),
                vec![x.clone()],
                on_both!([positions] | b, x | vec![b.select_rows(&x[0], &positions)?]),
                {
                    let indices = indices.clone();
                    move |x| vec![exact::select_rows(&x[0], &indices)]
                },
            )
            // Distinct positions: the VJP puts each row's gradient back in its place.
            .vjp(
                &[0],
                &[0],
                on_both!([positions] | b, x | vec![b.replace_rows(&zeros(b, &shape)?, &x[1], &positions)?]),
            ),
        );
        cases.push(
            OpCase::new(
                format!("replace rows {positions:?} of {shape:?}"),
                vec![x, rows],
                on_both!([positions] | b, x | vec![b.replace_rows(&x[0], &x[1], &positions)?]),
                move |x| vec![exact::replace_rows(&x[0], &x[1], &indices)],
            )
            .vjp(
                &[0, 1],
                &[0],
                on_both!(
                    [positions] | b,
                    x | {
                        let (dx, d_rows) = b.replace_rows_backward(&x[2], &positions)?;
                        vec![dx, d_rows]
                    }
                ),
            ),
        );
    }
    // (tokens, positions, width): one row; each batch element's row at its own token, repeats
    // across batch elements allowed. The VJP reads each batch element's row back.
    for (i, (tokens, positions, width)) in [(1, vec![0u32], 1), (6, vec![5, 0, 5, 2], 9)].into_iter().enumerate() {
        let rows = random(1360 + i as u64, &[positions.len(), width], 1.0);
        let indices = as_indices(&positions);
        let reads: Vec<u32> = positions.clone();
        cases.push(
            OpCase::new(
                format!("place tokens {positions:?} of {tokens}x{width}"),
                vec![rows],
                on_both!([positions] | b, x | vec![b.place_tokens(&x[0], &positions, tokens)?]),
                move |x| vec![exact::place_tokens(&x[0], &indices, tokens)],
            )
            .vjp(&[0], &[0], on_both!([reads] | b, x | vec![diagonal_rows(b, &x[1], &reads)?])),
        );
    }
    let repeated = vec![2u32, 2, 0];
    let indices = as_indices(&repeated);
    cases.push(OpCase::new(
        format!("select rows {repeated:?}, repeated"),
        vec![random(1350, &[2, 3, 4], 1.0)],
        on_both!([repeated] | b, x | vec![b.select_rows(&x[0], &repeated)?]),
        move |x| vec![exact::select_rows(&x[0], &indices)],
    ));
    // (batch, cached tokens, new tokens, width): an empty cache, one new token, long rows.
    for (i, &(batch, first, second, width)) in [(1, 0, 3, 4), (2, 3, 1, 5), (1, 9, 2, 70)].iter().enumerate() {
        let (a, b) = (
            random(1400 + i as u64, &[batch, first, width], 1.0),
            random(1410 + i as u64, &[batch, second, width], 1.0),
        );
        cases.push(OpCase::new(
            format!("concat tokens {batch}x({first}+{second})x{width}"),
            vec![a, b],
            on_both!(|b, x| vec![b.concat_tokens(&x[0], &x[1])?]),
            |x| vec![exact::concat_tokens(&x[0], &x[1])],
        ));
    }
    cases
}

/// Row positions[b] of batch element b of x (B, T, D), as (B, D): place_tokens's VJP, from ops
/// the vocabulary has (a batch element's rows, then the one row).
fn diagonal_rows<B: Backend>(b: &B, x: &B::Tensor, positions: &[u32]) -> sightline::Result<B::Tensor> {
    let width = *b.dims(x).last().unwrap_or(&0);
    let mut rows = Vec::with_capacity(positions.len());
    for (index, &position) in positions.iter().enumerate() {
        let element = b.batch_element(x, index)?;
        rows.extend(b.download(&b.select_rows(&element, &[position])?)?.data);
    }
    b.upload(&sightline::loader::HostTensor::new(rows, vec![positions.len(), width]))
}
