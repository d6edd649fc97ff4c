//! Auth: missing, wrong and right keys on each endpoint; the client's key never reaches
//! the upstream; metrics only for loopback peers or with the key.

mod support;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use serde_json::{Value, json};
use support::{CLIENT_KEY, UPSTREAM_KEY, start_pair, upstream};
use tower::ServiceExt;

fn requests() -> Vec<(&'static str, &'static str, Option<Value>)> {
    let chat = json!({"model": upstream::MODEL, "messages": [{"role": "user", "content": "hi"}]});
    let messages = json!({"model": upstream::MODEL, "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}]});
    vec![
        ("POST", "/v1/chat/completions", Some(chat)),
        ("POST", "/v1/messages", Some(messages)),
        ("GET", "/v1/models", None),
    ]
}

#[tokio::test]
async fn missing_wrong_and_right_keys_on_each_endpoint() {
    let (gw, recorder) = start_pair().await;
    let http = reqwest::Client::new();
    for (method, path, body) in requests() {
        let send = |key: Option<(&'static str, String)>| {
            let mut r = http.request(method.parse().unwrap(), gw.url(path));
            if let Some(b) = &body {
                r = r.json(b);
            }
            if let Some((name, value)) = key {
                r = r.header(name, value);
            }
            r.send()
        };
        let missing = send(None).await.unwrap();
        assert_eq!(missing.status(), 401, "{path} without a key");
        let body: Value = missing.json().await.unwrap();
        assert_eq!(body["error"]["type"], "authentication_error");
        if path == "/v1/messages" {
            assert_eq!(body["type"], "error");
        }
        for wrong in [
            ("authorization", "Bearer nope".to_string()),
            ("x-api-key", format!("{CLIENT_KEY}x")),
            ("authorization", CLIENT_KEY.to_string()),
        ] {
            assert_eq!(
                send(Some(wrong.clone())).await.unwrap().status(),
                401,
                "{path} {wrong:?}"
            );
        }
        for right in [
            ("authorization", format!("Bearer {CLIENT_KEY}")),
            ("x-api-key", CLIENT_KEY.to_string()),
        ] {
            assert_eq!(
                send(Some(right.clone())).await.unwrap().status(),
                200,
                "{path} {right:?}"
            );
        }
    }
    // Probes are open; metrics are open to this loopback client.
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(
            http.get(gw.url(path)).send().await.unwrap().status(),
            200,
            "{path}"
        );
    }
    // The upstream saw only the gateway's own key, never the client's.
    let seen = recorder.all();
    assert!(!seen.is_empty());
    for r in &seen {
        assert_eq!(
            r.authorization.as_deref(),
            Some(format!("Bearer {UPSTREAM_KEY}").as_str())
        );
        assert_eq!(r.x_api_key, None);
        assert!(!r.body.contains(CLIENT_KEY));
    }
}

#[tokio::test]
async fn metrics_need_the_key_from_a_non_loopback_peer() {
    let (gw, _) = start_pair().await;
    let router = gw.router.clone();
    let from = |peer: &str, key: Option<&str>| {
        let mut r = Request::get("/metrics");
        if let Some(k) = key {
            r = r.header("x-api-key", k);
        }
        let mut r = r.body(Body::empty()).unwrap();
        r.extensions_mut()
            .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        r
    };
    let status = |r: Request<Body>| {
        let router = router.clone();
        async move { router.oneshot(r).await.unwrap().status().as_u16() }
    };
    assert_eq!(status(from("10.1.2.3:5000", None)).await, 401);
    assert_eq!(status(from("10.1.2.3:5000", Some("wrong"))).await, 401);
    assert_eq!(status(from("10.1.2.3:5000", Some(CLIENT_KEY))).await, 200);
    assert_eq!(status(from("[::1]:5000", None)).await, 200);
    let mut healthz = Request::get("/healthz").body(Body::empty()).unwrap();
    healthz
        .extensions_mut()
        .insert(ConnectInfo("10.1.2.3:5000".parse::<SocketAddr>().unwrap()));
    assert_eq!(status(healthz).await, 200);
}
