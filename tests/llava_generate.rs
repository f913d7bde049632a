//! LLaVA generation and the explanation of every generated token against transformers + PyTorch
//! in float64 (tests/fixtures/llava-random-{a,b,c}, from tools/make_llava_fixtures.py): the greedy
//! answer's ids, logits and probabilities, every method's maps for every token (and the contrast
//! of a token with its runner-up) within 2e-3; the cached generation equal to recomputing the
//! whole sequence; WebGPU equal to the CPU; and the requests a generation refuses.

mod common;

use common::webgpu::webgpu_or_skip;
use common::{assert_close, fixture, floats, read_json};
use serde_json::Value;
use sightline::backend::cpu::CpuBackend;
use sightline::backend::Backend;
use sightline::explain::{
    ContrastToken, GenerateRequest, Generation, GenerativeExplainer, ImageInput, Method, MethodOptions,
};
use sightline::generate::SamplingOptions;
use sightline::loader::ModelFiles;

/// Maps against the float64 reference, as for CLIP (tests/parity.rs).
const MAP_TOLERANCE: f32 = 2e-3;
/// Logits and probabilities of an f32 forward against float64.
const LOGIT_TOLERANCE: f32 = 1e-4;
/// WebGPU against the CPU.
const DEVICE_TOLERANCE: f32 = 1e-4;

const FOLDERS: [&str; 3] = ["llava-random-a", "llava-random-b", "llava-random-c"];

struct Case<B: Backend = CpuBackend> {
    explainer: GenerativeExplainer<B>,
    expected: Value,
    image: Vec<u8>,
}

fn case(folder: &str) -> Case {
    case_on(CpuBackend, folder)
}

fn case_on<B: Backend>(backend: B, folder: &str) -> Case<B> {
    let dir = fixture(folder);
    let files = ModelFiles::from_path(&dir).unwrap();
    Case {
        explainer: GenerativeExplainer::load(backend, &files).unwrap(),
        expected: read_json(&dir.join("expected.json")),
        image: std::fs::read(dir.join("image.png")).unwrap(),
    }
}

fn options(expected: &Value) -> MethodOptions {
    MethodOptions {
        steps: expected["options"]["steps"].as_u64().unwrap() as usize,
        seed: expected["options"]["seed"].as_u64().unwrap(),
        ..MethodOptions::default()
    }
}

fn run<B: Backend>(
    explainer: &GenerativeExplainer<B>,
    expected: &Value,
    image: &[u8],
    method: Option<Method>,
    token: Option<usize>,
    contrast: Option<ContrastToken>,
) -> Generation {
    let request = GenerateRequest {
        image: ImageInput::Encoded(image),
        prompt: expected["prompt"].as_str().unwrap(),
        max_tokens: expected["max_new_tokens"].as_u64().unwrap() as usize,
        sampling: SamplingOptions::default(),
        method,
        options: options(expected),
        token,
        contrast,
        answer: None,
    };
    explainer.generate(&request, &mut |_| true).unwrap()
}

fn ids(value: &Value) -> Vec<u32> {
    value.as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect()
}

/// The patch map the engine reports (one per patch): the fixture's, without a kept class token's.
fn check_maps(what: &str, actual: &sightline::explain::AnswerToken, expected: &Value) {
    assert_close(
        &format!("{what} patch_scores"),
        actual.patch_scores.as_ref().unwrap(),
        &floats(&expected["patch_scores"]),
        MAP_TOLERANCE,
    );
    for (name, values) in [("text_scores", &actual.text_scores), ("pixel_scores", &actual.pixel_scores)] {
        match (values, expected.get(name)) {
            (Some(values), Some(reference)) => {
                assert_close(&format!("{what} {name}"), values, &floats(reference), MAP_TOLERANCE)
            }
            (None, None) => {}
            (values, reference) => panic!("{what}: {name} is {values:?} but the reference has {reference:?}"),
        }
    }
}

