//! The layout tells the truth, and keeps telling it: no import circles between files, one
//! module per contract (the ledger's keys, template.yaml), typed errors at the edges, the
//! embedded runtime apart from the test doubles, and no citation of a document that is not
//! in the repository. The source is read as text: comments, string contents and `#[cfg(test)]`
//! modules are left out where they would only add noise.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

/// A source file of the library, by its module path (`domain::keys`; `` for lib.rs).
#[derive(Debug)]
struct SourceFile {
    module: Vec<String>,
    path: PathBuf,
    /// The code without comments and without `#[cfg(test)]` modules.
    code: String,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Removes `//` and `/* */` comments, keeping string literals (and the lines) in place.
fn without_comments(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
            }
            b'"' => {
                let start = i;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                out.push_str(&text[start..i.min(text.len())]);
            }
            b'r' if bytes.get(i + 1) == Some(&b'#') || (bytes.get(i + 1) == Some(&b'"') && !is_ident(bytes, i)) => {
                // A raw string: r"…" or r#"…"#.
                let start = i;
                let mut hashes = 0;
                i += 1;
                while bytes.get(i) == Some(&b'#') {
                    hashes += 1;
                    i += 1;
                }
                if bytes.get(i) != Some(&b'"') {
                    out.push_str(&text[start..i]);
                    continue;
                }
                let close = format!("\"{}", "#".repeat(hashes));
                let end = text[i + 1..]
                    .find(&close)
                    .map_or(text.len(), |at| i + 1 + at + close.len());
                out.push_str(&text[start..end]);
                i = end;
            }
            _ => {
                let c = text[i..].chars().next().unwrap();
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    out
}

fn is_ident(bytes: &[u8], at: usize) -> bool {
    at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_')
}

/// Removes every `#[cfg(test)] mod … { … }` block.
fn without_test_modules(code: &str) -> String {
    let mut out = String::new();
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        let Some(open) = after.find('{') else { break };
        let mut depth = 0;
        let mut end = after.len();
        for (i, c) in after[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// String literals blanked out, so that what is left is code only.
fn without_strings(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in code.chars() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
                out.push('"');
            }
            continue;
        }
        if c == '"' {
            in_string = true;
        }
        out.push(c);
    }
    out
}

fn library() -> Vec<SourceFile> {
    let mut paths = Vec::new();
    rust_files(Path::new(SRC), &mut paths);
    paths.sort();
    paths
        .into_iter()
        .filter(|p| !p.starts_with(Path::new(SRC).join("bin")))
        .map(|path| {
            let relative = path.strip_prefix(SRC).unwrap().with_extension("");
            let mut module: Vec<String> = relative.iter().map(|s| s.to_string_lossy().into_owned()).collect();
            if module.last().is_some_and(|m| m == "mod" || m == "lib") {
                module.pop();
            }
            let text = std::fs::read_to_string(&path).unwrap();
            SourceFile {
                module,
                code: without_test_modules(&without_comments(&text)),
                path,
            }
        })
        .collect()
}

fn relative(path: &Path) -> String {
    path.strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap()
        .display()
        .to_string()
}

/// Every `crate::…`, `super::…` and `self::…` path of the code, as absolute module paths,
/// `use` groups expanded.
fn paths_used(file: &SourceFile) -> Vec<Vec<String>> {
    let code = without_strings(&file.code);
    let mut found = Vec::new();
    let is_mod_rs = file.path.file_name().is_some_and(|n| n == "mod.rs" || n == "lib.rs");
    // The module `super` starts from: a file's parent module, a mod.rs's own parent.
    let here: Vec<String> = file.module.clone();
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < code.len() {
        let starts = ["crate::", "super::", "self::"]
            .into_iter()
            .find(|p| code[i..].starts_with(p));
        let boundary =
            i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_' || bytes[i - 1] == b':');
        match starts {
            Some(prefix) if boundary => {
                let mut base: Vec<String> = match prefix {
                    "crate::" => Vec::new(),
                    "self::" => here.clone(),
                    _ => {
                        let mut up = here.clone();
                        up.pop();
                        up
                    }
                };
                let mut j = i + prefix.len();
                // Further `super::`.
                while code[j..].starts_with("super::") {
                    base.pop();
                    j += "super::".len();
                }
                let end = expand(&code, j, base, &mut found);
                i = end;
            }
            _ => i += code[i..].chars().next().map_or(1, char::len_utf8),
        }
    }
    let _ = is_mod_rs;
    found
}

/// Reads a path (or a `{…}` group) at `at`, pushing every full path under `base`; returns
/// where it ended.
fn expand(code: &str, at: usize, base: Vec<String>, found: &mut Vec<Vec<String>>) -> usize {
    let bytes = code.as_bytes();
    let mut path = base;
    let mut i = at;
    loop {
        let start = i;
        while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
            i += 1;
        }
        if i > start {
            path.push(code[start..i].to_string());
        }
        if code[i..].starts_with("::{") {
            i += 3;
            loop {
                while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b'\n' || bytes[i] == b',') {
                    i += 1;
                }
                if i >= bytes.len() || bytes[i] == b'}' {
                    return i + 1;
                }
                let member_base = path.clone();
                if code[i..].starts_with("self")
                    && !code[i + 4..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
                {
                    found.push(member_base);
                    i += 4;
                } else {
                    i = expand(code, i, member_base, found);
                }
                // Skip `as name` and anything up to the next `,` or `}`.
                while i < bytes.len() && bytes[i] != b',' && bytes[i] != b'}' {
                    i += 1;
                }
            }
        }
        if code[i..].starts_with("::") {
            i += 2;
            continue;
        }
        found.push(path);
        return i;
    }
}

/// The file a module path lands in, following `pub use child::Name` re-exports of mod.rs
/// files to the child that defines the name.
fn resolve(files: &BTreeMap<Vec<String>, usize>, library: &[SourceFile], path: &[String]) -> Option<usize> {
    let mut best = None;
    for len in (0..=path.len()).rev() {
        if let Some(&index) = files.get(&path[..len].to_vec()) {
            best = Some((index, len));
            break;
        }
    }
    let (index, len) = best?;
    // A name re-exported by a folder module lives in its child.
    if let Some(name) = path.get(len) {
        let module = &library[index].module;
        for line in library[index].code.lines() {
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("pub use ") {
                let child = rest.split("::").next().unwrap_or_default();
                let mut child_path = module.clone();
                child_path.push(child.to_string());
                if child != "crate" && child != "super" && files.contains_key(&child_path) {
                    let names = rest[child.len()..].to_string();
                    let listed = names
                        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .any(|n| n == name.as_str());
                    if listed {
                        let mut target = child_path;
                        target.extend(path[len..].iter().cloned());
                        return resolve(files, library, &target).or(Some(index));
                    }
                }
            }
        }
    }
    Some(index)
}

fn is_ancestor(ancestor: &[String], of: &[String]) -> bool {
    ancestor.len() < of.len() && of.starts_with(ancestor)
}

/// Strongly connected components of more than one file (Tarjan).
fn circles(edges: &[BTreeSet<usize>]) -> Vec<Vec<usize>> {
    struct State<'a> {
        edges: &'a [BTreeSet<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(s: &mut State<'_>, v: usize) {
        s.index[v] = Some(s.next);
        s.low[v] = s.next;
        s.next += 1;
        s.stack.push(v);
        s.on_stack[v] = true;
        for &w in s.edges[v].clone().iter() {
            match s.index[w] {
                None => {
                    visit(s, w);
                    s.low[v] = s.low[v].min(s.low[w]);
                }
                Some(iw) if s.on_stack[w] => s.low[v] = s.low[v].min(iw),
                _ => {}
            }
        }
        if Some(s.low[v]) == s.index[v] {
            let mut component = Vec::new();
            loop {
                let w = s.stack.pop().unwrap();
                s.on_stack[w] = false;
                component.push(w);
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                s.out.push(component);
            }
        }
    }
    let n = edges.len();
    let mut state = State {
        edges,
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if state.index[v].is_none() {
            visit(&mut state, v);
        }
    }
    state.out
}

fn dependency_edges(library: &[SourceFile]) -> Vec<BTreeSet<usize>> {
    let files: BTreeMap<Vec<String>, usize> = library.iter().enumerate().map(|(i, f)| (f.module.clone(), i)).collect();
    library
        .iter()
        .enumerate()
        .map(|(from, file)| {
            paths_used(file)
                .iter()
                .filter_map(|path| resolve(&files, library, path))
                // A file may use its own ancestors (a module owns its children).
                .filter(|&to| to != from && !is_ancestor(&library[to].module, &file.module))
                .collect()
        })
        .collect()
}

#[test]
fn no_two_files_import_each_other_even_through_others() {
    let library = library();
    let edges = dependency_edges(&library);
    let found: Vec<Vec<String>> = circles(&edges)
        .into_iter()
        .map(|component| {
            let mut names: Vec<String> = component.iter().map(|&i| relative(&library[i].path)).collect();
            names.sort();
            names
        })
        .collect();
    assert!(found.is_empty(), "import circles: {found:#?}");
}

#[test]
fn the_circle_finder_finds_a_circle() {
    // a → b → c → a, and d → a outside it.
    let edges = vec![
        BTreeSet::from([1]),
        BTreeSet::from([2]),
        BTreeSet::from([0]),
        BTreeSet::from([0]),
    ];
    let mut found = circles(&edges);
    found[0].sort();
    assert_eq!(found, vec![vec![0, 1, 2]]);
    let file = SourceFile {
        module: vec!["a".into(), "b".into()],
        path: PathBuf::from("a/b.rs"),
        code: "use crate::x::{y::{Z, W as V}, self};\nfn f() { super::c::d(); \"crate::not::a::path\"; }".into(),
    };
    let mut paths = paths_used(&file);
    paths.sort();
    let expected: Vec<Vec<String>> = [vec!["a", "c", "d"], vec!["x"], vec!["x", "y", "W"], vec!["x", "y", "Z"]]
        .iter()
        .map(|p| p.iter().map(|s| s.to_string()).collect())
        .collect();
    assert_eq!(paths, expected);
}

