//! The Prometheus endpoint: a minimal HTTP/1.1 responder on the core shard
//! (`--metrics-addr` / `corral.metricsAddr`; off by default). Every request
//! gets the current figures and the connection closes.

use super::CoreHandle;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpListener;
use std::rc::Rc;
use std::time::Duration;

pub(crate) async fn serve(listener: TcpListener, h: Rc<CoreHandle>) {
    loop {
        let Ok(mut stream) = listener.accept().await else {
            glommio::timer::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let h = h.clone();
        glommio::spawn_local(async move {
            // Read the request head (bounded); its content does not matter
            // beyond the path.
            let mut buf = vec![0u8; 4096];
            let mut n = 0;
            while n < buf.len() {
                let read = glommio::timer::timeout(Duration::from_secs(5), async {
                    Ok(stream.read(&mut buf[n..]).await)
                })
                .await;
                match read {
                    Ok(Ok(k)) if k > 0 => n += k,
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
        })
        .detach();
    }
}
