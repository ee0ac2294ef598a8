//! src/sys.rs declares every SEQCLS_API function of include/seqcls.h and
//! every #define constant, with the header's values.
use std::collections::BTreeSet;

fn header() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../include/seqcls.h"))
        .unwrap()
}

fn sys_rs() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/sys.rs")).unwrap()
}

fn strip_comments(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("/*") {
        out.push_str(&rest[..i]);
        match rest[i..].find("*/") {
            Some(j) => rest = &rest[i + j + 2..],
            None => { rest = ""; }
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn every_header_function_is_declared() {
    let h = strip_comments(&header());
    let mut want = BTreeSet::new();
    for decl in h.split("SEQCLS_API").skip(1) {
        let decl = &decl[..decl.find('(').unwrap()];
        let name = decl.rsplit(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap();
        if name.starts_with("seqcls_") {
            want.insert(name.to_string());
        }
    }
    assert!(want.len() >= 80, "{}", want.len());
    let s = sys_rs();
    let have: BTreeSet<String> = s.lines().filter_map(|l| l.trim().strip_prefix("pub fn "))
        .map(|l| l[..l.find('(').unwrap()].to_string()).collect();
    let missing: Vec<_> = want.difference(&have).collect();
    assert!(missing.is_empty(), "not in src/sys.rs: {missing:?}");
    let extra: Vec<_> = have.difference(&want).collect();
    assert!(extra.is_empty(), "not in seqcls.h: {extra:?}");
}

#[test]
fn constants_match_the_header() {
    let h = strip_comments(&header().replace("\\\n", " "));
    let s = sys_rs();
    let mut n = 0;
    for line in h.lines() {
        let mut it = line.split_whitespace();
        if it.next() != Some("#define") {
            continue;
        }
        let (name, value) = match (it.next(), it.next()) {
            (Some(name), Some(value)) => (name, value),
            _ => continue,
        };
        if !name.starts_with("SEQCLS_") || name == "SEQCLS_API" || value.starts_with('"')
            || name == "SEQCLS_VERSION_NUMBER" {
            continue;
        }
        let v = value.trim_matches(|c| c == '(' || c == ')').trim_end_matches(['u', 'U']);
        let want: i64 = if let Some(hex) = v.strip_prefix("0x") {
            i64::from_str_radix(hex, 16).unwrap()
        } else {
            v.parse().unwrap()
        };
        let decl = s.lines().find(|l| l.starts_with(&format!("pub const {name}:")))
            .unwrap_or_else(|| panic!("{name} not in src/sys.rs"));
        let got = decl.split('=').nth(1).unwrap().trim().trim_end_matches(';');
        let got: i64 = if let Some(hex) = got.strip_prefix("0x") {
            i64::from_str_radix(hex, 16).unwrap()
        } else {
            got.parse().unwrap()
        };
        assert_eq!(got, want, "{name}");
        n += 1;
    }
    assert!(n > 60, "{n}");
    assert_eq!(seqcls::version(), 10000 * seqcls::sys::SEQCLS_VERSION_MAJOR
               + 100 * seqcls::sys::SEQCLS_VERSION_MINOR + seqcls::sys::SEQCLS_VERSION_PATCH);
}
