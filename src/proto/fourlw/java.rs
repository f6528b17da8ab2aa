//! Java's text forms that the words print: `Double.toString`, socket
//! addresses, `Date.toString`.

use super::*;

/// Java's `Double.toString` for the values 4lw prints: `N.0` for integral values, the
/// shortest round-tripping decimal in [1e-3, 1e7), computerized scientific notation
/// (`1.0E7`, `1.5E-4`) outside it, `NaN`, `Infinity`.
pub fn java_double(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    let a = v.abs();
    if (1e-3..1e7).contains(&a) {
        let s = format!("{v}");
        if s.contains('.') {
            s
        } else {
            s + ".0"
        }
    } else {
        let s = format!("{v:e}");
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let mant = if mant.contains('.') {
            mant.to_string()
        } else {
            format!("{mant}.0")
        };
        format!("{mant}E{exp}")
    }
}

/// ZooKeeper's average rounding (`BigDecimal.setScale(4, HALF_UP)`).
pub fn round4(v: f64) -> f64 {
    if !v.is_finite() {
        return v;
    }
    (v * 10000.0).round() / 10000.0
}

/// Java `InetSocketAddress.toString()` of a resolved address: `/127.0.0.1:43162`,
/// `/[0:0:0:0:0:0:0:1]:43162` (full, uncompressed IPv6; IPv4-mapped shown as IPv4).
pub fn java_socket_addr(a: &SocketAddr) -> String {
    match a.ip() {
        IpAddr::V4(v4) => format!("/{v4}:{}", a.port()),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return format!("/{v4}:{}", a.port());
            }
            let segs: Vec<String> = v6.segments().iter().map(|s| format!("{s:x}")).collect();
            let scope = match a {
                SocketAddr::V6(s) if s.scope_id() != 0 => format!("%{}", s.scope_id()),
                _ => String::new(),
            };
            format!("/[{}{scope}]:{}", segs.join(":"), a.port())
        }
    }
}

/// Java `Date.toString()` in UTC: `Sun Nov 22 00:04:44 UTC 2026`.
pub fn java_date_utc(epoch_ms: u64) -> String {
    let secs = epoch_ms / 1000;
    let days = (secs / 86400) as i64;
    let sod = secs % 86400;
    // civil_from_days (Howard Hinnant)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    const WD: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MON: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} UTC {}",
        WD[days.rem_euclid(7) as usize],
        MON[(m - 1) as usize],
        d,
        sod / 3600,
        sod % 3600 / 60,
        sod % 60,
        y
    )
}
