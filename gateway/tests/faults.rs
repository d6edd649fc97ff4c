//! Faults: every failure of the upstream and of the request is a clear, wire-shaped error
//! with the right status, and never lets an undecided tool call through.

mod support;

use std::time::Duration;

use fak_gateway::Limits;
use serde_json::{Value, json};
use support::{Setup, client, get_text, post_text, sse_data, start_gateway, start_pair, upstream};

fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "use the tools"}]})
}

fn anthropic(model: &str) -> Value {
    json!({"model": model, "max_tokens": 10,
        "messages": [{"role": "user", "content": "use the tools"}]})
}

async fn status_and_body(url: &str, body: &Value) -> (u16, Value) {
    let r = client().post(url).json(body).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// Asserts an OpenAI-shaped and an Anthropic-shaped error with `status` for `model`.
async fn assert_fault(gw: &support::Running, model: &str, status: u16, says: &str) {
    let (s, body) = status_and_body(&gw.url("/v1/chat/completions"), &chat(model)).await;
    assert_eq!(s, status, "{model}: {body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(says), "{model}: {message}");
    let (s, body) = status_and_body(&gw.url("/v1/messages"), &anthropic(model)).await;
    assert_eq!(s, status, "{model}: {body}");
    assert_eq!(body["type"], "error");
    assert!(body["error"]["message"].as_str().unwrap().contains(says));
}

#[tokio::test]
async fn upstream_down_is_502() {
    // Bind and drop a listener: nothing listens on that port any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let gw = start_gateway(Setup::new(format!("http://127.0.0.1:{port}/v1"))).await;
    assert_fault(&gw, upstream::MODEL, 502, "unreachable").await;
    let r = client().get(gw.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
}

#[tokio::test]
async fn slow_upstream_is_504() {
    let (addr, _) = upstream::start().await;
    let mut setup = Setup::new(format!("http://{addr}/v1"));
    setup.upstream_timeout = Duration::from_millis(300);
    let gw = start_gateway(setup).await;
    assert_fault(&gw, "mock-slow-2000", 504, "sent nothing").await;
}

#[tokio::test]
async fn upstream_5xx_and_garbage_are_502_and_unknown_model_is_404() {
    let (gw, _) = start_pair().await;
    assert_fault(&gw, "mock-500", 502, "the engine crashed").await;
    assert_fault(&gw, "mock-garbage", 502, "malformed").await;
    assert_fault(&gw, "no-such-model", 404, "does not exist").await;
}

#[tokio::test]
async fn a_stream_that_breaks_ends_with_an_error_event_and_no_tool_call() {
    let (gw, _) = start_pair().await;
    for model in ["mock-stream-cut", "mock-stream-garbage"] {
        let mut request = chat(model);
        request["stream"] = json!(true);
        let text = post_text(&gw.url("/v1/chat/completions"), &request).await;
        let data = sse_data(&text);
        assert!(!text.contains("tool_calls"), "{model}: {text}");
        let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
        assert_eq!(last["error"]["type"], "upstream_error", "{model}: {text}");
        assert!(!text.contains("[DONE]"));

        let mut request = anthropic(model);
        request["stream"] = json!(true);
        let text = post_text(&gw.url("/v1/messages"), &request).await;
        assert!(!text.contains("tool_use"), "{model}: {text}");
        assert!(text.contains("event: error"), "{model}: {text}");
        assert!(!text.contains("message_stop"));
    }
}

#[tokio::test]
async fn malformed_json_is_400_naming_the_problem() {
    let (gw, recorder) = start_pair().await;
    for path in ["/v1/chat/completions", "/v1/messages"] {
        let r = client()
            .post(gw.url(path))
            .header("content-type", "application/json")
            .body("{\"model\": \"m\", \"messages\": [")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let body: Value = r.json().await.unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("not valid JSON") && message.contains("line 1"),
            "{message}"
        );
    }
    let (s, body) = status_and_body(&gw.url("/v1/chat/completions"), &json!({"model": "m"})).await;
    assert_eq!(s, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("messages")
    );
    assert!(recorder.all().is_empty(), "nothing malformed is forwarded");
}

#[tokio::test]
async fn oversized_body_is_413_and_overload_is_503_with_retry_after() {
    let (addr, _) = upstream::start().await;
    let mut setup = Setup::new(format!("http://{addr}/v1"));
    setup.limits = Limits {
        max_body_bytes: 1024,
        max_concurrent: 1,
        ..Limits::default()
    };
    let gw = start_gateway(setup).await;
    let big = json!({"model": "mock-model",
        "messages": [{"role": "user", "content": "x".repeat(4096)}]});
    let (s, body) = status_and_body(&gw.url("/v1/chat/completions"), &big).await;
    assert_eq!(s, 413);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1024 bytes")
    );

    let slow = tokio::spawn({
        let url = gw.url("/v1/chat/completions");
        async move { status_and_body(&url, &chat("mock-slow-1500")).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = client()
        .post(gw.url("/v1/chat/completions"))
        .json(&chat("mock-model"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    // Probes are not counted against the bound.
    assert_eq!(
        client()
            .get(gw.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(slow.await.unwrap().0, 200);
    let metrics = get_text(&gw.url("/metrics")).await;
    assert!(metrics.contains("fak_gateway_shed_total 1"), "{metrics}");
}

#[tokio::test]
async fn graceful_shutdown_finishes_the_request_in_flight() {
    let (mut gw, _) = start_pair().await;
    let slow = tokio::spawn({
        let url = gw.url("/v1/chat/completions");
        async move { status_and_body(&url, &chat("mock-slow-800")).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    gw.stop();
    let (status, body) = slow.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(body["fak"]["decisions"][1]["code"], "POLICY_BLOCK");
    let healthz = gw.url("/healthz");
    gw.served.await.unwrap().unwrap();
    assert!(
        client().get(healthz).send().await.is_err(),
        "no longer accepting"
    );
}

#[tokio::test]
async fn a_malformed_trace_id_is_400_and_a_missing_one_is_minted() {
    let (gw, recorder) = start_pair().await;
    let r = client()
        .post(gw.url("/v1/chat/completions"))
        .header("x-trace-id", "has spaces in it")
        .json(&chat("mock-model"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("X-Trace-Id")
    );
    assert!(recorder.all().is_empty());
    let r = client().get(gw.url("/healthz")).send().await.unwrap();
    assert!(
        r.headers()["x-trace-id"]
            .to_str()
            .unwrap()
            .starts_with("t-")
    );
}
