//! `fak serve` in-kernel mode over real HTTP: the committed qwen3 test model (random
//! weights, gibberish text) run by the models crate inside the gateway, its KV cache one
//! kernel store shared by every request.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use fak_backends::CpuBackend;
use fak_gateway::{InKernelOptions, InKernelSource};
use fak_models::{
    Chat, ChatTemplate, GenerateOptions, Model, SamplingParams, SequenceKv, StopTokens, Tokenizer,
    generate,
};
use serde_json::{Value, json};
use support::{Running, Setup, client, get_text, post_text, sse_data, start_source, stream_chunks};

const MODEL: &str = "qwen3";
/// Long enough (over two 32-token KV blocks once rendered) for prefix reuse to show.
const SYSTEM: &str = "You are the travel desk of a small agency. Answer in one short \
    paragraph, name the booking reference you are talking about, and never move money \
    without the customer's written confirmation. Fares are quoted in euros.";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/fixtures/models/qwen3")
}

fn options(dir: PathBuf) -> InKernelOptions {
    InKernelOptions {
        dir,
        name: None,
        context: None,
        kv_budget_bytes: None,
    }
}

async fn start() -> Running {
    let source = InKernelSource::open(Arc::new(CpuBackend::new()), &options(fixture())).unwrap();
    start_source(Arc::new(source), &Setup::new(String::new())).await
}

fn messages(user: &str) -> Value {
    json!([{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}])
}

fn greedy(user: &str, max_tokens: usize) -> Value {
    json!({"model": MODEL, "messages": messages(user), "max_tokens": max_tokens,
           "temperature": 0})
}

