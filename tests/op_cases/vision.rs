//! Cases of the ViT embedding ops: the patch convolution, the class token, learned positions
//! and dropping the first token. Each VJP is the vocabulary's own expression of it.

use super::reference as exact;
use super::{random, zeros, OpCase};
use sightline::backend::prelude::*;

pub fn cases() -> Vec<OpCase> {
    let mut cases = Vec::new();
    // (batch, channels, image side, patch, hidden): sides that leave pixels beyond the last patch.
    for (i, &(batch, channels, size, patch, hidden)) in
        [(1, 3, 4, 4, 5), (2, 3, 10, 3, 7), (1, 1, 9, 2, 70), (3, 3, 32, 8, 64)].iter().enumerate()
    {
        let seed = 1500 + 10 * i as u64;
        let pixels = random(seed, &[batch, channels, size, size], 1.0);
        let w = random(seed + 1, &[hidden, channels, patch, patch], 0.3);
        cases.push(
            OpCase::new(
                format!("patch embed {size}/{patch} x{channels} -> {hidden}"),
                vec![pixels, w],
                on_both!(|b, x| vec![b.patch_embed(&x[0], &x[1], patch)?]),
                move |x| vec![exact::patch_embed(&x[0], &x[1], patch)],
            )
            .vjp(&[0], &[0], on_both!(|b, x| vec![b.patch_embed_backward(&x[2], &x[1], patch, size)?])),
        );
    }
    for (i, &(batch, tokens, hidden)) in [(1, 1, 1), (1, 2, 3), (4, 50, 33)].iter().enumerate() {
        let seed = 1600 + 10 * i as u64;
        let x = random(seed, &[batch, tokens, hidden], 1.0);
        let class = random(seed + 1, &[hidden], 1.0);
        let positions = random(seed + 2, &[tokens + 3, hidden], 1.0);
        let name = format!("{batch}x{tokens}x{hidden}");
        cases.push(
            OpCase::new(
                format!("prepend class {name}"),
                vec![x.clone(), class],
                on_both!(|b, x| vec![b.prepend_class(&x[0], &x[1])?]),
                |x| vec![exact::prepend_class(&x[0], &x[1])],
            )
            .vjp(
                &[0, 1],
                &[0],
                on_both!(|b, x| vec![
                    b.drop_first_token(&x[2])?,
                    b.sum_batch(&b.select_token(&x[2], 0)?, false, None)?
                ]),
            ),
        );
        cases.push(
            OpCase::new(
                format!("add positions {name}"),
                vec![x.clone(), positions],
                on_both!(|b, x| vec![b.add_positions(&x[0], &x[1])?]),
                |x| vec![exact::add_positions(&x[0], &x[1])],
            )
            .vjp(&[0], &[0], on_both!(|_b, x| vec![x[2].clone()])),
        );
        cases.push(
            OpCase::new(
                format!("drop first token {name}"),
                vec![x],
                on_both!(|b, x| vec![b.drop_first_token(&x[0])?]),
                |x| vec![exact::drop_first_token(&x[0])],
            )
            .vjp(&[0], &[0], on_both!(|b, x| vec![b.prepend_class(&x[1], &zeros(b, &[hidden])?)?])),
        );
    }
    cases
}
