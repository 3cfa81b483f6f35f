//! The words of the pages and mails: one Fluent bundle per language, from the catalogues
//! built in (`locales/<lang>/*.ftl`) and then an operator's `ui.locales_dir`, whose
//! messages replace ours of the same id or add languages. A message missing from a
//! language falls back to the default language, then English, so a partial translation
//! shows English words rather than an id.

use std::collections::BTreeMap;
use std::path::Path;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use unic_langid::LanguageIdentifier;

use super::UiError;

/// The catalogues built in: (language, file name, text).
const BUILT_IN: &[(&str, &str, &str)] = &[
    (
        "en",
        "pages.ftl",
        include_str!("../../locales/en/pages.ftl"),
    ),
    (
        "en",
        "account.ftl",
        include_str!("../../locales/en/account.ftl"),
    ),
    (
        "en",
        "account-sessions.ftl",
        include_str!("../../locales/en/account-sessions.ftl"),
    ),
    (
        "en",
        "flows.ftl",
        include_str!("../../locales/en/flows.ftl"),
    ),
    (
        "de",
        "pages.ftl",
        include_str!("../../locales/de/pages.ftl"),
    ),
    (
        "de",
        "account.ftl",
        include_str!("../../locales/de/account.ftl"),
    ),
    (
        "de",
        "account-sessions.ftl",
        include_str!("../../locales/de/account-sessions.ftl"),
    ),
    (
        "de",
        "flows.ftl",
        include_str!("../../locales/de/flows.ftl"),
    ),
];

/// The language every message exists in.
pub const ENGLISH: &str = "en";

pub struct Catalogues {
    bundles: BTreeMap<String, FluentBundle<FluentResource>>,
    default: String,
    /// The protocol code's messages are English sentences (`BrowserError::Page`, a form's
    /// refusal), so that it needs no catalogue and its tests read plainly; a page that
    /// shows one finds its id here, by the built-in English text, gettext's way.
    by_english: std::collections::HashMap<&'static str, &'static str>,
    /// The same for sentences with values in them ("The new password must be at least 8
    /// characters."): each English message with placeables, as its literal pieces.
    english_patterns: Vec<Pattern>,
}

/// An English message cut at its placeables: `pieces[0] $names[0] pieces[1] …`.
struct Pattern {
    id: &'static str,
    pieces: Vec<&'static str>,
    names: Vec<&'static str>,
}

impl Pattern {
    fn parse(id: &'static str, text: &'static str) -> Option<Self> {
        let mut pieces = Vec::new();
        let mut names = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            let close = rest.get(open..)?.find('}')? + open;
            let name = rest.get(open + 1..close)?.trim().strip_prefix('$')?;
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return None;
            }
            pieces.push(rest.get(..open)?);
            names.push(name);
            rest = rest.get(close + 1..)?;
        }
        pieces.push(rest);
        // Two values side by side cannot be told apart; such a message is not matched.
        let ambiguous = pieces
            .iter()
            .skip(1)
            .take(names.len().saturating_sub(1))
            .any(|p| p.is_empty());
        (!names.is_empty() && !ambiguous).then_some(Self { id, pieces, names })
    }

    /// The values of `text` if it is this message with some values filled in (each value
    /// the shortest that lets the rest match, which is what a sentence's pieces allow).
    fn values<'t>(&self, text: &'t str) -> Option<Vec<(&'static str, &'t str)>> {
        let mut rest = text.strip_prefix(self.pieces.first()?)?;
        let mut values = Vec::new();
        for (i, name) in self.names.iter().enumerate() {
            let next = self.pieces.get(i + 1)?;
            let last = i + 1 == self.names.len();
            let end = if last {
                rest.strip_suffix(next).map(str::len)?
            } else {
                rest.find(next)?
            };
            let value = rest.get(..end)?;
            if value.is_empty() {
                return None;
            }
            values.push((*name, value));
            rest = rest.get(end + next.len()..)?;
        }
        rest.is_empty().then_some(values)
    }
}

impl Catalogues {
    /// The built-in catalogues, then `dir`'s `<lang>/*.ftl` over them.
    pub fn load(dir: Option<&Path>, default: &str) -> Result<Self, UiError> {
        let mut bundles = BTreeMap::new();
        for (lang, file, text) in BUILT_IN {
            add(
                &mut bundles,
                lang,
                &format!("locales/{lang}/{file}"),
                text.to_string(),
            )?;
        }
        if let Some(dir) = dir {
            for (lang, path) in operator_files(dir)? {
                let text = std::fs::read_to_string(&path).map_err(|e| UiError::Read {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })?;
                add(&mut bundles, &lang, &path.display().to_string(), text)?;
            }
        }
        if !bundles.contains_key(default) {
            return Err(UiError::NoSuchLanguage(default.to_owned()));
        }
        Ok(Self {
            bundles,
            default: default.to_owned(),
            by_english: english_index(),
            english_patterns: english_patterns(),
        })
    }

    /// The languages there are catalogues for, lower-case.
    pub fn languages(&self) -> Vec<String> {
        self.bundles.keys().cloned().collect()
    }

    pub fn default_language(&self) -> &str {
        &self.default
    }

