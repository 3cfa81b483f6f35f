# The account pages (/account and below) and the self-service pages (forgot and reset
# password, address verification, sign-up). `th` messages may hold markup.

## Shared
field-email = Email address
field-current-password = Current password
field-new-password = New password
field-new-password-again = New password again
field-password-again = Password again
password-hint-long = At least { $min } characters. A long phrase is easier to remember than a short mix of symbols.

## /account
account-title = Your account
account-client-name = your account
account-name = Name
account-email = Email
account-not-set = Not set
account-link-profile = Change your name or email address
account-link-password = Change your password

## /account/profile
profile-title = Your profile
profile-pending = We sent a link to <strong>{ $address }</strong>. Your address changes once you follow it; until then we keep using the one below.
profile-unverified = Your email address is not verified yet.
profile-email-hint = A new address is used once you follow the link we send to it.
profile-save = Save
profile-resend = Send the verification link again

## /account/password
password-for = for <strong>{ $username }</strong>
password-submit = Change password
password-signs-out = Your other devices will be signed out, and applications will ask you to sign in again.

## /account/security
security-title = Second factors and passkeys
security-required = Your account needs a second factor.
security-totp-heading = Authenticator app
security-totp-added = Set up on { $added }.
security-totp-used = Set up on { $added }; last used { $used }.
security-totp-explain = An app on your phone shows a new 6-digit code every 30 seconds.
security-totp-finish = Finish setting up your authenticator app
security-passkeys-heading = Passkeys
security-no-passkeys = No passkeys yet. A passkey signs you in with your device's screen lock, and cannot be phished.
security-passkey-used = Added { $added }; last used { $used }
security-passkey-unused = Added { $added }; not used yet
security-passkey-name = Name for a new passkey
security-passkey-name-hint = Say which device it is on, such as "Work laptop".
security-passkeys-off = Passkeys are not available on this server.
security-recovery-heading = Recovery codes
security-recovery-left = You have <strong>{ $count }</strong> { $count ->
    [one] recovery code
   *[other] recovery codes
} left. Each signs you in once if you lose your second factor.
security-recovery-new = Make new recovery codes
security-recovery-new-hint = The codes you have now stop working.
security-recovery-none = You get recovery codes when you set up your first second factor.
totp-title = Set up an authenticator app
totp-already = An authenticator app is already set up for this account. Remove it first to set up another.
passkey-title = Add a passkey
passkey-lead = Your browser will ask you to create the passkey with your device's screen lock or security key.
passkey-create = Create the passkey
remove-must-keep = Your account must keep a second factor: add another one before you remove this one.
remove-last-hint = This is your last second factor; your recovery codes go with it.
remove-submit = Remove “{ $name }”

## What a change says when it is done (?done=…)
done-password = Your password was changed. Your other devices were signed out, and applications will ask you to sign in again.
done-totp = Your authenticator app is set up.
done-passkey = Your passkey was added. Use it the next time you sign in.
done-removed = The second factor was removed.
done-profile = Your profile was saved.
done-email = We sent a link to the new email address. Your address changes once you follow it.
done-resent = We sent the link again.

## The account pages' refusals
account-gone = Your account no longer exists.
account-wrong-password = Your current password is not right.
account-mismatch = The new passwords do not match.
account-no-such-factor = That factor is not on your account.
account-must-keep = Your account must keep a second factor. Add another one before you remove this one.
account-password-needed = This is your last second factor: enter your current password to remove it.
account-no-factor-yet = Set up an authenticator app or a passkey first.
account-passkey-expired = The passkey registration expired or was already used. Start again.
account-passkey-failed = That passkey could not be registered. Try again.
account-passkey-duplicate = That passkey is registered already.
account-bad-name = The name is too long or holds characters a name cannot.
account-no-pending = There is no address waiting to be verified.
account-too-many-addresses = Too many addresses were asked for lately. Please try again later.
account-too-many-links = Too many links were sent lately. Please try again later.

## The password policy at sign-up and reset ("The password …")
signup-password-too-short = The password must be at least { $min } characters.
signup-password-too-long = The password is too long (at most { $max } bytes).
signup-password-common = The password is one of the most common passwords, which attackers try first.
signup-password-contains-username = The password must not contain the username.
new-password-too-long = The new password is too long (at most { $max } bytes).
new-password-common = The new password is one of the most common passwords, which attackers try first.
new-password-contains-username = The new password must not contain the username.
signup-username-empty = The username must not be empty.
signup-username-long = The username must be at most 128 characters.
signup-username-chars = The username must not contain whitespace or control characters.
signup-username-at = The username must not contain `@`.
signup-email-invalid = The email address is not a valid email address.
signup-domain = Accounts cannot be created for addresses of this domain.
signup-mismatch = The passwords do not match.

## /forgot-password, /reset-password
forgot-title = Forgot your password?
forgot-lead = Enter your username or email address. If an account matches, we send a link to set a new password to its email address.
forgot-login-label = Username or email address
forgot-submit = Send the link
forgot-sent = If an account matches what you entered and has an email address, we have sent a link to it. The link works for 30 minutes. Check your inbox, and your spam folder.
check-email = Check your email
reset-title = Choose a new password
reset-submit = Set the new password
reset-signs-out = Every device signed in to your account will be signed out, and applications will ask you to sign in again.
reset-done-title = Your password was changed
reset-done = Sign in with your new password. Every device that was signed in has been signed out.
link-invalid = This link has expired or was already used. Ask for a new one.
sign-in = Sign in

## /verify-email, /signup
verify-title = Confirm your email address
verify-submit = Confirm this address
verify-signup-title = Finish creating your account
verify-signup-submit = Create my account
verify-done-title = Your email address is confirmed
verify-done = Thank you. Applications you sign in to from now on see it as verified.
signup-ready-title = Your account is ready
signup-ready = Your email address is confirmed. You can sign in now.
signup-username-taken = Someone took this username while the link was on its way. Please sign up again with another one.
signup-title = Create an account
signup-submit = Create account
signup-footer = We send a link to your email address. Your account is ready once you follow it.
signup-sent = We have sent a link to the email address you gave. Follow it within 24 hours to finish creating your account.
