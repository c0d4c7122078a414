//! Several nodes on one database (ARCHITECTURE.md, "Several nodes"). One node at a time holds the committer
//! lease and runs the engine; it serves every request itself. The others accept every request too and forward
//! it, unchanged, to the holder's address (read from the lease), streaming the answer back. A node that cannot
//! reach a holder (none yet, or it died and its lease has not moved) answers 503 with `Retry-After`: nothing
//! was stored, and the client's retry reaches the next holder.
//!
//! The holder sees a forwarded request with the client's address in `X-Forwarded-For`, trusted only when
//! [`FORWARDED_HEADER`] carries the nodes' shared token (derived from the master key every node has), so an
//! attacker cannot pick the address login throttling counts against.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use kairos_engine::Engine;
use kairos_store::{LeaseHolder, StoreError};
use tower::ServiceExt;

use crate::AppState;
use crate::error::{ApiError, ErrorCode};
use crate::listener::{KairosListener, PeerAddr};

/// Header that marks a request forwarded by another node (its value: the nodes' shared token).
pub const FORWARDED_HEADER: &str = "x-kairos-forwarded";
/// Longest a node waits to connect to the lease holder before answering 503.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a looked-up holder address is used before the lease is read again.
const HOLDER_CACHE_TTL: Duration = Duration::from_secs(1);
/// Hop-by-hop headers (RFC 9110 section 7.6.1): they describe one connection, never forwarded.
const HOP_BY_HOP: &[&str] =
    &["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"];

/// Who holds the committer lease now (blocking: reads the database).
pub type FindHolder = Arc<dyn Fn() -> Result<Option<LeaseHolder>, StoreError> + Send + Sync>;

/// This node's part in a cluster: forwarding until it holds the lease, serving once it does.
pub struct Node {
    serving: OnceLock<(Router, Arc<Engine>)>,
    /// The address this node is reached at by the others (what it writes in the lease).
    own_address: String,
    token: HeaderValue,
    find: FindHolder,
    holder: Mutex<Option<(String, Instant)>>,
    /// Held while the lease is read, so that requests arriving together read it once.
    lookup: tokio::sync::Mutex<()>,
}

impl Node {
    pub fn new(own_address: String, token: &str, find: FindHolder) -> Node {
        let token = HeaderValue::from_str(token).expect("the forwarding token is hex");
        let (holder, lookup) = (Mutex::new(None), tokio::sync::Mutex::new(()));
        Node { serving: OnceLock::new(), own_address, token, find, holder, lookup }
    }

    /// This node holds the lease and its engine is running: from now on it serves every request itself.
    pub fn lead(&self, state: AppState) {
        let engine = state.engine.clone();
        if self.serving.set((crate::router(state), engine)).is_err() {
            tracing::error!("this node was already serving; the second engine is ignored");
        }
    }

    pub fn engine(&self) -> Option<Arc<Engine>> {
        self.serving.get().map(|(_, e)| e.clone())
    }

    /// The holder's address, from the cache or the lease.
    async fn holder_address(&self) -> Option<String> {
        if let Some(address) = self.cached_holder() {
            return Some(address);
        }
        let _reading = self.lookup.lock().await;
        if let Some(address) = self.cached_holder() {
            return Some(address);
        }
        let find = self.find.clone();
        let found = match tokio::task::spawn_blocking(move || find()).await {
            Ok(Ok(found)) => found,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot read who holds the committer lease");
                None
            }
            Err(_) => None,
        };
        let address = found.filter(|h| !h.expired).map(|h| h.address);
        if let Ok(mut cache) = self.holder.lock() {
            *cache = address.clone().map(|a| (a, Instant::now()));
        }
        address
    }

    fn cached_holder(&self) -> Option<String> {
        let cached = self.holder.lock().ok()?.clone();
        cached.filter(|(_, at)| at.elapsed() < HOLDER_CACHE_TTL).map(|(address, _)| address)
    }

    /// Resolves once `address` no longer holds a live lease (it stopped renewing it, or another node took it):
    /// an answer from it is not worth waiting for any more.
    async fn holder_gone(&self, address: &str) {
        loop {
            tokio::time::sleep(HOLDER_CACHE_TTL).await;
            if self.holder_address().await.as_deref() != Some(address) {
                return;
            }
        }
    }

    fn forget_holder(&self) {
        if let Ok(mut cache) = self.holder.lock() {
            *cache = None;
        }
    }

    fn is_forwarded_by_a_node(&self, req: &Request) -> bool {
        req.headers().get(FORWARDED_HEADER).is_some_and(|v| same(v.as_bytes(), self.token.as_bytes()))
    }
}