async fn post(gw: &Running, path: &str, body: &Value) -> (u16, Value) {
    let r = client().post(gw.url(path)).json(body).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// The prompt ids the checkpoint's template and tokenizer make of `messages`.
fn prompt_ids(messages: &Value) -> Vec<u32> {
    let dir = fixture();
    let chat = Chat::from_json(&messages.to_string()).unwrap();
    let text = ChatTemplate::from_dir(&dir).unwrap().render(&chat).unwrap();
    Tokenizer::from_dir(&dir)
        .unwrap()
        .encode(&text, false)
        .unwrap()
}

/// Greedy text straight from the models crate (its own KV cache, no gateway, no session).
fn reference_text(prompt: &[u32], max_tokens: usize) -> String {
    let dir = fixture();
    let model = Model::load(Arc::new(CpuBackend::new()), &dir, None).unwrap();
    let mut kv = SequenceKv::new(&**model.backend(), model.config(), model.context()).unwrap();
    let options = GenerateOptions {
        max_tokens,
        sampling: SamplingParams::GREEDY,
        ..GenerateOptions::default()
    };
    let stop = StopTokens::from_dir(&dir).unwrap();
    let out = generate(&model, &mut kv, prompt, &stop, &options, |_| {
        Ok::<_, fak_models::ModelError>(())
    })
    .unwrap();
    Tokenizer::from_dir(&dir)
        .unwrap()
        .decode(&out.tokens, true)
        .unwrap()
}

#[tokio::test]
async fn a_chat_completion_is_the_model_s_own_greedy_text_with_true_usage() {
    let gw = start().await;
    let (status, body) = post(&gw, "/v1/chat/completions", &greedy("Can I cancel?", 12)).await;
    assert_eq!(status, 200, "{body}");
    let prompt = prompt_ids(&messages("Can I cancel?"));
    let choice = &body["choices"][0];
    assert_eq!(choice["finish_reason"], "length");
    assert_eq!(
        choice["message"]["content"],
        reference_text(&prompt, 12),
        "the gateway's session-cached decode gives the models crate's text"
    );
    assert_eq!(body["model"], MODEL);
    assert_eq!(body["usage"]["prompt_tokens"], prompt.len());
    assert_eq!(body["usage"]["completion_tokens"], 12);
    assert_eq!(body["usage"]["total_tokens"], prompt.len() + 12);
    assert_eq!(body["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
    assert!(body["fak"]["decisions"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_streamed_answer_arrives_token_by_token_and_equals_the_whole_one() {
    let gw = start().await;
    let (_, whole) = post(
        &gw,
        "/v1/chat/completions",
        &greedy("Is breakfast included?", 16),
    )
    .await;
    let mut request = greedy("Is breakfast included?", 16);
    request["stream"] = json!(true);
    request["stream_options"] = json!({"include_usage": true});
    let chunks = stream_chunks(&gw.url("/v1/chat/completions"), &request).await;
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let pieces: Vec<&str> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .filter(|t| !t.is_empty())
        .collect();
    assert!(pieces.len() > 1, "text comes in pieces as tokens decode");
    assert_eq!(pieces.concat(), whole["choices"][0]["message"]["content"]);
    let finish = chunks
        .iter()
        .find(|c| !c["choices"][0]["finish_reason"].is_null())
        .unwrap();
    assert_eq!(finish["choices"][0]["finish_reason"], "length");
    assert!(finish["fak"]["decisions"].is_array());
    let usage = &chunks.last().unwrap()["usage"];
    assert_eq!(usage["prompt_tokens"], whole["usage"]["prompt_tokens"]);
    assert_eq!(usage["completion_tokens"], 16);
}

#[tokio::test]
async fn greedy_answers_repeat_exactly_and_a_seed_fixes_sampled_ones() {
    let gw = start().await;
    let request = greedy("Which gate?", 10);
    let answers =
        futures_util::future::join_all((0..3).map(|_| post(&gw, "/v1/chat/completions", &request)))
            .await;
    let texts: Vec<&Value> = answers
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, 200);
            &body["choices"][0]["message"]["content"]
        })
        .collect();
    assert!(texts.iter().all(|t| *t == texts[0]), "{texts:?}");

    // The random fixture's distributions are sharp (greedy repeats a token); a high
    // temperature makes seeds visibly matter.
    let sampled = |seed: u64| {
        json!({"model": MODEL, "messages": messages("Which gate?"), "max_tokens": 16,
               "temperature": 3.0, "top_p": 1.0, "seed": seed})
    };
    let text = |body: Value| body["choices"][0]["message"]["content"].clone();
    let a = text(post(&gw, "/v1/chat/completions", &sampled(42)).await.1);
    let b = text(post(&gw, "/v1/chat/completions", &sampled(42)).await.1);
    let c = text(post(&gw, "/v1/chat/completions", &sampled(43)).await.1);
    assert_eq!(a, b, "the same seed samples the same tokens");
    assert_ne!(a, c, "another seed samples others");
}

#[tokio::test]
async fn a_tool_call_block_the_model_writes_is_decided_by_the_gate() {
    // At this temperature the random model draws almost uniformly, and some seeds open a
    // `<tool_call>` block that holds no call envelope and is still open when max_tokens ends
    // the answer. The test takes the first seed that does (which one depends on the
    // fixture's exact bits): the gate, not the client, gets the block.
    let gw = start().await;
    let mut found = None;
    for seed in 0..64u64 {
        let request = json!({"model": MODEL, "messages": messages("Which gate?"),
            "max_tokens": 300, "temperature": 50.0, "top_p": 1.0, "top_k": 0, "seed": seed});
        let (status, body) = post(&gw, "/v1/chat/completions", &request).await;
        assert_eq!(status, 200, "{body}");
        let decided = !body["fak"]["decisions"].as_array().unwrap().is_empty();
        if decided && body["choices"][0]["finish_reason"] == "length" {
            found = Some(body);
            break;
        }
    }
    let body = found.expect("some seed in 0..64 leaves a tool_call block open at max_tokens");
    let decisions = body["fak"]["decisions"].as_array().unwrap();
    assert_eq!(decisions.len(), 1, "{body}");
    assert_eq!(decisions[0]["code"], "MALFORMED");
    assert_eq!(decisions[0]["delivered"], false);
    let message = &body["choices"][0]["message"];
    assert!(message.get("tool_calls").is_none());
    let text = message["content"].as_str().unwrap();
    assert!(
        !text.contains("<tool_call>"),
        "the block never reaches the client: {text}"
    );
    assert!(text.ends_with("was refused: MALFORMED(5): the tool call names no tool"));
    assert_eq!(
        body["choices"][0]["finish_reason"], "length",
        "cut off by max_tokens, which the client is told"
    );
    assert_eq!(body["usage"]["completion_tokens"], 300);
}

#[tokio::test]
async fn a_second_request_with_the_same_prefix_reuses_its_kv_blocks() {
    let gw = start().await;
    let first = prompt_ids(&messages("Can I cancel booking BK-20417?"));
    let second = prompt_ids(&messages("Where do I collect my tickets?"));
    let shared = first
        .iter()
        .zip(&second)
        .take_while(|(a, b)| a == b)
        .count();
    let reusable = shared / 32 * 32;
    assert!(reusable >= 64, "the fixture prompts share {shared} tokens");

    let (_, one) = post(
        &gw,
        "/v1/chat/completions",
        &greedy("Can I cancel booking BK-20417?", 4),
    )
    .await;
    assert_eq!(one["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
    let (_, two) = post(
        &gw,
        "/v1/chat/completions",
        &greedy("Where do I collect my tickets?", 4),
    )
    .await;
    assert_eq!(two["usage"]["prompt_tokens"], second.len());
    assert_eq!(
        two["usage"]["prompt_tokens_details"]["cached_tokens"], reusable,
        "every full block of the shared prefix is adopted, none after it"
    );

    let metrics = get_text(&gw.url("/metrics")).await;
    let computed = first.len() + second.len() - reusable;
    for line in [
        format!("fak_gateway_kv_reused_tokens_total {reusable}"),
        format!("fak_gateway_kv_computed_tokens_total {computed}"),
        "fak_gateway_generated_tokens_total 8".to_string(),
    ] {
        assert!(metrics.contains(&line), "{line} missing from:\n{metrics}");
    }
}

#[tokio::test]
async fn the_anthropic_wire_is_answered_in_kernel() {
    let gw = start().await;
    let (_, openai) = post(&gw, "/v1/chat/completions", &greedy("Can I cancel?", 6)).await;
    let request = json!({"model": MODEL, "system": SYSTEM, "max_tokens": 6, "temperature": 0,
        "messages": [{"role": "user", "content": "Can I cancel?"}]});
    let (status, message) = post(&gw, "/v1/messages", &request).await;
    assert_eq!(status, 200, "{message}");
    assert_eq!(message["type"], "message");
    assert_eq!(message["stop_reason"], "max_tokens");
    assert_eq!(message["content"][0]["type"], "text");
    assert_eq!(
        message["content"][0]["text"],
        openai["choices"][0]["message"]["content"]
    );
    let usage = &message["usage"];
    assert_eq!(usage["output_tokens"], 6);
    let cached = usage["cache_read_input_tokens"].as_u64().unwrap();
    assert!(cached > 0, "the same prompt again is read from the cache");
    assert_eq!(
        usage["input_tokens"].as_u64().unwrap() + cached,
        openai["usage"]["prompt_tokens"].as_u64().unwrap()
    );

    let mut streamed = request.clone();
    streamed["stream"] = json!(true);
    let events: Vec<Value> = sse_data(&post_text(&gw.url("/v1/messages"), &streamed).await)
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"message_start"));
    assert_eq!(kinds.last(), Some(&"message_stop"));
    let text: String = events
        .iter()
        .filter_map(|e| e.pointer("/delta/text").and_then(Value::as_str))
        .collect();
    assert_eq!(text, message["content"][0]["text"]);
}

#[tokio::test]
async fn the_served_model_is_listed_as_a_test_model_and_others_are_404() {
    let gw = start().await;
    let list: Value = serde_json::from_str(&get_text(&gw.url("/v1/models")).await).unwrap();
    let entry = &list["data"][0];
    assert_eq!(entry["id"], MODEL);
    assert_eq!(entry["fak"]["mode"], "in-kernel");
    assert_eq!(entry["fak"]["test_model"], true);
    assert!(entry["fak"]["note"].as_str().unwrap().contains("gibberish"));

    let ready: Value = serde_json::from_str(&get_text(&gw.url("/readyz")).await).unwrap();
    assert_eq!(ready["status"], "ready");
    assert!(ready["source"].as_str().unwrap().contains("TEST MODEL"));

    let mut other = greedy("hi", 4);
    other["model"] = json!("gpt-4o");
    let (status, body) = post(&gw, "/v1/chat/completions", &other).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["type"], "not_found_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("gpt-4o")
    );

    let mut stop = greedy("hi", 4);
    stop["stop"] = json!(["\n"]);
    let (status, body) = post(&gw, "/v1/chat/completions", &stop).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("stop:")
    );
}

#[test]
fn a_bad_model_directory_is_a_clear_startup_error() {
    let open = |options: &InKernelOptions| {
        InKernelSource::open(Arc::new(CpuBackend::new()), options)
            .map(drop)
            .unwrap_err()
            .to_string()
    };
    let missing = open(&options(PathBuf::from("/nonexistent/model")));
    assert!(
        missing.contains("/nonexistent/model") && missing.contains("config.json"),
        "{missing}"
    );

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.json"), "{not json").unwrap();
    let broken = open(&options(dir.path().to_path_buf()));
    assert!(
        broken.contains("cannot be served") && broken.contains("config.json"),
        "{broken}"
    );

    let mut small = options(fixture());
    small.kv_budget_bytes = Some(64 << 10);
    let budget = open(&small);
    assert!(budget.contains("raise the KV budget"), "{budget}");

    let mut long = options(fixture());
    long.context = Some(1 << 20);
    let context = open(&long);
    assert!(context.contains("context"), "{context}");
}
