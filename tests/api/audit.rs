use diesel::prelude::*;
use portcullis::audit::{self, AuditEvent};
use portcullis::clock::Clock;
use portcullis::store::schema::audit_events;

use crate::helpers::spawn_app;

#[tokio::test]
async fn events_chain_and_tampering_is_found() {
    let app = spawn_app().await;
    let store = &app.state.store;
    for n in 0..5 {
        audit::record(
            store,
            app.clock.now() + n,
            AuditEvent::new("test.event")
                .by(portcullis::audit::AuditActor::Cli)
                .subject(format!("s{n}"))
                .details(serde_json::json!({ "n": n })),
        )
        .await
        .unwrap();
    }
    assert_eq!(audit::verify(store).await.unwrap(), None);

    // Change row 3's details behind the server's back.
    store
        .run(|conn| {
            diesel::update(audit_events::table.filter(audit_events::seq.eq(3)))
                .set(audit_events::details.eq("{\"n\":99}"))
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
    let broken = audit::verify(store).await.unwrap().unwrap();
    assert_eq!(broken.seq, 3);
    assert_eq!(broken.reason, "row content changed");
}

#[tokio::test]
async fn concurrent_writers_keep_one_chain() {
    let app = spawn_app().await;
    let mut tasks = Vec::new();
    for n in 0..20 {
        let store = app.state.store.clone();
        tasks.push(tokio::spawn(async move {
            audit::record(
                &store,
                1_000,
                AuditEvent::new("race").subject(format!("{n}")),
            )
            .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(app.audit_count(Some("race")).await, 20);
    assert_eq!(audit::verify(&app.state.store).await.unwrap(), None);
}
