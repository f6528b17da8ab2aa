//! The small HTTP/1.1 responder behind the metrics endpoint and the
//! AdminServer, on the core shard: one request per connection, answered
//! from the current state, then the connection closes.
//!
//! Bounded like a public port: at most [`MAX_OPEN`] connections at once
//! per listener and [`MAX_PER_IP`] from one address (more are closed as
//! soon as they are accepted, so a listener holds at most that many
//! descriptors, out of the reserve of `fds.rs`), a request head of at most
//! [`MAX_HEAD`] bytes that must have arrived within [`HEAD_DEADLINE`], and
//! the whole exchange within [`DEADLINE`], however it trickles.
//!
//! The listeners are bound without `SO_REUSEPORT` semantics for others: a
//! port another process holds (another corral's included) is reported as
//! busy instead of being silently shared.

use crate::types::FxHashMap;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpListener;
use std::cell::{Cell, RefCell};
use std::net::IpAddr;
use std::rc::Rc;
use std::time::Duration;

/// Connections served at once, per listener.
pub(crate) const MAX_OPEN: usize = 8;
/// Connections served at once from one IP address, per listener.
pub(crate) const MAX_PER_IP: usize = 4;
/// The request head must have arrived by then.
pub(crate) const HEAD_DEADLINE: Duration = Duration::from_secs(1);
/// The whole exchange, from accept to close.
pub(crate) const DEADLINE: Duration = Duration::from_secs(5);
/// Longest request head read; a longer one gets 431.
pub(crate) const MAX_HEAD: usize = 8192;

/// A request as the handlers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    pub method: String,
    /// The path without the query, as sent.
    pub raw_path: String,
    /// The path without the query, percent-decoded.
    pub path: String,
    /// Query parameters in order, percent-decoded.
    pub query: Vec<(String, String)>,
}

impl Request {
    /// The first value of query parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An answer.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub status: &'static str,
    pub content_type: &'static str,
    pub body: String,
}

impl Response {
    pub fn ok(content_type: &'static str, body: String) -> Response {
        Response {
            status: "200 OK",
            content_type,
            body,
        }
    }

    pub fn not_found() -> Response {
        Response {
            status: "404 Not Found",
            content_type: "text/plain",
            body: "not found\n".into(),
        }
    }

    fn bytes(&self, head_only: bool) -> Vec<u8> {
        let allow = if self.status.starts_with("405") {
            "Allow: GET, HEAD\r\n"
        } else {
            ""
        };
        let mut out = format!(
            "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{allow}Connection: close\r\n\r\n",
            self.status,
            self.content_type,
            self.body.len()
        )
        .into_bytes();
        if !head_only {
            out.extend_from_slice(self.body.as_bytes());
        }
        out
    }
}

