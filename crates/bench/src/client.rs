//! A minimal keep-alive HTTP/1.1 client over hyper, for the benchmark and the integration tests.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

pub struct HttpClient {
    addr: SocketAddr,
    sender: SendRequest<Full<Bytes>>,
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Bytes,
    pub headers: hyper::HeaderMap,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

impl HttpClient {
    pub async fn connect(addr: SocketAddr) -> anyhow::Result<Self> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(HttpClient { addr, sender })
    }

    /// Sends one request; `key` goes in `Authorization: Bearer`. Reconnects once if the connection closed.
    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Bytes>,
    ) -> anyhow::Result<Response> {
        self.send_with(method, path, key.map(|k| format!("Bearer {k}")), body).await
    }

    /// Sends one request with a raw `Authorization` header value (or none). A server may close a keep-alive
    /// connection after answering early (a 413 before reading the body): the request is then sent once more on a
    /// fresh connection.
    pub async fn send_with(
        &mut self,
        method: &str,
        path: &str,
        authorization: Option<String>,
        body: Option<Bytes>,
    ) -> anyhow::Result<Response> {
        match self.send_once(method, path, authorization.as_deref(), body.clone()).await {
            Err(e) if e.downcast_ref::<hyper::Error>().is_some() => {
                *self = HttpClient::connect(self.addr).await?;
                self.send_once(method, path, authorization.as_deref(), body).await
            }
            other => other,
        }
    }

    async fn send_once(
        &mut self,
        method: &str,
        path: &str,
        authorization: Option<&str>,
        body: Option<Bytes>,
    ) -> anyhow::Result<Response> {
        let mut headers = Vec::new();
        if let Some(a) = authorization {
            headers.push(("authorization", a));
        }
        if body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        self.request(method, path, &headers, body.unwrap_or_default()).await
    }

    /// Sends one request with the given headers (no retry).
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> anyhow::Result<Response> {
        if self.sender.is_closed() {
            *self = HttpClient::connect(self.addr).await?;
        }
        self.sender.ready().await?;
        let mut req = Request::builder().method(method).uri(path).header("host", self.addr.to_string());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(body))?;
        let resp = self.sender.send_request(req).await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok(Response { status, body, headers })
    }

    pub async fn get(&mut self, path: &str, key: &str) -> anyhow::Result<Response> {
        self.send("GET", path, Some(key), None).await
    }

    pub async fn post_json(&mut self, path: &str, key: &str, v: &serde_json::Value) -> anyhow::Result<Response> {
        self.send("POST", path, Some(key), Some(Bytes::from(serde_json::to_vec(v)?))).await
    }

    pub async fn put_json(&mut self, path: &str, key: &str, v: &serde_json::Value) -> anyhow::Result<Response> {
        self.send("PUT", path, Some(key), Some(Bytes::from(serde_json::to_vec(v)?))).await
    }
}
