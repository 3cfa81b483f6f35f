//! The self-service mails (`oauth::flow::account::links::OutgoingMail`) made into messages
//! in the person's language (`Ui::mail`: `templates/mail/<name>.txt` and `.html`, subject
//! `mail-<name>-subject`) and handed to the outbox (`Store::enqueue_mail`), which sends
//! them in the background.

use crate::http::state::AppState;
use crate::oauth::flow::account::links::OutgoingMail;
use crate::store::NewMail;
use crate::ui::{Lang, Ui, UiError};

/// The message of `mail` in `lang`.
pub(crate) fn compose(ui: &Ui, mail: &OutgoingMail, lang: &Lang) -> Result<NewMail, UiError> {
    let args: Vec<(&str, &str)> = mail.args.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let rendered = ui.mail(mail.template, lang, &args)?;
    Ok(NewMail {
        to: mail.to.clone(),
        subject: rendered.subject,
        text: rendered.text,
        html: Some(rendered.html),
    })
}

/// Hands `mails` to the outbox. A failure is logged (the request that caused them has
/// been answered, or answers the same either way).
pub(crate) async fn send(state: &AppState, lang: &Lang, mails: Vec<OutgoingMail>, now: i64) {
    for mail in mails {
        let message = match compose(&state.ui, &mail, lang) {
            Ok(message) => message,
            Err(err) => {
                tracing::error!(error = %err, template = mail.template, "cannot render a mail");
                continue;
            }
        };
        if let Err(err) = state.store.enqueue_mail(message, now).await {
            tracing::error!(error = %err, template = mail.template, "cannot enqueue a mail");
        }
    }
}
