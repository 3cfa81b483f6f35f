//! The engine on its own: languages, catalogues, an operator's overrides, escaping, and
//! the mails in both built-in languages. The pages themselves are exercised by the HTTP
//! tests (`tests/api/`), which render every one of them.

use std::collections::BTreeSet;

use super::catalogue::Catalogues;
use super::*;

fn config() -> UiConfig {
    UiConfig {
        product_name: "Portcullis".into(),
        logo_url: None,
        extra_stylesheet: None,
        templates_dir: None,
        locales_dir: None,
        default_locale: "en".into(),
    }
}

fn ui() -> Ui {
    Ui::load(&config()).expect("the built-in templates and catalogues load")
}

#[test]
fn english_and_german_have_the_same_messages() {
    let en: BTreeSet<String> = Catalogues::ids("en").into_iter().collect();
    let de: BTreeSet<String> = Catalogues::ids("de").into_iter().collect();
    assert!(en.len() > 200, "{} messages", en.len());
    let missing: Vec<_> = en.difference(&de).collect();
    let extra: Vec<_> = de.difference(&en).collect();
    assert!(missing.is_empty(), "German lacks {missing:?}");
    assert!(extra.is_empty(), "German has ids English lacks: {extra:?}");
}

#[test]
fn every_message_a_template_names_exists() {
    let en: BTreeSet<String> = Catalogues::ids("en").into_iter().collect();
    for scope in ["openid", "profile", "email", "offline_access"] {
        assert!(en.contains(&format!("scope-{scope}")), "{scope}");
    }
    for (name, text) in templates::BUILT_IN {
        for call in ["t(\"", "th(\""] {
            for (i, _) in text.match_indices(call) {
                let rest = text.get(i + call.len()..).unwrap_or("");
                let id = rest.split('"').next().unwrap_or("");
                // `t("scope-" ~ scope.name)`: the known scopes are checked below.
                if id.ends_with('-') {
                    continue;
                }
                assert!(en.contains(id), "{name} names {id}, which no catalogue has");
            }
        }
    }
}

#[test]
fn the_language_follows_ui_locales_then_the_browser_then_the_default() {
    let ui = ui();
    assert_eq!(ui.language(Some("de"), Some("en")).as_str(), "de");
    assert_eq!(ui.language(None, Some("de-AT,en;q=0.5")).as_str(), "de");
    assert_eq!(ui.language(Some("fr"), Some("fr")).as_str(), "en");
    let mut german_default = config();
    german_default.default_locale = "de".into();
    let ui = Ui::load(&german_default).unwrap();
    assert_eq!(ui.language(None, None).as_str(), "de");
}

#[test]
fn the_protocol_codes_english_sentences_are_translated() {
    let ui = ui();
    let de = ui.language(Some("de"), None);
    let login_failed = crate::oauth::flow::LOGIN_FAILED;
    assert_eq!(ui.text(&Lang::english(), login_failed, &[]), login_failed);
    assert_ne!(ui.text(&de, login_failed, &[]), login_failed);
    // With a value in it: the policy's refusal as the password page composes it.
    let refusal = "The new password must be at least 12 characters.";
    let german = ui.text(&de, refusal, &[]);
    assert!(german.contains("12") && german != refusal, "{german}");
    // Words made for one request, which no catalogue has, are shown as they are.
    assert_eq!(
        ui.text(&de, "a document said no", &[]),
        "a document said no"
    );
}

#[test]
fn pages_escape_what_they_are_given_and_set_the_language() {
    #[derive(Serialize)]
    struct Error<'a> {
        message: &'a str,
    }
    let ui = ui();
    let de = ui.language(Some("de"), None);
    let html = ui
        .page(
            "error.html",
            &de,
            "/base",
            &Error {
                message: "<script>x</script>",
            },
        )
        .unwrap();
    assert!(html.contains("<html lang=\"de\">"), "{html}");
    assert!(html.contains("&lt;script&gt;") && !html.contains("<script>x"));
    assert!(html.contains("/base/static/portcullis.css"));
}

#[test]
fn markup_messages_escape_their_arguments() {
    #[derive(Serialize)]
    struct Confirm<'a> {
        client_name: Option<&'a str>,
        csrf_token: &'a str,
        fields: Vec<(&'a str, &'a str)>,
    }
    let ui = ui();
    let html = ui
        .page(
            "logout_confirm.html",
            &Lang::english(),
            "",
            &Confirm {
                client_name: Some("<img src=x onerror=alert(1)>"),
                csrf_token: "t",
                fields: vec![("state", "\"><b>")],
            },
        )
        .unwrap();
    assert!(
        html.contains("<strong>&lt;img src=x onerror=alert(1)&gt;</strong>"),
        "{html}"
    );
    assert!(!html.contains("<img src=x"));
    assert!(html.contains("value=\"&quot;&gt;&lt;b&gt;\""), "{html}");
}