    /// Message `id` in `lang` (then the default, then English) with `args` filled in; the id
    /// itself when no catalogue has it, which the completeness test keeps from happening
    /// with our own pages.
    pub fn message(&self, lang: &str, id: &str, args: &[(&str, FluentValue<'_>)]) -> String {
        let mut fluent_args = FluentArgs::new();
        for (name, value) in args {
            fluent_args.set(*name, value.clone());
        }
        let is_id = self.bundles.values().any(|b| b.has_message(id));
        let id = match self.by_english.get(id) {
            Some(found) if !is_id => *found,
            _ if !is_id => match self
                .english_patterns
                .iter()
                .find_map(|p| p.values(id).map(|v| (p.id, v)))
            {
                Some((found, values)) => {
                    for (name, value) in values {
                        // A number stays a number, for the plural rules.
                        match value.parse::<i64>() {
                            Ok(n) => fluent_args.set(name, n),
                            Err(_) => fluent_args.set(name, value.to_owned()),
                        }
                    }
                    found
                }
                None => id,
            },
            _ => id,
        };
        for candidate in [lang, self.default.as_str(), ENGLISH] {
            let Some(bundle) = self.bundles.get(candidate) else {
                continue;
            };
            let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) else {
                continue;
            };
            let mut errors = Vec::new();
            let text = bundle.format_pattern(pattern, Some(&fluent_args), &mut errors);
            if !errors.is_empty() {
                tracing::warn!(id, lang = candidate, errors = ?errors, "a message did not format cleanly");
            }
            return text.into_owned();
        }
        // Words made for one request (a metadata document's refusal) have no message.
        tracing::debug!(lang, "a page shows words no catalogue has");
        id.to_owned()
    }

    /// Whether `lang`'s own catalogue (no fallback) has `id`.
    pub fn has(&self, lang: &str, id: &str) -> bool {
        self.bundles.get(lang).is_some_and(|b| b.has_message(id))
    }

    /// Every message id of `lang`'s own catalogue.
    #[cfg(test)]
    pub fn ids(lang: &str) -> Vec<String> {
        BUILT_IN
            .iter()
            .filter(|(l, _, _)| *l == lang)
            .flat_map(|(_, _, text)| {
                text.lines()
                    .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_alphabetic()))
                    .filter_map(|l| l.split_once(" =").map(|(id, _)| id.trim().to_owned()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

/// English text → id, for the built-in messages that have no placeable and fit one line.
fn english_index() -> std::collections::HashMap<&'static str, &'static str> {
    BUILT_IN
        .iter()
        .filter(|(lang, _, _)| *lang == ENGLISH)
        .flat_map(|(_, _, text)| text.lines())
        .filter(|line| line.chars().next().is_some_and(|c| c.is_ascii_alphabetic()))
        .filter_map(|line| line.split_once(" = "))
        .filter(|(_, text)| !text.contains('{') && !text.trim().is_empty())
        .map(|(id, text)| (text.trim(), id.trim()))
        .collect()
}

fn english_patterns() -> Vec<Pattern> {
    BUILT_IN
        .iter()
        .filter(|(lang, _, _)| *lang == ENGLISH)
        .flat_map(|(_, _, text)| text.lines())
        .filter(|line| line.chars().next().is_some_and(|c| c.is_ascii_alphabetic()))
        .filter_map(|line| line.split_once(" = "))
        .filter(|(_, text)| text.contains('{'))
        .filter_map(|(id, text)| Pattern::parse(id.trim(), text.trim()))
        .collect()
}

fn add(
    bundles: &mut BTreeMap<String, FluentBundle<FluentResource>>,
    lang: &str,
    origin: &str,
    text: String,
) -> Result<(), UiError> {
    let resource = FluentResource::try_new(text).map_err(|(_, errors)| UiError::Catalogue {
        path: origin.to_owned(),
        reason: errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("; "),
    })?;
    let bundle = bundles.entry(lang.to_owned()).or_insert_with(|| {
        let id: LanguageIdentifier = lang.parse().unwrap_or_default();
        let mut b = FluentBundle::new_concurrent(vec![id]);
        // No Unicode isolation marks around arguments: the pages and mails are read by
        // people, and the marks show as stray characters in plain-text mail and subjects.
        b.set_use_isolating(false);
        b
    });
    // An operator's message replaces ours of the same id.
    bundle.add_resource_overriding(resource);
    Ok(())
}

/// The `.ftl` files of an operator's directory, by language: `<dir>/<lang>/<name>.ftl`,
/// in name order so overriding is predictable.
fn operator_files(dir: &Path) -> Result<Vec<(String, std::path::PathBuf)>, UiError> {
    let read = |path: &Path| {
        std::fs::read_dir(path).map_err(|e| UiError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
    };
    let mut out = Vec::new();
    let mut languages: Vec<_> = read(dir)?
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .collect();
    languages.sort_by_key(|e| e.file_name());
    for entry in languages {
        let name = entry.file_name().to_string_lossy().to_ascii_lowercase();
        if name.parse::<LanguageIdentifier>().is_err() {
            return Err(UiError::Catalogue {
                path: entry.path().display().to_string(),
                reason: "the folder's name is not a language tag (BCP 47, such as de or pt-BR)"
                    .into(),
            });
        }
        let mut files: Vec<_> = read(&entry.path())?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "ftl"))
            .collect();
        files.sort();
        out.extend(files.into_iter().map(|p| (name.clone(), p)));
    }
    Ok(out)
}