#[test]
fn prompts_and_greedy_answers_equal_transformers() {
    for folder in FOLDERS {
        let Case { explainer, expected, image } = case(folder);
        let mut streamed = Vec::new();
        let request = GenerateRequest {
            image: ImageInput::Encoded(&image),
            prompt: expected["prompt"].as_str().unwrap(),
            max_tokens: expected["max_new_tokens"].as_u64().unwrap() as usize,
            sampling: SamplingOptions::default(),
            method: None,
            options: MethodOptions::default(),
            token: None,
            contrast: None,
            answer: None,
        };
        let generation = explainer
            .generate(&request, &mut |token| {
                streamed.push(token.id);
                true
            })
            .unwrap();
        assert_eq!(generation.prompt, expected["formatted_prompt"].as_str().unwrap(), "{folder}");
        assert_eq!(generation.prompt_ids, ids(&expected["input_ids"]), "{folder}");
        let answer: Vec<u32> = generation.tokens.iter().map(|t| t.token.id).collect();
        assert_eq!(answer, ids(&expected["generated_ids"]), "{folder}: greedy ids");
        assert_eq!(streamed, answer, "{folder}: every token streamed, in order");
        assert_eq!(generation.answer, expected["generated_text"].as_str().unwrap(), "{folder}");
        let logits: Vec<f32> = generation.tokens.iter().map(|t| t.token.logit).collect();
        assert_close(&format!("{folder} logits"), &logits, &floats(&expected["generated_logits"]), LOGIT_TOLERANCE);
        let probs: Vec<f32> = generation.tokens.iter().map(|t| t.token.prob).collect();
        assert_close(&format!("{folder} probs"), &probs, &floats(&expected["generated_probs"]), LOGIT_TOLERANCE);
        for (token, top) in generation.tokens.iter().zip(expected["generated_top"].as_array().unwrap()) {
            let expected_ids: Vec<u32> =
                top.as_array().unwrap().iter().map(|c| c[0].as_u64().unwrap() as u32).collect();
            let got: Vec<u32> = token.token.top.iter().map(|c| c.id).collect();
            assert_eq!(got, expected_ids, "{folder}: candidates of token {}", token.token.index);
        }
    }
}

#[test]
fn the_cached_generation_equals_recomputing_the_whole_sequence() {
    for folder in FOLDERS {
        let Case { explainer, expected, image } = case(folder);
        let generation = run(&explainer, &expected, &image, None, None, None);
        let answer: Vec<u32> = generation.tokens.iter().map(|t| t.token.id).collect();
        let prompt = expected["prompt"].as_str().unwrap();
        let recomputed = explainer.teacher_forced_logits(ImageInput::Encoded(&image), prompt, &answer).unwrap();
        for (token, logits) in generation.tokens.iter().zip(&recomputed) {
            let id = token.token.id as usize;
            // The cached step's logit of its own token, and its top candidates' probabilities,
            // against one forward over the whole sequence: only the summation order differs.
            assert_close(
                &format!("{folder} token {} logit", token.token.index),
                &[token.token.logit],
                &[logits[id]],
                1e-5,
            );
            let top = sightline::generate::top_candidates(logits, token.token.top.len());
            let cached: Vec<f32> = token.token.top.iter().map(|c| c.prob).collect();
            let full: Vec<f32> = top.iter().map(|(_, p)| *p).collect();
            assert_close(&format!("{folder} token {} candidates", token.token.index), &cached, &full, 1e-5);
        }
    }
}

