# Die Kontoseiten (/account und darunter) und die Seiten der Selbstbedienung (Passwort vergessen
# und zurücksetzen, Adresse bestätigen, Registrierung). `th`-Nachrichten dürfen Markup enthalten.

## Gemeinsam
field-email = E-Mail-Adresse
field-current-password = Aktuelles Passwort
field-new-password = Neues Passwort
field-new-password-again = Neues Passwort wiederholen
field-password-again = Passwort wiederholen
password-hint-long = Mindestens { $min } Zeichen. Ein langer Satz ist leichter zu merken als eine kurze Mischung aus Sonderzeichen.

## /account
account-title = Ihr Konto
account-client-name = Ihr Konto
account-name = Name
account-email = E-Mail
account-not-set = Nicht angegeben
account-link-profile = Name oder E-Mail-Adresse ändern
account-link-password = Passwort ändern

## /account/profile
profile-title = Ihr Profil
profile-pending = Wir haben einen Link an <strong>{ $address }</strong> gesendet. Ihre Adresse ändert sich, sobald Sie ihm folgen; bis dahin verwenden wir weiter die untenstehende.
profile-unverified = Ihre E-Mail-Adresse ist noch nicht bestätigt.
profile-email-hint = Eine neue Adresse wird verwendet, sobald Sie dem Link folgen, den wir an sie senden.
profile-save = Speichern
profile-resend = Bestätigungslink erneut senden

## /account/password
password-for = für <strong>{ $username }</strong>
password-submit = Passwort ändern
password-signs-out = Ihre anderen Geräte werden abgemeldet, und Anwendungen bitten Sie, sich neu anzumelden.

## /account/security
security-title = Zweite Faktoren und Passkeys
security-required = Ihr Konto braucht einen zweiten Faktor.
security-totp-heading = Authenticator-App
security-totp-added = Eingerichtet am { $added }.
security-totp-used = Eingerichtet am { $added }; zuletzt verwendet { $used }.
security-totp-explain = Eine App auf Ihrem Telefon zeigt alle 30 Sekunden einen neuen 6-stelligen Code.
security-totp-finish = Einrichtung Ihrer Authenticator-App abschließen
security-passkeys-heading = Passkeys
security-no-passkeys = Noch keine Passkeys. Ein Passkey meldet Sie mit der Bildschirmsperre Ihres Geräts an und ist sicher vor Phishing.
security-passkey-used = Hinzugefügt { $added }; zuletzt verwendet { $used }
security-passkey-unused = Hinzugefügt { $added }; noch nicht verwendet
security-passkey-name = Name für einen neuen Passkey
security-passkey-name-hint = Geben Sie an, auf welchem Gerät er ist, etwa „Arbeitslaptop“.
security-passkeys-off = Passkeys sind auf diesem Server nicht verfügbar.
security-recovery-heading = Wiederherstellungscodes
security-recovery-left = Sie haben noch <strong>{ $count }</strong> { $count ->
    [one] Wiederherstellungscode
   *[other] Wiederherstellungscodes
}. Jeder meldet Sie einmal an, falls Sie Ihren zweiten Faktor verlieren.
security-recovery-new = Neue Wiederherstellungscodes erstellen
security-recovery-new-hint = Ihre bisherigen Codes funktionieren dann nicht mehr.
security-recovery-none = Wiederherstellungscodes erhalten Sie, wenn Sie Ihren ersten zweiten Faktor einrichten.
totp-title = Authenticator-App einrichten
totp-already = Für dieses Konto ist bereits eine Authenticator-App eingerichtet. Entfernen Sie sie zuerst, um eine andere einzurichten.
passkey-title = Passkey hinzufügen
passkey-lead = Ihr Browser fordert Sie auf, den Passkey mit der Bildschirmsperre Ihres Geräts oder einem Sicherheitsschlüssel zu erstellen.
passkey-create = Passkey erstellen
remove-must-keep = Ihr Konto muss einen zweiten Faktor behalten: Fügen Sie einen weiteren hinzu, bevor Sie diesen entfernen.
remove-last-hint = Dies ist Ihr letzter zweiter Faktor; Ihre Wiederherstellungscodes werden mit ihm entfernt.
remove-submit = „{ $name }“ entfernen

## Was eine Änderung meldet, wenn sie erledigt ist (?done=…)
done-password = Ihr Passwort wurde geändert. Ihre anderen Geräte wurden abgemeldet, und Anwendungen bitten Sie, sich neu anzumelden.
done-totp = Ihre Authenticator-App ist eingerichtet.
done-passkey = Ihr Passkey wurde hinzugefügt. Verwenden Sie ihn bei Ihrer nächsten Anmeldung.
done-removed = Der zweite Faktor wurde entfernt.
done-profile = Ihr Profil wurde gespeichert.
done-email = Wir haben einen Link an die neue E-Mail-Adresse gesendet. Ihre Adresse ändert sich, sobald Sie ihm folgen.
done-resent = Wir haben den Link erneut gesendet.

