//! The layer check: layers point one way (docs/architecture.md, convention 15). Reads every `src/**/*.rs`, finds
//! each path into the crate (`use crate::...` lines, grouped `use crate::{a, b}`, and
//! `crate::x::y` written in code; comments and string literals are skipped), and fails
//! naming each file:line that imports against the order below, and any import circle
//! among the top-level modules. `super::` paths are not read: they stay inside the module
//! they are written in.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, top first. A module may import the modules of any layer below its own;
/// nothing in a layer imports upward, and modules sharing a layer do not import each other.
/// (`docs/architecture.md` copies this table.)
const LAYERS: &[(&str, &[&str], &str)] = &[
    (
        "entry",
        &["main", "cli"],
        "the binary and its commands: parse arguments, load config, call the builder",
    ),
    (
        "builder",
        &["app"],
        "Application, build_state, bootstrap: wires the routes of `http` and `admin`",
    ),
    (
        "admin handlers",
        &["admin"],
        "the admin API; of `http` it uses only the shared pieces (see NARROW)",
    ),
    (
        "public handlers",
        &["http"],
        "actix only: the public routes, thin handlers, shared state, bearer extraction, error rendering",
    ),
    (
        "pages and mails",
        &["ui"],
        "templates and their words in the person's language; no HTTP, no storage",
    ),
    (
        "services",
        &["manage", "janitor", "mail"],
        "operations shared by the CLI and the admin API; the background purge; the outbox worker",
    ),
    (
        "protocol",
        &["oauth"],
        "OAuth 2.1 / OpenID Connect rules; takes no actix types and never imports `manage`",
    ),
    (
        "accounts",
        &["accounts"],
        "verify a password, normalise a username, the profile claims of a user",
    ),
    (
        "outbound requests",
        &["outbound"],
        "the SSRF guard: fetch a stranger's URL only over https, to checked public addresses; the mail transport (SMTP or the log)",
    ),
    (
        "crypto",
        &["crypto"],
        "signing keys and their rotation, JWT, password hashing, token secrets",
    ),
    ("audit", &["audit"], "the hash-chained audit log"),
    (
        "telemetry",
        &["telemetry"],
        "logging and the metrics registry",
    ),
    (
        "configuration",
        &["config"],
        "typed configuration, validated once; names the database URL type of `store`",
    ),
    (
        "store",
        &["store"],
        "diesel only: connections, migrations, schema, row operations, named operations per aggregate",
    ),
    (
        "foundation",
        &[
            "clock",
            "crowding",
            "log_batch",
            "encoding",
            "url_rules",
            "private_files",
        ],
        "the clock, load shedding, batched log output, hex and ETag, host rules, private files: import nothing of the crate",
    ),
];

/// Downward edges that are narrower than the layer order: `from` may reach `to` only
/// through these sub-modules.
const NARROW: &[(&str, &str, &[&str], &str)] = &[
    (
        "admin",
        "http",
        &["state", "bearer", "context"],
        "the admin API may use http's shared pieces (state, bearer, context), never its handlers",
    ),
    (
        "manage",
        "oauth",
        &["redirect_uri", "scope", "client", "mfa", "registration"],
        "manage may use oauth's pure rules (redirect URIs, scopes, client metadata names, the \
         registration policy's checked `Registration`) and the second-factor kit that seals \
         a provisioned TOTP secret (mfa) only",
    ),
];

/// Downward edges that are forbidden anyway.
const FORBIDDEN: &[(&str, &str, &str)] = &[(
    "admin",
    "store",
    "admin handlers reach storage only through manage",
)];

/// Inside these modules the files must not import each other in a circle either (the old
/// circle ran through files: `http/routes.rs` <-> `admin/openapi.rs`, `admin/auth.rs` <->
/// `admin/rbac.rs`).
const NO_FILE_CIRCLES_IN: &[&str] = &["http", "admin"];

/// Known breaks being fixed on other branches of issue 17: (file, imported module, why).
/// Each entry silences exactly that edge from that file. The lead empties this list once
/// the branches are merged.
const PENDING_EXCEPTIONS: &[(&str, &str, &str)] = &[];

/// One path into the crate: where it is written and its first two segments.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CratePath {
    line: usize,
    segments: Vec<String>,
}

