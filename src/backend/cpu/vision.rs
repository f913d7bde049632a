//! The ViT embedding ops on the CPU: the patch convolution as im2col + one product, and its
//! col2im backward.

use super::{tensor, with_values, CpuBackend};
use crate::backend::shapes::tokens_shape;
use crate::backend::{patch_embed_backward_geometry, patch_embed_geometry, VisionOps};
use crate::error::{Error, Result};
use candle_core::Tensor;

impl VisionOps for CpuBackend {
    fn patch_embed(&self, pixels: &Tensor, w: &Tensor, patch: usize) -> Result<Tensor> {
        let [batch, channels, size, hidden] = patch_embed_geometry(pixels.dims(), w.dims(), patch)?;
        let side = size / patch;
        let patch_len = channels * patch * patch;
        let patches = with_values(pixels, |px| {
            let mut out = vec![0f32; batch * side * side * patch_len];
            for b in 0..batch {
                for (n, chunk) in out[b * side * side * patch_len..(b + 1) * side * side * patch_len]
                    .chunks_exact_mut(patch_len)
                    .enumerate()
                {
                    let (row, col) = (n / side, n % side);
                    for c in 0..channels {
                        for ky in 0..patch {
                            let src = ((b * channels + c) * size + row * patch + ky) * size + col * patch;
                            let dst = (c * patch + ky) * patch;
                            chunk[dst..dst + patch].copy_from_slice(&px[src..src + patch]);
                        }
                    }
                }
            }
            out
        })?;
        let patches = tensor(patches, &[batch * side * side, patch_len])?;
        let w = w.reshape((hidden, patch_len))?;
        Ok(patches.matmul(&w.t()?)?.reshape((batch, side * side, hidden))?)
    }

    fn patch_embed_backward(&self, d_patches: &Tensor, w: &Tensor, patch: usize, image_size: usize) -> Result<Tensor> {
        let [batch, patches, hidden, channels] =
            patch_embed_backward_geometry(d_patches.dims(), w.dims(), patch, image_size)?;
        let patch_len = channels * patch * patch;
        let side = image_size / patch;
        let d_flat = d_patches.reshape((batch * patches, hidden))?.matmul(&w.reshape((hidden, patch_len))?)?;
        let out = with_values(&d_flat, |d| {
            let mut px = vec![0f32; batch * channels * image_size * image_size];
            for b in 0..batch {
                for n in 0..patches {
                    let chunk = &d[(b * patches + n) * patch_len..(b * patches + n + 1) * patch_len];
                    let (row, col) = (n / side, n % side);
                    for c in 0..channels {
                        for ky in 0..patch {
                            let dst = ((b * channels + c) * image_size + row * patch + ky) * image_size + col * patch;
                            let src = (c * patch + ky) * patch;
                            px[dst..dst + patch].copy_from_slice(&chunk[src..src + patch]);
                        }
                    }
                }
            }
            px
        })?;
        tensor(out, &[batch, channels, image_size, image_size])
    }

    fn prepend_class(&self, patches: &Tensor, class: &Tensor) -> Result<Tensor> {
        let (batch, _, hidden) = tokens_shape("prepend class", patches.dims())?;
        if class.elem_count() != hidden {
            return Err(Error::Internal(format!("prepend class: class {:?} vs hidden {hidden}", class.dims())));
        }
        let class = class.reshape((1, 1, hidden))?.broadcast_as((batch, 1, hidden))?;
        Ok(Tensor::cat(&[&class, patches], 1)?)
    }

    fn add_positions(&self, x: &Tensor, positions: &Tensor) -> Result<Tensor> {
        let (_, tokens, hidden) = tokens_shape("add positions", x.dims())?;
        if positions.dims().len() != 2 || positions.dims()[1] != hidden || positions.dims()[0] < tokens {
            return Err(Error::Internal(format!(
                "add positions: table {:?} cannot cover {tokens} tokens of width {hidden}",
                positions.dims()
            )));
        }
        Ok(x.broadcast_add(&positions.narrow(0, 0, tokens)?)?)
    }

    fn drop_first_token(&self, x: &Tensor) -> Result<Tensor> {
        let (_, tokens, _) = tokens_shape("drop first token", x.dims())?;
        if tokens == 0 {
            return Err(Error::Internal("drop first token: there are no tokens".into()));
        }
        Ok(x.narrow(1, 1, tokens - 1)?.contiguous()?)
    }
}
