//! The `java.util.Properties` text format ZooKeeper reads `zoo.cfg` with:
//! logical lines, continuations, separators, escapes.

use super::*;

/// A raw logical line of the Properties file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Entry {
    pub(super) line: usize,
    pub(super) key: String,
    pub(super) value: String,
}

/// Splits Properties text into logical `key`/`value` entries (java.util.Properties.load):
/// `#`/`!` comment lines, `=`, `:` or whitespace separators, backslash line continuation,
/// `\t \n \r \f \uXXXX` escapes. Keys and values are trimmed (ZooKeeper trims both).
pub(super) fn properties_entries(text: &str) -> Result<Vec<Entry>, ConfigError> {
    let mut out = Vec::new();
    let natural: Vec<&str> = split_natural_lines(text);
    let mut i = 0;
    while i < natural.len() {
        let start_line = i + 1;
        let first = natural[i].trim_start_matches([' ', '\t', '\x0c']);
        i += 1;
        if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
            continue;
        }
        let mut logical = String::new();
        let mut cur = first.to_string();
        loop {
            let trailing = cur.chars().rev().take_while(|c| *c == '\\').count();
            if trailing % 2 == 1 {
                cur.pop();
                logical.push_str(&cur);
                if i < natural.len() {
                    cur = natural[i]
                        .trim_start_matches([' ', '\t', '\x0c'])
                        .to_string();
                    i += 1;
                    continue;
                }
                break;
            }
            logical.push_str(&cur);
            break;
        }
        let (k, v) = split_key_value(&logical);
        let key = unescape(k).map_err(|reason| ConfigError::Syntax {
            line: start_line,
            reason,
        })?;
        let value = unescape(v).map_err(|reason| ConfigError::Syntax {
            line: start_line,
            reason,
        })?;
        out.push(Entry {
            line: start_line,
            key: key.trim().to_string(),
            value: value.trim().to_string(),
        });
    }
    Ok(out)
}

pub(super) fn split_natural_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let b = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\n' || b[i] == b'\r' {
            lines.push(&text[start..i]);
            if b[i] == b'\r' && i + 1 < b.len() && b[i + 1] == b'\n' {
                i += 1;
            }
            start = i + 1;
        }
        i += 1;
    }
    if start < b.len() {
        lines.push(&text[start..]);
    }
    lines
}

/// Returns the raw (still escaped) key and value parts of a logical line.
pub(super) fn split_key_value(line: &str) -> (&str, &str) {
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let mut key_end = line.len();
    let mut value_start = line.len();
    let mut has_sep = false;
    let mut backslash = false;
    for (idx, &(pos, c)) in chars.iter().enumerate() {
        if backslash {
            backslash = false;
            continue;
        }
        if c == '\\' {
            backslash = true;
            continue;
        }
        if c == '=' || c == ':' {
            key_end = pos;
            value_start = chars.get(idx + 1).map_or(line.len(), |x| x.0);
            has_sep = true;
            break;
        }
        if c == ' ' || c == '\t' || c == '\x0c' {
            key_end = pos;
            value_start = chars.get(idx + 1).map_or(line.len(), |x| x.0);
            break;
        }
    }
    let rest = &line[value_start..];
    let mut vs = 0;
    for (pos, c) in rest.char_indices() {
        if c == ' ' || c == '\t' || c == '\x0c' {
            vs = pos + c.len_utf8();
            continue;
        }
        if !has_sep && (c == '=' || c == ':') {
            has_sep = true;
            vs = pos + 1;
            continue;
        }
        vs = pos;
        break;
    }
    if rest.chars().all(|c| c == ' ' || c == '\t' || c == '\x0c') {
        vs = rest.len();
    }
    (&line[..key_end], &rest[vs..])
}

pub(super) fn unescape(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            None => {}
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = it.by_ref().take(4).collect();
                let cp = u32::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| hex.len() == 4)
                    .ok_or_else(|| format!("malformed \\uXXXX escape `\\u{hex}`"))?;
                out.push(char::from_u32(cp).unwrap_or('\u{fffd}'));
            }
            Some(o) => out.push(o),
        }
    }
    Ok(out)
}
