use std::collections::BTreeSet;

use diesel::prelude::*;
use portcullis::store::migrate;
use portcullis::store::schema::{
    account_tokens, audit_events, audit_throttled, authorization_codes, authorization_requests,
    client_roles, clients, consents, grants, initial_access_tokens, leases, login_failures,
    mail_outbox, refresh_tokens, sessions, signing_keys, user_roles, users,
};
use portcullis::store::{DatabaseUrl, DbConnection, StoreError};

use crate::helpers::TestDb;

fn folders(backend: &str) -> BTreeSet<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn both_backends_have_the_same_migration_folders() {
    let sqlite = folders("sqlite");
    let postgres = folders("postgres");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, postgres);
    for backend in ["sqlite", "postgres"] {
        for folder in folders(backend) {
            let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("migrations")
                .join(backend)
                .join(&folder);
            assert!(base.join("up.sql").is_file(), "{backend}/{folder}/up.sql");
            assert!(
                base.join("down.sql").is_file(),
                "{backend}/{folder}/down.sql"
            );
        }
    }
}

fn connect(db: &TestDb) -> DbConnection {
    let url = DatabaseUrl::parse(&db.url).unwrap();
    portcullis::store::conn::establish(&url, std::time::Duration::from_secs(5)).unwrap()
}

/// Every table answers a query through the shared schema, with every column selected.
fn query_every_table(conn: &mut DbConnection) -> Result<(), StoreError> {
    use portcullis::store::models::audit::{AuditRow, ThrottledRow};
    use portcullis::store::models::authorization::{
        AuthorizationCodeRow, AuthorizationRequestRow, SessionRow,
    };
    use portcullis::store::models::clients::ClientRow;
    use portcullis::store::models::grants::{GrantRow, RefreshTokenRow};
    use portcullis::store::models::keys::SigningKeyRow;
    use portcullis::store::models::mail::MailRow;
    use portcullis::store::models::users::UserRow;
    users::table
        .select(UserRow::as_select())
        .load::<UserRow>(conn)?;
    user_roles::table
        .select((user_roles::user_id, user_roles::role))
        .load::<(String, String)>(conn)?;
    clients::table
        .select(ClientRow::as_select())
        .load::<ClientRow>(conn)?;
    client_roles::table
        .select((client_roles::client_id, client_roles::role))
        .load::<(String, String)>(conn)?;
    audit_events::table
        .select(AuditRow::as_select())
        .load::<AuditRow>(conn)?;
    audit_throttled::table
        .select(ThrottledRow::as_select())
        .load::<ThrottledRow>(conn)?;
    signing_keys::table
        .select(SigningKeyRow::as_select())
        .load::<SigningKeyRow>(conn)?;
    leases::table
        .select((leases::name, leases::holder, leases::expires_at))
        .load::<(String, String, i64)>(conn)?;
    grants::table
        .select(GrantRow::as_select())
        .load::<GrantRow>(conn)?;
    refresh_tokens::table
        .select(RefreshTokenRow::as_select())
        .load::<RefreshTokenRow>(conn)?;
    login_failures::table
        .select((
            login_failures::throttle_key,
            login_failures::failures,
            login_failures::window_start,
            login_failures::last_failure_at,
        ))
        .load::<(String, i32, i64, i64)>(conn)?;
    authorization_requests::table
        .select(AuthorizationRequestRow::as_select())
        .load::<AuthorizationRequestRow>(conn)?;
    sessions::table
        .select(SessionRow::as_select())
        .load::<SessionRow>(conn)?;
    authorization_codes::table
        .select(AuthorizationCodeRow::as_select())
        .load::<AuthorizationCodeRow>(conn)?;
    consents::table
        .select((
            consents::user_id,
            consents::client_id,
            consents::scope,
            consents::created_at,
            consents::updated_at,
        ))
        .load::<(String, String, String, i64, i64)>(conn)?;
    initial_access_tokens::table
        .select((
            initial_access_tokens::id,
            initial_access_tokens::digest,
            initial_access_tokens::uses_left,
            initial_access_tokens::expires_at,
            initial_access_tokens::created_at,
        ))
        .load::<(String, Vec<u8>, i64, i64, i64)>(conn)?;
    account_tokens::table
        .select((
            account_tokens::digest,
            account_tokens::purpose,
            account_tokens::user_id,
            account_tokens::email,
            account_tokens::username,
            account_tokens::password_hash,
            account_tokens::created_at,
            account_tokens::expires_at,
            account_tokens::consumed_at,
        ))
        .load::<(
            Vec<u8>,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            i64,
            i64,
            Option<i64>,
        )>(conn)?;
    users::table
        .select(users::pending_email)
        .load::<Option<String>>(conn)?;
    mail_outbox::table
        .select(MailRow::as_select())
        .load::<MailRow>(conn)?;
    Ok(())
}

#[test]
fn up_down_up_and_every_table_answers() {
    let db = TestDb::new();
    let mut conn = connect(&db);
    let applied = migrate::run_pending(&mut conn).unwrap();
    assert_eq!(applied.len(), folders("sqlite").len());
    assert!(!migrate::has_pending(&mut conn).unwrap());
    query_every_table(&mut conn).unwrap();

    let reverted = migrate::revert_all(&mut conn).unwrap();
    assert_eq!(reverted.len(), applied.len());
    assert!(migrate::has_pending(&mut conn).unwrap());
    assert!(
        query_every_table(&mut conn).is_err(),
        "tables are gone after down"
    );

    let again = migrate::run_pending(&mut conn).unwrap();
    assert_eq!(again, applied);
    query_every_table(&mut conn).unwrap();
    // Running again is a no-op.
    assert!(migrate::run_pending(&mut conn).unwrap().is_empty());
}

/// Pragmas are SQLite's: this test makes a SQLite database whatever the suite's backend
/// is, so it runs (and can fail) in the Postgres run too.
#[test]
fn sqlite_connections_get_their_pragmas() {
    let db = TestDb::sqlite();
    let mut conn = connect(&db);
    #[derive(QueryableByName)]
    struct Mode {
        #[diesel(sql_type = diesel::sql_types::Text)]
        journal_mode: String,
    }
    #[derive(QueryableByName)]
    struct Fk {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        foreign_keys: i32,
    }
    let mode: Mode = diesel::sql_query("PRAGMA journal_mode")
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(mode.journal_mode, "wal");
    let fk: Fk = diesel::sql_query("PRAGMA foreign_keys")
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(fk.foreign_keys, 1);
}