#[test]
fn every_method_explains_every_token_as_transformers_does() {
    for folder in FOLDERS {
        let Case { explainer, expected, image } = case(folder);
        let tokens = expected["tokens"].as_array().unwrap();
        for method in Method::GENERATIVE {
            let with_method: Vec<&Value> =
                tokens.iter().filter(|t| t["methods"].get(method.name()).is_some()).collect();
            assert!(!with_method.is_empty(), "{folder}: the reference has no {method}");
            // All tokens in one request where the reference has them all; else token by token.
            let generations: Vec<(usize, Generation)> = if with_method.len() == tokens.len() {
                vec![(usize::MAX, run(&explainer, &expected, &image, Some(method), None, None))]
            } else {
                with_method
                    .iter()
                    .map(|t| {
                        let k = t["index"].as_u64().unwrap() as usize;
                        (k, run(&explainer, &expected, &image, Some(method), Some(k), None))
                    })
                    .collect()
            };
            for (only, generation) in &generations {
                for token in &with_method {
                    let k = token["index"].as_u64().unwrap() as usize;
                    if *only != usize::MAX && *only != k {
                        continue;
                    }
                    let actual = &generation.tokens[k];
                    assert_eq!(actual.token.id as u64, token["id"].as_u64().unwrap());
                    check_maps(&format!("{folder} {method} token {k}"), actual, &token["methods"][method.name()]);
                }
            }
        }
    }
}

#[test]
fn a_contrast_with_the_runner_up_explains_the_difference_of_logits() {
    for folder in FOLDERS {
        let Case { explainer, expected, image } = case(folder);
        let k = expected["contrast"]["token"].as_u64().unwrap() as usize;
        let other = expected["contrast"]["id"].as_u64().unwrap() as u32;
        for (name, reference) in expected["contrast_methods"].as_object().unwrap() {
            let method: Method = name.parse().unwrap();
            let generation = run(&explainer, &expected, &image, Some(method), Some(k), Some(ContrastToken::Id(other)));
            let token = &generation.tokens[k];
            assert_eq!(token.contrast.as_ref().map(|c| c.id), Some(other));
            check_maps(&format!("{folder} {method} token {k} contrast"), token, reference);
            assert!(generation.tokens.iter().enumerate().all(|(i, t)| i == k || t.patch_scores.is_none()));
        }
    }
}

#[test]
fn webgpu_generates_and_explains_as_the_cpu_does() {
    let Some(gpu) = webgpu_or_skip("llava_generate") else { return };
    let folder = "llava-random-a";
    let Case { explainer: cpu, expected, image } = case(folder);
    let gpu = case_on(gpu, folder).explainer;
    for method in [
        Method::Attention,
        Method::Rollout,
        Method::Chefer,
        Method::CheferVision,
        Method::Gradient,
        Method::GradXInput,
        Method::IntegratedGradients,
        Method::TokenActivation,
    ] {
        let token = method.uses_gradients().then_some(2);
        let on_cpu = run(&cpu, &expected, &image, Some(method), token, None);
        let on_gpu = run(&gpu, &expected, &image, Some(method), token, None);
        let ids = |g: &Generation| g.tokens.iter().map(|t| t.token.id).collect::<Vec<_>>();
        assert_eq!(ids(&on_gpu), ids(&on_cpu), "{method}: the answers differ");
        assert_eq!(on_gpu.backend, "webgpu");
        for (g, c) in on_gpu.tokens.iter().zip(&on_cpu.tokens) {
            assert_close(&format!("{method} logit"), &[g.token.logit], &[c.token.logit], DEVICE_TOLERANCE);
            for (name, gv, cv) in [
                ("patch", &g.patch_scores, &c.patch_scores),
                ("text", &g.text_scores, &c.text_scores),
                ("pixel", &g.pixel_scores, &c.pixel_scores),
            ] {
                match (gv, cv) {
                    (Some(gv), Some(cv)) => assert_close(&format!("{method} {name}"), gv, cv, DEVICE_TOLERANCE),
                    (None, None) => {}
                    _ => panic!("{method}: {name} scores on one backend only"),
                }
            }
        }
    }
}