#[test]
fn every_mail_renders_in_both_languages_and_escapes_its_html() {
    let ui = ui();
    let args = [
        ("username", "<alice>"),
        ("link", "https://id.example.com/x?token=pcl_1&a=b"),
        ("minutes", "30"),
        ("hours", "24"),
        ("new_email", "b@example.com"),
        ("change", "password"),
    ];
    let names: BTreeSet<&str> = templates::BUILT_IN
        .iter()
        .filter_map(|(n, _)| n.strip_prefix("mail/")?.strip_suffix(".txt"))
        .collect();
    assert_eq!(names.len(), 8);
    for lang in ["en", "de"] {
        let lang = ui.language(Some(lang), None);
        for name in &names {
            let mail = ui.mail(name, &lang, &args).unwrap();
            assert!(
                !mail.subject.is_empty() && !mail.subject.starts_with("mail-"),
                "{name}"
            );
            assert!(
                !mail.text.contains("{{") && !mail.text.contains("{ $"),
                "{name}"
            );
            assert!(!mail.html.contains("<alice>"), "{name}: escaped");
            if *name != "email_changing" {
                assert!(
                    mail.text
                        .contains("https://id.example.com/x?token=pcl_1&a=b"),
                    "{name}"
                );
            }
        }
    }
    // The account-change notice names each change in words of its own.
    for lang in ["en", "de"] {
        let lang = ui.language(Some(lang), None);
        for change in ["password", "totp", "passkey", "factor_removed"] {
            let mut with = args.to_vec();
            with.retain(|(k, _)| *k != "change");
            with.push(("change", change));
            let mail = ui.mail("account_changed", &lang, &with).unwrap();
            assert!(
                !mail.text.contains("mail-account_changed"),
                "{change}: {}",
                mail.text
            );
        }
    }
    let de = ui.language(Some("de"), None);
    assert_eq!(
        ui.mail("password_reset", &de, &args).unwrap().subject,
        "Passwort zurücksetzen"
    );
}

#[test]
fn an_operator_replaces_templates_and_messages_and_adds_languages() {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("templates");
    let locales = dir.path().join("locales");
    std::fs::create_dir_all(templates.join("mail")).unwrap();
    std::fs::create_dir_all(locales.join("fr")).unwrap();
    std::fs::create_dir_all(locales.join("en")).unwrap();
    std::fs::write(
        templates.join("logout.html"),
        "{% extends \"base.html\" %}{% block content %}<p>{{ t(\"logout-done-heading\") }}, ACME</p>{% endblock %}",
    )
    .unwrap();
    std::fs::write(
        templates.join("mail/password_changed.txt"),
        "{{ t(\"mail-password_changed-greeting\", username=username) }} (ACME)\n",
    )
    .unwrap();
    std::fs::write(
        locales.join("en/acme.ftl"),
        "logout-done-heading = Goodbye from ACME\n",
    )
    .unwrap();
    std::fs::write(
        locales.join("fr/pages.ftl"),
        "logout-done-heading = Vous êtes déconnecté\n",
    )
    .unwrap();
    let mut cfg = config();
    cfg.templates_dir = Some(templates);
    cfg.locales_dir = Some(locales);
    let ui = Ui::load(&cfg).unwrap();
    assert!(ui.languages().iter().any(|l| l == "fr"));
    let en = ui.page("logout.html", &Lang::english(), "", &()).unwrap();
    assert!(en.contains("<p>Goodbye from ACME, ACME</p>"), "{en}");
    let fr = ui.language(None, Some("fr-CA"));
    let page = ui.page("logout.html", &fr, "", &()).unwrap();
    assert!(
        page.contains("Vous êtes déconnecté") && page.contains("lang=\"fr\""),
        "{page}"
    );
    // A message French lacks falls back to English, never to an id.
    assert_eq!(
        ui.text(&fr, "logout-done-lead", &[]),
        "You can close this window."
    );
    let mail = ui
        .mail(
            "password_changed",
            &Lang::english(),
            &[
                ("username", "al"),
                ("link", "https://id.example/forgot-password"),
            ],
        )
        .unwrap();
    assert_eq!(mail.text, "Hello al, (ACME)\n");
}

#[test]
fn a_broken_template_or_catalogue_stops_the_load_and_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("login.html"), "{% if %}").unwrap();
    let mut cfg = config();
    cfg.templates_dir = Some(dir.path().to_owned());
    match Ui::load(&cfg) {
        Err(UiError::Template { name, .. }) => assert_eq!(name, "login.html"),
        other => panic!("{other:?}"),
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("de")).unwrap();
    std::fs::write(dir.path().join("de/x.ftl"), "this is = not { fluent").unwrap();
    let mut cfg = config();
    cfg.locales_dir = Some(dir.path().to_owned());
    match Ui::load(&cfg) {
        Err(UiError::Catalogue { path, .. }) => assert!(path.ends_with("x.ftl"), "{path}"),
        other => panic!("{other:?}"),
    }
    let mut cfg = config();
    cfg.default_locale = "fr".into();
    assert!(matches!(Ui::load(&cfg), Err(UiError::NoSuchLanguage(l)) if l == "fr"));
}

#[test]
fn escaping_replaces_exactly_the_five_characters_and_keeps_the_rest() {
    // The rule, one character at a time, against the slice-writing escaper.
    let reference = |text: &str| -> String {
        text.chars()
            .map(|c| super::entity(c).map_or_else(|| c.to_string(), str::to_owned))
            .collect()
    };
    let cases = [
        "",
        "plain text with / slashes: https://id.example.com/auth",
        "<>&\"'",
        "<script>alert('x')</script>",
        "trailing &",
        "& leading",
        "é<ü&ß>中文\"'😀",
        "a&&b<<c>>d",
    ];
    for case in cases {
        assert_eq!(super::escape_html(case), reference(case), "{case:?}");
    }
    assert_eq!(
        super::escape_html("<a href='x'>R&D</a>"),
        "&lt;a href=&#x27;x&#x27;&gt;R&amp;D&lt;/a&gt;"
    );
}
