//! The repository's architecture rules, checked against the files themselves so they cannot go
//! stale silently:
//!
//! - every repository path docs/architecture.md names exists (the page maps the seed's modules
//!   to files, and a map that points nowhere is worse than none);
//! - the server crate's modules import each other without cycles, at file level and at
//!   top-level-module level, except for the composition roots that wire the tree together;
//! - each seed process lives in the file its id spells (`web_server_tcp_listener_sup` in
//!   crates/server/src/tcp/listener_sup.rs), defines its id there, and the page says so.
//!
//! Nothing here starts a server: the tests read files only. The parsing is deliberately small
//! (a tokenizer, not a Rust parser); its pure functions are unit-tested at the bottom on inline
//! inputs, so a parser bug shows up there rather than as a vacuous pass.

mod support;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use std::fs;
use std::path::{Path, PathBuf};
use support::SEED_PROCESS_IDS;

/// The modules that wire the tree and may import anything: nothing is checked for cycles
/// through them (they sit above everything else). `crate` is lib.rs, `main` is main.rs, `sup`
/// the root supervisor (sup.rs); a root's submodules are roots too.
const COMPOSITION_ROOTS: &[&str] = &["crate", "main", "sup", "server", "run", "embed"];

/// The repository's top-level entries: a token in the architecture page that starts with one of
/// these is a repository path and must exist.
const TOP_LEVEL_ENTRIES: &[&str] = &[
    "crates/",
    "tests/",
    "examples/",
    "docs/",
    "config/",
    "fuzz/",
    ".ci/",
    "Makefile",
    "Cargo.toml",
    "README.md",
];

/// Extensions that make a bare token such as `state.rs` read as a file name (a closed list, so
/// that prose like "e.g." or "0.13" is never taken for a path).
const FILE_EXTENSIONS: &[&str] = &[
    "rs", "md", "toml", "html", "py", "in", "json", "yaml", "yml", "sh", "txt", "conf", "css",
    "js", "lock",
];

const ARCHITECTURE_DOC: &str = "docs/architecture.md";
const SERVER_SRC: &str = "crates/server/src";
const PROCESS_ID_PREFIX: &str = "web_server_";

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
}

/// Whether `relative` (a repository path, `/`-separated, maybe ending in `/`) exists under the
/// repository root.
fn exists_in_repo(relative: &str) -> bool {
    let trimmed = relative.trim_end_matches('/');
    trimmed.is_empty() || repo_root().join(trimmed).exists()
}

// ---------------------------------------------------------------------------------------------
// Rule 1: every path docs/architecture.md names exists.
// ---------------------------------------------------------------------------------------------

/// One path the architecture page names, and what it was found to mean.
#[derive(Debug, Clone, PartialEq)]
struct DocPath {
    /// 1-based line of the page.
    line: usize,
    /// The path as written (after brace expansion).
    written: String,
    /// The repository paths tried, in order: one for a rooted path, the walk up from the base
    /// directory for a relative one (empty when there was no base to resolve against).
    tried: Vec<String>,
    /// The first of `tried` that exists.
    found: Option<String>,
}

fn is_rooted(token: &str) -> bool {
    TOP_LEVEL_ENTRIES.iter().any(|entry| {
        if entry.ends_with('/') {
            token.starts_with(entry)
        } else {
            token == *entry || token.starts_with(&format!("{entry}/"))
        }
    })
}

/// Whether a token that is not rooted still reads as a relative file path (`conn/state.rs`,
/// `mod.rs`): path characters only, no `..` (the page may point outside the repository, which
/// this test cannot check), and a known file extension.
fn is_relative_file(token: &str) -> bool {
    let path_chars = token
        .chars()
        .all(|ch| ch.is_ascii_alphanumeric() || "_-./{},".contains(ch));
    if !path_chars || token.starts_with('/') || token.split('/').any(|part| part == "..") {
        return false;
    }
    let last = token.rsplit('/').next().unwrap_or(token);
    match last.rsplit_once('.') {
        Some((stem, extension)) => !stem.is_empty() && FILE_EXTENSIONS.contains(&extension),
        None => false,
    }
}

/// Expands shell-like brace groups: `a/{b,c}.rs` → `a/b.rs`, `a/c.rs` (nested groups too).
fn expand_braces(token: &str) -> Vec<String> {
    let Some(open) = token.find('{') else {
        return vec![token.to_string()];
    };
    let mut depth = 0;
    let mut close = None;
    let mut alternatives = Vec::new();
    let mut start = open + 1;
    for (index, ch) in token.char_indices().skip_while(|(index, _)| *index < open) {
        match ch {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    alternatives.push(&token[start..index]);
                    close = Some(index);
                    break;
                }
            }
            ',' if depth == 1 => {
                alternatives.push(&token[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    // An unbalanced group is left as written: it will then be reported as missing.
    let Some(close) = close else {
        return vec![token.to_string()];
    };
    let (head, tail) = (&token[..open], &token[close + 1..]);
    alternatives
        .into_iter()
        .flat_map(|alternative| expand_braces(&format!("{head}{alternative}{tail}")))
        .collect()
}

/// The words of a line that could be paths: split on whitespace and markdown punctuation, then
/// on commas outside brace groups, with surrounding sentence punctuation stripped.
fn path_tokens(line: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    for word in line.split(|ch: char| ch.is_whitespace() || "`|()[]<>\"*".contains(ch)) {
        let mut depth = 0;
        let mut start = 0;
        let mut pieces = Vec::new();
        for (index, ch) in word.char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    pieces.push(&word[start..index]);
                    start = index + 1;
                }
                _ => {}
            }
        }
        pieces.push(&word[start..]);
        for piece in pieces {
            let piece = piece
                .trim_start_matches(['\'', ','])
                .trim_end_matches([',', '.', ')', ':', ';', '!', '?', '\'']);
            if !piece.is_empty() {
                tokens.push(piece.to_string());
            }
        }
    }
    tokens
}

/// The directory a relative path continues from: the path itself if it names a directory
/// (`crates/server/src/metrics/`), else its parent.
fn base_directory(rooted: &str) -> String {
    if let Some(directory) = rooted.strip_suffix('/') {
        return directory.to_string();
    }
    match rooted.rsplit_once('/') {
        Some((directory, _)) => directory.to_string(),
        None => String::new(),
    }
}

/// Every repository path `doc` names. A rooted path (starting with a top-level entry) stands for
/// itself; a relative file path (`conn/state.rs`) continues from the latest rooted path in the
/// same table row, or the same paragraph of prose (prose wraps, a row does not), and resolves to
/// the first existing file found walking up from that path's directory. Fenced code blocks are
/// skipped (the tree diagram holds process ids, not paths).
fn extract_paths(doc: &str, exists: &dyn Fn(&str) -> bool) -> Vec<DocPath> {
    let mut paths = Vec::new();
    let mut in_fence = false;
    let mut base: Option<String> = None;
    let mut previous_was_row = false;
    for (index, line) in doc.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            in_fence = !in_fence;
            base = None;
            continue;
        }
        if in_fence {
            continue;
        }
        let is_row = trimmed.starts_with('|');
        if is_row || previous_was_row || trimmed.is_empty() || trimmed.starts_with('#') {
            base = None;
        }
        previous_was_row = is_row;
        for token in path_tokens(line) {
            if is_rooted(&token) {
                for written in expand_braces(&token) {
                    let found = exists(&written).then(|| written.clone());
                    base = Some(written.clone());
                    paths.push(DocPath {
                        line: index + 1,
                        tried: vec![written.clone()],
                        written,
                        found,
                    });
                }
            } else if is_relative_file(&token) {
                for written in expand_braces(&token) {
                    let mut tried = Vec::new();
                    if let Some(base) = &base {
                        let mut directory = Some(base_directory(base));
                        while let Some(current) = directory {
                            tried.push(if current.is_empty() {
                                written.clone()
                            } else {
                                format!("{current}/{written}")
                            });
                            directory = if current.is_empty() {
                                None
                            } else {
                                Some(base_directory(&current))
                            };
                        }
                    }
                    let found = tried.iter().find(|candidate| exists(candidate)).cloned();
                    paths.push(DocPath {
                        line: index + 1,
                        written,
                        tried,
                        found,
                    });
                }
            }
        }
    }
    paths
}

/// What to fix for a path that was not found.
fn missing_path_message(path: &DocPath) -> String {
    if path.tried.len() == 1 && path.tried[0] == path.written {
        format!(
            "{ARCHITECTURE_DOC} line {} names {}, which does not exist: fix the path or the page",
            path.line, path.written
        )
    } else if path.tried.is_empty() {
        format!(
            "{ARCHITECTURE_DOC} line {} names {} with no repository path before it in the same \
             row or paragraph to continue from: write it in full (crates/...)",
            path.line, path.written
        )
    } else {
        format!(
            "{ARCHITECTURE_DOC} line {} names {}, but none of {} exists: fix the path or write it \
             in full",
            path.line,
            path.written,
            path.tried.join(", ")
        )
    }
}

#[test]
fn every_path_docs_architecture_names_exists() {
    let doc = read(&repo_root().join(ARCHITECTURE_DOC));
    let paths = extract_paths(&doc, &exists_in_repo);
    // The page names dozens of paths; a handful guards against a parser that finds none.
    assert!(
        paths.len() >= 10,
        "only {} paths found in {ARCHITECTURE_DOC}; the path parser of this test is broken: {paths:?}",
        paths.len()
    );
    let missing: Vec<String> = paths
        .iter()
        .filter(|path| path.found.is_none())
        .map(missing_path_message)
        .collect();
    assert!(
        missing.is_empty(),
        "{} of the {} paths {ARCHITECTURE_DOC} names do not exist:\n  {}",
        missing.len(),
        paths.len(),
        missing.join("\n  ")
    );
}

// ---------------------------------------------------------------------------------------------
// Rule 2: no import cycle in the server crate outside the composition roots.
// ---------------------------------------------------------------------------------------------

/// A module of the crate as path segments: `[]` is the crate root, `["tcp", "listener"]` is
/// tcp/listener.rs.
type ModulePath = Vec<String>;

/// The graph node a source file is, and the module path its own relative paths resolve against.
/// `None` for test-only files (`tests.rs`), which may reach anywhere.
fn module_of(relative: &str) -> Option<(String, ModulePath)> {
    let without_extension = relative.strip_suffix(".rs")?;
    let mut segments: Vec<String> = without_extension.split('/').map(str::to_string).collect();
    if segments.last().map(String::as_str) == Some("tests") {
        return None;
    }
    match without_extension {
        "lib" => return Some(("crate".to_string(), Vec::new())),
        // The binary is a crate of its own; its `web_server::` paths are the library's root.
        "main" => return Some(("main".to_string(), Vec::new())),
        _ => {}
    }
    if segments.last().map(String::as_str) == Some("mod") {
        segments.pop();
    }
    Some((node_name(&segments), segments))
}

fn node_name(module: &[String]) -> String {
    if module.is_empty() {
        "crate".to_string()
    } else {
        module.join("::")
    }
}

/// Replaces comments (line, doc and nested block comments) with spaces, and string and char
/// literals too unless `keep_strings`; newlines stay, so line numbers still match.
fn blank_comments(source: &str, keep_strings: bool) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let blank = |ch: char| if ch == '\n' { '\n' } else { ' ' };
    let at = |index: usize| chars.get(index).copied();
    let is_ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut i = 0;
    while i < chars.len() {
        let ch = chars[i];
        let after_ident = i > 0 && is_ident(chars[i - 1]);
        // The extent [i, end) of a literal starting here, if one does.
        let mut literal_end = None;
        if ch == '/' && at(i + 1) == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
            continue;
        }
        if ch == '/' && at(i + 1) == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && at(i + 1) == Some('*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && at(i + 1) == Some('/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            continue;
        }
        // Raw strings: r"…", r#"…"#, br"…" (not the raw identifier r#type).
        if !after_ident && (ch == 'r' || (ch == 'b' && at(i + 1) == Some('r'))) {
            let mut j = i + if ch == 'b' { 2 } else { 1 };
            let mut hashes = 0;
            while at(j) == Some('#') {
                hashes += 1;
                j += 1;
            }
            if at(j) == Some('"') {
                j += 1;
                while j < chars.len() {
                    if chars[j] == '"' && (1..=hashes).all(|k| at(j + k) == Some('#')) {
                        j += 1 + hashes;
                        break;
                    }
                    j += 1;
                }
                literal_end = Some(j.min(chars.len()));
            }
        }
        // Strings "…" and b"…", with escapes.
        if literal_end.is_none()
            && (ch == '"' || (!after_ident && ch == 'b' && at(i + 1) == Some('"')))
        {
            let mut j = if ch == 'b' { i + 2 } else { i + 1 };
            while j < chars.len() && chars[j] != '"' {
                j += if chars[j] == '\\' { 2 } else { 1 };
            }
            literal_end = Some((j + 1).min(chars.len()));
        }
        // Char literals 'a', '\n', '\'' and b'a'; a lifetime ('a, 'static) is left alone.
        if literal_end.is_none() {
            let quote = if ch == '\'' {
                Some(i)
            } else if ch == 'b' && !after_ident && at(i + 1) == Some('\'') {
                Some(i + 1)
            } else {
                None
            };
            if let Some(quote) = quote {
                if at(quote + 1) == Some('\\') {
                    let mut j = quote + 3;
                    while j < chars.len() && chars[j] != '\'' && chars[j] != '\n' {
                        j += 1;
                    }
                    literal_end = Some((j + 1).min(chars.len()));
                } else if at(quote + 2) == Some('\'') {
                    literal_end = Some(quote + 3);
                }
            }
        }
        match literal_end {
            Some(end) if !keep_strings => {
                out.extend(chars[i..end].iter().map(|&ch| blank(ch)));
                i = end;
            }
            Some(end) => {
                out.extend(&chars[i..end]);
                i = end;
            }
            None => {
                out.push(ch);
                i += 1;
            }
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
struct Token {
    text: String,
    line: usize,
    /// Index of its first char in the text tokenized.
    start: usize,
}

/// Identifiers (keywords included), `::`, and every other non-space character on its own.
/// Expects comments and literals blanked.
fn tokenize(clean: &str) -> Vec<Token> {
    let chars: Vec<char> = clean.chars().collect();
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        let ch = chars[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch.is_alphanumeric() || ch == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(Token {
                text: chars[start..i].iter().collect(),
                line,
                start,
            });
        } else if ch == ':' && chars.get(i + 1) == Some(&':') {
            tokens.push(Token {
                text: "::".to_string(),
                line,
                start: i,
            });
            i += 2;
        } else {
            tokens.push(Token {
                text: ch.to_string(),
                line,
                start: i,
            });
            i += 1;
        }
    }
    tokens
}

fn is_identifier(text: &str) -> bool {
    text.chars()
        .next()
        .is_some_and(|ch| ch.is_alphabetic() || ch == '_')
}

/// `source` with comments and test-only code (`#[cfg(test)]` items, or everything under
/// `#![cfg(test)]`) blanked, string literals kept: what the process-id check searches, so a
/// test that spells an id does not count as its definition.
fn without_test_code(source: &str) -> String {
    let mut chars: Vec<char> = blank_comments(source, true).chars().collect();
    // Tokens of the fully blanked text: its chars line up one to one with `chars`.
    let tokens = tokenize(&blank_comments(source, false));
    let mut blank_from = |from: usize, to: usize| {
        for ch in &mut chars[from..to] {
            if *ch != '\n' {
                *ch = ' ';
            }
        }
    };
    let mut at = 0;
    while at < tokens.len() {
        if cfg_test_attribute(&tokens, at, true).is_some() {
            return String::new();
        }
        if let Some(after) = cfg_test_attribute(&tokens, at, false) {
            let end = past_item(&tokens, after);
            let to = tokens.get(end).map_or(usize::MAX, |token| token.start);
            let to = to.min(source.chars().count());
            blank_from(tokens[at].start, to);
            at = end;
        } else {
            at += 1;
        }
    }
    chars.into_iter().collect()
}

/// A reference from a source file to a module path of the crate (absolute, not yet resolved to
/// an existing module file).
#[derive(Debug, Clone, PartialEq)]
struct Import {
    /// Absolute path segments: `crate::tcp::gate::ConnectionGate` → `["tcp", "gate", "ConnectionGate"]`.
    path: ModulePath,
    line: usize,
    /// The path as the source spells it (use trees expanded), for the failure message.
    written: String,
}

/// The tokens `#[cfg(test)]` (or `#![cfg(test)]` when `inner`) start at `at`? Returns the index
/// just past the attribute.
fn cfg_test_attribute(tokens: &[Token], at: usize, inner: bool) -> Option<usize> {
    let expected: &[&str] = if inner {
        &["#", "!", "[", "cfg", "(", "test", ")", "]"]
    } else {
        &["#", "[", "cfg", "(", "test", ")", "]"]
    };
    let matches = expected
        .iter()
        .enumerate()
        .all(|(k, text)| tokens.get(at + k).is_some_and(|token| token.text == *text));
    matches.then_some(at + expected.len())
}

/// The index just past the bracketed group opening at `at` (`[`…`]` or `{`…`}`), or the end.
fn past_group(tokens: &[Token], at: usize, open: &str, close: &str) -> usize {
    let mut depth = 0;
    for (index, token) in tokens.iter().enumerate().skip(at) {
        if token.text == open {
            depth += 1;
        } else if token.text == close {
            depth -= 1;
            if depth == 0 {
                return index + 1;
            }
        }
    }
    tokens.len()
}

/// The index just past the item starting at `at`, after its attributes: at its `;`, or at the
/// brace closing its first block (`mod tests { … }`, `fn helper() { … }`).
fn past_item(tokens: &[Token], mut at: usize) -> usize {
    while tokens.get(at).is_some_and(|token| token.text == "#") {
        at = past_group(tokens, at + 1, "[", "]");
    }
    for index in at..tokens.len() {
        match tokens[index].text.as_str() {
            ";" => return index + 1,
            "{" => return past_group(tokens, index, "{", "}"),
            _ => {}
        }
    }
    tokens.len()
}

/// Parses the use tree starting at `*at` (after `use`, or inside braces) under `prefix`,
/// pushing every full path it names. `self` inside braces stands for the prefix; `*` and
/// `as` aliases name the path before them.
fn parse_use_tree(tokens: &[Token], at: &mut usize, prefix: &[String], out: &mut Vec<ModulePath>) {
    let mut path = prefix.to_vec();
    loop {
        let Some(token) = tokens.get(*at) else {
            out.push(path);
            return;
        };
        match token.text.as_str() {
            "{" => {
                *at += 1;
                while let Some(token) = tokens.get(*at) {
                    match token.text.as_str() {
                        "}" => {
                            *at += 1;
                            break;
                        }
                        "," => *at += 1,
                        _ => {
                            let before = *at;
                            parse_use_tree(tokens, at, &path, out);
                            if *at == before {
                                *at += 1;
                            }
                        }
                    }
                }
                return;
            }
            "*" => {
                *at += 1;
                out.push(path);
                return;
            }
            "::" => *at += 1,
            // `{self, …}`: the prefix itself.
            "self" if !path.is_empty() => {
                *at += 1;
                if tokens.get(*at).is_some_and(|token| token.text == "as") {
                    *at += 2;
                }
                out.push(path);
                return;
            }
            text if is_identifier(text) => {
                path.push(text.to_string());
                *at += 1;
                if tokens.get(*at).is_some_and(|token| token.text == "as") {
                    *at += 2;
                    out.push(path);
                    return;
                }
            }
            _ => {
                if path.len() > prefix.len() {
                    out.push(path);
                }
                return;
            }
        }
    }
}

/// Makes `path`, as written in module `current` of a file whose own module is `file_module` and
/// which declares the file-backed children `children`, absolute; `None` if it does not start in
/// this crate (`std::…`, another crate, a local name). `in_inline_module` is true inside a
/// `mod name { … }` block, where bare child names no longer mean the file's children.
fn absolute_path(
    path: &[String],
    current: &[String],
    file_module: &[String],
    children: &BTreeSet<String>,
    in_inline_module: bool,
    is_binary: bool,
) -> Option<ModulePath> {
    let first = path.first()?.as_str();
    match first {
        "crate" => Some(path[1..].to_vec()),
        "web_server" if is_binary => Some(path[1..].to_vec()),
        "self" => Some([current, &path[1..]].concat()),
        "super" => {
            let ups = path
                .iter()
                .take_while(|segment| *segment == "super")
                .count();
            let base = current.get(..current.len().checked_sub(ups)?)?;
            Some([base, &path[ups..]].concat())
        }
        _ if !in_inline_module && children.contains(first) => Some([file_module, path].concat()),
        _ => None,
    }
}