/// The source with comments, string and char literals blanked out (newlines kept, so
/// line numbers stay right).
fn strip(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
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
        } else if let Some((hashes, body)) = (i == 0 || !is_ident(chars[i - 1]))
            .then(|| raw_string_start(&chars, i))
            .flatten()
        {
            for _ in i..body {
                out.push(' ');
            }
            i = body;
            let closing: String = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            let closing: Vec<char> = closing.chars().collect();
            while i < chars.len() {
                if chars[i..].starts_with(&closing) {
                    for _ in 0..closing.len() {
                        out.push(' ');
                    }
                    i += closing.len();
                    break;
                }
                out.push(blank(chars[i]));
                i += 1;
            }
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() {
                if chars[i] == '\\' {
                    out.push(' ');
                    if let Some(&e) = chars.get(i + 1) {
                        out.push(blank(e));
                    }
                    i += 2;
                } else if chars[i] == '"' {
                    out.push(' ');
                    i += 1;
                    break;
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a): only the former
            // closes with a quote right after its one character or escape.
            if next == Some('\\') {
                let mut j = i + 2;
                while j < chars.len() && chars[j] != '\'' && chars[j] != '\n' {
                    j += 1;
                }
                for _ in i..=j.min(chars.len() - 1) {
                    out.push(' ');
                }
                i = j + 1;
            } else if chars.get(i + 2) == Some(&'\'') {
                out.push_str("   ");
                i += 3;
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// At `r"`, `r#"`, `br"`, `br#"`: the number of `#` and where the body starts.
fn raw_string_start(chars: &[char], i: usize) -> Option<(usize, usize)> {
    let mut j = i;
    if chars.get(j) == Some(&'b') {
        j += 1;
    }
    if chars.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let mut hashes = 0;
    while chars.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    (chars.get(j) == Some(&'"')).then_some((hashes, j + 1))
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Every `crate::` path in stripped source, grouped imports expanded. Only the first two
/// segments are kept: the top-level module and the one inside it.
fn crate_paths(stripped: &str) -> Vec<CratePath> {
    paths_from(stripped, "crate")
}

/// Every path starting at `root` (`crate` or `super`), as `crate_paths`.
fn paths_from(stripped: &str, root: &str) -> Vec<CratePath> {
    let chars: Vec<char> = stripped.chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(at) = find(&chars, i, root) {
        i = at + root.len();
        let before = at.checked_sub(1).and_then(|p| chars.get(p)).copied();
        if before.is_some_and(is_ident) {
            continue;
        }
        let mut j = skip_ws(&chars, i);
        if !(chars.get(j) == Some(&':') && chars.get(j + 1) == Some(&':')) {
            continue;
        }
        j = skip_ws(&chars, j + 2);
        let line = line_of(&chars, at);
        let mut paths = Vec::new();
        tree(&chars, &mut j, Vec::new(), &mut paths);
        found.extend(
            paths
                .into_iter()
                .map(|segments| CratePath { line, segments }),
        );
        i = j.max(i);
    }
    found
}

fn find(chars: &[char], from: usize, word: &str) -> Option<usize> {
    let word: Vec<char> = word.chars().collect();
    (from..chars.len()).find(|&k| chars[k..].starts_with(&word))
}

fn skip_ws(chars: &[char], mut j: usize) -> usize {
    while chars.get(j).is_some_and(|c| c.is_whitespace()) {
        j += 1;
    }
    j
}

fn line_of(chars: &[char], at: usize) -> usize {
    chars[..at].iter().filter(|c| **c == '\n').count() + 1
}

/// Parses a use-tree (or a path in code) at `j`: `a::b`, `a::{b, c::d as e}`, `self`,
/// `*`, pushing each path (prefix included) cut to its first two segments.
fn tree(chars: &[char], j: &mut usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    *j = skip_ws(chars, *j);
    if chars.get(*j) == Some(&'{') {
        *j += 1;
        loop {
            *j = skip_ws(chars, *j);
            match chars.get(*j) {
                None => return,
                Some('}') => {
                    *j += 1;
                    return;
                }
                Some(',') => *j += 1,
                Some(_) => {
                    let before = *j;
                    tree(chars, j, prefix.clone(), out);
                    if *j == before {
                        *j += 1;
                    }
                }
            }
        }
    }
    let start = *j;
    while chars.get(*j).copied().is_some_and(is_ident) {
        *j += 1;
    }
    let ident: String = chars[start..*j].iter().collect();
    let mut path = prefix;
    if !ident.is_empty() && ident != "self" {
        path.push(ident.clone());
    }
    let k = skip_ws(chars, *j);
    if chars.get(k) == Some(&':') && chars.get(k + 1) == Some(&':') {
        *j = k + 2;
        tree(chars, j, path, out);
        return;
    }
    // `name as alias`: the alias names nothing in the crate.
    if !ident.is_empty() && chars[k..].starts_with(&['a', 's']) {
        let after = k + 2;
        if !chars.get(after).copied().is_some_and(is_ident) {
            *j = skip_ws(chars, after);
            while chars.get(*j).copied().is_some_and(is_ident) {
                *j += 1;
            }
        }
    }
    path.truncate(2);
    if !path.is_empty() && !out.contains(&path) {
        out.push(path);
    }
}

/// `src/<top>.rs` or `src/<top>/...` -> `<top>`.
fn module_of(relative: &Path) -> Option<String> {
    let first = relative.components().next()?.as_os_str().to_str()?;
    Some(first.strip_suffix(".rs").unwrap_or(first).to_owned())
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS
        .iter()
        .position(|(_, modules, _)| modules.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// (file as `src/...`, its module, the paths it names).
fn sources() -> Vec<(String, String, String, Vec<CratePath>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    files
        .into_iter()
        .filter_map(|path| {
            let relative = path.strip_prefix(root.join("src")).ok()?.to_path_buf();
            let module = module_of(&relative)?;
            let source = std::fs::read_to_string(&path).unwrap();
            let stripped = strip(&source);
            let paths = crate_paths(&stripped);
            let name = format!("src/{}", relative.display());
            Some((name, module, stripped, paths))
        })
        .collect()
}

fn pending(file: &str, target: &str) -> bool {
    PENDING_EXCEPTIONS
        .iter()
        .any(|(f, t, _)| *f == file && *t == target)
}

/// Every import against the rules, as `file:line: what (rule)`; and the edges between
/// top-level modules that were allowed, for the circle check.
fn violations() -> (Vec<String>, BTreeMap<String, BTreeSet<String>>) {
    let mut problems = Vec::new();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, module, _, paths) in sources() {
        if module == "lib" {
            continue;
        }
        let Some(from) = layer_of(&module) else {
            problems.push(format!(
                "{file}: module `{module}` is in no layer (add it to LAYERS)"
            ));
            continue;
        };
        for CratePath { line, segments } in paths {
            let Some(target) = segments.first() else {
                continue;
            };
            if *target == module {
                continue;
            }
            let what = format!("{file}:{line}: `crate::{}`", segments.join("::"));
            if pending(&file, target) {
                continue;
            }
            edges
                .entry(module.clone())
                .or_default()
                .insert(target.clone());
            let Some(to) = layer_of(target) else {
                problems.push(format!("{what}: `{target}` is in no layer"));
                continue;
            };
            if to <= from {
                let (from_name, to_name) = (LAYERS[from].0, LAYERS[to].0);
                let rule = if to == from {
                    format!(
                        "`{module}` and `{target}` share the {from_name} layer and must not import each other"
                    )
                } else {
                    format!("{from_name} (`{module}`) must not import upward into {to_name}")
                };
                problems.push(format!("{what}: {rule}"));
                continue;
            }
            if let Some((_, _, allowed, rule)) = NARROW
                .iter()
                .find(|(f, t, _, _)| *f == module && t == target)
            {
                let inner = segments.get(1).map(String::as_str);
                if !inner.is_some_and(|s| allowed.contains(&s)) {
                    problems.push(format!("{what}: {rule}"));
                }
            }
            if let Some((_, _, rule)) = FORBIDDEN
                .iter()
                .find(|(f, t, _)| *f == module && t == target)
            {
                problems.push(format!("{what}: {rule}"));
            }
        }
    }
    (problems, edges)
}

/// A circle among the top-level modules, if any, as `a -> b -> a`.
fn circle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut found = stack[at..].to_vec();
            found.push(node.to_owned());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, edges, stack, done) {
                return Some(found);
            }
        }
        stack.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|start| visit(start, edges, &mut Vec::new(), &mut done))
}

#[test]
fn modules_import_only_downward() {
    let (problems, _) = violations();
    assert!(
        problems.is_empty(),
        "imports against the layer order (tests/api/layers.rs, LAYERS):\n{}",
        problems.join("\n")
    );
}

#[test]
fn no_import_circle_among_top_level_modules() {
    let (_, edges) = violations();
    if let Some(found) = circle(&edges) {
        panic!("import circle: {}", found.join(" -> "));
    }
}

#[test]
fn no_import_circle_among_the_files_of_handler_modules() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for module in NO_FILE_CIRCLES_IN {
        let mut files = Vec::new();
        rust_files(&root.join(module), &mut files);
        let names: BTreeSet<String> = files
            .iter()
            .filter(|f| f.parent() == Some(root.join(module).as_path()))
            .filter_map(|f| Some(f.file_stem()?.to_str()?.to_owned()))
            .filter(|n| n != "mod")
            .collect();
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for name in &names {
            let path = root.join(module).join(format!("{name}.rs"));
            let stripped = strip(&std::fs::read_to_string(path).unwrap());
            let siblings = paths_from(&stripped, "super")
                .into_iter()
                .filter_map(|p| p.segments.first().cloned());
            let via_crate = crate_paths(&stripped)
                .into_iter()
                .filter(|p| p.segments.first().is_some_and(|s| s == module))
                .filter_map(|p| p.segments.get(1).cloned());
            for target in siblings.chain(via_crate) {
                if target != *name && names.contains(&target) {
                    edges.entry(name.clone()).or_default().insert(target);
                }
            }
        }
        if let Some(found) = circle(&edges) {
            panic!("import circle in src/{module}/: {}", found.join(" -> "));
        }
    }
}

