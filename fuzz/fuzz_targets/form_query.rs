//! The strict form and query parser (`oauth::form::FormMap`) that every protocol endpoint
//! reads its parameters with: never a panic, limits always hold, errors are wire-safe 400s.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::oauth::form::{FormLimits, FormMap};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let limits = match selector % 3 {
        0 => FormLimits::default(),
        1 => FormLimits::with_resources(),
        _ => FormLimits::introspection(),
    };
    match FormMap::parse_with(body, &limits) {
        Ok(form) => {
            assert!(form.len() <= limits.max_params);
            assert_eq!(form.is_empty(), form.len() == 0);
            for name in form.names() {
                assert!(!name.is_empty() && name.len() <= limits.max_name_len);
                let values = form.all(name);
                assert!(!values.is_empty());
                assert_eq!(form.get(name), values.first().map(String::as_str));
                assert!(form.contains(name));
                if !limits.repeatable.contains(&name) {
                    assert_eq!(values.len(), 1, "{name} accepted twice");
                }
                if !limits.opaque.contains(&name) {
                    assert!(values.iter().all(|v| v.len() <= limits.max_value_len));
                }
            }
            // Debug shows the names and nothing else: values may be passwords.
            let names: std::collections::BTreeSet<&str> = form.names().collect();
            assert_eq!(format!("{form:?}"), format!("{names:?}"));
        }
        Err(err) => {
            assert_eq!(err.code(), "invalid_request");
            common::assert_wire_safe(&err);
        }
    }
});
