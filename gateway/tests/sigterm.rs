//! A real SIGTERM stops the gateway gracefully: the request in flight is answered, then the
//! server returns. Its own test binary, so the signal reaches no other test.

mod support;

use std::time::Duration;

use fak_gateway::shutdown_signal;
use serde_json::{Value, json};
use support::{client, upstream};

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_request_in_flight_then_stops() {
    let (up, _) = upstream::start().await;
    // Stopped by the same signal future `fak serve` uses.
    let setup = support::Setup::new(format!("http://{up}/v1"));
    let gw = support::start_gateway_until(setup, shutdown_signal()).await;
    let slow = tokio::spawn({
        let url = gw.url("/v1/chat/completions");
        async move {
            let body = json!({"model": "mock-slow-800",
                "messages": [{"role": "user", "content": "hi"}]});
            let r = client().post(url).json(&body).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    });
    // By now the server has polled the signal future, so its handler is installed.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let status = std::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let (code, body) = slow.await.unwrap();
    assert_eq!(code, 200);
    assert_eq!(body["choices"][0]["message"]["content"], upstream::GREETING);
    tokio::time::timeout(Duration::from_secs(5), gw.served)
        .await
        .expect("the server stops once the request is answered")
        .unwrap()
        .unwrap();
}