/// (file, line) of each place where the code holds a string literal that `refused` says is
/// one, outside `allowed`.
fn literals_outside(allowed: &[&str], refused: impl Fn(&str) -> bool) -> Vec<String> {
    let mut found = Vec::new();
    for file in library() {
        let name = relative(&file.path);
        if allowed.contains(&name.as_str()) {
            continue;
        }
        for (n, line) in file.code.lines().enumerate() {
            let mut rest = line;
            while let Some(open) = rest.find('"') {
                let after = &rest[open + 1..];
                let Some(close) = after.find('"') else { break };
                if refused(&after[..close]) {
                    found.push(format!("{name}:{}: \"{}\"", n + 1, &after[..close]));
                }
                rest = &after[close + 1..];
            }
        }
    }
    found
}

#[test]
fn the_ledgers_key_layout_is_written_in_one_module() {
    let found = literals_outside(&["src/domain/keys.rs"], |text| {
        ["ACCOUNT#", "TXN#", "TXNID#"].iter().any(|p| text.starts_with(p))
            || ["PROFILE", "TXN_ID", "ACCOUNT", "TXN", "TXNID"].contains(&text)
    });
    assert!(found.is_empty(), "key literals outside src/domain/keys.rs: {found:#?}");
}

#[test]
fn template_yaml_is_read_in_one_module() {
    let mut found = Vec::new();
    for file in library() {
        let name = relative(&file.path);
        if name == "src/template.rs" {
            continue;
        }
        let code = without_strings(&file.code);
        for (n, line) in file.code.lines().enumerate() {
            if line.contains("include_str!") && line.contains("template.yaml") {
                found.push(format!("{name}:{}: includes template.yaml", n + 1));
            }
        }
        if code.contains("serde_yaml_ng") {
            found.push(format!("{name}: parses YAML"));
        }
    }
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn the_edges_of_the_use_cases_and_the_functions_answer_typed_errors() {
    let mut found = Vec::new();
    for file in library() {
        let name = relative(&file.path);
        if !(name.starts_with("src/lambda/") || name.starts_with("src/pipeline/")) {
            continue;
        }
        for (n, line) in without_strings(&file.code).lines().enumerate() {
            let compact: String = line.chars().filter(|c| !c.is_whitespace()).collect();
            if compact.contains("Result<") && compact.contains(",String>") {
                found.push(format!("{name}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "string errors in lambda/ or pipeline/: {found:#?}");
}

/// A Scan reads (and bills) every item of a table: the ledger holds years of transactions.
/// Nothing of ours calls one, and no role may grant one.
#[test]
fn nothing_scans_a_table() {
    let mut found = Vec::new();
    let mut paths = Vec::new();
    rust_files(Path::new(SRC), &mut paths);
    for path in paths {
        let code = without_comments(&std::fs::read_to_string(&path).unwrap());
        let compact: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        for needle in [".scan()", "operation::scan", "ScanInput", "dynamodb:Scan"] {
            if compact.contains(needle) {
                found.push(format!("{}: {needle}", relative(&path)));
            }
        }
    }
    let template = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("template.yaml")).unwrap();
    for (n, line) in template.lines().enumerate() {
        if line.contains("dynamodb:Scan") || line.contains("dynamodb:*") {
            found.push(format!("template.yaml:{}: {}", n + 1, line.trim()));
        }
    }
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn the_embedded_runtime_and_the_aws_adapters_do_not_use_the_test_doubles() {
    let mut found = Vec::new();
    for file in library() {
        let name = relative(&file.path);
        let production = [
            "src/local/embedded/",
            "src/aws/",
            "src/pipeline/",
            "src/domain/",
            "src/lambda/",
        ];
        if !production.iter().any(|p| name.starts_with(p)) {
            continue;
        }
        if without_strings(&file.code).contains("local::memory") {
            found.push(name);
        }
    }
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn nothing_cites_a_document_outside_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    let mut paths = Vec::new();
    for dir in [
        "src",
        "tests",
        "benches",
        "docs",
        "schemas",
        "scripts",
        "templates",
        "rules",
        "events",
    ] {
        collect(&root.join(dir), &mut paths);
    }
    paths.extend(["README.md", "template.yaml", "Cargo.toml"].map(|f| root.join(f)));
    for path in paths {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            // This file names what it looks for.
            if path.ends_with("tests/layout.rs") {
                continue;
            }
            if line.contains("DESIGN") || line.contains("../shared") {
                found.push(format!("{}:{}", relative(&path), n + 1));
            }
        }
    }
    assert!(found.is_empty(), "{found:#?}");
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, out);
        } else {
            out.push(path);
        }
    }
}
