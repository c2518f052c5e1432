//! The HTTP side: a fixed set of read-only routes on one listener, behind an optional token,
//! with bounded concurrency, answering 404 (and nothing else) for every other path, so no file
//! of the disk can be reached, encoded or not.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use futures_util::stream::{self, Stream};
use tokio::sync::broadcast::error::RecvError;

use super::live::Live;
use super::rows::{RowQuery, query};
use crate::report::table::ResultsTable;

/// Requests served at once (an open event stream counts as one): enough for a team's browsers,
/// and a bound on what a misbehaving client can hold.
const MAX_REQUESTS: usize = 64;

const LIVE_PAGE: &str = include_str!("live.html");
const ROWS_PAGE: &str = include_str!("rows.html");

/// What the server serves; shared by its handlers.
pub struct App {
    /// The run being watched (`discover --serve`), if any.
    pub live: Option<Arc<Live>>,
    /// The results whose rows `/api/rows` queries (after the run, or `stratbox serve`).
    pub table: RwLock<Option<Arc<ResultsTable>>>,
    /// The HTML report (after the run, or `stratbox serve`).
    pub report: RwLock<Option<String>>,
    pub token: Option<String>,
}

/// Whether `given` is `expected`, comparing every byte (no early exit on the first difference).
fn same(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len() && given.iter().zip(expected).fold(0u8, |d, (a, b)| d | (a ^ b)) == 0
}

/// The token of a request: `?token=...` (what the printed URL carries; the pages pass it on) or
/// `Authorization: Bearer ...`.
fn token_of(req: &Request) -> Option<String> {
    let from_query = req.uri().query().and_then(|q| {
        url_pairs(q)
            .into_iter()
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v)
    });
    from_query.or_else(|| {
        req.headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_string)
    })
}

/// `a=1&b=x%20y` as decoded pairs.
fn url_pairs(query: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query).unwrap_or_default()
}

async fn require_token(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    if let Some(expected) = &app.token
        && !token_of(&req).is_some_and(|t| same(t.as_bytes(), expected.as_bytes()))
    {
        return (
            StatusCode::UNAUTHORIZED,
            "401: this server needs its token (?token=...)\n",
        )
            .into_response();
    }
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    // Nothing here is for other sites to frame or sniff; the pages load nothing from outside.
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self' 'unsafe-inline' data:; connect-src 'self'"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn index(State(app): State<Arc<App>>) -> Html<&'static str> {
    Html(if app.live.is_some() { LIVE_PAGE } else { ROWS_PAGE })
}

async fn rows_page() -> Html<&'static str> {
    Html(ROWS_PAGE)
}

async fn report(State(app): State<Arc<App>>) -> Response {
    match app.report.read().ok().and_then(|r| r.clone()) {
        Some(html) => Html(html).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "the report appears here when the run ends\n",
        )
            .into_response(),
    }
}

async fn state(State(app): State<Arc<App>>) -> Response {
    match &app.live {
        Some(live) => json_response(live.state().to_string()),
        None => (StatusCode::NOT_FOUND, "no run is being watched\n").into_response(),
    }
}

fn json_response(body: String) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    (headers, body).into_response()
}

async fn rows(State(app): State<Arc<App>>, Query(pairs): Query<HashMap<String, String>>) -> Response {
    let Some(table) = app.table.read().ok().and_then(|t| t.clone()) else {
        return (StatusCode::NOT_FOUND, "the rows appear here when the run ends\n").into_response();
    };
    // Sorting 138,600 rows takes milliseconds: off the async threads all the same.
    let answer = tokio::task::spawn_blocking(move || {
        RowQuery::parse(&pairs, &table).map(|q| query(&table, &q).to_string())
    })
    .await;
    match answer {
        Ok(Ok(body)) => json_response(body),
        Ok(Err(e)) => (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "the query failed\n").into_response(),
    }
}

/// `/events`: the current state first, then every event of the run as it happens.
async fn events(State(app): State<Arc<App>>) -> Response {
    let Some(live) = app.live.clone() else {
        return (StatusCode::NOT_FOUND, "no run is being watched\n").into_response();
    };
    let first = live.state().to_string();
    let receiver = live.subscribe();
    let updates = stream::unfold(receiver, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(text) => return Some((Ok::<Event, Infallible>(Event::default().data(text)), rx)),
                // A slow reader missed events: the state event catches it up.
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return None,
            }
        }
    });
    let all = futures_util::StreamExt::chain(
        stream::once(async move { Ok(Event::default().data(first)) }),
        updates,
    );
    sse(all).into_response()
}

fn sse<S: Stream<Item = Result<Event, Infallible>> + Send + 'static>(s: S) -> impl IntoResponse {
    Sse::new(s).keep_alive(KeepAlive::new().interval(Duration::from_secs(10)))
}

async fn not_found() -> (StatusCode, &'static str) {
    (StatusCode::NOT_FOUND, "404: not found\n")
}

/// The router of `app`.
pub(crate) fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/rows", get(rows_page))
        .route("/report", get(report))
        .route("/events", get(events))
        .route("/api/state", get(state))
        .route("/api/rows", get(rows))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app.clone(), require_token))
        .layer(axum::extract::DefaultBodyLimit::max(16 << 10))
        .layer(tower::limit::ConcurrencyLimitLayer::new(MAX_REQUESTS))
        .with_state(app)
}

/// Serves `app` on `listener` until the process ends (on a thread of its own, with its own
/// small runtime, so the run's threads are not touched).
pub(crate) fn spawn(listener: std::net::TcpListener, app: Arc<App>) -> std::io::Result<SocketAddr> {
    let addr = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("stratbox-serve")
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("stratbox-serve".into())
        .spawn(move || {
            runtime.block_on(async move {
                if let Ok(listener) = tokio::net::TcpListener::from_std(listener) {
                    let _ = axum::serve(listener, router(app)).await;
                }
            });
        })?;
    Ok(addr)
}
