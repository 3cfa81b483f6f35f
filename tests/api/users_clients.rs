use diesel::prelude::*;
use portcullis::manage::clients::{ClientUpdate, NewClient};
use portcullis::manage::users::NewUser;
use portcullis::manage::{Actor, ManageError};
use portcullis::store::schema::{clients, users};
use zeroize::Zeroizing;

use crate::helpers::spawn_app;

fn pw(s: &str) -> Option<Zeroizing<String>> {
    Some(Zeroizing::new(s.to_owned()))
}

#[tokio::test]
async fn usernames_are_normalised_and_unique() {
    let app = spawn_app().await;
    let svc = &app.state.service;
    let created = svc
        .create_user(
            &Actor::cli(),
            NewUser {
                username: "Alice".into(),
                email: Some("alice@example.com".into()),
                password: pw("correct horse battery"),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(created.user.username, "alice");
    assert!(created.generated_password.is_none());
    for dup in [
        "ALICE",
        " alice ",
        "\u{ff41}\u{ff4c}\u{ff49}\u{ff43}\u{ff45}",
    ] {
        let err = svc
            .create_user(
                &Actor::cli(),
                NewUser {
                    username: dup.into(),
                    password: pw("another password"),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(err, ManageError::Conflict(_)), "{dup}: {err}");
    }
    // Lookup by any spelling.
    assert_eq!(svc.get_user("ALICE").await.unwrap().id, created.user.id);
}

#[tokio::test]
async fn passwords_are_argon2id_and_never_clear() {
    let app = spawn_app().await;
    let svc = &app.state.service;
    let bob = app.user("bob").generated_password().await;
    let generated = Zeroizing::new(bob.password.clone());
    assert!(generated.len() >= 20);
    let id = bob.id.clone();
    let stored: String = app
        .state
        .store
        .run(move |conn| {
            Ok(users::table
                .find(id)
                .select(users::password_hash)
                .first(conn)?)
        })
        .await
        .unwrap();
    assert!(stored.starts_with("$argon2id$"));
    assert!(!stored.contains(generated.as_str()));

    assert!(
        svc.authenticate("BOB", generated.clone())
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        svc.authenticate("bob", Zeroizing::new("wrong password".into()))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        svc.authenticate("nobody", generated.clone())
            .await
            .unwrap()
            .is_none()
    );
    // Disabled accounts fail like wrong passwords.
    svc.set_user_disabled(&Actor::cli(), "bob", true)
        .await
        .unwrap();
    assert!(svc.authenticate("bob", generated).await.unwrap().is_none());
}

#[tokio::test]
async fn imported_bcrypt_hash_is_upgraded_on_login() {
    let app = spawn_app().await;
    let svc = &app.state.service;
    let created = app.user("carol").password("temporary-password").await;
    let bcrypt_hash = bcrypt::hash("imported secret", 4).unwrap();
    let id = created.id.clone();
    let h = bcrypt_hash.clone();
    app.state
        .store
        .run(move |conn| {
            diesel::update(users::table.find(id))
                .set(users::password_hash.eq(h))
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
    let who = svc
        .authenticate("carol", Zeroizing::new("imported secret".into()))
        .await
        .unwrap();
    assert_eq!(who.unwrap().username, "carol");
    let id = created.id.clone();
    let stored: String = app
        .state
        .store
        .run(move |conn| {
            Ok(users::table
                .find(id)
                .select(users::password_hash)
                .first(conn)?)
        })
        .await
        .unwrap();
    assert!(stored.starts_with("$argon2id$"), "re-hashed: {stored}");
    // And the password still works against the new hash.
    assert!(
        svc.authenticate("carol", Zeroizing::new("imported secret".into()))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn the_last_admin_cannot_be_removed() {
    let app = spawn_app().await;
    let svc = &app.state.service;
    let actor = Actor::cli();
    app.user("root")
        .roles(&["admin"])
        .generated_password()
        .await;
    for result in [
        svc.remove_user_role(&actor, "root", "admin")
            .await
            .map(|_| ()),
        svc.set_user_disabled(&actor, "root", true)
            .await
            .map(|_| ()),
        svc.delete_user(&actor, "root").await,
    ] {
        assert!(matches!(result, Err(ManageError::Refused(_))), "{result:?}");
    }
    app.user("second")
        .roles(&["admin"])
        .generated_password()
        .await;
    svc.delete_user(&actor, "root").await.unwrap();
}

/// Two admins taking each other away at the same moment: one change wins, the other
/// is refused, and exactly one enabled admin is left, every time.
#[tokio::test]
async fn two_admins_removed_at_once_leave_one() {
    let app = spawn_app().await;
    let svc = &app.state.service;
    let actor = Actor::cli();
    let mut survivor: Option<String> = None;
    for round in 0..8 {
        let (a, b) = (format!("a{round}"), format!("b{round}"));
        for name in [&a, &b] {
            app.user(name).roles(&["admin"]).generated_password().await;
        }
        // The last round's survivor would make three: take it away first.
        if let Some(survivor) = survivor.take() {
            svc.delete_user(&actor, &survivor).await.unwrap();
        }
        let (first, second) = match round % 3 {
            0 => tokio::join!(
                async { svc.remove_user_role(&actor, &a, "admin").await.map(|_| ()) },
                async { svc.remove_user_role(&actor, &b, "admin").await.map(|_| ()) },
            ),
            1 => tokio::join!(
                async { svc.set_user_disabled(&actor, &a, true).await.map(|_| ()) },
                async { svc.delete_user(&actor, &b).await },
            ),
            _ => tokio::join!(async { svc.delete_user(&actor, &a).await }, async {
                svc.set_user_disabled(&actor, &b, true).await.map(|_| ())
            },),
        };
        let refused = [&first, &second]
            .iter()
            .filter(|r| matches!(r, Err(ManageError::Refused(_))))
            .count();
        let done = [&first, &second].iter().filter(|r| r.is_ok()).count();
        assert_eq!(
            (done, refused),
            (1, 1),
            "round {round}: {first:?} {second:?}"
        );
        let left = app
            .state
            .store
            .run(|conn| portcullis::store::models::users::count_enabled_with_role(conn, "admin"))
            .await
            .unwrap();
        assert_eq!(left, 1, "round {round}");
        survivor = Some(if first.is_ok() { b } else { a });
    }
}

#[tokio::test]
async fn client_secret_is_stored_as_a_digest() {
    let app = spawn_app().await;
    let svc = &app.state.service;
    let created = svc
        .create_client(
            &Actor::cli(),
            NewClient {
                name: "Billing".into(),
                client_id: Some("billing".into()),
                scopes: vec!["api:read".into()],
                roles: vec!["introspector".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let secret = created.client_secret.unwrap();
    assert!(secret.expose().starts_with("pcs_"));
    assert_eq!(created.client.grant_types, vec!["client_credentials"]);
    assert_eq!(
        created.client.token_endpoint_auth_method,
        "client_secret_basic"
    );
    let digest: Option<Vec<u8>> = app
        .state
        .store
        .run(|conn| {
            Ok(clients::table
                .find("billing")
                .select(clients::secret_digest)
                .first(conn)?)
        })
        .await
        .unwrap();
    let digest = digest.unwrap();
    assert_eq!(digest, secret.digest().to_vec());
    assert!(
        !digest
            .windows(8)
            .any(|w| secret.expose().as_bytes().windows(8).any(|s| s == w))
    );

    // Rotation replaces the digest.
    let rotated = svc
        .rotate_client_secret(&Actor::cli(), "billing")
        .await
        .unwrap();
    assert_ne!(rotated.expose(), secret.expose());

    let dup = svc
        .create_client(
            &Actor::cli(),
            NewClient {
                name: "Again".into(),
                client_id: Some("billing".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(dup, ManageError::Conflict(_)), "{dup}");
}

#[tokio::test]
async fn client_rules_are_enforced_and_nothing_half_written() {
    let app = spawn_app().await;
    let svc = &app.state.service;
    let bad = [
        (
            "redirect_uris",
            vec!["https://app.example.com/cb#frag"],
            false,
            vec![],
        ),
        ("redirect_uris", vec!["javascript:alert(1)"], false, vec![]),
        (
            "redirect_uris",
            vec!["http://app.example.com/cb"],
            false,
            vec![],
        ),
        ("grant_types", vec![], true, vec!["client_credentials"]),
        ("grant_types", vec![], false, vec!["implicit"]),
        ("redirect_uris", vec![], false, vec!["authorization_code"]),
    ];
    for (field, uris, public, grants) in bad {
        let err = svc
            .create_client(
                &Actor::cli(),
                NewClient {
                    name: "Bad".into(),
                    client_id: Some("bad".into()),
                    public,
                    redirect_uris: uris.iter().map(|s| s.to_string()).collect(),
                    grant_types: grants.iter().map(|s| s.to_string()).collect(),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        match err {
            ManageError::Invalid { field: f, .. } => assert_eq!(f, field),
            other => panic!("{other:?}"),
        }
    }
    assert!(
        svc.list_clients().await.unwrap().is_empty(),
        "nothing written"
    );

    // A public client gets no secret and always requires PKCE.
    let created = svc
        .create_client(
            &Actor::cli(),
            NewClient {
                name: "SPA".into(),
                public: true,
                redirect_uris: vec!["http://127.0.0.1:5173/cb".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(created.client_secret.is_none());
    assert_eq!(created.client.token_endpoint_auth_method, "none");
    let err = svc
        .update_client(
            &Actor::cli(),
            &created.client.client_id,
            ClientUpdate {
                require_pkce: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        ManageError::Invalid {
            field: "require_pkce",
            ..
        }
    ));
    let err = svc
        .rotate_client_secret(&Actor::cli(), &created.client.client_id)
        .await
        .unwrap_err();
    assert!(matches!(err, ManageError::Refused(_)));
}
