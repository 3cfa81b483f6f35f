# Die Anmeldeseiten (Anmeldung, zweiter Faktor, Einrichtung, Kontoauswahl, Zustimmung, Abmeldung)
# und die Fehlerseite. `th`-Nachrichten dürfen Markup enthalten; ihre Argumente werden maskiert.

## Gemeinsam
lead-continue-to = weiter zu <strong>{ $client }</strong>
field-username = Benutzername
field-password = Passwort
continue = Weiter

## /login
login-title = Anmelden
login-lead-host = weiter zu <strong class="client-host">{ $host }</strong> („{ $client }“)
login-submit = Anmelden
login-passkey = Mit einem Passkey anmelden
login-forgot = Passwort vergessen?
login-signup = Konto erstellen

## /login/factor
factor-title = Bestätigen Sie, dass Sie es sind
factor-passkey = Passkey verwenden
factor-passkey-needs-js = Passkeys benötigen in diesem Browser JavaScript.
factor-totp-label = Code aus Ihrer Authenticator-App
factor-verify = Bestätigen
factor-recovery-summary = Wiederherstellungscode verwenden
factor-recovery-label = Wiederherstellungscode
factor-recovery-submit = Wiederherstellungscode verwenden

## /login/enrol
enrol-title = Zweiten Faktor einrichten
enrol-lead = Ihr Konto braucht einen, damit Sie mit <strong>{ $client }</strong> fortfahren können.
enrol-scan = Scannen Sie diesen Code mit einer Authenticator-App.
enrol-or-key = Oder geben Sie diesen Schlüssel ein:
enrol-code-label = Geben Sie den 6-stelligen Code ein, den die App anzeigt
enrol-confirm = Bestätigen
enrol-already = Für dieses Konto ist bereits eine Authenticator-App eingerichtet.

## Wiederherstellungscodes
notice-used-title = Wiederherstellungscode verwendet
notice-used-lead = Sie haben sich mit einem Wiederherstellungscode angemeldet. Er kann nicht noch einmal verwendet werden.
notice-codes-left = Sie haben noch <strong>{ $count }</strong> { $count ->
    [one] Wiederherstellungscode
   *[other] Wiederherstellungscodes
}. Auf der Sicherheitsseite Ihres Kontos können Sie neue Codes erstellen.
notice-codes-title = Speichern Sie Ihre Wiederherstellungscodes
notice-codes-lead = Jeder Code meldet Sie einmal an, falls Sie Ihre Authenticator-App verlieren. Die Codes werden nur jetzt angezeigt.

## /select_account
select-title = Konto auswählen
select-signed-in-as = Sie sind als <strong class="account">{ $account }</strong> angemeldet.
select-continue-as = Weiter als { $account }
select-another = Anderes Konto verwenden
select-another-submit = Mit einem anderen Konto anmelden

## /consent
consent-title = Zugriff zulassen
consent-heading = Zugriff zulassen?
consent-lead = <strong>{ $client }</strong> möchte:
consent-lead-host = <strong class="client-host">{ $host }</strong> möchte:
consent-document-warning = Diese Anwendung weist sich durch ein Dokument aus, das unter <strong>{ $host }</strong> veröffentlicht ist, und nennt sich „{ $client }“. Jeder kann eine Anwendung unter einem beliebigen Namen veröffentlichen: Lassen Sie sie nur zu, wenn Sie <strong>{ $host }</strong> vertrauen.
consent-registered-warning = Diese Anwendung hat sich selbst bei diesem Server registriert, und niemand hat den angegebenen Namen geprüft. Nach Ihrer Antwort werden Sie zu <strong class="client-host">{ $host }</strong> zurückgeleitet: Lassen Sie sie nur zu, wenn Sie dieser Adresse vertrauen und diese Anmeldung selbst begonnen haben.
consent-for-use-at = zur Verwendung unter:
consent-deny = Ablehnen
consent-allow = Zulassen
scope-openid = Sie mit Ihrem Konto anmelden
scope-profile = Ihren Namen und Benutzernamen sehen
scope-email = Ihre E-Mail-Adresse sehen
scope-offline_access = Zugriff behalten, während Sie nicht da sind
scope-other = „{ $scope }“ verwenden

## Fehler
error-title = Etwas ist schiefgelaufen
error-busy = Der Dienst ist ausgelastet. Bitte versuchen Sie es gleich noch einmal.

## /logout
logout-done-title = Abgemeldet
logout-done-heading = Sie sind abgemeldet
logout-done-lead = Sie können dieses Fenster schließen.
logout-confirm-title = Abmelden?
logout-confirm-lead = <strong>{ $client }</strong> möchte Sie abmelden.
logout-confirm-submit = Abmelden
logout-confirm-stay = Um angemeldet zu bleiben, schließen Sie dieses Fenster.

## Meldungen des Anmeldeablaufs
login-failed = Benutzername oder Passwort ist falsch.
flow-expired = Diese Anmeldeanfrage ist abgelaufen oder wurde bereits verwendet. Kehren Sie zur Anwendung zurück und beginnen Sie von vorn.
flow-unknown-client = Die Anwendung, die Sie hierher geschickt hat, ist nicht bekannt.
flow-missing-request = Die Anmeldeanfrage fehlt.
flow-factor-failed = Das hat nicht funktioniert. Prüfen Sie den Code und versuchen Sie es erneut.
flow-passkey-failed = Dieser Passkey konnte nicht verwendet werden. Versuchen Sie es erneut, oder wählen Sie einen anderen Weg.
flow-session-ended = Ihre Sitzung ist beendet. Kehren Sie zur Anwendung zurück und beginnen Sie von vorn.
flow-account-gone = Ihr Konto existiert nicht mehr.
flow-bad-scope = Der Scope der Anfrage ist ungültig.
flow-invalid-request = Diese Anmeldeanfrage ist ungültig. Kehren Sie zur Anwendung zurück und beginnen Sie von vorn.
flow-cross-site = Das Formular stammt nicht von dieser Website.
flow-choose-factor = Wählen Sie, wie Sie sich bestätigen möchten.
flow-choose-decision = Wählen Sie „Zulassen“ oder „Ablehnen“.
flow-form-refused = Das Formular ist abgelaufen oder stammt nicht aus diesem Browser. Gehen Sie zurück und versuchen Sie es erneut.
flow-code-refused = Der Code stimmt nicht. Prüfen Sie die Uhrzeit auf Ihrem Gerät und geben Sie den aktuellen Code ein.
flow-already-completed = Diese Anmeldeanfrage wurde bereits abgeschlossen.
flow-too-many = Zu viele Anfragen aus Ihrem Netzwerk. Bitte warten Sie einen Moment und versuchen Sie es erneut.
flow-malformed = Die Anfrage ist fehlerhaft.
flow-no-such-page = Diese Seite gibt es nicht.
authorize-redirect-unregistered = Die Rücksprungadresse ist für diese Anwendung nicht registriert.
authorize-no-redirect = Die Anfrage gibt nicht an, wohin zurückgekehrt werden soll (redirect_uri fehlt).
authorize-no-client = Die Anfrage nennt keinen Client (client_id fehlt).
authorize-no-sign-in = Diese Anwendung darf keine Benutzer anmelden.
logout-redirect-unregistered = Die Rücksprungadresse nach der Abmeldung ist für diese Anwendung nicht registriert.
logout-bad-state = Der Parameter state der Abmeldeanfrage ist zu lang oder fehlerhaft.
logout-bad-hint = Die Abmeldeanfrage enthält einen ungültigen id_token_hint.
logout-hint-mismatch = client_id passt nicht zum id_token_hint.