/// Parses a request head (`GET /path?query HTTP/1.1` and headers, which
/// are not needed). None: not a request line.
pub(crate) fn parse_head(head: &[u8]) -> Option<Request> {
    let line_end = head.iter().position(|&b| b == b'\r' || b == b'\n')?;
    let line = std::str::from_utf8(&head[..line_end]).ok()?;
    let mut words = line.split(' ');
    let method = words.next().filter(|m| !m.is_empty())?;
    let target = words.next()?;
    let version = words.next()?;
    if !version.starts_with("HTTP/1.") || words.next().is_some() || !target.starts_with('/') {
        return None;
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let query = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    Some(Request {
        method: method.to_string(),
        raw_path: path.to_string(),
        path: decode(path),
        query,
    })
}

/// Percent-decoding (`+` stays a plus, as in a path); invalid escapes
/// are kept as written.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Binds `addr` for [`serve`]. glommio's listeners set `SO_REUSEPORT`,
/// under which a second process binding the same port would share it
/// silently; a plain bind first fails if anyone holds the port.
pub(crate) fn bind(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    drop(std::net::TcpListener::bind(addr)?);
    TcpListener::bind(addr).map_err(std::io::Error::from)
}

/// Serves `listener` until the process ends: every request is answered by
/// `handler` (HEAD gets its head only; methods other than GET and HEAD get
/// 405).
pub(crate) async fn serve<F>(listener: TcpListener, handler: F)
where
    F: Fn(&Request) -> Response + 'static,
{
    let handler = Rc::new(handler);
    let open = Rc::new(Cell::new(0usize));
    let per_ip: Rc<RefCell<FxHashMap<IpAddr, usize>>> = Rc::default();
    loop {
        let Ok(stream) = listener.accept().await else {
            glommio::timer::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let ip = stream.peer_addr().map(|a| a.ip()).ok();
        let from_ip = ip.map_or(0, |ip| per_ip.borrow().get(&ip).copied().unwrap_or(0));
        if open.get() >= MAX_OPEN || from_ip >= MAX_PER_IP {
            drop(stream);
            continue;
        }
        open.set(open.get() + 1);
        if let Some(ip) = ip {
            *per_ip.borrow_mut().entry(ip).or_default() += 1;
        }
        let handler = handler.clone();
        let open = open.clone();
        let per_ip = per_ip.clone();
        glommio::spawn_local(async move {
            let _ = glommio::timer::timeout(DEADLINE, async move {
                answer(stream, &*handler).await;
                Ok(())
            })
            .await;
            open.set(open.get() - 1);
            if let Some(ip) = ip {
                let mut m = per_ip.borrow_mut();
                if let Some(n) = m.get_mut(&ip) {
                    *n -= 1;
                    if *n == 0 {
                        m.remove(&ip);
                    }
                }
            }
        })
        .detach();
    }
}

/// Where a request head ends (`\r\n\r\n`, or `\n\n` from a lax client).
fn head_end(b: &[u8]) -> bool {
    b.windows(4).any(|w| w == b"\r\n\r\n") || b.windows(2).any(|w| w == b"\n\n")
}

async fn answer<F>(mut stream: glommio::net::TcpStream, handler: &F)
where
    F: Fn(&Request) -> Response,
{
    let mut buf = vec![0u8; MAX_HEAD];
    let mut n = 0;
    let read_head = async {
        loop {
            if n == buf.len() {
                return Ok(false);
            }
            match stream.read(&mut buf[n..]).await {
                Ok(k) if k > 0 => {
                    // Only the new bytes (and the 3 before them) can end it.
                    let from = n.saturating_sub(3);
                    n += k;
                    if head_end(&buf[from..n]) {
                        return Ok(true);
                    }
                }
                _ => {
                    return Err(glommio::GlommioError::<()>::IoError(
                        std::io::ErrorKind::UnexpectedEof.into(),
                    ))
                }
            }
        }
    };
    let complete = match glommio::timer::timeout(HEAD_DEADLINE, read_head).await {
        Ok(c) => c,
        Err(_) => return,
    };
    let (reply, head_only) = match parse_head(&buf[..n]) {
        _ if !complete => (
            Response {
                status: "431 Request Header Fields Too Large",
                content_type: "text/plain",
                body: "request head too large\n".into(),
            },
            false,
        ),
        None => (
            Response {
                status: "400 Bad Request",
                content_type: "text/plain",
                body: "bad request\n".into(),
            },
            false,
        ),
        Some(req) if req.method == "GET" || req.method == "HEAD" => {
            (handler(&req), req.method == "HEAD")
        }
        Some(_) => (
            Response {
                status: "405 Method Not Allowed",
                content_type: "text/plain",
                body: "only GET and HEAD\n".into(),
            },
            false,
        ),
    };
    let _ = stream.write_all(&reply.bytes(head_only)).await;
    let _ = stream.close().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines_parse_with_their_query() {
        let r =
            parse_head(b"GET /commands/set_trace_mask?traceMask=12&x HTTP/1.1\r\nHost: a\r\n\r\n")
                .unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, "/commands/set_trace_mask");
        assert_eq!(r.param("traceMask"), Some("12"));
        assert_eq!(r.param("x"), Some(""));
        assert_eq!(r.param("y"), None);
        let r = parse_head(b"GET /a%2Fb%zz%4 HTTP/1.0\r\n\r\n").unwrap();
        assert_eq!(r.path, "/a/b%zz%4");
        assert_eq!(r.raw_path, "/a%2Fb%zz%4");
    }

    #[test]
    fn garbage_is_not_a_request() {
        for head in [
            &b""[..],
            b"\r\n\r\n",
            b"GET\r\n\r\n",
            b"GET commands HTTP/1.1\r\n\r\n",
            b"GET / SPDY/3\r\n\r\n",
            b"GET / HTTP/1.1 extra\r\n\r\n",
            b"\xff\xfe / HTTP/1.1\r\n\r\n",
        ] {
            assert_eq!(parse_head(head), None, "{head:?}");
        }
    }

    #[test]
    fn heads_end_at_a_blank_line() {
        assert!(head_end(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert!(head_end(b"GET / HTTP/1.0\n\n"));
        assert!(!head_end(b"GET / HTTP/1.1\r\nHost: x\r\n"));
    }

    #[test]
    fn head_requests_get_no_body() {
        let r = Response::ok("text/plain", "hello".into());
        let full = String::from_utf8(r.bytes(false)).unwrap();
        let head = String::from_utf8(r.bytes(true)).unwrap();
        assert!(full.ends_with("\r\n\r\nhello"));
        assert!(head.ends_with("Content-Length: 5\r\nConnection: close\r\n\r\n"));
    }
}
