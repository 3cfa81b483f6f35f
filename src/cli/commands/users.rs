//! `user ...`: accounts, passwords, roles and sessions.

use serde_json::json;

use super::output::{Output, print_json, to_json};
use super::{CliError, read_password_line};
use crate::app;
use crate::cli::UserCommand;
use crate::cli::time::{show as show_time, show_opt};
use crate::config::Config;
use crate::manage::Service;
use crate::manage::authority::Caller;
use crate::manage::factors::UserFactorsView;
use crate::manage::users::{NewUser, UserUpdate, UserView};

fn print_factors(view: &UserFactorsView) {
    println!(
        "{:<32}  {:<8}  {:<9}  {:<20}  {:<20}  name",
        "id", "kind", "confirmed", "created_at", "last_used_at"
    );
    for f in &view.factors {
        println!(
            "{:<32}  {:<8}  {:<9}  {:<20}  {:<20}  {}",
            f.id,
            f.kind,
            f.confirmed,
            show_time(f.created_at),
            show_opt(f.last_used_at, "-"),
            f.name
        );
    }
    println!("recovery codes left: {}", view.recovery_codes_left);
}

fn print_user(user: &UserView) {
    println!("id:             {}", user.id);
    println!("username:       {}", user.username);
    println!("email:          {}", user.email.as_deref().unwrap_or("-"));
    println!("name:           {}", user.name.as_deref().unwrap_or("-"));
    println!("disabled:       {}", user.disabled);
    println!("roles:          {}", user.roles.join(", "));
}