#[test]
fn requests_a_generation_cannot_serve_are_refused_with_reasons() {
    let Case { explainer, expected, image } = case("llava-random-a");
    let prompt = expected["prompt"].as_str().unwrap();
    let base = |method, token, contrast| GenerateRequest {
        image: ImageInput::Encoded(&image),
        prompt,
        max_tokens: 4,
        sampling: SamplingOptions::default(),
        method,
        options: MethodOptions::default(),
        token,
        contrast,
        answer: None,
    };
    let error = |request: GenerateRequest| explainer.generate(&request, &mut |_| true).unwrap_err().to_string();
    assert!(error(base(Some(Method::Gradcam), None, None)).contains("gradcam explains CLIP scores"));
    assert!(
        error(base(Some(Method::Gradient), Some(9), None)).contains("token 9 is out of range: the answer has 4 tokens")
    );
    assert!(error(base(Some(Method::Gradient), None, Some(ContrastToken::Id(3)))).contains("needs the answer token"));
    assert!(error(base(Some(Method::Gradient), Some(0), Some(ContrastToken::Id(1 << 30))))
        .contains("outside the vocabulary"));
    assert!(error(base(Some(Method::Gradient), Some(0), Some(ContrastToken::Text("two words"))))
        .contains("not one; use a single token"));
    assert!(
        error(base(Some(Method::TokenActivation), Some(0), Some(ContrastToken::Id(3)))).contains("no contrast form")
    );
    let mut long = base(None, None, None);
    long.max_tokens = 0;
    assert!(error(long).contains("max tokens must be between 1 and"));
    let sampled = GenerateRequest {
        sampling: SamplingOptions { temperature: Some(-1.0), ..SamplingOptions::default() },
        ..base(None, None, None)
    };
    assert!(error(sampled).contains("temperature must be positive"));
    let broken = GenerateRequest { image: ImageInput::Encoded(b"not an image"), ..base(None, None, None) };
    assert!(error(broken).contains("image"));
}

#[test]
fn sampling_with_a_seed_gives_one_answer_and_stopping_early_is_honoured() {
    let Case { explainer, expected, image } = case("llava-random-a");
    let request = |seed| GenerateRequest {
        image: ImageInput::Encoded(&image),
        prompt: expected["prompt"].as_str().unwrap(),
        max_tokens: 6,
        sampling: SamplingOptions { temperature: Some(1.5), top_k: Some(20), top_p: Some(0.9), seed },
        method: None,
        options: MethodOptions::default(),
        token: None,
        contrast: None,
        answer: None,
    };
    let answer = |seed| -> Vec<u32> {
        explainer.generate(&request(seed), &mut |_| true).unwrap().tokens.iter().map(|t| t.token.id).collect()
    };
    assert_eq!(answer(11), answer(11));
    let seeds_differ = (0..8).any(|seed| answer(seed) != answer(11));
    assert!(seeds_differ, "eight seeds all gave seed 11's answer");
    let mut seen = 0;
    let stopped = explainer
        .generate(&request(11), &mut |_| {
            seen += 1;
            seen < 2
        })
        .unwrap();
    assert_eq!(stopped.tokens.len(), 2);
}

fn cli(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_sightline")).args(args).output().unwrap()
}

