//! The endpoint of a long-running process: `/metrics` (Prometheus), `/healthz` (the process
//! answers) and `/readyz` (it is taking work), on a thread of its own, with hyper on a small
//! runtime, so a slow scraper never holds the worker up.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response, StatusCode};
use tripline_pipeline::metrics::Metrics;

/// Serves `metrics` on `addr` until the process ends; the address bound (port 0 picks one).
///
/// # Errors
/// When the address cannot be bound.
pub fn spawn(addr: SocketAddr, metrics: Arc<Metrics>) -> std::io::Result<SocketAddr> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind(addr))?;
    let bound = listener.local_addr()?;
    std::thread::Builder::new().name("tripline-metrics".into()).spawn(move || {
        runtime.block_on(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let metrics = Arc::clone(&metrics);
                let service = hyper::service::service_fn(move |request| {
                    let metrics = Arc::clone(&metrics);
                    async move { Ok::<_, Infallible>(answer(&request, &metrics)) }
                });
                tokio::task::spawn(async move {
                    let io = hyper_util::rt::TokioIo::new(stream);
                    // A client that goes away mid-answer is its own business.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
    })?;
    Ok(bound)
}

fn answer<B>(request: &Request<B>, metrics: &Metrics) -> Response<Full<Bytes>> {
    let text = |status: StatusCode, body: String, kind: &'static str| {
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static(kind));
        response
    };
    const PLAIN: &str = "text/plain; charset=utf-8";
    match (request.method(), request.uri().path()) {
        (&hyper::Method::GET, "/metrics") => text(
            StatusCode::OK,
            metrics.render(chrono::Utc::now()),
            "text/plain; version=0.0.4; charset=utf-8",
        ),
        (&hyper::Method::GET, "/healthz") => text(StatusCode::OK, "ok\n".into(), PLAIN),
        (&hyper::Method::GET, "/readyz") if metrics.ready.load(Ordering::Relaxed) => {
            text(StatusCode::OK, "ready\n".into(), PLAIN)
        }
        (&hyper::Method::GET, "/readyz") => {
            text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n".into(), PLAIN)
        }
        _ => text(StatusCode::NOT_FOUND, "not found: /metrics, /healthz, /readyz\n".into(), PLAIN),
    }
}