/// Constant-time comparison (the token is a secret).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Serves `node` until `shutdown` resolves; then stops its engine (if it led), which commits what is queued.
pub async fn serve_node(
    listener: tokio::net::TcpListener,
    node: Arc<Node>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new().fallback(handle).with_state(node.clone());
    let app = app.into_make_service_with_connect_info::<PeerAddr>();
    axum::serve(KairosListener(listener), app).with_graceful_shutdown(shutdown).await?;
    if let Some(engine) = node.engine() {
        tokio::task::spawn_blocking(move || engine.shutdown()).await.ok();
    }
    Ok(())
}

fn unavailable(message: &str) -> Response {
    ApiError::new(ErrorCode::Unavailable, message).into_response()
}

async fn handle(State(node): State<Arc<Node>>, mut req: Request) -> Response {
    let by_node = node.is_forwarded_by_a_node(&req);
    if let Some((app, _)) = node.serving.get() {
        if by_node && let Some(ip) = forwarded_client(&req) {
            req.extensions_mut().insert(ConnectInfo(PeerAddr(SocketAddr::new(ip, 0))));
        }
        req.headers_mut().remove(FORWARDED_HEADER);
        return match app.clone().oneshot(req).await {
            Ok(resp) => resp,
            Err(never) => match never {},
        };
    }
    if by_node {
        // Forwarded here by a node that thought this one leads: never forwarded twice (no loops).
        return unavailable("the node this request was forwarded to no longer runs the engine; retry");
    }
    let Some(address) = node.holder_address().await else {
        return unavailable("no node runs the engine right now (one is starting or taking over); retry");
    };
    if address == node.own_address {
        return unavailable("this node is starting its engine; retry");
    }
    let client = req.extensions().get::<ConnectInfo<PeerAddr>>().map(|c| c.0.0.ip());
    // A holder that is paused or cut off keeps the connection open without answering: give up on it once its
    // lease lapses (the request may still be applied by it, which its fenced writers refuse once the lease moved).
    let forwarded = tokio::select! {
        r = forward(&address, req, client, &node.token) => r,
        () = node.holder_gone(&address) => Err("the node running the engine stopped renewing its lease".to_string()),
    };
    match forwarded {
        Ok(resp) => resp,
        Err(e) => {
            tracing::warn!(holder = %address, error = %e, "cannot forward a request to the lease holder");
            node.forget_holder();
            unavailable("the node running the engine cannot be reached (it may be failing over); retry")
        }
    }
}

/// The client address a node forwarded (the first of `X-Forwarded-For`).
fn forwarded_client(req: &Request) -> Option<IpAddr> {
    let value = req.headers().get("x-forwarded-for")?.to_str().ok()?;
    value.split(',').next()?.trim().parse().ok()
}

/// Sends `req` to the node at `address` (`http://host:port`) on a connection of its own; its answer, streamed.
async fn forward(address: &str, req: Request, client: Option<IpAddr>, token: &HeaderValue) -> Result<Response, String> {
    let authority = address.strip_prefix("http://").unwrap_or(address).trim_end_matches('/').to_string();
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(&authority))
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake::<_, Body>(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "forwarding connection ended");
        }
    });
    let (mut parts, body) = req.into_parts();
    for h in HOP_BY_HOP {
        parts.headers.remove(*h);
    }
    parts.headers.insert(FORWARDED_HEADER, token.clone());
    parts.headers.remove("x-forwarded-for");
    if let Some(ip) = client
        && let Ok(v) = HeaderValue::from_str(&ip.to_string())
    {
        parts.headers.insert("x-forwarded-for", v);
    }
    parts.uri = parts.uri.path_and_query().map_or("/", |p| p.as_str()).parse::<Uri>().map_err(|e| e.to_string())?;
    parts.version = axum::http::Version::HTTP_11;
    let resp = sender.send_request(Request::from_parts(parts, body)).await.map_err(|e| e.to_string())?;
    let (mut parts, body) = resp.into_parts();
    for h in HOP_BY_HOP {
        parts.headers.remove(*h);
    }
    Ok(Response::from_parts(parts, Body::new(body)))
}
