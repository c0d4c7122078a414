//! The TCP listener Kairos serves on. It does two things axum's own cannot:
//! - it tells handlers the peer's address ([`PeerAddr`], for login throttling);
//! - it turns hyper's automatic answers to requests it cannot parse (a URI over 64 KB: 414, headers too large:
//!   431, a malformed request line: 400), which hyper writes itself with an empty body before any handler runs,
//!   into the JSON error shape every other error has.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use crate::error::{ApiError, ErrorCode};

/// The address of the client at the other end of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

pub struct KairosListener(pub TcpListener);

impl axum::serve::Listener for KairosListener {
    type Io = JsonErrorIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = axum::serve::Listener::accept(&mut self.0).await;
        (JsonErrorIo { inner: io, replacement: None }, addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

impl Connected<IncomingStream<'_, KairosListener>> for PeerAddr {
    fn connect_info(stream: IncomingStream<'_, KairosListener>) -> Self {
        PeerAddr(*stream.remote_addr())
    }
}

/// A connection whose writes are watched for hyper's bodiless automatic error responses.
pub struct JsonErrorIo {
    inner: TcpStream,
    /// Our JSON answer standing in for hyper's, and how much of it is written.
    replacement: Option<(Vec<u8>, usize)>,
}

/// If `buf` is one of hyper's automatic error responses (a 4xx head with no `content-type` and an empty body; every
/// response of ours has a content type), the JSON response to send instead. The connection closes after it either
/// way: hyper only answers this way when it cannot go on reading the connection.
pub fn replacement_for(buf: &[u8]) -> Option<Vec<u8>> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..head_end]).ok()?.to_ascii_lowercase();
    let status: u16 = head.strip_prefix("http/1.1 4")?.get(..2).and_then(|s| s.parse().ok())?;
    let status = 400 + status;
    if head.contains("\r\ncontent-type:") || !head.contains("\r\ncontent-length: 0") || buf.len() != head_end + 4 {
        return None;
    }
    let error = match status {
        414 => ApiError::new(ErrorCode::UriTooLong, "the request's URI is too long"),
        431 => ApiError::new(ErrorCode::HeadersTooLarge, "the request's headers are too large"),
        _ => ApiError::new(ErrorCode::BadRequest, "the request could not be read as HTTP"),
    };
    let body = error.body();
    let reason = axum::http::StatusCode::from_u16(status).ok()?.canonical_reason().unwrap_or("Error");
    Some(
        format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

impl JsonErrorIo {
    /// Writes what is left of the replacement; Ready(Ok) once it is all out.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, at)) = &mut self.replacement {
            if *at == bytes.len() {
                return Poll::Ready(Ok(()));
            }
            match Pin::new(&mut self.inner).poll_write(cx, &bytes[*at..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *at += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for JsonErrorIo {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for JsonErrorIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.replacement.is_some() {
            // Nothing may follow the replacement: the connection is closing.
            return this.drain(cx).map_ok(|()| buf.len());
        }
        if let Some(bytes) = replacement_for(buf) {
            this.replacement = Some((bytes, 0));
            return this.drain(cx).map_ok(|()| buf.len());
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match this.drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match this.drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_shutdown(cx),
            other => other,
        }
    }

    // Vectored writes would split hyper's response into pieces; one buffer keeps the head whole for inspection.
    fn is_write_vectored(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_only_hypers_bodiless_errors() {
        let auto = b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: Fri, 04 Dec 2026 10:00:00 GMT\r\n\r\n";
        let r = String::from_utf8(replacement_for(auto).unwrap()).unwrap();
        assert!(r.starts_with("HTTP/1.1 414 URI Too Long\r\ncontent-type: application/json\r\n"), "{r}");
        let body: serde_json::Value = serde_json::from_str(r.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        assert_eq!(body["error"]["code"], "uri_too_long");
        let ours = b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
        assert!(replacement_for(ours).is_none());
        assert!(replacement_for(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
        assert!(
            replacement_for(b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n").is_some()
        );
    }
}