#[test]
fn every_pending_exception_is_still_needed() {
    let sources = sources();
    for (file, target, why) in PENDING_EXCEPTIONS {
        let used = sources.iter().any(|(name, _, _, paths)| {
            name == file
                && paths
                    .iter()
                    .any(|p| p.segments.first().is_some_and(|s| s == target))
        });
        assert!(
            used,
            "PENDING_EXCEPTIONS: {file} no longer imports `{target}` ({why}); remove the entry"
        );
    }
}

#[test]
fn oauth_names_no_diesel_and_no_store_rows() {
    let mut problems = Vec::new();
    for (file, module, stripped, paths) in sources() {
        if module != "oauth" {
            continue;
        }
        for p in &paths {
            if p.segments.first().is_some_and(|s| s == "store")
                && p.segments
                    .get(1)
                    .is_some_and(|s| s == "models" || s == "schema")
            {
                problems.push(format!(
                    "{file}:{}: `crate::{}`",
                    p.line,
                    p.segments.join("::")
                ));
            }
        }
        for (n, line) in stripped.lines().enumerate() {
            let named = line.match_indices("diesel").any(|(at, _)| {
                let before = line[..at].chars().next_back();
                let after = line[at + 6..].chars().next();
                !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
            });
            if named {
                problems.push(format!("{file}:{}: names `diesel`", n + 1));
            }
        }
    }
    problems.sort();
    assert!(
        problems.is_empty(),
        "protocol code must speak the domain, not storage (oauth/ names no diesel item and no store row type):\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_module_is_in_exactly_one_layer() {
    let mut seen = BTreeSet::new();
    for (_, modules, _) in LAYERS {
        for m in *modules {
            assert!(seen.insert(*m), "`{m}` is in two layers");
        }
    }
}

mod parser {
    use super::{circle, crate_paths, strip};
    use std::collections::{BTreeMap, BTreeSet};

    fn paths(source: &str) -> Vec<(usize, String)> {
        crate_paths(&strip(source))
            .into_iter()
            .map(|p| (p.line, p.segments.join("::")))
            .collect()
    }

    #[test]
    fn reads_plain_grouped_and_inline_paths() {
        let source = "use crate::app::AppState;\n\
                      use crate::{oauth::{scope, error::OAuthError}, store};\n\
                      fn f() { let x = crate::manage::users::list(); }\n\
                      use crate::http::{self, state::AppState as S};\n\
                      macro_rules! m { () => { $crate::admin::table::X } }\n";
        assert_eq!(
            paths(source),
            vec![
                (1, "app::AppState".into()),
                (2, "oauth::scope".into()),
                (2, "oauth::error".into()),
                (2, "store".into()),
                (3, "manage::users".into()),
                (4, "http".into()),
                (4, "http::state".into()),
                (5, "admin::table".into()),
            ]
        );
    }

    #[test]
    fn skips_comments_strings_and_other_words() {
        let source = "// use crate::app::AppState;\n\
                      /// see `crate::http::routes`\n\
                      /* crate::a /* nested crate::b */ crate::c */\n\
                      let s = \"crate::manage\";\n\
                      let r = r#\"crate::oauth \"quoted\" \"#;\n\
                      pub(crate) fn f<'a>(x: &'a str) -> char { 'c' }\n\
                      let not_crate::x = 1; let mycrate::y = 2;\n\
                      use crate::store::Store;\n";
        assert_eq!(paths(source), vec![(8, "store::Store".into())]);
    }

    #[test]
    fn spreads_a_use_over_lines() {
        let source = "use crate::{\n    audit,\n    crypto::{\n        keystore,\n    },\n};\n";
        assert_eq!(
            paths(source),
            vec![(1, "audit".into()), (1, "crypto::keystore".into())]
        );
    }

    #[test]
    fn finds_a_circle() {
        let edges = |pairs: &[(&str, &str)]| {
            let mut map: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for (a, b) in pairs {
                map.entry((*a).into()).or_default().insert((*b).into());
            }
            map
        };
        assert_eq!(circle(&edges(&[("a", "b"), ("b", "c")])), None);
        assert_eq!(
            circle(&edges(&[("a", "b"), ("b", "c"), ("c", "a")])),
            Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
        );
    }
}
