//! The Prometheus endpoint: a minimal HTTP/1.1 responder on the core shard
//! (`--metrics-addr` / `corral.metricsAddr`; off by default). Every request
//! gets the current figures and the connection closes.
//!
//! Bounded like a public port: at most [`MAX_OPEN`] connections at once
//! (more are closed as soon as they are accepted, so the endpoint holds at
//! most that many descriptors, out of the reserve of `fds.rs`), and each
//! must have sent its request and taken the answer within [`DEADLINE`],
//! however it trickles.

use super::CoreHandle;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpListener;
use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

/// Connections served at once.
pub(crate) const MAX_OPEN: usize = 8;
/// The whole exchange, from accept to close.
pub(crate) const DEADLINE: Duration = Duration::from_secs(5);

pub(crate) async fn serve(listener: TcpListener, h: Rc<CoreHandle>) {
    let open = Rc::new(Cell::new(0usize));
    loop {
        let Ok(stream) = listener.accept().await else {
            glommio::timer::sleep(Duration::from_millis(10)).await;
            continue;
        };
        if open.get() >= MAX_OPEN {
            drop(stream);
            continue;
        }
        open.set(open.get() + 1);
        let h = h.clone();
        let open = open.clone();
        glommio::spawn_local(async move {
            let _ = glommio::timer::timeout(DEADLINE, async move {
                answer(stream, &h).await;
                Ok(())
            })
            .await;
            open.set(open.get() - 1);
        })
        .detach();
    }
}

async fn answer(mut stream: glommio::net::TcpStream, h: &CoreHandle) {
    // Read the request head (bounded); its content does not matter
    // beyond the path.
    let mut buf = vec![0u8; 4096];
    let mut n = 0;
    while n < buf.len() {
        match stream.read(&mut buf[n..]).await {
            Ok(k) if k > 0 => n += k,
            _ => return,
        }
        if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let head = String::from_utf8_lossy(&buf[..n]);
    let path = head.split_whitespace().nth(1).unwrap_or("/");
    let (status, body) = if path == "/metrics" || path == "/" {
        let now = h.clock.now();
        let node = h.node.borrow();
        let core = node.core();
        let up = now.mono_ms.saturating_sub(core.stats.started_mono_ms);
        let mut body = core.prometheus(up);
        if let Some(log) = &h.log {
            body.push_str(&log.stats.prometheus());
        }
        body.push_str(&format!(
            "# HELP corral_throttle_waits_total Times a connection reader waited \
                 for in-flight txns to fall under globalOutstandingLimit.\n\
                 # TYPE corral_throttle_waits_total counter\n\
                 corral_throttle_waits_total {}\n",
            h.throttle.waits()
        ));
        body.push_str(&super::spin::SPIN_STATS.prometheus());
        ("200 OK", body)
    } else {
        ("404 Not Found", "not found\n".to_string())
    };
    let reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(reply.as_bytes()).await;
    let _ = stream.close().await;
}
