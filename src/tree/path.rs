//! Path validation (`PathUtils.validatePath`) and parent/child splitting.

/// True if `path` is a valid znode path for a write (protocol reference §11).
pub fn is_valid(path: &str) -> bool {
    let b = path.as_bytes();
    if b.first() != Some(&b'/') {
        return false;
    }
    if b.len() == 1 {
        return true;
    }
    if b[b.len() - 1] == b'/' {
        return false;
    }
    for comp in b[1..].split(|&c| c == b'/') {
        if comp.is_empty() || comp == b"." || comp == b".." {
            return false;
        }
    }
    if b.is_ascii() {
        // The common case, one pass over bytes: only controls are refused.
        return !b.iter().any(|&c| c <= 0x1f || c == 0x7f);
    }
    !path.chars().any(|c| {
        let c = c as u32;
        c <= 0x1f
            || (0x7f..=0x9f).contains(&c)
            || (0xd800..=0xf8ff).contains(&c)
            || (0xfff0..=0xffff).contains(&c)
            || c > 0xffff
    })
}

/// Splits "/a/b" into ("/a", "b") and "/a" into ("/", "a"). `None` when
/// there is no '/' at all. The parent of "/" is "" (the root alias).
pub fn split(path: &str) -> Option<(&str, &str)> {
    let at = path.bytes().rposition(|c| c == b'/')?;
    let parent = if at == 0 { "/" } else { &path[..at] };
    if path == "/" {
        return Some(("", ""));
    }
    Some((parent, &path[at + 1..]))
}

/// Joins a parent path and a child name.
pub fn join(parent: &str, name: &str) -> String {
    let mut s = String::with_capacity(parent.len() + 1 + name.len());
    s.push_str(parent);
    if !parent.ends_with('/') {
        s.push('/');
    }
    s.push_str(name);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_matches_zookeeper() {
        for ok in ["/", "/a", "/a/b", "/x/...", "/x/été", "/a-b_c.d", "/.x/..y"] {
            assert!(is_valid(ok), "{ok}");
        }
        for bad in [
            "",
            "a",
            "/a/",
            "/a//b",
            "/a/.",
            "/a/..",
            "/a/./b",
            "/x\u{1}",
            "/x\u{0}",
            "/x\u{7f}",
            "//",
            "/x\u{85}",
            "/x\u{fff0}",
            "/x\u{1F600}",
        ] {
            assert!(!is_valid(bad), "{bad:?}");
        }
    }

    #[test]
    fn split_and_join() {
        assert_eq!(split("/a/b"), Some(("/a", "b")));
        assert_eq!(split("/a"), Some(("/", "a")));
        assert_eq!(split("/a/"), Some(("/a", "")));
        assert_eq!(split("rel"), None);
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
    }
}
