//! The self-service mails (`oauth::flow::account::links::OutgoingMail`) made into messages
//! and handed to the outbox (`Store::enqueue_mail`), which sends them in the background.
//!
//! The texts are the templates `templates/mail/<name>.txt` and `.html` (Jinja syntax:
//! `{{ t("message-id", arg=name) }}` and `{{ name }}`) with their words in
//! `locales/<lang>/flows.ftl` (the subject is `mail-<name>-subject`). Until the page
//! engine (minijinja + Fluent) is on main, this file renders that subset itself: single-line
//! Fluent messages whose placeables are `{ $arg }`, values escaped in the HTML part.

use crate::http::state::AppState;
use crate::oauth::flow::account::links::OutgoingMail;
use crate::store::NewMail;

/// The mail templates, embedded: (name, text, html).
const TEMPLATES: &[(&str, &str, &str)] = &[
    (
        "password_reset",
        include_str!("../../templates/mail/password_reset.txt"),
        include_str!("../../templates/mail/password_reset.html"),
    ),
    (
        "password_changed",
        include_str!("../../templates/mail/password_changed.txt"),
        include_str!("../../templates/mail/password_changed.html"),
    ),
    (
        "verify_email",
        include_str!("../../templates/mail/verify_email.txt"),
        include_str!("../../templates/mail/verify_email.html"),
    ),
    (
        "email_changing",
        include_str!("../../templates/mail/email_changing.txt"),
        include_str!("../../templates/mail/email_changing.html"),
    ),
    (
        "signup_verify",
        include_str!("../../templates/mail/signup_verify.txt"),
        include_str!("../../templates/mail/signup_verify.html"),
    ),
    (
        "signup_exists",
        include_str!("../../templates/mail/signup_exists.txt"),
        include_str!("../../templates/mail/signup_exists.html"),
    ),
    (
        "signup_taken",
        include_str!("../../templates/mail/signup_taken.txt"),
        include_str!("../../templates/mail/signup_taken.html"),
    ),
];

const CATALOGUES: &[(&str, &str)] = &[
    ("en", include_str!("../../locales/en/flows.ftl")),
    ("de", include_str!("../../locales/de/flows.ftl")),
];

/// The language of a request's mails: German when the browser prefers it, else English
/// (the page engine's negotiation replaces this when it lands).
pub(crate) fn locale(req: &actix_web::HttpRequest) -> &'static str {
    let first = req
        .headers()
        .get(actix_web::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if first == "de" || first.starts_with("de-") || first.starts_with("de;") {
        "de"
    } else {
        "en"
    }
}

/// The message `id` of `locale`'s catalogue (English when it lacks one), its `{ $arg }`
/// placeables filled.
fn message(locale: &str, id: &str, args: &[(&str, &str)]) -> String {
    let find = |lang: &str| {
        CATALOGUES
            .iter()
            .find(|(l, _)| *l == lang)
            .and_then(|(_, ftl)| {
                ftl.lines().find_map(|line| {
                    let (key, value) = line.split_once('=')?;
                    (key.trim() == id).then(|| value.trim().to_owned())
                })
            })
    };
    let Some(mut text) = find(locale).or_else(|| find("en")) else {
        tracing::error!(id, "mail message missing from the catalogue");
        return String::new();
    };
    for (name, value) in args {
        text = text.replace(&format!("{{ ${name} }}"), value);
    }
    text
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Renders one template: `{{ name }}` and `{{ t("id", arg=name, …) }}`.
fn render(template: &str, locale: &str, mail: &OutgoingMail, html: bool) -> String {
    let value = |name: &str| mail.get(name).unwrap_or("").to_owned();
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(rest.get(..start).unwrap_or(""));
        let after = rest.get(start + 2..).unwrap_or("");
        let Some(end) = after.find("}}") else {
            out.push_str(rest.get(start..).unwrap_or(""));
            rest = "";
            break;
        };
        let expr = after.get(..end).unwrap_or("").trim();
        let text = if let Some(call) = expr.strip_prefix("t(").and_then(|c| c.strip_suffix(')')) {
            let mut parts = call.split(',').map(str::trim);
            let id = parts.next().unwrap_or("").trim_matches('"');
            let args: Vec<(String, String)> = parts
                .filter_map(|p| p.split_once('='))
                .map(|(k, v)| (k.trim().to_owned(), value(v.trim())))
                .collect();
            let args: Vec<(&str, &str)> =
                args.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            message(locale, id, &args)
        } else {
            value(expr)
        };
        out.push_str(&if html { escape(&text) } else { text });
        rest = after.get(end + 2..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

/// The message of `mail` in `locale`.
pub(crate) fn compose(mail: &OutgoingMail, locale: &str) -> Option<NewMail> {
    let (_, text, html) = TEMPLATES.iter().find(|(n, _, _)| *n == mail.template)?;
    let args: Vec<(&str, &str)> = mail.args.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Some(NewMail {
        to: mail.to.clone(),
        subject: message(locale, &format!("mail-{}-subject", mail.template), &args),
        text: render(text, locale, mail, false),
        html: Some(render(html, locale, mail, true)),
    })
}

/// Hands `mails` to the outbox. A failure is logged (the request that caused them has
/// been answered, or answers the same either way).
pub(crate) async fn send(state: &AppState, locale: &str, mails: Vec<OutgoingMail>, now: i64) {
    for mail in mails {
        let Some(message) = compose(&mail, locale) else {
            tracing::error!(template = mail.template, "no such mail template");
            continue;
        };
        if let Err(err) = state.store.enqueue_mail(message, now).await {
            tracing::error!(error = %err, template = mail.template, "cannot enqueue a mail");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_renders_in_both_languages() {
        for (name, _, _) in TEMPLATES {
            let mail = OutgoingMail::new("a@example.com", name)
                .arg("username", "<alice>")
                .arg("link", "https://id.example.com/x?token=pcl_1")
                .arg("minutes", "30")
                .arg("hours", "24")
                .arg("new_email", "b@example.com");
            for locale in ["en", "de"] {
                let m = compose(&mail, locale).unwrap();
                assert!(!m.subject.is_empty(), "{name} {locale}");
                assert!(!m.text.contains("{{") && !m.text.contains("{ $"), "{name}");
                let html = m.html.unwrap();
                assert!(!html.contains("<alice>"), "{name}: escaped");
                if mail.template != "email_changing" {
                    assert!(m.text.contains("https://id.example.com/x?token=pcl_1"));
                }
            }
        }
        let de = compose(&OutgoingMail::new("a@b.de", "password_reset"), "de").unwrap();
        assert_eq!(de.subject, "Passwort zurücksetzen");
    }
}