/// Every reference `source` (the file of module `file_module`) makes to a module of its crate:
/// `use` trees, inline paths (`crate::a::f()`, `super::x`, `self::y`, `child::f` for a child
/// declared with `mod child;`). Comments, string literals and test-only code (`#[cfg(test)]`
/// items) are skipped; a `mod child;` declaration alone is not a reference.
fn imports(file_module: &[String], source: &str, is_binary: bool) -> Vec<Import> {
    let tokens = tokenize(&blank_comments(source, false));
    if (0..tokens.len()).any(|at| cfg_test_attribute(&tokens, at, true).is_some()) {
        return Vec::new();
    }
    let children: BTreeSet<String> = tokens
        .windows(3)
        .filter(|window| window[0].text == "mod" && window[2].text == ";")
        .map(|window| window[1].text.clone())
        .collect();
    // One entry per open brace: the inline module it opens, if it does.
    let mut scopes: Vec<Option<String>> = Vec::new();
    let mut found = Vec::new();
    let mut at = 0;
    while at < tokens.len() {
        if let Some(after) = cfg_test_attribute(&tokens, at, false) {
            at = past_item(&tokens, after);
            continue;
        }
        let inline: Vec<String> = scopes.iter().flatten().cloned().collect();
        let current = [file_module, &inline].concat();
        let in_inline_module = !inline.is_empty();
        let resolve = |path: &[String]| {
            absolute_path(
                path,
                &current,
                file_module,
                &children,
                in_inline_module,
                is_binary,
            )
        };
        let token = &tokens[at];
        match token.text.as_str() {
            "{" => {
                let opens_module = at >= 2 && tokens[at - 2].text == "mod";
                scopes.push(opens_module.then(|| tokens[at - 1].text.clone()));
                at += 1;
            }
            "}" => {
                scopes.pop();
                at += 1;
            }
            "mod" => {
                // The declaration's name is not a path.
                at += 2;
            }
            "use" => {
                let line = token.line;
                let mut paths = Vec::new();
                let mut cursor = at + 1;
                parse_use_tree(&tokens, &mut cursor, &[], &mut paths);
                for path in paths {
                    if let Some(absolute) = resolve(&path) {
                        found.push(Import {
                            path: absolute,
                            line,
                            written: path.join("::"),
                        });
                    }
                }
                at = cursor.max(at + 1);
            }
            text if is_identifier(text) => {
                let mut path = vec![text.to_string()];
                let mut end = at + 1;
                while tokens.get(end).is_some_and(|token| token.text == "::")
                    && tokens
                        .get(end + 1)
                        .is_some_and(|token| is_identifier(&token.text))
                {
                    path.push(tokens[end + 1].text.clone());
                    end += 2;
                }
                let continues_a_path = at > 0 && tokens[at - 1].text == "::";
                if path.len() > 1 && !continues_a_path {
                    if let Some(absolute) = resolve(&path) {
                        found.push(Import {
                            path: absolute,
                            line: token.line,
                            written: path.join("::"),
                        });
                    }
                }
                at = end;
            }
            _ => at += 1,
        }
    }
    found
}

/// The module an absolute path lands in: its longest prefix that is a module file.
fn resolve_module<'a>(path: &[String], modules: &'a BTreeMap<ModulePath, String>) -> &'a str {
    (0..=path.len())
        .rev()
        .find_map(|length| modules.get(&path[..length]))
        .map_or("crate", String::as_str)
}

/// Where an edge of the import graph comes from: the first reference that makes it.
#[derive(Debug, Clone, PartialEq)]
struct Evidence {
    file: String,
    line: usize,
    written: String,
}

/// from → to → the first reference from `from` to `to`.
type ImportGraph = BTreeMap<String, BTreeMap<String, Evidence>>;

/// The file-level import graph of the sources `(path relative to src, text)`.
///
/// A module's references to its own descendants are no edges: a directory's `mod.rs` declaring,
/// re-exporting and wiring its children is how a module is built, not a dependency between
/// modules. A child's reference to its ancestor is an edge, and so is one between siblings, so
/// a cycle between two files of one directory is still found.
fn import_graph(files: &[(String, String)]) -> ImportGraph {
    let modules: BTreeMap<ModulePath, String> = files
        .iter()
        .filter(|(relative, _)| relative != "main.rs")
        .filter_map(|(relative, _)| module_of(relative))
        .map(|(node, module)| (module, node))
        .collect();
    let mut graph = ImportGraph::new();
    for (relative, source) in files {
        let Some((node, module)) = module_of(relative) else {
            continue;
        };
        let edges = graph.entry(node.clone()).or_default();
        for import in imports(&module, source, relative == "main.rs") {
            let target = resolve_module(&import.path, &modules);
            if target != node && !is_descendant(target, &node) {
                edges.entry(target.to_string()).or_insert(Evidence {
                    file: relative.clone(),
                    line: import.line,
                    written: import.written,
                });
            }
        }
    }
    graph
}

/// Whether module `node` lies below module `ancestor` (`crate` is lib.rs, above everything).
fn is_descendant(node: &str, ancestor: &str) -> bool {
    ancestor == "crate" && node != "crate" || node.starts_with(&format!("{ancestor}::"))
}

fn is_composition_root(node: &str) -> bool {
    COMPOSITION_ROOTS
        .iter()
        .any(|root| node == *root || node.starts_with(&format!("{root}::")))
}

/// The graph without the composition roots and every edge to or from them.
fn without_composition_roots(graph: &ImportGraph) -> ImportGraph {
    graph
        .iter()
        .filter(|(node, _)| !is_composition_root(node))
        .map(|(node, edges)| {
            let kept = edges
                .iter()
                .filter(|(target, _)| !is_composition_root(target))
                .map(|(target, evidence)| (target.clone(), evidence.clone()))
                .collect();
            (node.clone(), kept)
        })
        .collect()
}

fn top_level_module(node: &str) -> &str {
    node.split("::").next().unwrap_or(node)
}

/// Every node collapsed to its top-level module; edges inside one top-level module disappear.
fn top_level_graph(graph: &ImportGraph) -> ImportGraph {
    let mut collapsed = ImportGraph::new();
    for (node, edges) in graph {
        let from = top_level_module(node);
        let entry = collapsed.entry(from.to_string()).or_default();
        for (target, evidence) in edges {
            let to = top_level_module(target);
            if to != from {
                entry
                    .entry(to.to_string())
                    .or_insert_with(|| evidence.clone());
            }
        }
    }
    collapsed
}

/// The strongly connected components with more than one node (Tarjan), each sorted, in order.
fn cyclic_components(graph: &ImportGraph) -> Vec<Vec<String>> {
    struct Tarjan<'g> {
        graph: &'g ImportGraph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        components: Vec<Vec<String>>,
    }
    impl<'g> Tarjan<'g> {
        fn visit(&mut self, node: &'g str) {
            let next = self.index.len();
            self.index.insert(node, next);
            self.low.insert(node, next);
            self.stack.push(node);
            self.on_stack.insert(node);
            for target in self
                .graph
                .get(node)
                .into_iter()
                .flat_map(|edges| edges.keys())
            {
                let target = target.as_str();
                if !self.index.contains_key(target) {
                    self.visit(target);
                    let low = self.low[node].min(self.low[target]);
                    self.low.insert(node, low);
                } else if self.on_stack.contains(target) {
                    let low = self.low[node].min(self.index[target]);
                    self.low.insert(node, low);
                }
            }
            if self.low[node] == self.index[node] {
                let mut component = Vec::new();
                while let Some(member) = self.stack.pop() {
                    self.on_stack.remove(member);
                    component.push(member.to_string());
                    if member == node {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.components.push(component);
                }
            }
        }
    }
    let mut tarjan = Tarjan {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        components: Vec::new(),
    };
    for node in graph.keys() {
        if !tarjan.index.contains_key(node.as_str()) {
            tarjan.visit(node);
        }
    }
    let mut components = tarjan.components;
    components.sort();
    components
}

/// A shortest cycle through the first node of `component`, as `[a, b, …, a]`.
fn cycle_through(graph: &ImportGraph, component: &[String]) -> Vec<String> {
    let members: BTreeSet<&str> = component.iter().map(String::as_str).collect();
    let start = component[0].as_str();
    let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for target in graph.get(node).into_iter().flat_map(|edges| edges.keys()) {
            let target = target.as_str();
            if !members.contains(target) {
                continue;
            }
            if target == start {
                let mut cycle = vec![start.to_string()];
                let mut at = node;
                while at != start {
                    cycle.push(at.to_string());
                    at = came_from[at];
                }
                cycle.push(start.to_string());
                cycle.reverse();
                return cycle;
            }
            if !came_from.contains_key(target) && target != start {
                came_from.insert(target, node);
                queue.push_back(target);
            }
        }
    }
    // Unreachable for a strongly connected component; the members still say where to look.
    component.to_vec()
}

/// One report per cyclic component: a cycle through it, then every edge inside it with the
/// reference that makes it.
fn cycle_reports(graph: &ImportGraph, granularity: &str) -> Vec<String> {
    cyclic_components(graph)
        .iter()
        .map(|component| {
            let members: BTreeSet<&String> = component.iter().collect();
            let mut report = format!(
                "{granularity} import cycle {} (strongly connected: {}); edges inside it:",
                cycle_through(graph, component).join(" -> "),
                component.join(", ")
            );
            for from in component {
                for (to, evidence) in &graph[from] {
                    if members.contains(to) {
                        report.push_str(&format!(
                            "\n      {from} -> {to}   ({SERVER_SRC}/{}:{} `{}`)",
                            evidence.file, evidence.line, evidence.written
                        ));
                    }
                }
            }
            report
        })
        .collect()
}

/// Every `.rs` file under `directory`, as (path relative to `root`, text), sorted.
fn rust_files(root: &Path, directory: &Path, out: &mut Vec<(String, String)>) {
    let entries = fs::read_dir(directory)
        .unwrap_or_else(|err| panic!("cannot list {}: {err}", directory.display()));
    for entry in entries {
        let path = entry
            .unwrap_or_else(|err| panic!("cannot list {}: {err}", directory.display()))
            .path();
        if path.is_dir() {
            rust_files(root, &path, out);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            let relative = path
                .strip_prefix(root)
                .expect("a listed file lies under the listed directory")
                .to_string_lossy()
                .replace('\\', "/");
            out.push((relative, read(&path)));
        }
    }
    out.sort();
}

