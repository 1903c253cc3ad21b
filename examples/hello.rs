//! The baseline for `bench/api-load.sh`: the least an axum server can do (one route, a
//! constant body), built with the same profile and dependencies as dtindex, so the API's
//! requests per second are read as a ratio to what the framework itself allows here.

use std::net::SocketAddr;

use axum::Router;
use axum::routing::get;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8099".into())
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let app = Router::new().route("/", get(|| async { "Hello, World!" }));
    axum::serve(listener, app).await
}
