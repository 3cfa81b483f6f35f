//! The project's own docs stay true: every test that `docs/security.md` names as the proof
//! of an invariant exists, and `docs/architecture.md` lists every layer of the layer check.

use std::collections::BTreeSet;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every `fn name(` in the Rust files below `dir`.
fn function_names(dir: &Path, names: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            function_names(&path, names);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            for part in text.split("fn ").skip(1) {
                let name: String = part
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if part[name.len()..].starts_with('(') {
                    names.insert(name);
                }
            }
        }
    }
}

/// The backticked identifiers after "Test:" or "Tests:" in each bullet of the page.
fn cited_tests(page: &str) -> Vec<String> {
    let mut cited = Vec::new();
    for bullet in page.split("\n- ") {
        let Some(at) = bullet.find("Test:").or_else(|| bullet.find("Tests:")) else {
            continue;
        };
        for (i, piece) in bullet[at..].split('`').enumerate() {
            let is_identifier = !piece.is_empty()
                && piece
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if i % 2 == 1 && is_identifier {
                cited.push(piece.to_owned());
            }
        }
    }
    cited
}

#[test]
fn every_test_named_in_the_security_page_exists() {
    let page = std::fs::read_to_string(root().join("docs/security.md")).unwrap();
    let mut names = BTreeSet::new();
    function_names(&root().join("src"), &mut names);
    function_names(&root().join("tests"), &mut names);
    let cited = cited_tests(&page);
    assert!(
        cited.len() > 50,
        "the page names only {} tests",
        cited.len()
    );
    let missing: Vec<&String> = cited.iter().filter(|c| !names.contains(*c)).collect();
    assert!(
        missing.is_empty(),
        "docs/security.md names tests that do not exist: {missing:?}"
    );
}

#[test]
fn the_architecture_page_lists_every_layer() {
    let page = std::fs::read_to_string(root().join("docs/architecture.md")).unwrap();
    let check = std::fs::read_to_string(root().join("tests/api/layers.rs")).unwrap();
    let table = &check[check.find("const LAYERS").unwrap()..check.find("const NARROW").unwrap()];
    // Module names are the quoted words inside the `&[...]` lists of the table.
    for list in table.split("&[\"").skip(1) {
        let list = &list[..list.find(']').unwrap()];
        for module in list.split(',').map(|m| m.trim().trim_matches('"')) {
            let module = module.trim_start_matches('"');
            if !module.is_empty() {
                assert!(
                    page.contains(&format!("`{module}`")),
                    "docs/architecture.md does not name the module `{module}` of the layer check"
                );
            }
        }
    }
}

#[test]
fn cited_tests_are_read_from_test_lines_only() {
    let page = "- **A rule `not_a_test`.**\n  Tests: `one_test`, `two_tests`.\n- Test: `three`.";
    assert_eq!(cited_tests(page), ["one_test", "two_tests", "three"]);
}