#[test]
fn the_server_crate_has_no_import_cycle_outside_the_composition_roots() {
    let source_root = repo_root().join(SERVER_SRC);
    let mut files = Vec::new();
    rust_files(&source_root, &source_root, &mut files);
    let graph = import_graph(&files);
    let edge_count: usize = graph.values().map(BTreeMap::len).sum();
    let edge_list = || {
        for (from, edges) in &graph {
            for (to, evidence) in edges {
                eprintln!(
                    "edge {from} -> {to}   ({}:{} `{}`)",
                    evidence.file, evidence.line, evidence.written
                );
            }
        }
    };
    // The crate has some forty files that reference each other a hundred-odd times; far fewer
    // means the parser lost them, and then no cycle could be found.
    if graph.len() < 20 || edge_count < 40 {
        edge_list();
        panic!(
            "the import graph of {SERVER_SRC} has {} nodes and {edge_count} edges, too few for \
             this crate: the import parser of this test is broken (edges printed above)",
            graph.len()
        );
    }
    let checked = without_composition_roots(&graph);
    let mut reports = cycle_reports(&checked, "file-level");
    reports.extend(cycle_reports(
        &top_level_graph(&checked),
        "top-level-module",
    ));
    if !reports.is_empty() {
        edge_list();
        panic!(
            "{SERVER_SRC} has import cycles outside the composition roots {COMPOSITION_ROOTS:?}; \
             break each by moving what both sides need below them (or passing it in from a \
             composition root), so that dependencies point one way (a mod.rs that uses its child \
             while the child uses `super::` items is a cycle too: move those items into a file of \
             their own):\n  {}",
            reports.join("\n  ")
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Rule 3: each seed process is defined in the file its id spells.
// ---------------------------------------------------------------------------------------------

/// The files (relative to crates/server/src) that process `id` could live in by its spelling:
/// each `_` after the `web_server_` prefix read as either `/` or `_`, then `.rs` or `/mod.rs`.
fn candidates(id: &str) -> Vec<String> {
    let Some(name) = id.strip_prefix(PROCESS_ID_PREFIX) else {
        return Vec::new();
    };
    let parts: Vec<&str> = name.split('_').collect();
    let separators = parts.len() - 1;
    let mut stems = Vec::new();
    for choice in 0..(1u32 << separators) {
        let mut stem = parts[0].to_string();
        for (k, part) in parts.iter().enumerate().skip(1) {
            stem.push(if choice & (1 << (k - 1)) != 0 {
                '/'
            } else {
                '_'
            });
            stem.push_str(part);
        }
        stems.push(stem);
    }
    stems
        .iter()
        .flat_map(|stem| [format!("{stem}.rs"), format!("{stem}/mod.rs")])
        .collect()
}

/// Whether a markdown table row's first cell names `id` in backticks.
fn row_is_about(row: &str, id: &str) -> bool {
    let first_cell = row
        .trim()
        .trim_start_matches('|')
        .split('|')
        .next()
        .unwrap_or("");
    first_cell.contains(&format!("`{id}`"))
}

/// Which files spell each seed id as a string literal (outside comments), relative to the
/// repository root: for the failure message, so it can say where to move the id from.
fn files_spelling_ids(files: &[(String, String)]) -> BTreeMap<String, Vec<String>> {
    let mut spelled: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (relative, source) in files {
        if module_of(relative).is_none() {
            continue;
        }
        let code = without_test_code(source);
        for id in SEED_PROCESS_IDS {
            if code.contains(&format!("\"{id}\"")) {
                spelled
                    .entry(id.to_string())
                    .or_default()
                    .push(format!("{SERVER_SRC}/{relative}"));
            }
        }
    }
    spelled
}

/// What is wrong with process `id`'s definition, if anything. `exists` and `source_of` take
/// repository paths; `spelled_in` is [`files_spelling_ids`].
fn process_definition_problem(
    id: &str,
    exists: &dyn Fn(&str) -> bool,
    source_of: &dyn Fn(&str) -> String,
    doc: &str,
    spelled_in: &BTreeMap<String, Vec<String>>,
) -> Option<String> {
    let now_in = match spelled_in.get(id) {
        Some(files) => format!(" (its id is now spelled in {})", files.join(", ")),
        None => String::new(),
    };
    let all = candidates(id);
    let existing: Vec<&String> = all
        .iter()
        .filter(|candidate| exists(&format!("{SERVER_SRC}/{candidate}")))
        .collect();
    let file = match existing.as_slice() {
        [file] => format!("{SERVER_SRC}/{file}"),
        [] => {
            return Some(format!(
                "`{id}`: no file spells it: create one of {SERVER_SRC}/{{{}}} and define the \
                 process there{now_in}",
                all.join(",")
            ))
        }
        several => {
            let several: Vec<&str> = several.iter().map(|file| file.as_str()).collect();
            return Some(format!(
                "`{id}`: {SERVER_SRC}/{{{}}} all exist and all spell it: rename all but one",
                several.join(",")
            ));
        }
    };
    let mut problems = Vec::new();
    let literal = format!("\"{id}\"");
    if !without_test_code(&source_of(&file)).contains(&literal) {
        problems.push(format!(
            "{file} does not contain its id {literal}: move the id constant there{now_in}"
        ));
    }
    let documented = doc.lines().any(|line| {
        line.trim_start().starts_with('|')
            && row_is_about(line, id)
            && extract_paths(line, exists)
                .iter()
                .any(|path| path.found.as_deref() == Some(file.as_str()))
    });
    if !documented {
        problems.push(format!(
            "{ARCHITECTURE_DOC} has no table row whose first cell is `{id}` and which names \
             {file}: add it or fix the row"
        ));
    }
    (!problems.is_empty()).then(|| format!("`{id}`: {}", problems.join("; ")))
}

#[test]
fn each_seed_process_is_defined_in_the_file_its_id_spells() {
    let root = repo_root();
    let doc = read(&root.join(ARCHITECTURE_DOC));
    let source_root = root.join(SERVER_SRC);
    let mut files = Vec::new();
    rust_files(&source_root, &source_root, &mut files);
    let spelled_in = files_spelling_ids(&files);
    let source_of = |relative: &str| read(&root.join(relative));
    let problems: Vec<String> = SEED_PROCESS_IDS
        .iter()
        .filter_map(|id| {
            process_definition_problem(id, &exists_in_repo, &source_of, &doc, &spelled_in)
        })
        .collect();
    assert!(
        problems.is_empty(),
        "{} of the {} seed processes are not defined in the file their id spells \
         ({SERVER_SRC}/ + the id without `{PROCESS_ID_PREFIX}`, each `_` kept or read as `/` so \
         that exactly one file exists, + .rs or /mod.rs):\n  {}",
        problems.len(),
        SEED_PROCESS_IDS.len(),
        problems.join("\n  ")
    );
}

// ---------------------------------------------------------------------------------------------
// The parsers above, on small inline inputs: each rule test is only as good as these.
// ---------------------------------------------------------------------------------------------

mod parser_checks {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|item| item.to_string()).collect()
    }

    fn module(path: &str) -> ModulePath {
        path.split("::")
            .filter(|segment| !segment.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// An `exists` over a fixed set of repository paths (directories are implied by files).
    fn fake_repo(files: &'static [&'static str]) -> impl Fn(&str) -> bool {
        move |path: &str| {
            let path = path.trim_end_matches('/');
            files
                .iter()
                .any(|file| *file == path || file.starts_with(&format!("{path}/")))
        }
    }

    fn found(paths: &[DocPath]) -> Vec<(usize, Option<&str>)> {
        paths
            .iter()
            .map(|path| (path.line, path.found.as_deref()))
            .collect()
    }

    #[test]
    fn brace_groups_expand_in_order_and_nested() {
        assert_eq!(
            expand_braces("crates/s/src/{spec,child}.rs"),
            strings(&["crates/s/src/spec.rs", "crates/s/src/child.rs"])
        );
        assert_eq!(
            expand_braces("a/{b,c/{d,e}}.rs"),
            strings(&["a/b.rs", "a/c/d.rs", "a/c/e.rs"])
        );
        assert_eq!(expand_braces("plain.rs"), strings(&["plain.rs"]));
        assert_eq!(
            expand_braces("broken/{a,b.rs"),
            strings(&["broken/{a,b.rs"])
        );
    }

    #[test]
    fn rooted_paths_are_found_in_backticks_cells_and_prose_with_punctuation_stripped() {
        let exists = fake_repo(&[
            "crates/s/src/a.rs",
            "docs/x.md",
            "Makefile",
            "config/dev.toml",
        ]);
        let doc = "| `id` | crates/s/src/a.rs (the actor), config/{dev,prod}.toml | done |\n\
                   See docs/x.md. Also (`Makefile`): and crates/s/src/b.rs;\n";
        let paths = extract_paths(doc, &exists);
        let written: Vec<&str> = paths.iter().map(|path| path.written.as_str()).collect();
        assert_eq!(
            written,
            [
                "crates/s/src/a.rs",
                "config/dev.toml",
                "config/prod.toml",
                "docs/x.md",
                "Makefile",
                "crates/s/src/b.rs"
            ]
        );
        assert_eq!(
            found(&paths),
            [
                (1, Some("crates/s/src/a.rs")),
                (1, Some("config/dev.toml")),
                (1, None),
                (2, Some("docs/x.md")),
                (2, Some("Makefile")),
                (2, None)
            ]
        );
    }

    #[test]
    fn relative_paths_continue_from_the_latest_rooted_path_walking_up() {
        let exists = fake_repo(&[
            "crates/s/src/conn/mod.rs",
            "crates/s/src/conn/state.rs",
            "crates/s/src/metrics/mod.rs",
            "crates/s/src/run.rs",
        ]);
        // conn/state.rs is not under conn/, but under its parent; mod.rs continues from a
        // directory; run.rs from conn/ walks up to src/.
        let doc = "| x | crates/s/src/conn/mod.rs (actor), conn/state.rs, run.rs | done |\n\
                   | y | crates/s/src/metrics/ (mod.rs the actor), gone.rs | done |\n";
        let paths = extract_paths(doc, &exists);
        assert_eq!(
            found(&paths),
            [
                (1, Some("crates/s/src/conn/mod.rs")),
                (1, Some("crates/s/src/conn/state.rs")),
                (1, Some("crates/s/src/run.rs")),
                (2, Some("crates/s/src/metrics/")),
                (2, Some("crates/s/src/metrics/mod.rs")),
                (2, None)
            ]
        );
        assert_eq!(
            paths[5].tried,
            strings(&[
                "crates/s/src/metrics/gone.rs",
                "crates/s/src/gone.rs",
                "crates/s/gone.rs",
                "crates/gone.rs",
                "gone.rs"
            ])
        );
        assert!(missing_path_message(&paths[5]).contains("line 2 names gone.rs, but none of"));
    }

    #[test]
    fn a_relative_path_needs_a_rooted_one_before_it_in_the_same_row_or_paragraph() {
        let exists = fake_repo(&["crates/s/src/run.rs", "crates/s/src/logging.rs"]);
        let doc = "| x | crates/s/src/run.rs | done |\n\
                   | y | logging.rs | done |\n\
                   \n\
                   The binary runs crates/s/src/run.rs;\n\
                   `logging.rs` sets up logs.\n\
                   \n\
                   Then run.rs again.\n";
        let paths = extract_paths(doc, &exists);
        assert_eq!(
            found(&paths),
            [
                (1, Some("crates/s/src/run.rs")),
                (2, None),
                (4, Some("crates/s/src/run.rs")),
                (5, Some("crates/s/src/logging.rs")),
                (7, None)
            ]
        );
        assert!(paths[1].tried.is_empty());
        assert!(missing_path_message(&paths[1]).contains("no repository path before it"));
    }

    #[test]
    fn code_blocks_outside_paths_and_prose_are_not_paths() {
        let exists = fake_repo(&[]);
        let doc = "The design of `../shared/seed/architecture.en.md`, e.g. on actix 0.13.\n\
                   ```\n\
                   crates/in/a/diagram.rs\n\
                   ```\n\
                   SIGINT/SIGTERM, issue 3 / 4, web_server_tcp_acceptor_sup/N, `Server::start(cfg)`.\n";
        assert_eq!(extract_paths(doc, &exists), []);
    }

    #[test]
    fn every_missing_path_is_reported_with_its_line() {
        let exists = fake_repo(&["docs/a.md"]);
        let doc = "docs/a.md docs/b.md\n\ncrates/x/y.rs\n";
        let missing: Vec<String> = extract_paths(doc, &exists)
            .iter()
            .filter(|path| path.found.is_none())
            .map(missing_path_message)
            .collect();
        assert_eq!(
            missing,
            [
                "docs/architecture.md line 1 names docs/b.md, which does not exist: fix the path or the page",
                "docs/architecture.md line 3 names crates/x/y.rs, which does not exist: fix the path or the page"
            ]
        );
    }

    #[test]
    fn comments_and_literals_are_blanked_and_lines_kept() {
        let source = "let a = crate::x; // crate::y\n\
                      /// crate::doc\n\
                      /* crate::block /* nested */ still */ let b = \"crate::str\";\n\
                      let c = r#\"crate::raw \"quoted\"\"#; let d = '\"'; let e = b'\\'';\n\
                      fn f<'a>(x: &'a str) -> &'static str { \"esc \\\" crate::z\" }\n";
        let clean = blank_comments(source, false);
        assert_eq!(clean.lines().count(), source.lines().count());
        assert_eq!(clean.chars().count(), source.chars().count());
        assert!(clean.contains("crate::x"));
        for hidden in [
            "crate::y",
            "crate::doc",
            "crate::block",
            "crate::str",
            "crate::raw",
            "crate::z",
        ] {
            assert!(!clean.contains(hidden), "{hidden} left in {clean:?}");
        }
        assert!(clean.contains("fn f<'a>(x: &'a str) -> &'static str"));
        let kept = blank_comments(source, true);
        assert!(kept.contains("\"crate::str\"") && !kept.contains("crate::y"));
    }

    #[test]
    fn test_code_is_left_out_of_the_id_search() {
        let source = "pub const ID: &str = \"real\";\n\
                      #[cfg(test)]\n\
                      mod tests {\n    const X: &str = \"in_test\";\n}\n\
                      // \"in_comment\"\n";
        let code = without_test_code(source);
        assert!(code.contains("\"real\""));
        assert!(!code.contains("in_test") && !code.contains("in_comment"));
        assert_eq!(
            without_test_code("#![cfg(test)]\nconst X: &str = \"a\";\n"),
            ""
        );
    }

    fn import_paths(file_module: &str, source: &str) -> Vec<String> {
        imports(&module(file_module), source, false)
            .into_iter()
            .map(|import| import.path.join("::"))
            .collect()
    }

    #[test]
    fn use_trees_expand_nested_braces_self_globs_and_aliases() {
        let source = "use crate::{cache, tcp::{self, gate::{Gate, Permit as P}}};\n\
                      use crate::metrics::*;\n\
                      use std::io::{self, Read};\n";
        assert_eq!(
            import_paths("service", source),
            [
                "cache",
                "tcp",
                "tcp::gate::Gate",
                "tcp::gate::Permit",
                "metrics"
            ]
        );
    }

    #[test]
    fn super_means_the_parent_of_the_files_own_module() {
        // tcp/mod.rs is module `tcp`: its super is the crate root. tcp/listener.rs is
        // `tcp::listener`: its super is `tcp`.
        let source = "use super::EndpointIds;\nfn f() { super::gate::open(); }\n";
        assert_eq!(import_paths("tcp", source), ["EndpointIds", "gate::open"]);
        assert_eq!(
            import_paths("tcp::listener", source),
            ["tcp::EndpointIds", "tcp::gate::open"]
        );
        assert_eq!(import_paths("a::b::c", "use super::super::x;"), ["a::x"]);
        // `super` from the crate root names nothing in this crate.
        assert_eq!(import_paths("", "use super::x;"), Vec::<String>::new());
    }

    #[test]
    fn inline_paths_self_and_declared_children_are_references() {
        let source = "mod state;\nmod io;\nmod unused;\n\
                      use std::io::Read;\n\
                      fn f() { crate::metrics::count(); self::state::go(); io::read(); }\n\
                      fn g() -> std::io::Result<()> { a::b(); Ok(()) }\n";
        assert_eq!(
            import_paths("conn", source),
            ["metrics::count", "conn::state::go", "conn::io::read"]
        );
    }

    #[test]
    fn comments_strings_and_test_modules_make_no_reference() {
        let source = "//! See crate::docs.\n\
                      /// Uses [`crate::doc_link`].\n\
                      fn f() { let _ = \"crate::in_string\"; } // crate::trailing\n\
                      #[cfg(test)]\n\
                      mod tests {\n    use super::*;\n    use crate::anything;\n    fn t() { crate::else_where::f(); }\n}\n\
                      fn after() { crate::real::f(); }\n";
        assert_eq!(import_paths("m", source), ["real::f"]);
        assert_eq!(
            import_paths("m", "#![cfg(test)]\nuse crate::x;\n"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn super_inside_an_inline_module_is_the_file_and_children_are_not_bare_there() {
        let source =
            "mod child;\nmod inner {\n    use super::Thing;\n    fn f() { child::g(); }\n}\n";
        assert_eq!(
            import_paths("config::settings", source),
            ["config::settings::Thing"]
        );
    }

    #[test]
    fn the_binary_reaches_the_library_through_its_crate_name() {
        let found: Vec<String> = imports(&[], "use web_server::config::Cli;", true)
            .into_iter()
            .map(|import| import.path.join("::"))
            .collect();
        assert_eq!(found, ["config::Cli"]);
        assert!(imports(&[], "use web_server::config::Cli;", false).is_empty());
    }

    fn files(sources: &[(&str, &str)]) -> Vec<(String, String)> {
        sources
            .iter()
            .map(|(path, source)| (path.to_string(), source.to_string()))
            .collect()
    }

    fn edges(graph: &ImportGraph) -> Vec<String> {
        graph
            .iter()
            .flat_map(|(from, edges)| edges.keys().map(move |to| format!("{from} -> {to}")))
            .collect()
    }

    #[test]
    fn references_resolve_to_the_longest_existing_module_and_self_edges_drop() {
        let graph = import_graph(&files(&[
            ("lib.rs", "pub mod tcp;\npub mod metrics;\npub use tcp::Thing;\n"),
            ("main.rs", "fn main() { web_server::run(); }\n"),
            ("tcp/mod.rs", "pub mod listener;\npub struct EndpointIds;\n"),
            (
                "tcp/listener.rs",
                "use super::EndpointIds;\nuse crate::tcp::listener::X;\nfn f() { crate::metrics::a::b(); }\n",
            ),
            ("metrics/mod.rs", "mod tests;\n"),
            ("metrics/tests.rs", "use crate::tcp::listener::Y;\n"),
        ]));
        assert_eq!(
            edges(&graph),
            [
                "main -> crate",
                "tcp::listener -> metrics",
                "tcp::listener -> tcp"
            ]
        );
        // lib.rs re-exporting `tcp::Thing` is the crate wiring its own child: no edge.
        // tests.rs is no node; tcp/mod.rs declares listener but never uses it: no edge.
        assert!(!graph.contains_key("metrics::tests"));
        assert!(graph["tcp"].is_empty());
        let evidence = &graph["tcp::listener"]["metrics"];
        assert_eq!(
            (evidence.file.as_str(), evidence.line),
            ("tcp/listener.rs", 3)
        );
        assert_eq!(evidence.written, "crate::metrics::a::b");
    }

    fn graph_of(edges: &[(&str, &str)]) -> ImportGraph {
        let mut graph = ImportGraph::new();
        for (from, to) in edges {
            graph.entry(to.to_string()).or_default();
            graph.entry(from.to_string()).or_default().insert(
                to.to_string(),
                Evidence {
                    file: format!("{from}.rs"),
                    line: 1,
                    written: format!("crate::{to}"),
                },
            );
        }
        graph
    }

    #[test]
    fn a_two_module_cycle_is_found_and_reads_as_a_chain() {
        let graph = graph_of(&[("a", "b"), ("b", "a"), ("b", "c")]);
        assert_eq!(cyclic_components(&graph), [strings(&["a", "b"])]);
        let reports = cycle_reports(&graph, "file-level");
        assert_eq!(reports.len(), 1);
        assert!(reports[0]
            .starts_with("file-level import cycle a -> b -> a (strongly connected: a, b)"));
        assert!(reports[0].contains("b -> a   (crates/server/src/b.rs:1 `crate::a`)"));
        assert!(!reports[0].contains("b -> c"));
    }

    #[test]
    fn a_longer_cycle_reads_in_edge_order_and_separate_cycles_are_all_listed() {
        let graph = graph_of(&[("a", "b"), ("b", "c"), ("c", "a"), ("x", "y"), ("y", "x")]);
        assert_eq!(
            cyclic_components(&graph),
            [strings(&["a", "b", "c"]), strings(&["x", "y"])]
        );
        assert_eq!(
            cycle_through(&graph, &strings(&["a", "b", "c"])),
            strings(&["a", "b", "c", "a"])
        );
    }

    #[test]
    fn an_acyclic_graph_has_no_cycle() {
        let graph = graph_of(&[("a", "b"), ("a", "c"), ("b", "c"), ("c", "d")]);
        assert!(cyclic_components(&graph).is_empty());
        assert!(cycle_reports(&graph, "file-level").is_empty());
    }

    #[test]
    fn a_composition_root_breaks_the_cycles_through_it() {
        let graph = graph_of(&[
            ("server", "tcp"),
            ("tcp", "server"),
            ("embed::x", "a"),
            ("a", "embed::x"),
        ]);
        assert_eq!(cyclic_components(&graph).len(), 2);
        let checked = without_composition_roots(&graph);
        assert!(cyclic_components(&checked).is_empty());
        assert!(!checked.contains_key("server") && !checked.contains_key("embed::x"));
        assert!(checked["tcp"].is_empty());
        // `crate` is the root only, not every module below it.
        assert!(is_composition_root("crate") && !is_composition_root("cache"));
        assert!(!is_composition_root("servers"));
    }

    #[test]
    fn top_level_modules_collapse_and_lose_their_inner_edges() {
        // No file-level cycle, but tcp and metrics depend on each other through different files.
        let graph = graph_of(&[
            ("tcp::listener", "metrics"),
            ("metrics::recorder", "tcp"),
            ("tcp", "tcp::listener"),
        ]);
        assert!(cyclic_components(&graph).is_empty());
        let collapsed = top_level_graph(&graph);
        assert_eq!(edges(&collapsed), ["metrics -> tcp", "tcp -> metrics"]);
        assert_eq!(
            cyclic_components(&collapsed),
            [strings(&["metrics", "tcp"])]
        );
    }

    #[test]
    fn candidates_read_each_underscore_as_a_separator_or_not() {
        assert_eq!(
            candidates("web_server_sup"),
            strings(&["sup.rs", "sup/mod.rs"])
        );
        let listener_sup = candidates("web_server_tcp_listener_sup");
        assert_eq!(listener_sup.len(), 8);
        for expected in [
            "tcp/listener_sup.rs",
            "tcp/listener_sup/mod.rs",
            "tcp_listener_sup.rs",
            "tcp/listener/sup.rs",
        ] {
            assert!(
                listener_sup.contains(&expected.to_string()),
                "{expected} missing"
            );
        }
        assert!(candidates("other_prefix").is_empty());
    }

    #[test]
    fn a_process_in_its_own_documented_file_passes_and_each_defect_is_named() {
        let exists = fake_repo(&[
            "crates/server/src/cache/mod.rs",
            "crates/server/src/cache/sup.rs",
            "crates/server/src/tcp/listener.rs",
            "crates/server/src/tcp/listener/mod.rs",
        ]);
        let source_of = |path: &str| match path {
            "crates/server/src/cache/sup.rs" => {
                "pub const ID: &str = \"web_server_cache_sup\";".to_string()
            }
            _ => "// \"web_server_cache\" only in a comment".to_string(),
        };
        let doc = "| `web_server_cache_sup`, `web_server_cache` | crates/server/src/cache/mod.rs, cache/sup.rs | done |\n";
        let none = BTreeMap::new();
        assert_eq!(
            process_definition_problem("web_server_cache_sup", &exists, &source_of, doc, &none),
            None
        );
        let cache = process_definition_problem("web_server_cache", &exists, &source_of, doc, &none)
            .expect("the literal is only in a comment");
        assert!(
            cache.contains("crates/server/src/cache/mod.rs does not contain its id"),
            "{cache}"
        );
        assert!(!cache.contains("no table row"), "{cache}");

        let ambiguous =
            process_definition_problem("web_server_tcp_listener", &exists, &source_of, doc, &none)
                .expect("two files spell it");
        assert!(ambiguous.contains("all exist"), "{ambiguous}");

        let spelled = BTreeMap::from([(
            "web_server_sup".to_string(),
            strings(&["crates/server/src/tree.rs"]),
        )]);
        let missing =
            process_definition_problem("web_server_sup", &exists, &source_of, doc, &spelled)
                .expect("no sup.rs");
        assert!(
            missing.contains("create one of crates/server/src/{sup.rs,sup/mod.rs}"),
            "{missing}"
        );
        assert!(
            missing.contains("now spelled in crates/server/src/tree.rs"),
            "{missing}"
        );

        // A row about another process naming the file does not count.
        let other_row = "| `web_server_cache` | crates/server/src/cache/sup.rs | done |\n";
        let undocumented = process_definition_problem(
            "web_server_cache_sup",
            &exists,
            &source_of,
            other_row,
            &none,
        )
        .expect("no row about it");
        assert!(undocumented.contains("no table row whose first cell is `web_server_cache_sup`"));
    }
}
