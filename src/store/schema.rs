//! The one schema both backends share. Types are chosen so that every column maps the
//! same way on SQLite and Postgres (see docs/architecture.md).

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        email -> Nullable<Text>,
        email_verified -> Bool,
        name -> Nullable<Text>,
        password_hash -> Text,
        disabled -> Bool,
        created_at -> BigInt,
        updated_at -> BigInt,
        pending_email -> Nullable<Text>,
    }
}

diesel::table! {
    user_roles (user_id, role) {
        user_id -> Text,
        role -> Text,
    }
}

diesel::table! {
    clients (client_id) {
        client_id -> Text,
        name -> Text,
        confidential -> Bool,
        secret_digest -> Nullable<Binary>,
        redirect_uris -> Text,
        post_logout_redirect_uris -> Text,
        grant_types -> Text,
        scopes -> Text,
        token_endpoint_auth_method -> Text,
        first_party -> Bool,
        require_pkce -> Bool,
        access_token_lifetime -> Nullable<BigInt>,
        refresh_token_lifetime -> Nullable<BigInt>,
        disabled -> Bool,
        created_at -> BigInt,
        updated_at -> BigInt,
        instance -> Text,
        resources -> Text,
        require_mfa -> Bool,
        origin -> Text,
        last_used_at -> Nullable<BigInt>,
        registration_token_digest -> Nullable<Binary>,
        application_type -> Nullable<Text>,
        client_uri -> Nullable<Text>,
        logo_uri -> Nullable<Text>,
    }
}

diesel::table! {
    client_roles (client_id, role) {
        client_id -> Text,
        role -> Text,
    }
}

diesel::table! {
    audit_events (seq) {
        seq -> BigInt,
        id -> Text,
        occurred_at -> BigInt,
        event_type -> Text,
        actor -> Nullable<Text>,
        subject -> Nullable<Text>,
        details -> Text,
        prev_hash -> Binary,
        hash -> Binary,
        key_id -> Nullable<Text>,
    }
}

diesel::joinable!(user_roles -> users (user_id));
diesel::joinable!(client_roles -> clients (client_id));

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        alg -> Text,
        status -> Text,
        sealed_private_key -> Binary,
        public_jwk -> Text,
        created_at -> BigInt,
        activate_after -> BigInt,
        activated_at -> Nullable<BigInt>,
        retired_at -> Nullable<BigInt>,
        delete_after -> Nullable<BigInt>,
    }
}

diesel::table! {
    leases (name) {
        name -> Text,
        holder -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    grants (id) {
        id -> Text,
        client_id -> Text,
        user_id -> Nullable<Text>,
        scope -> Text,
        auth_time -> Nullable<BigInt>,
        created_at -> BigInt,
        expires_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
        revoked_reason -> Nullable<Text>,
        resources -> Text,
    }
}

diesel::table! {
    refresh_tokens (digest) {
        digest -> Binary,
        grant_id -> Text,
        issued_at -> BigInt,
        expires_at -> BigInt,
        rotated_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    login_failures (throttle_key) {
        throttle_key -> Text,
        failures -> Integer,
        window_start -> BigInt,
        last_failure_at -> BigInt,
    }
}

diesel::table! {
    audit_throttled (throttle_key, window_start) {
        throttle_key -> Text,
        window_start -> BigInt,
        window_end -> BigInt,
        attempts -> BigInt,
        first_at -> BigInt,
        last_at -> BigInt,
    }
}

diesel::joinable!(refresh_tokens -> grants (grant_id));

diesel::table! {
    authorization_requests (id) {
        id -> Text,
        client_id -> Text,
        redirect_uri -> Text,
        redirect_uri_given -> Bool,
        scope -> Text,
        state -> Nullable<Text>,
        nonce -> Nullable<Text>,
        code_challenge -> Nullable<Text>,
        prompt -> Nullable<Text>,
        max_age -> Nullable<BigInt>,
        login_hint -> Nullable<Text>,
        csrf_digest -> Binary,
        user_id -> Nullable<Text>,
        session_id -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
        resources -> Text,
        id_token_hint_subject -> Nullable<Text>,
        login_session_id -> Nullable<Text>,
        client_key -> Nullable<Text>,
        acr_values -> Nullable<Text>,
        ceremony -> Nullable<Text>,
        ui_locales -> Nullable<Text>,
    }
}

diesel::table! {
    sessions (id_digest) {
        id_digest -> Binary,
        sid -> Text,
        user_id -> Text,
        auth_time -> BigInt,
        amr -> Text,
        created_at -> BigInt,
        last_seen_at -> BigInt,
        idle_expires_at -> BigInt,
        absolute_expires_at -> BigInt,
        ceremony -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        ip -> Nullable<Text>,
    }
}

diesel::table! {
    authorization_codes (digest) {
        digest -> Binary,
        client_id -> Text,
        user_id -> Text,
        redirect_uri -> Text,
        redirect_uri_given -> Bool,
        scope -> Text,
        nonce -> Nullable<Text>,
        code_challenge -> Nullable<Text>,
        auth_time -> BigInt,
        sid -> Nullable<Text>,
        amr -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        consumed_at -> Nullable<BigInt>,
        grant_id -> Nullable<Text>,
        resources -> Text,
        acr -> Nullable<Text>,
    }
}

diesel::table! {
    consents (user_id, client_id) {
        user_id -> Text,
        client_id -> Text,
        scope -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    revoked_tokens (jti) {
        jti -> Text,
        client_id -> Text,
        revoked_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    revocation_epoch (id) {
        id -> Integer,
        epoch -> BigInt,
    }
}

diesel::table! {
    replica_leases (id) {
        id -> Text,
        epoch -> BigInt,
        expires_at_ms -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    users,
    user_roles,
    clients,
    client_roles,
    audit_events,
    audit_throttled,
    signing_keys,
    leases,
    grants,
    refresh_tokens,
    login_failures,
    authorization_requests,
    sessions,
    authorization_codes,
    consents,
    revoked_tokens,
    revocation_epoch,
    replica_leases,
    user_factors,
    recovery_codes,
    initial_access_tokens,
    account_tokens,
    mail_outbox,
);

diesel::table! {
    initial_access_tokens (id) {
        id -> Text,
        digest -> Binary,
        uses_left -> BigInt,
        expires_at -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    user_factors (id) {
        id -> Text,
        user_id -> Text,
        kind -> Text,
        name -> Text,
        secret_sealed -> Nullable<Binary>,
        credential -> Nullable<Text>,
        credential_id -> Nullable<Binary>,
        confirmed -> Bool,
        last_step -> Nullable<BigInt>,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    recovery_codes (user_id, digest) {
        user_id -> Text,
        digest -> Binary,
        created_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::joinable!(user_factors -> users (user_id));
diesel::joinable!(recovery_codes -> users (user_id));

diesel::table! {
    account_tokens (digest) {
        digest -> Binary,
        purpose -> Text,
        user_id -> Nullable<Text>,
        email -> Nullable<Text>,
        username -> Nullable<Text>,
        password_hash -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
        consumed_at -> Nullable<BigInt>,
    }
}

diesel::joinable!(account_tokens -> users (user_id));

diesel::table! {
    mail_outbox (id) {
        id -> Text,
        recipient -> Text,
        subject -> Text,
        body_text -> Text,
        body_html -> Nullable<Text>,
        state -> Text,
        attempts -> BigInt,
        next_attempt_at -> BigInt,
        claimed_by -> Nullable<Text>,
        claimed_until -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
        created_at -> BigInt,
        finished_at -> Nullable<BigInt>,
    }
}
