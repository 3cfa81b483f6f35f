//! `client ...`: registration, changes and secrets of OAuth clients.

use serde_json::json;

use super::CliError;
use super::output::{Output, print_json, to_json};
use crate::cli::time::{show as show_time, show_opt};
use crate::cli::{ClientCommand, RegistrationTokenCommand};
use crate::manage::Service;
use crate::manage::authority::Caller;
use crate::manage::clients::{ClientUpdate, ClientView, NewClient};

fn print_client(c: &ClientView) {
    println!("client_id:                  {}", c.client_id);
    println!("client_name:                {}", c.client_name);
    println!(
        "type:                       {}",
        if c.confidential {
            "confidential"
        } else {
            "public"
        }
    );
    println!("redirect_uris:              {}", c.redirect_uris.join(" "));
    println!(
        "post_logout_redirect_uris:  {}",
        c.post_logout_redirect_uris.join(" ")
    );
    println!("grant_types:                {}", c.grant_types.join(" "));
    println!("scope:                      {}", c.scope);
    println!(
        "token_endpoint_auth_method: {}",
        c.token_endpoint_auth_method
    );
    println!("first_party:                {}", c.first_party);
    println!("require_pkce:               {}", c.require_pkce);
    println!("require_mfa:                {}", c.require_mfa);
    println!("roles:                      {}", c.roles.join(" "));
    println!("resources:                  {}", c.resources.join(" "));
    println!("disabled:                   {}", c.disabled);
    println!("origin:                     {}", c.origin);
    println!(
        "last_used_at:               {}",
        show_opt(c.last_used_at, "never")
    );
}

pub(super) async fn run(svc: &Service, cmd: ClientCommand, out: Output) -> Result<(), CliError> {
    let actor = Caller::cli();
    let show = |c: &ClientView| out.show(c, print_client);
    match cmd {
        ClientCommand::Create {
            name,
            client_id,
            public,
            redirect_uris,
            post_logout_redirect_uris,
            grants,
            scopes,
            roles,
            first_party,
            token_endpoint_auth_method,
            no_require_pkce,
            require_mfa,
            access_token_lifetime,
            refresh_token_lifetime,
            resources,
        } => {
            let created = svc
                .create_client(
                    &actor,
                    NewClient {
                        name,
                        client_id,
                        public,
                        redirect_uris,
                        post_logout_redirect_uris,
                        grant_types: grants,
                        scopes: split_scopes(scopes),
                        roles,
                        first_party,
                        token_endpoint_auth_method,
                        require_pkce: no_require_pkce.then_some(false),
                        require_mfa: require_mfa.unwrap_or(false),
                        access_token_lifetime,
                        refresh_token_lifetime,
                        resources,
                        origin: None,
                        application_type: None,
                        client_uri: None,
                        logo_uri: None,
                    },
                )
                .await?;
            let secret = created.client_secret.as_ref().map(|s| s.expose());
            if out.is_json() {
                let mut value = to_json(&created.client)?;
                if let Some(obj) = value.as_object_mut() {
                    obj.insert("client_secret".into(), json!(secret));
                }
                print_json(&value)?;
            } else {
                print_client(&created.client);
                if let Some(s) = secret {
                    println!("client_secret:              {s}   (shown once)");
                }
            }
        }
        ClientCommand::List => {
            let clients = svc.list_clients().await?;
            out.show(&clients, |clients| {
                println!(
                    "{:<36}  {:<24}  {:<12}  {:<17}  {:<20}  grants",
                    "client_id", "name", "type", "origin", "last_used"
                );
                for c in clients {
                    println!(
                        "{:<36}  {:<24}  {:<12}  {:<17}  {:<20}  {}",
                        c.client_id,
                        c.client_name,
                        if c.confidential {
                            "confidential"
                        } else {
                            "public"
                        },
                        c.origin,
                        show_opt(c.last_used_at, "never"),
                        c.grant_types.join(",")
                    );
                }
            })?;
        }
        ClientCommand::Show { client_id } => show(&svc.get_client(&client_id).await?)?,
        ClientCommand::Update {
            client_id,
            name,
            redirect_uris,
            post_logout_redirect_uris,
            grants,
            scopes,
            roles,
            first_party,
            token_endpoint_auth_method,
            require_pkce,
            require_mfa,
            access_token_lifetime,
            refresh_token_lifetime,
            disable,
            enable,
            resources,
            no_resources,
        } => {
            let change = ClientUpdate {
                name,
                redirect_uris,
                post_logout_redirect_uris,
                grant_types: grants,
                scopes: scopes.map(split_scopes),
                roles,
                first_party,
                token_endpoint_auth_method,
                require_pkce,
                require_mfa,
                access_token_lifetime: access_token_lifetime.map(Some),
                refresh_token_lifetime: refresh_token_lifetime.map(Some),
                disabled: if disable {
                    Some(true)
                } else if enable {
                    Some(false)
                } else {
                    None
                },
                resources: if no_resources {
                    Some(Vec::new())
                } else {
                    resources
                },
            };
            show(&svc.update_client(&actor, &client_id, change).await?)?;
        }
        ClientCommand::Delete { client_id } => {
            svc.delete_client(&actor, &client_id).await?;
            out.show(&json!({ "deleted": client_id }), |_| {
                println!("deleted client {client_id}");
            })?;
        }
        ClientCommand::Promote { client_id } => {
            show(&svc.promote_client(&actor, &client_id).await?)?;
        }
        ClientCommand::RegistrationToken(RegistrationTokenCommand::Create { uses, expires_in }) => {
            let created = svc
                .create_registration_token(&actor, uses, expires_in)
                .await?;
            out.show(&created, |t| {
                println!("id:         {}", t.id);
                println!("uses:       {}", t.uses);
                println!("expires_at: {}", show_time(t.expires_at));
                println!("token:      {}   (shown once)", t.token);
            })?;
        }
        ClientCommand::RotateSecret { client_id } => {
            let secret = svc.rotate_client_secret(&actor, &client_id).await?;
            out.show(
                &json!({ "client_id": client_id, "client_secret": secret.expose() }),
                |_| {
                    println!("client_id:     {client_id}");
                    println!("client_secret: {}   (shown once)", secret.expose());
                },
            )?;
        }
    }
    Ok(())
}

/// `--scope "a b" --scope c` and `--scope a --scope b` mean the same.
fn split_scopes(scopes: Vec<String>) -> Vec<String> {
    scopes
        .iter()
        .flat_map(|s| s.split_whitespace().map(str::to_owned))
        .collect()
}