pub(super) async fn run(
    svc: &Service,
    config: &Config,
    cmd: UserCommand,
    out: Output,
) -> Result<(), CliError> {
    let actor = Caller::cli();
    let show = |user: &UserView| out.show(user, print_user);
    match cmd {
        UserCommand::Create {
            username,
            email,
            name,
            roles,
            password_stdin,
        } => {
            let password = if password_stdin {
                Some(read_password_line()?)
            } else {
                None
            };
            let created = svc
                .create_user(
                    &actor,
                    NewUser {
                        username,
                        email,
                        name,
                        roles,
                        password,
                    },
                )
                .await?;
            let generated = created.generated_password.as_deref().map(String::as_str);
            if out.is_json() {
                let mut value = to_json(&created.user)?;
                if let (Some(obj), Some(p)) = (value.as_object_mut(), generated) {
                    obj.insert("password".into(), json!(p));
                }
                print_json(&value)?;
            } else {
                print_user(&created.user);
                if let Some(p) = generated {
                    println!("password:       {p}   (shown once)");
                }
            }
        }
        UserCommand::List {
            search,
            offset,
            limit,
        } => {
            let users = svc.list_users(search, offset, limit).await?;
            out.show(&users, |users| {
                println!("{:<36}  {:<24}  {:<8}  roles", "id", "username", "status");
                for u in users {
                    println!(
                        "{:<36}  {:<24}  {:<8}  {}",
                        u.id,
                        u.username,
                        if u.disabled { "disabled" } else { "enabled" },
                        u.roles.join(",")
                    );
                }
            })?;
        }
        UserCommand::Show { user } => show(&svc.get_user(&user).await?)?,
        UserCommand::SetPassword {
            user,
            password_stdin,
        } => {
            let (password, generated) = if password_stdin {
                (read_password_line()?, false)
            } else {
                (crate::crypto::tokens::random_password(), true)
            };
            let shown = password.clone();
            let updated = svc.set_password(&actor, &user, password).await?;
            if out.is_json() {
                let mut value = json!({ "id": updated.id, "username": updated.username });
                if let (Some(obj), true) = (value.as_object_mut(), generated) {
                    obj.insert("password".into(), json!(shown.as_str()));
                }
                print_json(&value)?;
            } else if generated {
                println!(
                    "new password for {} (shown once): {}",
                    updated.username,
                    shown.as_str()
                );
            } else {
                println!("password changed for {}", updated.username);
            }
        }
        UserCommand::Disable { user } => show(&svc.set_user_disabled(&actor, &user, true).await?)?,
        UserCommand::Enable { user } => show(&svc.set_user_disabled(&actor, &user, false).await?)?,
        UserCommand::AddRole { user, role } => {
            show(&svc.add_user_role(&actor, &user, &role).await?)?
        }
        UserCommand::RemoveRole { user, role } => {
            show(&svc.remove_user_role(&actor, &user, &role).await?)?
        }
        UserCommand::Delete { user } => {
            svc.delete_user(&actor, &user).await?;
            out.show(&json!({ "deleted": user }), |_| {
                println!("deleted user {user}");
            })?;
        }
        UserCommand::Update {
            user,
            username,
            email,
            no_email,
            email_verified,
            name,
            no_name,
        } => {
            let change = UserUpdate {
                username,
                email: if no_email {
                    Some(None)
                } else {
                    email.map(Some)
                },
                email_verified,
                name: if no_name { Some(None) } else { name.map(Some) },
            };
            show(&svc.update_user(&actor, &user, change).await?)?;
        }
        UserCommand::Sessions { user } => {
            let sessions = svc.list_user_sessions(&user).await?;
            out.show(&sessions, |sessions| {
                println!(
                    "{:<32}  {:<28}  {:<39}  {:<20}  {:<20}",
                    "session", "device", "address", "started", "last_seen"
                );
                for s in sessions {
                    println!(
                        "{:<32}  {:<28}  {:<39}  {:<20}  {:<20}",
                        s.id,
                        s.device,
                        s.ip.as_deref().unwrap_or("-"),
                        show_time(s.created_at),
                        show_time(s.last_seen_at)
                    );
                }
            })?;
        }
        UserCommand::EndSession { user, session } => {
            svc.end_user_session(&actor, &user, &session).await?;
            out.show(&json!({ "ended": session }), |_| {
                println!("ended session {session} of {user}");
            })?;
        }
        UserCommand::Grants { user } => {
            let grants = svc.list_user_grants(&user).await?;
            out.show(&grants, |grants| {
                println!(
                    "{:<36}  {:<24}  {:<20}  scope",
                    "grant id", "client_id", "expires_at"
                );
                for s in grants {
                    println!(
                        "{:<36}  {:<24}  {:<20}  {}",
                        s.id,
                        s.client_id,
                        show_time(s.expires_at),
                        s.scope
                    );
                }
            })?;
        }
        UserCommand::RevokeSessions { user } => {
            let revoked = svc.revoke_user_sessions(&actor, &user).await?;
            out.show(&json!({ "revoked": revoked }), |_| {
                println!("revoked {revoked} session(s) of {user}");
            })?;
        }
        UserCommand::Factors { user } => {
            out.show(&svc.list_user_factors(&user).await?, print_factors)?;
        }
        UserCommand::ResetFactors { user } => {
            let reset = svc.reset_user_factors(&actor, &user).await?;
            out.show(&reset, |r| {
                println!(
                    "removed {} factor(s) and the recovery codes of {user}; revoked {} session(s)",
                    r.factors_removed, r.sessions_revoked
                );
            })?;
        }
        UserCommand::EnrollTotp { user } => {
            // Built only here: the master keys seal the secret as the server would.
            let kit = app::mfa_kit(config, app::master_keys(config)?);
            let made = svc.enroll_user_totp(&actor, &user, &kit).await?;
            if out.is_json() {
                print_json(&json!({
                    "secret": made.secret.as_str(),
                    "otpauth_uri": made.otpauth_uri.as_str(),
                }))?;
            } else {
                println!("authenticator app enrolled for {user} (shown once):");
                println!("secret:         {}", made.secret.as_str());
                println!("otpauth_uri:    {}", made.otpauth_uri.as_str());
            }
        }
    }
    Ok(())
}