## Ablehnungen der Kontoseiten
account-gone = Ihr Konto existiert nicht mehr.
account-wrong-password = Ihr aktuelles Passwort ist nicht richtig.
account-mismatch = Die neuen Passwörter stimmen nicht überein.
account-no-such-factor = Dieser Faktor gehört nicht zu Ihrem Konto.
account-must-keep = Ihr Konto muss einen zweiten Faktor behalten. Fügen Sie einen weiteren hinzu, bevor Sie diesen entfernen.
account-password-needed = Dies ist Ihr letzter zweiter Faktor: Geben Sie Ihr aktuelles Passwort ein, um ihn zu entfernen.
account-no-factor-yet = Richten Sie zuerst eine Authenticator-App oder einen Passkey ein.
account-passkey-expired = Die Passkey-Registrierung ist abgelaufen oder wurde bereits verwendet. Beginnen Sie von vorn.
account-passkey-failed = Dieser Passkey konnte nicht registriert werden. Versuchen Sie es erneut.
account-passkey-duplicate = Dieser Passkey ist bereits registriert.
account-bad-name = Der Name ist zu lang oder enthält Zeichen, die in einem Namen nicht erlaubt sind.
account-no-pending = Es gibt keine Adresse, die auf Bestätigung wartet.
account-too-many-addresses = In letzter Zeit wurden zu viele Adressen angefragt. Bitte versuchen Sie es später erneut.
account-too-many-links = In letzter Zeit wurden zu viele Links gesendet. Bitte versuchen Sie es später erneut.

## Die Passwortregel bei Registrierung und Zurücksetzen („Das Passwort …“)
signup-password-too-short = Das Passwort muss mindestens { $min } Zeichen lang sein.
signup-password-too-long = Das Passwort ist zu lang (höchstens { $max } Bytes).
signup-password-common = Das Passwort gehört zu den häufigsten Passwörtern, die Angreifer zuerst ausprobieren.
signup-password-contains-username = Das Passwort darf den Benutzernamen nicht enthalten.
new-password-too-long = Das neue Passwort ist zu lang (höchstens { $max } Bytes).
new-password-common = Das neue Passwort gehört zu den häufigsten Passwörtern, die Angreifer zuerst ausprobieren.
new-password-contains-username = Das neue Passwort darf den Benutzernamen nicht enthalten.
signup-username-empty = Der Benutzername darf nicht leer sein.
signup-username-long = Der Benutzername darf höchstens 128 Zeichen lang sein.
signup-username-chars = Der Benutzername darf keine Leer- oder Steuerzeichen enthalten.
signup-username-at = Der Benutzername darf kein `@` enthalten.
signup-email-invalid = Die E-Mail-Adresse ist ungültig.
signup-domain = Für Adressen dieser Domain können keine Konten erstellt werden.
signup-mismatch = Die Passwörter stimmen nicht überein.

## /forgot-password, /reset-password
forgot-title = Passwort vergessen?
forgot-lead = Geben Sie Ihren Benutzernamen oder Ihre E-Mail-Adresse ein. Wenn ein Konto passt, senden wir an dessen E-Mail-Adresse einen Link, mit dem Sie ein neues Passwort festlegen.
forgot-login-label = Benutzername oder E-Mail-Adresse
forgot-submit = Link senden
forgot-sent = Wenn ein Konto zu Ihrer Eingabe passt und eine E-Mail-Adresse hat, haben wir einen Link dorthin gesendet. Der Link funktioniert 30 Minuten lang. Sehen Sie in Ihrem Posteingang und in Ihrem Spam-Ordner nach.
check-email = Prüfen Sie Ihre E-Mails
reset-title = Neues Passwort wählen
reset-submit = Neues Passwort festlegen
reset-signs-out = Alle Geräte, die in Ihrem Konto angemeldet sind, werden abgemeldet, und Anwendungen bitten Sie, sich neu anzumelden.
reset-done-title = Ihr Passwort wurde geändert
reset-done = Melden Sie sich mit Ihrem neuen Passwort an. Alle Geräte, die angemeldet waren, wurden abgemeldet.
link-invalid = Dieser Link ist abgelaufen oder wurde bereits verwendet. Fordern Sie einen neuen an.
sign-in = Anmelden

## /verify-email, /signup
verify-title = Bestätigen Sie Ihre E-Mail-Adresse
verify-submit = Diese Adresse bestätigen
verify-signup-title = Schließen Sie die Registrierung ab
verify-signup-submit = Mein Konto erstellen
verify-done-title = Ihre E-Mail-Adresse ist bestätigt
verify-done = Vielen Dank. Anwendungen, bei denen Sie sich ab jetzt anmelden, sehen sie als bestätigt.
signup-ready-title = Ihr Konto ist bereit
signup-ready = Ihre E-Mail-Adresse ist bestätigt. Sie können sich jetzt anmelden.
signup-username-taken = Während der Link unterwegs war, hat jemand anderes diesen Benutzernamen belegt. Bitte registrieren Sie sich erneut mit einem anderen.
signup-title = Konto erstellen
signup-submit = Konto erstellen
signup-footer = Wir senden einen Link an Ihre E-Mail-Adresse. Ihr Konto ist bereit, sobald Sie ihm folgen.
signup-sent = Wir haben einen Link an die angegebene E-Mail-Adresse gesendet. Folgen Sie ihm innerhalb von 24 Stunden, um die Erstellung Ihres Kontos abzuschließen.
