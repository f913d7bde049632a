//! One generated token of a LLaVA answer as a [`Subject`]: the explained score is that token's raw
//! logit at the position that predicts it (or its difference from a contrasting token's logit),
//! with the prompt and the tokens before it as input. One teacher-forced forward pass over the
//! whole answer serves every token (a causal decoder's rows up to a position do not see what
//! follows it), and the tokens' backward passes run as batches, not one forward pass each.

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::explain::subject::{
    AttentionReadout, AttentionStack, ExplainedImage, GradcamLayer, Subject, TensorOf, TokenGradients,
    VisionContinuation,
};
use crate::explain::timings::Timings;
use crate::model::{ExplainedLogit, LlavaModel, Recording, SequenceGrads, SequencePass};
use std::cell::RefCell;
use std::ops::Range;
use std::rc::Rc;

/// The answer's teacher-forced pass and its tokens' gradients, shared by the tokens' subjects.
pub(crate) struct AnswerPass<'m, B: Backend> {
    backend: &'m B,
    model: &'m LlavaModel<B::Tensor>,
    image: ExplainedImage<B::Tensor>,
    /// Prompt and answer ids (the last answer token, which predicts nothing explained, left out).
    ids: Vec<u32>,
    image_positions: Vec<u32>,
    /// The image tokens that are patches (all, or all but the class token), contiguous.
    patch_positions: Range<usize>,
    pass: SequencePass<B::Tensor>,
    /// The explained scores, in order.
    tokens: Vec<ExplainedLogit>,
    /// Their values in the teacher-forced pass.
    scores: Vec<f32>,
    batch_budget_bytes: usize,
    /// The last batch of backward passes: its first token and its gradients.
    batch: RefCell<Option<(usize, Rc<SequenceGrads<B::Tensor>>)>>,
}

impl<'m, B: Backend> AnswerPass<'m, B> {
    /// The forward pass of `ids` with the image, recording what `recording` asks for, and the
    /// values of the explained scores.
    #[allow(clippy::too_many_arguments)]
    pub async fn new(
        backend: &'m B,
        model: &'m LlavaModel<B::Tensor>,
        image: ExplainedImage<B::Tensor>,
        ids: Vec<u32>,
        image_positions: &[usize],
        tokens: Vec<ExplainedLogit>,
        recording: Recording,
        batch_budget_bytes: usize,
        timings: &Timings,
    ) -> Result<AnswerPass<'m, B>> {
        let positions: Vec<u32> = image_positions.iter().map(|&p| p as u32).collect();
        let pass = model.forward(backend, &image.on_device, &ids, &positions, recording)?;
        let mut scores = Vec::with_capacity(tokens.len());
        for score in model.token_scores(backend, &pass, &tokens)? {
            scores.push(timings.read(backend, &score).await?.data[0]);
        }
        let first = image_positions.first().copied().unwrap_or(0);
        let patches = model.patch_tokens();
        let patch_start = first + image_positions.len() - patches;
        Ok(AnswerPass {
            backend,
            model,
            image,
            ids,
            image_positions: positions,
            patch_positions: patch_start..patch_start + patches,
            pass,
            tokens,
            scores,
            batch_budget_bytes,
            batch: RefCell::new(None),
        })
    }

    pub fn ids(&self) -> &[u32] {
        &self.ids
    }

    fn is_image_position(&self, position: usize) -> bool {
        self.image_positions.binary_search(&(position as u32)).is_ok()
    }

    /// Tokens per batch of backward passes: what the activation budget holds beside the pass.
    fn tokens_per_batch(&self) -> usize {
        self.model.seeds_per_batch(self.ids.len(), self.batch_budget_bytes, self.backend.max_tensor_bytes())
    }

    /// The gradients of the batch holding token `index` and its place in that batch, computing
    /// the batch when it is not the one kept.
    fn batch_of(&self, index: usize) -> Result<(usize, Rc<SequenceGrads<B::Tensor>>)> {
        let size = self.tokens_per_batch();
        let first = index - index % size;
        if let Some((kept, grads)) = self.batch.borrow().as_ref() {
            if *kept == first {
                return Ok((index - first, grads.clone()));
            }
        }
        // The kept batch's memory returns before the next one is made.
        self.batch.borrow_mut().take();
        let last = (first + size).min(self.tokens.len());
        let grads = Rc::new(self.model.token_gradients(
            self.backend,
            &self.pass,
            &self.image_positions,
            &self.tokens[first..last],
        )?);
        *self.batch.borrow_mut() = Some((first, grads.clone()));
        Ok((index - first, grads))
    }
}

pub(crate) struct TokenSubject<'a, 'm, B: Backend> {
    answer: &'a AnswerPass<'m, B>,
    /// Which of the answer's explained tokens.
    index: usize,
}

/// One token's gradients, taken out of its batch.
pub(crate) struct TokenGrads<T> {
    d_pixels: T,
    d_token_embeddings: T,
    d_probs: Vec<T>,
    d_vision_probs: Vec<T>,
}

impl<'a, 'm, B: Backend> TokenSubject<'a, 'm, B> {
    pub fn new(answer: &'a AnswerPass<'m, B>, index: usize) -> Self {
        TokenSubject { answer, index }
    }

    fn token(&self) -> &ExplainedLogit {
        &self.answer.tokens[self.index]
    }

