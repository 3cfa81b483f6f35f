# Issue 22, items 4 and 6: the password policy's reasons, /account/sessions and /account/apps.
# Owned by the `account` helper (CONTRACTS.md); ids prefixed by area.

## The password policy (accounts::new_password::Refused): "The new password …"
password-refused-too-short = The new password must be at least { $min } characters.
password-refused-too-long = The new password is too long.
password-refused-common = The new password is one of the most common passwords, which attackers try first. Choose another.
password-refused-contains-username = The new password must not contain your username.
password-hint = At least { $min } characters. Any characters you like; a few unrelated words make a good password.

## /account links
account-link-sessions = Where you are signed in
account-link-apps = Connected applications

## /account/sessions
sessions-title = Where you are signed in
sessions-lead = Each browser you signed in with. Sign out any you do not recognise, then change your password.
sessions-device = { $browser } on { $os }
sessions-unknown-device = Unknown device
sessions-unknown-address = unknown
sessions-this-browser = (this browser)
sessions-details = Address { $address }; signed in { $started }; last seen { $last_seen }
sessions-end = Sign out this session
sessions-end-others = Sign out all other sessions
sessions-none-elsewhere = You are signed in nowhere else.
sessions-ended = The session was signed out.
sessions-ended-others = Every other session was signed out.
sessions-nothing = Nothing to sign out: that session had already ended.

## /account/apps
apps-title = Connected applications
apps-lead = Applications you allowed to use your account. Revoking one signs it out at once; it has to ask you again.
apps-none = You have not let any application into your account.
apps-details = Allowed since { $since }: { $scopes }
apps-revoke = Revoke access of “{ $name }”
apps-revoked = The application's access was revoked. It has to ask you again before it can use your account.
apps-nothing = Nothing to revoke: that application had no access.
