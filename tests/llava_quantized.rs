//! Quantized LLaVA copies: `quantize_model` of a LLaVA folder keeps the tensors under their
//! Hugging Face names and the processor, generation and chat-template files in the metadata, and
//! each format's model generates and explains (gradients through the quantized weights) as the
//! model of its own dequantized weights does.

mod common;

use common::{assert_close, fixture};
use safetensors::tensor::{Dtype, TensorView};
use sightline::backend::cpu::CpuBackend;
use sightline::explain::{GenerateRequest, Generation, GenerativeExplainer, ImageInput, Method, MethodOptions};
use sightline::generate::SamplingOptions;
use sightline::loader::{ModelFiles, Weights};
use sightline::quantize::{quantize_model, QuantFormat, QuantizeOptions};

/// The quantized products expand chunks of the same values and multiply in f32: only the order of
/// floating-point sums differs from the dequantized model.
const TOLERANCE: f32 = 1e-4;

fn original() -> ModelFiles {
    ModelFiles::from_path(&fixture("llava-random-a")).unwrap()
}

fn quantized(files: &ModelFiles, format: QuantFormat) -> ModelFiles {
    let model = quantize_model(files, &QuantizeOptions { format, quantize_embeddings: false }).unwrap();
    ModelFiles::from_gguf_bytes(format!("llava-random-a {}", format.name()), model.bytes).unwrap()
}

/// The same tensors in f32 safetensors, quantized ones expanded.
fn dequantized(files: &ModelFiles) -> ModelFiles {
    let weights = Weights::from_files(&files.weights).unwrap();
    let tensors: Vec<(String, Vec<usize>, Vec<u8>)> = weights
        .tensor_shapes()
        .into_iter()
        .map(|(name, shape)| {
            let values = weights.get(&name, &shape).unwrap().data;
            (name, shape, values.iter().flat_map(|v| v.to_le_bytes()).collect())
        })
        .collect();
    let views: Vec<(String, TensorView)> =
        tensors.iter().map(|(n, s, d)| (n.clone(), TensorView::new(Dtype::F32, s.clone(), d).unwrap())).collect();
    ModelFiles { weights: safetensors::serialize(views, None).unwrap().into(), ..files.clone() }
}

fn generate(files: &ModelFiles, method: Method) -> Generation {
    let explainer = GenerativeExplainer::load(CpuBackend, files).unwrap();
    let image = std::fs::read(fixture("llava-random-a/image.png")).unwrap();
    let request = GenerateRequest {
        image: ImageInput::Encoded(&image),
        prompt: "Which shape is red — the star or the ring?",
        max_tokens: 4,
        sampling: SamplingOptions::default(),
        method: Some(method),
        options: MethodOptions { steps: 4, ..MethodOptions::default() },
        token: None,
        contrast: None,
        answer: None,
    };
    explainer.generate(&request, &mut |_| true).unwrap()
}

#[test]
fn the_gguf_carries_every_file_a_llava_folder_has() {
    let files = original();
    let copy = quantized(&files, QuantFormat::Q8_0);
    assert_eq!(copy.config_json, files.config_json);
    assert_eq!(copy.tokenizer_json, files.tokenizer_json);
    let (a, b) = (&copy.generative, &files.generative);
    assert!(b.processor_json.is_some() && b.chat_template_jinja.is_some() && b.generation_config_json.is_some());
    assert_eq!(a.processor_json, b.processor_json);
    assert_eq!(a.chat_template_jinja, b.chat_template_jinja);
    assert_eq!(a.generation_config_json, b.generation_config_json);
    assert_eq!(a.tokenizer_config_json, b.tokenizer_config_json);
    let names = |files: &ModelFiles| -> Vec<String> {
        Weights::from_files(&files.weights).unwrap().tensor_shapes().into_iter().map(|(n, _)| n).collect()
    };
    assert_eq!(names(&copy), names(&files), "the tensors keep their Hugging Face names");
}

#[test]
fn every_format_generates_and_explains_as_its_dequantized_weights_do() {
    let files = original();
    let full = generate(&files, Method::Gradient);
    for format in [QuantFormat::Q8_0, QuantFormat::Q4_0, QuantFormat::Q4K, QuantFormat::F16] {
        let copy = quantized(&files, format);
        let reference = dequantized(&copy);
        for method in [Method::Gradient, Method::Chefer, Method::CheferVision, Method::TokenActivation] {
            let (a, b) = (generate(&copy, method), generate(&reference, method));
            let what = format!("{} {method}", format.name());
            let ids = |g: &Generation| g.tokens.iter().map(|t| t.token.id).collect::<Vec<_>>();
            assert_eq!(ids(&a), ids(&b), "{what}: answers");
            assert_eq!(a.model.dtype, format.name());
            for (ta, tb) in a.tokens.iter().zip(&b.tokens) {
                assert_close(&format!("{what} logit"), &[ta.token.logit], &[tb.token.logit], TOLERANCE);
                let (pa, pb) = (ta.patch_scores.as_ref().unwrap(), tb.patch_scores.as_ref().unwrap());
                assert_close(&format!("{what} patch_scores"), pa, pb, TOLERANCE);
                if let (Some(sa), Some(sb)) = (&ta.text_scores, &tb.text_scores) {
                    assert_close(&format!("{what} text_scores"), sa, sb, TOLERANCE);
                }
            }
        }
        if format == QuantFormat::Q8_0 {
            let ids = |g: &Generation| g.tokens.iter().map(|t| t.token.id).collect::<Vec<_>>();
            assert_eq!(ids(&generate(&copy, Method::Gradient)), ids(&full), "q8_0 gives the original's answer");
        }
    }
}

#[test]
fn answer_drift_of_a_model_against_itself_is_none_and_against_q8_0_is_measured() {
    use sightline::eval::{answer_drift, EvalSettings};
    let files = original();
    let settings = EvalSettings {
        scenes: 2,
        methods: vec![Method::Gradient, Method::Chefer],
        steps: 4,
        ..EvalSettings::default()
    };
    let model = GenerativeExplainer::load(CpuBackend, &files).unwrap();
    let same =
        answer_drift(&model, &GenerativeExplainer::load(CpuBackend, &files).unwrap(), &settings, |_, _| {}).unwrap();
    assert_eq!(same.questions, 4, "two scenes, two questions each");
    assert_eq!(same.answer_agreement, 1.0);
    for row in &same.rows {
        assert_eq!((row.mean_spearman, row.min_spearman, row.top_patch_agreement), (1.0, 1.0, 1.0), "{:?}", row.method);
    }
    let copy = GenerativeExplainer::load(CpuBackend, &quantized(&files, QuantFormat::Q8_0)).unwrap();
    let drifted = answer_drift(&model, &copy, &settings, |_, _| {}).unwrap();
    assert_eq!(drifted.dtype_b, "q8_0");
    for row in &drifted.rows {
        assert!(row.mean_spearman > 0.8 && row.mean_spearman < 1.0, "{:?}: ρ {}", row.method, row.mean_spearman);
    }
    assert!(drifted.to_markdown().contains("| chefer |"));
}