#[test]
fn the_cli_streams_the_answer_and_writes_the_library_s_json_and_overlays() {
    let Case { explainer, expected, image } = case("llava-random-a");
    let folder = fixture("llava-random-a");
    let out = std::env::temp_dir().join(format!("sightline-generate-{}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    let prefix = out.join("token");
    let output = cli(&[
        "generate",
        "--model",
        folder.to_str().unwrap(),
        "--image",
        folder.join("image.png").to_str().unwrap(),
        "--prompt",
        expected["prompt"].as_str().unwrap(),
        "--max-tokens",
        "6",
        "--method",
        "chefer",
        "--json",
        "-",
        "--png",
        prefix.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let printed: Generation = serde_json::from_slice(&output.stdout).unwrap();
    let library = run(&explainer, &expected, &image, Some(Method::Chefer), None, None);
    assert_eq!(String::from_utf8_lossy(&output.stderr).trim_end(), library.answer, "the streamed answer");
    assert_eq!(printed.tokens.len(), library.tokens.len());
    for (cli, lib) in printed.tokens.iter().zip(&library.tokens) {
        assert_eq!(cli.token.id, lib.token.id);
        assert_eq!(cli.patch_scores, lib.patch_scores);
        assert_eq!(cli.text_scores, lib.text_scores);
        assert_eq!(cli.text_tokens.as_ref().map(Vec::len), cli.text_scores.as_ref().map(Vec::len));
        let png = std::fs::read(prefix.with_file_name(format!("token-{}.png", cli.token.index))).unwrap();
        assert!(png.starts_with(b"\x89PNG"));
    }
    std::fs::remove_dir_all(out).unwrap();
}

#[test]
fn each_command_names_the_other_for_the_other_family() {
    let llava = fixture("llava-random-a");
    let clip = fixture("clip-random-a");
    let image = llava.join("image.png");
    let explain = cli(&[
        "explain",
        "--model",
        llava.to_str().unwrap(),
        "--image",
        image.to_str().unwrap(),
        "--text",
        "a",
        "--method",
        "gradient",
    ]);
    assert!(!explain.status.success());
    assert!(String::from_utf8_lossy(&explain.stderr).contains("ask it a question with `sightline generate"));
    let generate =
        cli(&["generate", "--model", clip.to_str().unwrap(), "--image", image.to_str().unwrap(), "--prompt", "a"]);
    assert!(!generate.status.success());
    assert!(String::from_utf8_lossy(&generate.stderr).contains("use `sightline explain"));
}

#[test]
fn a_given_answer_is_explained_as_if_it_had_been_generated() {
    let Case { explainer, expected, image } = case("llava-random-a");
    let generated = run(&explainer, &expected, &image, Some(Method::Chefer), None, None);
    let ids: Vec<u32> = generated.tokens.iter().map(|t| t.token.id).collect();
    fn request<'a>(image: &'a [u8], expected: &'a Value, answer: Option<&'a [u32]>) -> GenerateRequest<'a> {
        GenerateRequest {
            image: ImageInput::Encoded(image),
            prompt: expected["prompt"].as_str().unwrap(),
            max_tokens: 1,
            sampling: SamplingOptions::default(),
            method: Some(Method::Chefer),
            options: options(expected),
            token: None,
            contrast: None,
            answer,
        }
    }
    let given = explainer.generate(&request(&image, &expected, Some(&ids)), &mut |_| true).unwrap();
    assert_eq!(given.answer, generated.answer);
    for (g, r) in given.tokens.iter().zip(&generated.tokens) {
        assert_eq!(g.token.id, r.token.id);
        assert_close("given answer logit", &[g.token.logit], &[r.token.logit], 1e-5);
        assert_close("given answer map", g.patch_scores.as_ref().unwrap(), r.patch_scores.as_ref().unwrap(), 1e-5);
    }
    // Any tokens, even ones the model would never pick, and past an end-of-sequence token.
    let eos = expected["eos_token_ids"][0].as_u64().unwrap() as u32;
    let odd = [eos, 7, 7, 300];
    let forced = explainer.generate(&request(&image, &expected, Some(&odd)), &mut |_| true).unwrap();
    assert_eq!(forced.tokens.iter().map(|t| t.token.id).collect::<Vec<_>>(), odd);
    assert!(forced.tokens.iter().all(|t| t.patch_scores.is_some()));
    let error = |answer: &[u32]| {
        explainer.generate(&request(&image, &expected, Some(answer)), &mut |_| true).unwrap_err().to_string()
    };
    assert!(error(&[]).contains("a given answer must have 1 to"));
    assert!(error(&[1 << 30]).contains("outside the vocabulary"));
    assert!(error(&vec![1; 100_000]).contains("a given answer must have 1 to"));
}
