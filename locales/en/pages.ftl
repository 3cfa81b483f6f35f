# The sign-in pages (login, second factor, enrolment, account choice, consent, logout) and
# the error page. `th` messages may hold markup; their arguments are escaped.

## Shared
lead-continue-to = to continue to <strong>{ $client }</strong>
field-username = Username
field-password = Password
continue = Continue

## /login
login-title = Sign in
login-lead-host = to continue to <strong class="client-host">{ $host }</strong> (“{ $client }”)
login-submit = Sign in
login-passkey = Sign in with a passkey
login-forgot = Forgot your password?
login-signup = Create an account

## /login/factor
factor-title = Verify it's you
factor-passkey = Use a passkey
factor-passkey-needs-js = Passkeys need JavaScript in this browser.
factor-totp-label = Code from your authenticator app
factor-verify = Verify
factor-recovery-summary = Use a recovery code
factor-recovery-label = Recovery code
factor-recovery-submit = Use recovery code

## /login/enrol
enrol-title = Set up a second factor
enrol-lead = Your account needs one to continue to <strong>{ $client }</strong>.
enrol-scan = Scan this code with an authenticator app.
enrol-or-key = Or enter this key:
enrol-code-label = Enter the 6-digit code the app shows
enrol-confirm = Confirm
enrol-already = An authenticator is already set up for this account.

## Recovery codes
notice-used-title = Recovery code used
notice-used-lead = You signed in with a recovery code. It cannot be used again.
notice-codes-left = You have <strong>{ $count }</strong> { $count ->
    [one] recovery code
   *[other] recovery codes
} left. You can make a new set on your account's security page.
notice-codes-title = Save your recovery codes
notice-codes-lead = Each code signs you in once if you lose your authenticator. They are shown only now.

## /select_account
select-title = Choose an account
select-signed-in-as = You are signed in as <strong class="account">{ $account }</strong>.
select-continue-as = Continue as { $account }
select-another = Use another account
select-another-submit = Sign in as another user

## /consent
consent-title = Allow access
consent-heading = Allow access?
consent-lead = <strong>{ $client }</strong> would like to:
consent-lead-host = <strong class="client-host">{ $host }</strong> would like to:
consent-document-warning = This application identifies itself by a document published at <strong>{ $host }</strong> and calls itself “{ $client }”. Anyone can publish an application under any name: allow it only if you trust <strong>{ $host }</strong>.
consent-registered-warning = This application registered itself with this server, and nobody has checked the name it gave. After you answer, it gets you back at <strong class="client-host">{ $host }</strong>: allow it only if you trust that and you started this sign-in yourself.
consent-for-use-at = for use at:
consent-deny = Deny
consent-allow = Allow
scope-openid = Sign you in with your account
scope-profile = See your name and username
scope-email = See your email address
scope-offline_access = Keep access while you are away
scope-other = Use “{ $scope }”

## Errors
error-title = Something went wrong
error-busy = The service is busy. Please try again in a moment.

## /logout
logout-done-title = Signed out
logout-done-heading = You are signed out
logout-done-lead = You can close this window.
logout-confirm-title = Sign out?
logout-confirm-lead = <strong>{ $client }</strong> asks to sign you out.
logout-confirm-submit = Sign out
logout-confirm-stay = To stay signed in, close this window.

## Messages of the sign-in flow
login-failed = Incorrect username or password.
flow-expired = This sign-in request has expired or was already used. Go back to the application and start again.
flow-unknown-client = The application that sent you here is not known.
flow-missing-request = The sign-in request is missing.
flow-factor-failed = That did not work. Check the code and try again.
flow-passkey-failed = That passkey could not be used. Try again, or use another way.
flow-session-ended = Your session ended. Go back to the application and start again.
flow-account-gone = Your account no longer exists.
flow-bad-scope = The request's scope is invalid.
flow-invalid-request = This sign-in request is invalid. Go back to the application and start again.
flow-cross-site = The form did not come from this site.
flow-choose-factor = Choose how to verify.
flow-choose-decision = Choose Allow or Deny.
flow-form-refused = The form expired or did not come from this browser. Go back and try again.
flow-code-refused = That code did not match. Check the time on your device and enter the current code.
flow-already-completed = This sign-in request was already completed.
flow-too-many = Too many requests from your network. Please wait a moment and try again.
flow-malformed = The request is malformed.
flow-no-such-page = There is no such page.
authorize-redirect-unregistered = The address to return to is not registered for this application.
authorize-no-redirect = The request does not say where to return to (redirect_uri is missing).
authorize-no-client = The request names no client (client_id is missing).
authorize-no-sign-in = This application may not sign users in.
logout-redirect-unregistered = The address to return to after logout is not registered for this application.
logout-bad-state = The logout request's state is too long or malformed.
logout-bad-hint = The logout request carries an invalid id_token_hint.
logout-hint-mismatch = client_id does not match the id_token_hint.