    /// The text positions this token's score reads: every position up to the predicting one
    /// that is not an image token.
    pub fn text_positions(&self) -> Vec<usize> {
        (0..=self.token().position).filter(|&p| !self.answer.is_image_position(p)).collect()
    }
}

impl<B: Backend> Subject for TokenSubject<'_, '_, B> {
    type Backend = B;
    type Pass = ();
    type Grads = TokenGrads<B::Tensor>;

    fn backend(&self) -> &B {
        self.answer.backend
    }

    fn image(&self) -> &ExplainedImage<B::Tensor> {
        &self.answer.image
    }

    /// The answer's pass is already there: every token's forward is that one pass.
    async fn forward(&self, _recording: Recording, _timings: &Timings) -> Result<()> {
        Ok(())
    }

    fn score(&self, _pass: &()) -> f32 {
        self.answer.scores[self.index]
    }

    async fn backward(&self, _pass: &(), _timings: &Timings) -> Result<TokenGrads<B::Tensor>> {
        let (element, batch) = self.answer.batch_of(self.index)?;
        let backend = self.answer.backend;
        let take = |tensors: &[B::Tensor]| -> Result<Vec<B::Tensor>> {
            tensors.iter().map(|t| backend.batch_element(t, element)).collect()
        };
        Ok(TokenGrads {
            d_pixels: backend.batch_element(&batch.d_pixels, element)?,
            d_token_embeddings: backend.batch_element(&batch.d_token_embeddings, element)?,
            d_probs: take(&batch.decoder.d_probs)?,
            d_vision_probs: take(&batch.vision.encoder.d_probs)?,
        })
    }

    fn stacks<'s>(
        &'s self,
        _pass: &'s (),
        grads: Option<&'s TokenGrads<B::Tensor>>,
    ) -> Result<Vec<AttentionStack<'s, B::Tensor>>> {
        let answer = self.answer;
        Ok(vec![AttentionStack {
            probs: answer.pass.decoder.layers.iter().map(|layer| &layer.probs).collect(),
            grads: grads.map(|g| g.d_probs.iter().collect()),
            row: self.token().position,
            patch_positions: answer.patch_positions.clone(),
            text_positions: self.text_positions(),
            readout: AttentionReadout::MeanOverLayers,
        }])
    }

    fn pixel_gradient<'s>(&'s self, grads: &'s TokenGrads<B::Tensor>) -> &'s B::Tensor {
        &grads.d_pixels
    }

    fn token_gradients<'s>(
        &'s self,
        _pass: &'s (),
        grads: &'s TokenGrads<B::Tensor>,
    ) -> Option<TokenGradients<'s, B::Tensor>> {
        Some(TokenGradients {
            gradient: &grads.d_token_embeddings,
            embeddings: &self.answer.pass.token_embeddings,
            positions: self.text_positions(),
        })
    }

    fn gradcam_layer<'s>(
        &'s self,
        _pass: &'s (),
        _grads: &'s TokenGrads<B::Tensor>,
    ) -> Option<GradcamLayer<'s, B::Tensor>> {
        None
    }

    fn vision_continuation<'s>(
        &'s self,
        _pass: &'s (),
        grads: &'s TokenGrads<B::Tensor>,
    ) -> Option<VisionContinuation<'s, B::Tensor>> {
        let answer = self.answer;
        let vision = &answer.pass.image.vision.encoder;
        let patches = answer.model.patch_tokens();
        // The `default` strategy dropped the class token (image token i is vision token i + 1);
        // `full` kept it (image token i is vision token i).
        let class_token_kept = answer.image_positions.len() > patches;
        Some(VisionContinuation {
            probs: vision.layers.iter().filter_map(|layer| layer.probs.as_ref()).collect(),
            grads: grads.d_vision_probs.iter().collect(),
            sources: answer
                .image_positions
                .iter()
                .enumerate()
                .map(|(i, &position)| (position as usize, if class_token_kept { i } else { i + 1 }))
                .collect(),
            patch_tokens: 1..patches + 1,
        })
    }

    fn image_token_scores(&self, _pass: &()) -> Option<Result<TensorOf<B>>> {
        let answer = self.answer;
        let token = self.token();
        if token.contrast.is_some() {
            return Some(Err(Error::InvalidOption(
                "token_activation reads one token's logit and has no contrast form; leave out the contrast".into(),
            )));
        }
        Some(answer.model.scores_at(answer.backend, &answer.pass, &answer.patch_positions, token))
    }

    fn batch_input_gradients(&self, inputs: &TensorOf<B>) -> Result<TensorOf<B>> {
        let answer = self.answer;
        answer.model.input_gradients(answer.backend, inputs, &answer.ids, &answer.image_positions, self.token())
    }

    fn batch_scores(&self, inputs: &TensorOf<B>) -> Result<TensorOf<B>> {
        let answer = self.answer;
        answer.model.input_scores(answer.backend, inputs, &answer.ids, &answer.image_positions, self.token())
    }

    fn batch_size(&self, recording: Recording) -> usize {
        let answer = self.answer;
        answer.model.sequences_per_batch(
            answer.ids.len(),
            recording,
            answer.batch_budget_bytes,
            answer.backend.max_tensor_bytes(),
        )
    }
}
