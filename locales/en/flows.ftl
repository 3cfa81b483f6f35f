# Mails and pages of the self-service flows (issue 22): password reset, address
# verification, self sign-up. Message ids: mail-<template>-<part>.

mail-password_reset-subject = Reset your password
mail-password_reset-greeting = Hello { $username },
mail-password_reset-body = someone (we hope you) asked to reset the password of your account. Follow this link to choose a new one:
mail-password_reset-expiry = The link works once, for { $minutes } minutes.
mail-password_reset-ignore = If you did not ask for this, ignore this mail: your password stays as it is.

mail-password_changed-subject = Your password was changed
mail-password_changed-greeting = Hello { $username },
mail-password_changed-body = the password of your account was just reset with a link sent to this address.
mail-password_changed-signed-out = Every device that was signed in has been signed out, and applications will ask you to sign in again.
mail-password_changed-not-you = If this was not you, reset your password again now and tell your administrator:

mail-verify_email-subject = Confirm your email address
mail-verify_email-greeting = Hello { $username },
mail-verify_email-body = please confirm that this is your email address by following this link:
mail-verify_email-expiry = The link works once, for { $hours } hours.
mail-verify_email-ignore = If you did not ask for this, ignore this mail: nothing changes.

mail-email_changing-subject = Your email address is being changed
mail-email_changing-greeting = Hello { $username },
mail-email_changing-body = someone signed in to your account asked to change its email address to { $new_email }. This address stays in use until the new one is confirmed.
mail-email_changing-not-you = If this was not you, change your password now and tell your administrator.

mail-signup_verify-subject = Finish creating your account
mail-signup_verify-greeting = Hello { $username },
mail-signup_verify-body = follow this link to confirm your email address and finish creating your account:
mail-signup_verify-expiry = The link works once, for { $hours } hours. Until then the account cannot be used.
mail-signup_verify-ignore = If you did not sign up, ignore this mail: no account is created.

mail-signup_exists-subject = You already have an account
mail-signup_exists-greeting = Hello,
mail-signup_exists-body = someone (we hope you) tried to create an account with this email address, but it already has one. If you forgot your password, you can reset it here:
mail-signup_exists-ignore = If you did not try to sign up, ignore this mail.

mail-signup_taken-subject = Choose another username
mail-signup_taken-greeting = Hello,
mail-signup_taken-body = someone (we hope you) tried to create an account with this email address and the username { $username }, which is taken. You can sign up again with another username:
mail-signup_taken-ignore = If you did not try to sign up, ignore this mail.

mail-account_changed-subject = Your account's security settings changed
mail-account_changed-greeting = Hello { $username },
mail-account_changed-password = the password of your account was just changed on your account page. Every other device was signed out.
mail-account_changed-totp = an authenticator app was just set up as a second factor of your account.
mail-account_changed-passkey = a passkey was just added to your account.
mail-account_changed-factor_removed = a second factor was just removed from your account.
mail-account_changed-not-you = If this was not you, reset your password now with this link, which also signs out every device, and tell your administrator:
