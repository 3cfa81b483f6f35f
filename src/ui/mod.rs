//! The pages and mails people read, in their language (issue 22): Jinja templates
//! (minijinja) whose words come from Fluent catalogues through `t("message-id", arg=…)`.
//! Both are built in and can be replaced or extended from an operator's directories
//! (`ui.templates_dir`, `ui.locales_dir`) without a rebuild; everything is read and
//! compiled once at start, so a broken template or catalogue stops `serve` (and fails
//! `config check`) instead of failing a person's page.
//!
//! This module knows nothing of HTTP: a handler chooses the language (`Ui::language`) from
//! what the request says and hands a serialisable page to `Ui::page`.

pub mod catalogue;
pub mod negotiate;
pub mod templates;

use std::sync::Arc;

use fluent_bundle::FluentValue;
use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, State, UndefinedBehavior, context};
use serde::Serialize;

use crate::config::UiConfig;
use catalogue::Catalogues;

#[derive(Debug, thiserror::Error)]
pub enum UiError {
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("the catalogue {path} is not valid Fluent: {reason}")]
    Catalogue { path: String, reason: String },
    #[error("the template {name} does not compile: {reason}")]
    Template { name: String, reason: String },
    #[error("ui.default_locale is {0}, but there is no catalogue for that language")]
    NoSuchLanguage(String),
    #[error("rendering {name} failed: {reason}")]
    Render { name: String, reason: String },
}

/// What every page shows of the operator's branding.
#[derive(Debug, Clone, Serialize)]
struct Brand {
    product_name: String,
    logo_url: Option<String>,
    extra_stylesheet: Option<String>,
}

/// A mail made from its templates: `mail/<name>.txt`, `mail/<name>.html` and the message
/// `mail-<name>-subject`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedMail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub struct Ui {
    env: Environment<'static>,
    catalogues: Arc<Catalogues>,
    languages: Vec<String>,
    brand: Brand,
}

impl std::fmt::Debug for Ui {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ui")
            .field("languages", &self.languages)
            .finish_non_exhaustive()
    }
}

impl Ui {
    /// Reads and compiles everything; any error names the file and what is wrong with it.
    pub fn load(config: &UiConfig) -> Result<Self, UiError> {
        let catalogues = Arc::new(Catalogues::load(
            config.locales_dir.as_deref(),
            &config.default_locale,
        )?);
        let mut env = Environment::new();
        // A page that names a value its handler does not give fails in the tests, instead
        // of printing nothing in production.
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // Keep a template's final newline: the plain-text mails end with one.
        env.set_keep_trailing_newline(true);
        // HTML escaping of the five characters that matter, as askama did: minijinja's own
        // also writes `/` as `&#x2f;`, which is valid but turns every URL in a page or
        // mail into entity soup for anyone reading the source.
        env.set_formatter(
            |out, state, value| match (state.auto_escape(), value.as_str()) {
                (minijinja::AutoEscape::Html, Some(text)) if !value.is_safe() => {
                    write_escaped(out, text).map_err(|_| {
                        minijinja::Error::new(minijinja::ErrorKind::WriteFailure, "cannot write")
                    })
                }
                _ => minijinja::escape_formatter(out, state, value),
            },
        );
        let mut sources: Vec<(String, String)> = templates::BUILT_IN
            .iter()
            .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
            .collect();
        if let Some(dir) = &config.templates_dir {
            for (name, text) in templates::operator_templates(dir)? {
                sources.retain(|(n, _)| *n != name);
                sources.push((name, text));
            }
        }
        for (name, text) in sources {
            env.add_template_owned(name.clone(), text)
                .map_err(|e| UiError::Template {
                    name,
                    reason: e.to_string(),
                })?;
        }
        let words = Arc::clone(&catalogues);
        env.add_function(
            "t",
            move |state: &State, id: &str, kwargs: Kwargs| -> Result<String, minijinja::Error> {
                let lang = state.lookup("lang");
                let lang = lang
                    .as_ref()
                    .and_then(Value::as_str)
                    .unwrap_or(catalogue::ENGLISH);
                let mut args = Vec::new();
                for name in kwargs.args() {
                    let value: Value = kwargs.get(name)?;
                    args.push((name, fluent_value(&value)));
                }
                Ok(words.message(lang, id, &args))
            },
        );
        // `th`: a message with markup of its own (`<strong>{ $client }</strong>`), for the
        // HTML pages only. The catalogue's text is trusted (ours or the operator's); every
        // argument is escaped before it goes in, so a client's name stays text.
        let words = Arc::clone(&catalogues);
        env.add_function(
            "th",
            move |state: &State, id: &str, kwargs: Kwargs| -> Result<Value, minijinja::Error> {
                let lang = state.lookup("lang");
                let lang = lang
                    .as_ref()
                    .and_then(Value::as_str)
                    .unwrap_or(catalogue::ENGLISH);
                let mut args = Vec::new();
                for name in kwargs.args() {
                    let value: Value = kwargs.get(name)?;
                    let value = match fluent_value(&value) {
                        FluentValue::String(s) => FluentValue::from(escape_html(&s)),
                        other @ (FluentValue::Number(_)
                        | FluentValue::Custom(_)
                        | FluentValue::None
                        | FluentValue::Error) => other,
                    };
                    args.push((name, value));
                }
                Ok(Value::from_safe_string(words.message(lang, id, &args)))
            },
        );
        let languages = catalogues.languages();
        Ok(Self {
            env,
            catalogues,
            languages,
            brand: Brand {
                product_name: config.product_name.clone(),
                logo_url: config.logo_url.clone(),
                extra_stylesheet: config.extra_stylesheet.clone(),
            },
        })
    }

    /// The language for a request: `ui_locales`, then `Accept-Language`, then the default.
    pub fn language(&self, ui_locales: Option<&str>, accept_language: Option<&str>) -> Lang {
        Lang(
            negotiate::choose(
                &self.languages,
                self.catalogues.default_language(),
                ui_locales,
                accept_language,
            )
            .to_owned(),
        )
    }

    /// The languages there are catalogues for.
    pub fn languages(&self) -> &[String] {
        &self.languages
    }

    /// Page `name` with `page`'s values, plus `lang`, `base` (the issuer's path, which every
    /// link starts with) and `ui` (the branding).
    pub fn page<P: Serialize>(
        &self,
        name: &str,
        lang: &Lang,
        base: &str,
        page: &P,
    ) -> Result<String, UiError> {
        let ctx = context! {
            lang => lang.as_str(),
            base => base,
            ui => Value::from_serialize(&self.brand),
            ..Value::from_serialize(page)
        };
        self.render(name, ctx)
    }

    /// Mail `name` in `lang`, its `args` the values the templates and subject refer to.
    pub fn mail(
        &self,
        name: &str,
        lang: &Lang,
        args: &[(&str, &str)],
    ) -> Result<RenderedMail, UiError> {
        let values: std::collections::BTreeMap<&str, &str> = args.iter().copied().collect();
        let ctx = context! { lang => lang.as_str(), ..Value::from_serialize(&values) };
        let fluent: Vec<(&str, FluentValue<'_>)> = args
            .iter()
            .map(|(k, v)| (*k, FluentValue::from(*v)))
            .collect();
        Ok(RenderedMail {
            subject: self.catalogues.message(
                lang.as_str(),
                &format!("mail-{name}-subject"),
                &fluent,
            ),
            text: self.render(&format!("mail/{name}.txt"), ctx.clone())?,
            html: self.render(&format!("mail/{name}.html"), ctx)?,
        })
    }

    /// One message, for words a handler puts into a page or header itself.
    pub fn text(&self, lang: &Lang, id: &str, args: &[(&str, &str)]) -> String {
        let fluent: Vec<(&str, FluentValue<'_>)> = args
            .iter()
            .map(|(k, v)| (*k, FluentValue::from(*v)))
            .collect();
        self.catalogues.message(lang.as_str(), id, &fluent)
    }

    fn render(&self, name: &str, ctx: Value) -> Result<String, UiError> {
        let failed = |e: minijinja::Error| UiError::Render {
            name: name.to_owned(),
            reason: format!("{e:#}"),
        };
        self.env
            .get_template(name)
            .map_err(failed)?
            .render(ctx)
            .map_err(failed)
    }
}

/// A language we have a catalogue for (lower-case BCP 47), as `Ui::language` chose it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lang(String);

impl Lang {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// English, for work no person's request started (a CLI action's mail).
    pub fn english() -> Self {
        Self(catalogue::ENGLISH.to_owned())
    }
}

/// The entity for a character HTML escaping must replace, `None` for every other.
fn entity(c: char) -> Option<&'static str> {
    match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '"' => Some("&quot;"),
        '\'' => Some("&#x27;"),
        _ => None,
    }
}

/// Writes `text` HTML-escaped straight into `out`: the runs between special characters go
/// in as whole slices, with no string made per value (escaping was a quarter of a page's
/// rendering when every value was copied character by character into a new `String`).
fn write_escaped<W: std::fmt::Write + ?Sized>(out: &mut W, text: &str) -> std::fmt::Result {
    for piece in text.split_inclusive(|c| entity(c).is_some()) {
        let mut chars = piece.chars();
        match chars.next_back().and_then(entity) {
            Some(replacement) => {
                out.write_str(chars.as_str())?;
                out.write_str(replacement)?;
            }
            None => out.write_str(piece)?,
        }
    }
    Ok(())
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    // Writing into a String cannot fail.
    let _ = write_escaped(&mut out, text);
    out
}

/// Numbers stay numbers, so Fluent's plural rules (`{ $n -> [one] … *[other] … }`) apply.
fn fluent_value(value: &Value) -> FluentValue<'static> {
    if let Ok(n) = i64::try_from(value.clone()) {
        return FluentValue::from(n);
    }
    if let Some(s) = value.as_str() {
        return FluentValue::from(s.to_owned());
    }
    FluentValue::from(value.to_string())
}

#[cfg(test)]
mod tests;
