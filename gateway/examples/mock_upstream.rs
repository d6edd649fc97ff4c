//! The recording mock upstream as a standalone server, for the bench and for trying
//! `fak serve` by hand: `cargo run -p fak-gateway --example mock_upstream -- 127.0.0.1:9100`.

#[path = "../tests/support/upstream.rs"]
mod upstream;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9100".to_string());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("mock upstream on http://{}/v1", listener.local_addr()?);
    axum::serve(listener, upstream::app(upstream::Recorder::discarding())).await
}
