//! JAAS login configuration files, as ZooKeeper users already have them
//! for quorum and client SASL:
//!
//! ```text
//! QuorumServer {
//!        org.apache.zookeeper.server.auth.DigestLoginModule required
//!        user_test="test";
//! };
//! QuorumLearner {
//!        org.apache.zookeeper.server.auth.DigestLoginModule required
//!        username="test"
//!        password="test";
//! };
//! ```
//!
//! A file is a list of sections `Name { entry* };`; an entry is a login
//! module class, a control flag (`required`, `requisite`, `sufficient`,
//! `optional`) and `key=value` options, ended by `;`. Values are quoted
//! strings or bare words; `//` and `/* */` comments are skipped. Only what
//! corral uses is interpreted (the options of each section's entries);
//! anything malformed is an error naming the line.

use std::collections::BTreeMap;

/// One section's login modules and their options, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Section {
    pub entries: Vec<Entry>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub module: String,
    pub flag: String,
    pub options: BTreeMap<String, String>,
}

impl Section {
    /// The first value of option `key` in any entry.
    pub fn option(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find_map(|e| e.options.get(key).map(String::as_str))
    }

    /// DigestLoginModule's users: every `user_NAME="PW"` option.
    pub fn users(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        for e in &self.entries {
            for (k, v) in &e.options {
                if let Some(name) = k.strip_prefix("user_") {
                    m.insert(name.to_string(), v.clone());
                }
            }
        }
        m
    }
}

/// A parsed file: sections by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Jaas {
    pub sections: BTreeMap<String, Section>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok<'a> {
    Word(&'a str),
    Quoted(&'a str),
    Punct(char),
}

fn tokens(text: &str) -> Result<Vec<(usize, Tok<'_>)>, String> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let (mut i, mut line) = (0usize, 1usize);
    while i < b.len() {
        let c = b[i];
        match c {
            b'\n' => {
                line += 1;
                i += 1;
            }
            c if c.is_ascii_whitespace() => i += 1,
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let start = line;
                i += 2;
                loop {
                    match b.get(i) {
                        None => return Err(format!("line {start}: unclosed comment")),
                        Some(b'*') if b.get(i + 1) == Some(&b'/') => {
                            i += 2;
                            break;
                        }
                        Some(b'\n') => {
                            line += 1;
                            i += 1;
                        }
                        Some(_) => i += 1,
                    }
                }
            }
            b'{' | b'}' | b';' | b'=' => {
                out.push((line, Tok::Punct(c as char)));
                i += 1;
            }
            b'"' => {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && b[j] != b'"' {
                    if b[j] == b'\n' {
                        return Err(format!("line {line}: a quoted value spans lines"));
                    }
                    j += 1;
                }
                if j == b.len() {
                    return Err(format!("line {line}: unclosed quote"));
                }
                out.push((line, Tok::Quoted(&text[start..j])));
                i = j + 1;
            }
            _ => {
                let start = i;
                while i < b.len()
                    && !b[i].is_ascii_whitespace()
                    && !matches!(b[i], b'{' | b'}' | b';' | b'=' | b'"')
                {
                    i += 1;
                }
                out.push((line, Tok::Word(&text[start..i])));
            }
        }
    }
    Ok(out)
}

