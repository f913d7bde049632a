//! The batched methods' inputs, sums and scores on the CPU.

use super::{tensor, with_values, CpuBackend};
use crate::backend::cosine::scaled_cosine_with_gradients;
use crate::backend::{batch_element_size, copies_shape, occlusion_geometry, patch_spans, BatchOps, ScoreOps};
use crate::error::{Error, Result};
use candle_core::Tensor;

impl BatchOps for CpuBackend {
    fn scaled_copies(&self, x: &Tensor, factors: &[f32]) -> Result<Tensor> {
        let shape = copies_shape(x.dims(), factors.len(), "scaled copies")?;
        let values = with_values(x, |v| factors.iter().flat_map(|f| v.iter().map(move |x| f * x)).collect())?;
        tensor(values, &shape)
    }

    fn occluded_copies(&self, x: &Tensor, first: usize, count: usize, patch: usize) -> Result<Tensor> {
        let (size, grid) = occlusion_geometry(x.dims(), first, count, patch)?;
        let values = with_values(x, |v| {
            let mut all = Vec::with_capacity(count * v.len());
            for index in first..first + count {
                let mut copy = v.to_vec();
                for span in patch_spans(size, patch, grid, index) {
                    copy[span].fill(0.0);
                }
                all.extend(copy);
            }
            all
        })?;
        tensor(values, &copies_shape(x.dims(), count, "occluded copies")?)
    }

    fn batch_element(&self, x: &Tensor, index: usize) -> Result<Tensor> {
        batch_element_size(x.dims(), index)?;
        Ok(x.narrow(0, index, 1)?.contiguous()?)
    }

    fn sum_batch(&self, x: &Tensor, absolute: bool, total: Option<&Tensor>) -> Result<Tensor> {
        let Some((_, rest)) = x.dims().split_first() else {
            return Err(Error::Internal("sum over the batch: a tensor without dimensions".into()));
        };
        let count: usize = rest.iter().product();
        let mut sum = match total {
            Some(t) if t.elem_count() == count => with_values(t, <[f32]>::to_vec)?,
            Some(t) => {
                return Err(Error::Internal(format!("sum over the batch: total {:?} for {:?}", t.dims(), x.dims())))
            }
            None => vec![0f32; count],
        };
        with_values(x, |v| {
            for item in v.chunks_exact(count.max(1)) {
                for (s, value) in sum.iter_mut().zip(item) {
                    *s += if absolute { value.abs() } else { *value };
                }
            }
        })?;
        tensor(sum, rest)
    }
}

impl ScoreOps for CpuBackend {
    fn scaled_cosine_with_gradients(&self, image: &Tensor, text: &Tensor, multiplier: f32) -> Result<(Tensor, Tensor)> {
        let (rows, width) = image.dims2()?;
        let text = with_values(text, <[f32]>::to_vec)?;
        if text.len() != width {
            return Err(Error::Internal(format!("scaled cosine: image {:?} vs text of {}", image.dims(), text.len())));
        }
        let (scores, gradients): (Vec<f32>, Vec<Vec<f32>>) = with_values(image, |v| {
            v.chunks_exact(width.max(1))
                .map(|u| {
                    let s = scaled_cosine_with_gradients(multiplier, u, &text);
                    (s.score, s.d_image)
                })
                .unzip()
        })?;
        Ok((tensor(scores, &[rows])?, tensor(gradients.concat(), &[rows, width])?))
    }
}
