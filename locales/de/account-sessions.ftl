# Issue 22, Punkte 4 und 6: Gründe der Passwortregel, /account/sessions und /account/apps.

## Die Passwortregel (accounts::new_password::Refused)
password-refused-too-short = Das neue Passwort muss mindestens { $min } Zeichen lang sein.
password-refused-too-long = Das neue Passwort ist zu lang.
password-refused-common = Das neue Passwort gehört zu den häufigsten Passwörtern, die Angreifer zuerst ausprobieren. Wählen Sie ein anderes.
password-refused-contains-username = Das neue Passwort darf Ihren Benutzernamen nicht enthalten.
password-hint = Mindestens { $min } Zeichen. Beliebige Zeichen; einige unzusammenhängende Wörter ergeben ein gutes Passwort.

## Verweise auf /account
account-link-sessions = Wo Sie angemeldet sind
account-link-apps = Verbundene Anwendungen

## /account/sessions
sessions-title = Wo Sie angemeldet sind
sessions-lead = Jeder Browser, mit dem Sie sich angemeldet haben. Melden Sie alle ab, die Sie nicht kennen, und ändern Sie dann Ihr Passwort.
sessions-device = { $browser } unter { $os }
sessions-unknown-device = Unbekanntes Gerät
sessions-unknown-address = unbekannt
sessions-this-browser = (dieser Browser)
sessions-details = Adresse { $address }; angemeldet { $started }; zuletzt gesehen { $last_seen }
sessions-end = Diese Sitzung abmelden
sessions-end-others = Alle anderen Sitzungen abmelden
sessions-none-elsewhere = Sie sind nirgendwo sonst angemeldet.
sessions-ended = Die Sitzung wurde abgemeldet.
sessions-ended-others = Alle anderen Sitzungen wurden abgemeldet.
sessions-nothing = Nichts abzumelden: Diese Sitzung war bereits beendet.

## /account/apps
apps-title = Verbundene Anwendungen
apps-lead = Anwendungen, denen Sie die Nutzung Ihres Kontos erlaubt haben. Wenn Sie eine widerrufen, wird sie sofort abgemeldet und muss Sie erneut fragen.
apps-none = Sie haben noch keiner Anwendung Zugriff auf Ihr Konto gegeben.
apps-details = Erlaubt seit { $since }: { $scopes }
apps-revoke = Zugriff von „{ $name }“ widerrufen
apps-revoked = Der Zugriff der Anwendung wurde widerrufen. Sie muss Sie erneut fragen, bevor sie Ihr Konto nutzen kann.
apps-nothing = Nichts zu widerrufen: Diese Anwendung hatte keinen Zugriff.