/// Parses a JAAS file.
pub fn parse(text: &str) -> Result<Jaas, String> {
    let toks = tokens(text)?;
    let mut jaas = Jaas::default();
    let mut i = 0;
    let at = |i: usize| toks.get(i).map_or(0, |t| t.0);
    let expect = |i: usize, c: char| -> Result<(), String> {
        match toks.get(i) {
            Some((_, Tok::Punct(p))) if *p == c => Ok(()),
            Some((l, t)) => Err(format!("line {l}: expected `{c}`, found {t:?}")),
            None => Err(format!("expected `{c}` at the end of the file")),
        }
    };
    while i < toks.len() {
        let name = match toks[i].1 {
            Tok::Word(w) => w.to_string(),
            t => {
                return Err(format!(
                    "line {}: expected a section name, found {t:?}",
                    at(i)
                ))
            }
        };
        expect(i + 1, '{')?;
        i += 2;
        let mut section = Section::default();
        loop {
            match toks.get(i) {
                Some((_, Tok::Punct('}'))) => {
                    i += 1;
                    break;
                }
                Some((_, Tok::Word(module))) => {
                    let module = module.to_string();
                    let flag = match toks.get(i + 1) {
                        Some((_, Tok::Word(f)))
                            if matches!(
                                f.to_ascii_lowercase().as_str(),
                                "required" | "requisite" | "sufficient" | "optional"
                            ) =>
                        {
                            f.to_ascii_lowercase()
                        }
                        _ => {
                            return Err(format!(
                                "line {}: `{module}` needs a control flag (required, requisite, sufficient or optional)",
                                at(i)
                            ))
                        }
                    };
                    i += 2;
                    let mut options = BTreeMap::new();
                    loop {
                        match toks.get(i) {
                            Some((_, Tok::Punct(';'))) => {
                                i += 1;
                                break;
                            }
                            Some((l, Tok::Word(k))) => {
                                expect(i + 1, '=')?;
                                let v = match toks.get(i + 2) {
                                    Some((_, Tok::Quoted(v) | Tok::Word(v))) => v.to_string(),
                                    _ => return Err(format!("line {l}: `{k}=` needs a value")),
                                };
                                options.insert(k.to_string(), v);
                                i += 3;
                            }
                            Some((l, t)) => {
                                return Err(format!(
                                    "line {l}: expected an option or `;`, found {t:?}"
                                ))
                            }
                            None => return Err(format!("section {name}: missing `;`")),
                        }
                    }
                    section.entries.push(Entry {
                        module,
                        flag,
                        options,
                    });
                }
                Some((l, t)) => {
                    return Err(format!(
                        "line {l}: expected a login module or `}}`, found {t:?}"
                    ))
                }
                None => return Err(format!("section {name}: missing `}}`")),
            }
        }
        expect(i, ';')?;
        i += 1;
        if jaas.sections.insert(name.clone(), section).is_some() {
            return Err(format!("section {name} appears twice"));
        }
    }
    Ok(jaas)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZK_DOC: &str = r#"
QuorumServer {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       user_test="test"
       user_other="pw two";
};
// a comment
QuorumLearner {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       username="test"
       password="test";  /* trailing */
};
Server {
  org.apache.zookeeper.server.auth.DigestLoginModule required
  user_super=adminsecret;
};
"#;

    #[test]
    fn zookeeper_documentation_example() {
        let j = parse(ZK_DOC).unwrap();
        let qs = &j.sections["QuorumServer"];
        assert_eq!(
            qs.users().into_iter().collect::<Vec<_>>(),
            vec![
                ("other".to_string(), "pw two".to_string()),
                ("test".to_string(), "test".to_string())
            ]
        );
        let ql = &j.sections["QuorumLearner"];
        assert_eq!(ql.option("username"), Some("test"));
        assert_eq!(ql.option("password"), Some("test"));
        assert_eq!(ql.entries[0].flag, "required");
        assert_eq!(
            ql.entries[0].module,
            "org.apache.zookeeper.server.auth.DigestLoginModule"
        );
        assert_eq!(j.sections["Server"].users()["super"], "adminsecret");
    }

    #[test]
    fn malformed_files_name_the_line() {
        for (text, want) in [
            (
                "A {\n m required\n k=\"v\n};",
                "line 3: a quoted value spans lines",
            ),
            ("A {\n m required k=\"v\";\n", "missing `}`"),
            ("A {\n m k=v;\n};", "line 2: `m` needs a control flag"),
            ("A {\n m required k;\n};", "line 2: expected `=`"),
            (
                "A { m required; };\nA { m required; };",
                "section A appears twice",
            ),
            ("A { m required; }", "expected `;` at the end of the file"),
            ("/* open", "line 1: unclosed comment"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(want), "{text:?}: {e}");
        }
        assert_eq!(parse("").unwrap(), Jaas::default());
    }
}
