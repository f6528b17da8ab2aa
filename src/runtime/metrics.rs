//! The Prometheus endpoint (`--metrics-addr` / `corral.metricsAddr`; off
//! by default): `/metrics` (or `/`) answers the current figures, on the
//! shared bounded HTTP layer of [`super::http`].

use super::http::{Request, Response};
use super::CoreHandle;
use std::rc::Rc;

pub(crate) fn answer(req: &Request, h: &Rc<CoreHandle>) -> Response {
    if req.path != "/metrics" && req.path != "/" {
        return Response::not_found();
    }
    let now = h.clock.now();
    let node = h.node.borrow();
    let core = node.core();
    let up = now.mono_ms.saturating_sub(core.started_mono_ms());
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
    Response::ok("text/plain; version=0.0.4", body)
}
