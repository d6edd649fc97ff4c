//! `fak serve` in-kernel mode with a GGUF file as its model: Gemma 3 270M answers over real
//! HTTP with the text the models crate generates from the same file.

mod support;

use std::sync::Arc;

use fak_backends::CpuBackend;
use fak_gateway::{InKernelOptions, InKernelSource};
use fak_models::{
    Chat, ChatTemplate, GenerateOptions, Model, SamplingParams, SequenceKv, StopTokens, Tokenizer,
    generate,
};
use serde_json::{Value, json};
use support::{Setup, client, start_source};

/// Positions the server is opened for: Gemma's own 32768 would not fit the default KV budget.
const CONTEXT: usize = 1024;
const MAX_TOKENS: usize = 16;

#[tokio::test]
async fn a_gguf_model_is_served_in_kernel_with_the_models_crate_s_greedy_text() {
    let Some(path) = fak_models::gguf::gemma3_for_tests() else {
        return;
    };
    let options = InKernelOptions {
        dir: path.clone(),
        name: None,
        context: Some(CONTEXT),
        kv_budget_bytes: None,
    };
    let source = InKernelSource::open(Arc::new(CpuBackend::new()), &options).unwrap();
    let gw = start_source(Arc::new(source), &Setup::new(String::new())).await;

    let models: Value = client()
        .get(gw.url("/v1/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = &models["data"][0];
    assert_eq!(
        listed["id"], "gemma-3-270m-q4_k_m",
        "named after the file: {models}"
    );
    assert_eq!(listed["fak"]["architecture"], "Gemma3ForCausalLM");
    assert_eq!(listed["fak"]["test_model"], false);

    let question = "Name the three primary colors.";
    let body = json!({"model": "gemma-3-270m-q4_k_m", "max_tokens": MAX_TOKENS, "temperature": 0,
                      "messages": [{"role": "user", "content": question}]});
    let response = client()
        .post(gw.url("/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let answer: Value = response.json().await.unwrap();

    // The same conversation through the models crate alone, from the same file.
    let text = ChatTemplate::from_dir(&path)
        .unwrap()
        .render(&Chat::user(question))
        .unwrap();
    let tokenizer = Tokenizer::from_dir(&path).unwrap();
    let prompt = tokenizer.encode(&text, false).unwrap();
    let model = Model::load(Arc::new(CpuBackend::new()), &path, Some(CONTEXT)).unwrap();
    let mut kv = SequenceKv::new(&**model.backend(), model.config(), CONTEXT).unwrap();
    let options = GenerateOptions {
        max_tokens: MAX_TOKENS,
        sampling: SamplingParams::GREEDY,
        ..GenerateOptions::default()
    };
    let stop = StopTokens::from_dir(&path).unwrap();
    let out = generate(&model, &mut kv, &prompt, &stop, &options, |_| {
        Ok::<_, fak_models::ModelError>(())
    })
    .unwrap();
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        tokenizer.decode(&out.tokens, true).unwrap()
    );
    assert_eq!(answer["usage"]["prompt_tokens"], prompt.len());
    assert_eq!(answer["usage"]["completion_tokens"], out.tokens.len());
}
