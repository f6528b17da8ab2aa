//! iptables rules for partition tests (root only).

use std::process::{Command, Stdio};

/// iptables rules on the test's own loopback addresses, removed on drop.
pub struct Firewall {
    rules: Vec<Vec<String>>,
}

impl Firewall {
    /// None when iptables cannot be used here (not root, not installed).
    pub fn new() -> Option<Firewall> {
        let ok = Command::new("iptables")
            .args(["-w", "-L", "INPUT", "-n"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        matches!(ok, Ok(s) if s.success()).then_some(Firewall { rules: Vec::new() })
    }

    /// Drops every packet to or from `host` (both: isolated), or only
    /// those from it (it hears but is not heard).
    pub fn cut(&mut self, host: &str, both: bool) {
        self.drop_rule(&["-s", host]);
        if both {
            self.drop_rule(&["-d", host]);
        }
    }

    /// Drops every packet between `a` and `b`, both ways (clients can
    /// still reach both).
    pub fn cut_between(&mut self, a: &str, b: &str) {
        self.drop_rule(&["-s", a, "-d", b]);
        self.drop_rule(&["-s", b, "-d", a]);
    }

    /// Inserts `INPUT <matches> -j DROP`, removed by [`Firewall::heal`].
    fn drop_rule(&mut self, matches: &[&str]) {
        let mut r = vec!["INPUT".to_string()];
        r.extend(matches.iter().map(|m| m.to_string()));
        r.extend(["-j".to_string(), "DROP".to_string()]);
        let st = Command::new("iptables")
            .arg("-w")
            .arg("-I")
            .args(&r)
            .status()
            .unwrap();
        assert!(st.success(), "iptables -I {r:?}");
        self.rules.push(r);
    }

    pub fn heal(&mut self) {
        for r in self.rules.drain(..) {
            let _ = Command::new("iptables")
                .arg("-w")
                .arg("-D")
                .args(&r)
                .status();
        }
    }
}

impl Drop for Firewall {
    fn drop(&mut self) {
        self.heal();
    }
}
