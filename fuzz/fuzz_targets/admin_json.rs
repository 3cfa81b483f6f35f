//! Admin API bodies and query strings (`admin::extract::{parse_json, parse_query}`): every
//! request type the API reads. Bad input is a 400 that names the field, never a panic.
#![no_main]

use actix_web::ResponseError;
use libfuzzer_sys::fuzz_target;
use portcullis::admin::audit::{AuditQuery, VerifyQuery};
use portcullis::admin::clients::{ClientCreate, ClientPatch};
use portcullis::admin::error::AdminError;
use portcullis::admin::extract::{parse_json, parse_query};
use portcullis::admin::keys::RotateRequest;
use portcullis::admin::users::{PasswordSet, UserCreate, UserListQuery, UserPatch};

fn refused<T>(result: Result<T, AdminError>) {
    if let Err(err) = result {
        let response = err.error_response();
        assert_eq!(response.status().as_u16(), 400, "{err:?}");
        assert_eq!(err.status_code().as_u16(), 400);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    match selector % 10 {
        0 => refused(parse_json::<ClientCreate>(body)),
        1 => refused(parse_json::<ClientPatch>(body)),
        2 => refused(parse_json::<UserCreate>(body)),
        3 => refused(parse_json::<UserPatch>(body)),
        4 => refused(parse_json::<PasswordSet>(body)),
        5 => refused(parse_json::<RotateRequest>(body)),
        query => {
            let Ok(query_text) = std::str::from_utf8(body) else {
                return;
            };
            match query {
                6 => refused(parse_query::<UserListQuery>(query_text)),
                7 => refused(parse_query::<AuditQuery>(query_text)),
                8 => refused(parse_query::<VerifyQuery>(query_text)),
                _ => refused(parse_json::<serde_json::Value>(body)),
            }
        }
    }
});
