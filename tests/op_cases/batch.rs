//! Cases of the batched methods' ops: integrated gradients' and occlusion's inputs, the sum over
//! a batch, and CLIP's score with its gradient.

use super::reference as exact;
use super::{random, OpCase};
use sightline::backend::prelude::*;
use sightline::loader::HostTensor;
use sightline::Result;

/// CLIP's logit scale exp(ln 100).
const MULTIPLIER: f32 = 100.0;

pub fn cases() -> Vec<OpCase> {
    let mut cases = Vec::new();
    // (copies, image side, patch side): a patch grid that leaves a margin (10 = 3 × 3 + 1).
    for &(copies, size, patch) in &[(1, 4, 4), (3, 10, 3), (5, 32, 8)] {
        let grid = size / patch;
        let image = random(1700 + size as u64, &[1, 3, size, size], 1.0);
        let factors: Vec<f32> = (1..=copies).map(|k| k as f32 / copies as f32).collect();
        let exact_factors: Vec<f64> = factors.iter().map(|&f| f as f64).collect();
        cases.push(OpCase::new(
            format!("scaled copies x{copies} of a {size}² image"),
            vec![image.clone()],
            on_both!([factors] | b, x | vec![b.scaled_copies(&x[0], &factors)?]),
            move |x| vec![exact::scaled_copies(&x[0], &exact_factors)],
        ));
        // The last patches of the grid, up to `copies` of them.
        let count = copies.min(grid * grid);
        let first = grid * grid - count;
        cases.push(OpCase::new(
            format!(
                "occluded copies of patches {first}..{} of a {size}² image in {patch}-pixel patches",
                first + count
            ),
            vec![image],
            on_both!(|b, x| vec![b.occluded_copies(&x[0], first, count, patch)?]),
            move |x| vec![exact::occluded_copies(&x[0], first, count, patch)],
        ));
    }
    for (shape, index) in [(vec![1, 5], 0), (vec![4, 3, 2, 5], 3), (vec![3, 7, 130], 1)] {
        let dims: Vec<usize> = vec![shape[1..].iter().product(), 1];
        cases.push(OpCase::new(
            format!("batch element {index} of {shape:?}, reshaped"),
            vec![random(1830 + index as u64, &shape, 1.0)],
            on_both!(
                [dims] | b,
                x | vec![b.batch_element(&x[0], index)?, b.reshape(&b.batch_element(&x[0], index)?, &dims)?]
            ),
            move |x| {
                let element = exact::batch_element(&x[0], index);
                vec![element.clone(), super::Exact::new(dims.clone(), element.data)]
            },
        ));
    }
    for &(rows, width) in &[(1, 1), (3, 512), (33, 700)] {
        let image = random(1800 + rows as u64, &[rows, width], 1.0);
        let text = random(1810 + rows as u64, &[width], 1.0);
        let total = random(1820 + rows as u64, &[width], 1.0);
        cases.push(OpCase::new(
            format!("sum over a batch of {rows}x{width}"),
            vec![image.clone(), total],
            on_both!(|b, x| vec![b.sum_batch(&x[0], false, None)?, b.sum_batch(&x[0], true, Some(&x[1]))?]),
            |x| vec![exact::sum_batch(&x[0], false, None), exact::sum_batch(&x[0], true, Some(&x[1]))],
        ));
        // The score's gradient is an output of the op; the VJP weighs each row's by its cotangent.
        cases.push(
            OpCase::new(
                format!("scaled cosine of {rows}x{width}"),
                vec![image, text],
                on_both!(|b, x| vec![b.scaled_cosine_with_gradients(&x[0], &x[1], MULTIPLIER)?.0]),
                |x| vec![exact::scaled_cosines(&x[0], &x[1], MULTIPLIER as f64)],
            )
            .vjp(
                &[0],
                &[0],
                on_both!(|b, x| vec![scale_rows(
                    b,
                    &b.scaled_cosine_with_gradients(&x[0], &x[1], MULTIPLIER)?.1,
                    &x[2]
                )?]),
            ),
        );
    }
    cases
}

/// Row r of m (R, E) times w[r] (R), on the host.
fn scale_rows<B: TensorStore>(b: &B, m: &B::Tensor, w: &B::Tensor) -> Result<B::Tensor> {
    let (m, w) = (b.download(m)?, b.download(w)?);
    let width = m.shape[1];
    let data = m.data.iter().enumerate().map(|(i, v)| v * w.data[i / width]).collect();
    b.upload(&HostTensor::new(data, m.shape))
}
