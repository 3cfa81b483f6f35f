# Mails und Seiten der Selbstbedienung (Issue 22): Passwort zurücksetzen, Adresse
# bestätigen, selbst registrieren. Nachrichten-IDs: mail-<Vorlage>-<Teil>.

mail-password_reset-subject = Passwort zurücksetzen
mail-password_reset-greeting = Hallo { $username },
mail-password_reset-body = jemand (hoffentlich Sie) möchte das Passwort Ihres Kontos zurücksetzen. Über diesen Link wählen Sie ein neues:
mail-password_reset-expiry = Der Link funktioniert einmal, { $minutes } Minuten lang.
mail-password_reset-ignore = Wenn Sie das nicht angefordert haben, ignorieren Sie diese Mail: Ihr Passwort bleibt, wie es ist.

mail-password_changed-subject = Ihr Passwort wurde geändert
mail-password_changed-greeting = Hallo { $username },
mail-password_changed-body = das Passwort Ihres Kontos wurde soeben über einen Link an diese Adresse zurückgesetzt.
mail-password_changed-signed-out = Alle angemeldeten Geräte wurden abgemeldet, und Anwendungen bitten Sie, sich neu anzumelden.
mail-password_changed-not-you = Wenn Sie das nicht waren, setzen Sie Ihr Passwort jetzt erneut zurück und informieren Sie Ihre Administration:

mail-verify_email-subject = Bestätigen Sie Ihre E-Mail-Adresse
mail-verify_email-greeting = Hallo { $username },
mail-verify_email-body = bitte bestätigen Sie über diesen Link, dass dies Ihre E-Mail-Adresse ist:
mail-verify_email-expiry = Der Link funktioniert einmal, { $hours } Stunden lang.
mail-verify_email-ignore = Wenn Sie das nicht angefordert haben, ignorieren Sie diese Mail: Es ändert sich nichts.

mail-email_changing-subject = Ihre E-Mail-Adresse wird geändert
mail-email_changing-greeting = Hallo { $username },
mail-email_changing-body = jemand, der in Ihrem Konto angemeldet ist, möchte dessen E-Mail-Adresse in { $new_email } ändern. Diese Adresse bleibt gültig, bis die neue bestätigt ist.
mail-email_changing-not-you = Wenn Sie das nicht waren, ändern Sie jetzt Ihr Passwort und informieren Sie Ihre Administration.

mail-signup_verify-subject = Schließen Sie die Registrierung ab
mail-signup_verify-greeting = Hallo { $username },
mail-signup_verify-body = über diesen Link bestätigen Sie Ihre E-Mail-Adresse und schließen die Registrierung ab:
mail-signup_verify-expiry = Der Link funktioniert einmal, { $hours } Stunden lang. Bis dahin kann das Konto nicht verwendet werden.
mail-signup_verify-ignore = Wenn Sie sich nicht registriert haben, ignorieren Sie diese Mail: Es wird kein Konto angelegt.

mail-signup_exists-subject = Sie haben bereits ein Konto
mail-signup_exists-greeting = Hallo,
mail-signup_exists-body = jemand (hoffentlich Sie) wollte mit dieser E-Mail-Adresse ein Konto anlegen, aber es gibt schon eines. Falls Sie Ihr Passwort vergessen haben, können Sie es hier zurücksetzen:
mail-signup_exists-ignore = Wenn Sie sich nicht registrieren wollten, ignorieren Sie diese Mail.

mail-signup_taken-subject = Wählen Sie einen anderen Benutzernamen
mail-signup_taken-greeting = Hallo,
mail-signup_taken-body = jemand (hoffentlich Sie) wollte mit dieser E-Mail-Adresse und dem Benutzernamen { $username } ein Konto anlegen, doch der Name ist vergeben. Sie können sich mit einem anderen Namen erneut registrieren:
mail-signup_taken-ignore = Wenn Sie sich nicht registrieren wollten, ignorieren Sie diese Mail.

mail-account_changed-subject = Die Sicherheitseinstellungen Ihres Kontos wurden geändert
mail-account_changed-greeting = Hallo { $username },
mail-account_changed-password = das Passwort Ihres Kontos wurde soeben auf Ihrer Kontoseite geändert. Alle anderen Geräte wurden abgemeldet.
mail-account_changed-totp = soeben wurde eine Authenticator-App als zweiter Faktor Ihres Kontos eingerichtet.
mail-account_changed-passkey = soeben wurde Ihrem Konto ein Passkey hinzugefügt.
mail-account_changed-factor_removed = soeben wurde ein zweiter Faktor von Ihrem Konto entfernt.
mail-account_changed-not-you = Wenn Sie das nicht waren, setzen Sie Ihr Passwort jetzt mit diesem Link zurück, der auch alle Geräte abmeldet, und informieren Sie Ihre Administration:
