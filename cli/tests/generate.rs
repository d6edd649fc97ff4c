//! `fak generate`, run for real on the committed test models.

use std::path::PathBuf;
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../data/fixtures/models")
        .join(name)
}

fn generate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fak"))
        .arg("generate")
        .args(args)
        .output()
        .expect("fak runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn generate_streams_the_transformers_greedy_text_to_stdout_and_speed_to_stderr() {
    // qwen3's first greedy reference: this prompt continues as "..." and then "ic" x 29
    // (reference.json, greedy.prompts[0].continuation_text).
    let model = fixture("qwen3");
    let out = generate(&[
        "--model",
        model.to_str().unwrap(),
        "--prompt",
        "A red fox closes the tide table again.",
        "--max-tokens",
        "32",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let want = format!("...{}\n", "ic".repeat(29));
    assert_eq!(text(&out.stdout), want);
    let stderr = text(&out.stderr);
    for line in [
        "prefill: 12 tokens",
        "decode:  31 tokens",
        "tokens/s",
        "32 tokens generated",
    ] {
        assert!(stderr.contains(line), "{line:?} missing from {stderr}");
    }
}

#[test]
fn generate_renders_a_chat_message_with_the_model_template() {
    let model = fixture("qwen2");
    let out = generate(&[
        "--model",
        model.to_str().unwrap(),
        "--chat",
        "What does the kernel check first?",
        "--max-tokens",
        "4",
        "--temperature",
        "0.7",
        "--top-p",
        "0.9",
        "--seed",
        "11",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The prompt is the template's render (default system turn, the user turn, the
    // assistant header), tokenized without added special tokens.
    let template = fak_models::ChatTemplate::from_dir(&model).unwrap();
    let rendered = template
        .render(&fak_models::Chat::user("What does the kernel check first?"))
        .unwrap();
    assert!(rendered.starts_with("<|im_start|>system\nYou are a careful assistant.<|im_end|>"));
    let tokens = fak_models::Tokenizer::from_dir(&model)
        .unwrap()
        .encode(&rendered, false)
        .unwrap()
        .len();
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("prefill: {tokens} tokens")),
        "{stderr}"
    );
}

#[test]
fn a_backend_this_build_lacks_is_an_error_listing_what_it_has() {
    let model = fixture("qwen2");
    let out = generate(&[
        "--model",
        model.to_str().unwrap(),
        "--prompt",
        "hi",
        "--backend",
        "cuda",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("cuda") && stderr.contains("compiled in: cpu"),
        "{stderr}"
    );
}

#[test]
fn an_empty_prompt_and_a_missing_model_are_errors() {
    let model = fixture("qwen2");
    let out = generate(&["--model", model.to_str().unwrap(), "--prompt", ""]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("the prompt is empty"),
        "{}",
        text(&out.stderr)
    );

    let out = generate(&["--model", "/nonexistent/model", "--prompt", "hi"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("/nonexistent/model/tokenizer.json: missing"),
        "{}",
        text(&out.stderr)
    );
}
