//! Is this deployment safe? The checks behind `portcullis doctor` and `GET
//! /admin/v1/doctor`: the running configuration and the stored data held against the
//! project's own rules (docs/security.md), each finding with a stable id, a severity, what
//! was found (naming the client, user or key, never a secret) and the fix. Every id is
//! explained in docs/doctor.md; a new check gets its row there.
//!
//! The CLI and the admin API run the same `Service::doctor`; they differ only in what one
//! process can observe (`Observed`): the forwarding headers of requests reach the server,
//! never a separate CLI process, and the CLI says so in a finding of its own.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;

use super::{ManageError, Service};
use crate::config::{Config, MasterKeySource};
use crate::store::Backend;
use crate::store::models::doctor as rows;
use crate::store::models::keys::{self as key_rows, ACTIVE, JANITOR_LEASE, PENDING};

/// How bad a finding is. `high` fails a deployment gate (`portcullis doctor` exits 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }
}

/// One thing found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Finding {
    /// Stable: scripts and docs/doctor.md refer to it.
    pub id: String,
    pub severity: Severity,
    /// What it is about: `client:ID`, `user:NAME`, `key:KID`, `rate_limit:BUCKET`; absent
    /// for the deployment as a whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// What was found, in words.
    pub found: String,
    /// What to do about it.
    pub fix: String,
}

/// Who ran the checks, which decides what they could see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Vantage {
    /// The running server (admin API): it sees its own requests.
    Server,
    /// A separate process (`portcullis doctor`): configuration and database only.
    Cli,
}

/// What only a process serving requests knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observed {
    pub vantage: Vantage,
    /// Requests since this server started that carried `X-Forwarded-For` or `Forwarded`
    /// from a peer that is not a trusted proxy; `None` when this process serves none.
    pub forwarding_ignored: Option<u64>,
}

impl Observed {
    /// A process that serves no requests.
    pub fn cli() -> Self {
        Self {
            vantage: Vantage::Cli,
            forwarding_ignored: None,
        }
    }
}

/// The outcome: every finding, worst first.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DoctorReport {
    /// Unix seconds.
    pub checked_at: i64,
    pub vantage: Vantage,
    /// Findings per severity.
    pub counts: BTreeMap<String, usize>,
    /// Milliseconds the audit chain walk took (it reads every row; see docs/doctor.md).
    pub audit_check_ms: u64,
    pub findings: Vec<Finding>,
}

impl DoctorReport {
    /// Whether a deployment gate should stop: any `high` finding.
    pub fn has_high(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::High)
    }
}

/// Findings listed per check id; more become one summary finding, so a deployment with
/// ten thousand self-registered clients gets a readable report.
pub const MAX_PER_CHECK: usize = 50;

/// A year, for the master key.
const YEAR_SECS: i64 = 365 * 86_400;

#[derive(Default)]
struct Findings(Vec<Finding>);

impl Findings {
    fn add(
        &mut self,
        id: &str,
        severity: Severity,
        subject: Option<String>,
        found: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.0.push(Finding {
            id: id.to_owned(),
            severity,
            subject,
            found: found.into(),
            fix: fix.into(),
        });
    }

    /// Worst first, then by id and subject; at most `MAX_PER_CHECK` per id and severity.
    fn finish(self) -> Vec<Finding> {
        let mut all = self.0;
        all.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.id.cmp(&b.id))
                .then_with(|| a.subject.cmp(&b.subject))
        });
        let mut out: Vec<Finding> = Vec::with_capacity(all.len());
        let mut listed: BTreeMap<(Severity, String), usize> = BTreeMap::new();
        let mut left: BTreeMap<(Severity, String), (usize, String)> = BTreeMap::new();
        for finding in all {
            let key = (finding.severity, finding.id.clone());
            let n = listed.entry(key.clone()).or_default();
            if *n < MAX_PER_CHECK {
                *n += 1;
                out.push(finding);
            } else {
                let entry = left.entry(key).or_insert((0, finding.fix));
                entry.0 += 1;
            }
        }
        for ((severity, id), (more, fix)) in left {
            let at = out
                .iter()
                .rposition(|f| f.severity == severity && f.id == id)
                .map_or(out.len(), |i| i + 1);
            out.insert(
                at,
                Finding {
                    id,
                    severity,
                    subject: None,
                    found: format!("{more} more like the {MAX_PER_CHECK} above, not listed"),
                    fix,
                },
            );
        }
        out
    }
}

impl Service {
    /// Runs every check at the service clock's `now`. Reads only: nothing is written.
    pub async fn doctor(
        &self,
        config: &Config,
        observed: Observed,
    ) -> Result<DoctorReport, ManageError> {
        let now = self.clock.now();
        let mut found = Findings::default();
        issuer(config, &mut found);
        proxies(config, observed, &mut found);
        self.clients(&mut found).await?;
        self.second_factors(config, &mut found).await?;
        self.signing_keys(config, observed, now, &mut found).await?;
        self.master_key(config, now, &mut found).await?;
        let audit_check_ms = self.audit_chain(&mut found).await?;
        self.janitor(config, now, &mut found).await?;
        self.replicas(config, now, &mut found).await?;
        rate_limits(config, &mut found);
        let findings = found.finish();
        let mut counts: BTreeMap<String, usize> = [
            Severity::High,
            Severity::Medium,
            Severity::Low,
            Severity::Info,
        ]
        .into_iter()
        .map(|s| (s.as_str().to_owned(), 0))
        .collect();
        for f in &findings {
            *counts.entry(f.severity.as_str().to_owned()).or_default() += 1;
        }
        Ok(DoctorReport {
            checked_at: now,
            vantage: observed.vantage,
            counts,
            audit_check_ms,
            findings,
        })
    }
}

/// `issuer.plain_http`, `issuer.development`. An http issuer is only accepted on a
/// loopback host (config validation); what can still be wrong is a listener that others
/// reach while the issuer says plain http.
fn issuer(config: &Config, out: &mut Findings) {
    if config.issuer.is_https() {
        return;
    }
    let bind = config.http_bind;
    if bind.ip().is_loopback() {
        out.add(
            "issuer.development",
            Severity::Info,
            None,
            format!(
                "the issuer is {} (plain http) and the public listener {bind} is on loopback: \
                 a development setup that only this machine reaches",
                config.issuer
            ),
            "for production set `issuer` (PORTCULLIS_ISSUER) to the https URL users reach, \
             with a TLS-terminating proxy in front and `keys.master_keys` configured",
        );
    } else {
        out.add(
            "issuer.plain_http",
            Severity::High,
            None,
            format!(
                "the issuer is {} (plain http) but the public listener is bound to {bind}, \
                 off loopback: others reach sign-in pages, codes and tokens without TLS, and \
                 cookies are not Secure",
                config.issuer
            ),
            "set `issuer` (PORTCULLIS_ISSUER) to the https URL users reach, behind a \
             TLS-terminating proxy (docs/doctor.md), or bind `http.bind` to 127.0.0.1",
        );
    }
}

/// `proxy.none_trusted`, `proxy.untrusted_peer`, `proxy.unobserved`.
fn proxies(config: &Config, observed: Observed, out: &mut Findings) {
    let trusted = &config.proxy.trusted_proxies;
    let Some(seen) = observed.forwarding_ignored else {
        out.add(
            "proxy.unobserved",
            Severity::Info,
            None,
            format!(
                "this run reads the configuration and the database only: it cannot see whether \
                 requests arrive with X-Forwarded-For or Forwarded from an untrusted peer \
                 ({} trusted prox{} configured)",
                trusted.len(),
                if trusted.len() == 1 { "y" } else { "ies" }
            ),
            "ask the running server: GET /admin/v1/doctor on the admin listener (auditor or \
             admin role) reports how many such requests it saw",
        );
        return;
    };
    if seen == 0 {
        return;
    }
    if trusted.is_empty() {
        out.add(
            "proxy.none_trusted",
            Severity::High,
            None,
            format!(
                "{seen} request(s) since this server started carried X-Forwarded-For or \
                 Forwarded, and no trusted proxy is configured: if a reverse proxy sends them, \
                 every user shares its address, so one client's failures throttle and \
                 rate-limit everybody and the audit log names the proxy"
            ),
            "list the reverse proxy's address in `proxy.trusted_proxies` \
             (PORTCULLIS_RATE_LIMIT__TRUSTED_PROXIES); if there is no proxy, clients are \
             sending the header themselves and it is rightly ignored",
        );
    } else {
        out.add(
            "proxy.untrusted_peer",
            Severity::Medium,
            None,
            format!(
                "{seen} request(s) since this server started carried X-Forwarded-For or \
                 Forwarded from a peer that is not one of the {} trusted prox{}: a proxy \
                 missing from the list, or clients choosing their own address (ignored)",
                trusted.len(),
                if trusted.len() == 1 { "y" } else { "ies" }
            ),
            "compare the server's warning in the log (it names the peer) with \
             `proxy.trusted_proxies`, and add the proxy if it is yours",
        );
    }
}

/// A redirect URI's trouble, if any: a wildcard anywhere, or plain http off loopback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UriTrouble {
    Wildcard,
    PlainHttp,
}

fn uri_trouble(uri: &str) -> Option<UriTrouble> {
    // Redirect URIs are compared byte for byte: a `*` (or its escape) never widens a match
    // here, but it says someone expected it to, and other servers' copies may honour it.
    if uri.contains('*') || uri.to_ascii_lowercase().contains("%2a") {
        return Some(UriTrouble::Wildcard);
    }
    let url = url::Url::parse(uri).ok()?;
    let loopback = url
        .host()
        .is_some_and(|h| crate::url_rules::is_loopback_host(&h));
    (url.scheme() == "http" && !loopback).then_some(UriTrouble::PlainHttp)
}

impl Service {
    /// `clients.password_grant`, `clients.pkce_not_required`,
    /// `clients.redirect_uri_wildcard`, `clients.redirect_uri_http`.
    async fn clients(&self, out: &mut Findings) -> Result<(), ManageError> {
        let clients = self.store.run(rows::enabled_clients).await?;
        for client in clients {
            let subject = || Some(format!("client:{}", client.client_id));
            let kind = if client.confidential {
                "confidential"
            } else {
                "public"
            };
            let grants = super::clients::json_list(&client.grant_types)?;
            if grants.iter().any(|g| g == "password") {
                out.add(
                    "clients.password_grant",
                    if client.confidential {
                        Severity::Medium
                    } else {
                        Severity::High
                    },
                    subject(),
                    format!(
                        "{kind} client `{}` may use the password grant: it handles users' \
                         passwords itself, and OAuth 2.1 drops the grant",
                        client.client_id
                    ),
                    format!(
                        "move the client to the authorization code flow with PKCE and remove \
                         the grant: `portcullis client update {} --grant authorization_code \
                         --grant refresh_token`",
                        client.client_id
                    ),
                );
            }
            if !client.require_pkce {
                out.add(
                    "clients.pkce_not_required",
                    if client.confidential {
                        Severity::Medium
                    } else {
                        Severity::High
                    },
                    subject(),
                    format!(
                        "{kind} client `{}` may redeem codes without PKCE: a stolen code is \
                         enough",
                        client.client_id
                    ),
                    format!(
                        "`portcullis client update {} --require-pkce true` once the client \
                         sends a code_challenge (S256)",
                        client.client_id
                    ),
                );
            }
            let mut wildcard = Vec::new();
            let mut plain = Vec::new();
            for uri in super::clients::json_list(&client.redirect_uris)?
                .into_iter()
                .chain(super::clients::json_list(
                    &client.post_logout_redirect_uris,
                )?)
            {
                match uri_trouble(&uri) {
                    Some(UriTrouble::Wildcard) => wildcard.push(uri),
                    Some(UriTrouble::PlainHttp) => plain.push(uri),
                    None => {}
                }
            }
            if !wildcard.is_empty() {
                out.add(
                    "clients.redirect_uri_wildcard",
                    Severity::High,
                    subject(),
                    format!(
                        "client `{}` has redirect URIs with a wildcard: {}",
                        client.client_id,
                        wildcard.join(", ")
                    ),
                    "register every redirect URI in full (they are compared byte for byte) \
                     with `portcullis client update ID --redirect-uri URI ...`",
                );
            }
            if !plain.is_empty() {
                out.add(
                    "clients.redirect_uri_http",
                    Severity::High,
                    subject(),
                    format!(
                        "client `{}` has redirect URIs on plain http off loopback, where codes \
                         and tokens travel unencrypted: {}",
                        client.client_id,
                        plain.join(", ")
                    ),
                    "use https redirect URIs (plain http only for 127.0.0.1, [::1] or \
                     localhost, RFC 8252) with `portcullis client update ID --redirect-uri URI ...`",
                );
            }
        }
        Ok(())
    }

    /// `users.admin_without_second_factor`, `users.role_without_second_factor`,
    /// `mfa.admin_not_required`.
    async fn second_factors(&self, config: &Config, out: &mut Findings) -> Result<(), ManageError> {
        let required = &config.mfa.required_roles;
        let admin_required = config.mfa.requires(&["admin".to_owned()]);
        if !admin_required {
            out.add(
                "mfa.admin_not_required",
                Severity::Medium,
                None,
                "`mfa.required_roles` does not name `admin`: administrators may sign in with \
                 a password alone",
                "add `admin` to `mfa.required_roles` (PORTCULLIS_MFA__REQUIRED_ROLES)",
            );
        }
        let mut roles: Vec<String> = required.clone();
        if !roles.iter().any(|r| r == "admin") {
            roles.push("admin".to_owned());
        }
        // One more than is listed per check, so the summary can say how many were left.
        let limit = i64::try_from(MAX_PER_CHECK * 4).unwrap_or(i64::MAX);
        let (pairs, total) = self
            .store
            .run(move |conn| rows::without_second_factor(conn, &roles, limit))
            .await?;
        let mut by_user: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (username, role) in pairs {
            by_user.entry(username).or_default().push(role);
        }
        for (username, roles) in by_user {
            let subject = Some(format!("user:{username}"));
            let fix = format!(
                "have `{username}` enrol an authenticator app or a passkey on /account/security \
                 (or provision one: `portcullis user enroll-totp {username}`)"
            );
            if roles.iter().any(|r| r == "admin") {
                let (severity, why) = if admin_required {
                    (
                        Severity::Medium,
                        "the policy will ask them to enrol at their next sign-in; until then a \
                         password is all that guards the account",
                    )
                } else {
                    (
                        Severity::High,
                        "and no policy asks them for one: a password is all that guards the \
                         account",
                    )
                };
                out.add(
                    "users.admin_without_second_factor",
                    severity,
                    subject,
                    format!("administrator `{username}` has no second factor: {why}"),
                    fix,
                );
            } else {
                out.add(
                    "users.role_without_second_factor",
                    Severity::Medium,
                    subject,
                    format!(
                        "`{username}` holds {} (named by `mfa.required_roles`) and has no second \
                         factor yet: they will be asked to enrol at their next sign-in",
                        roles
                            .iter()
                            .map(|r| format!("`{r}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    fix,
                );
            }
        }
        let listed = i64::try_from(MAX_PER_CHECK * 4).unwrap_or(i64::MAX);
        if total > listed {
            out.add(
                "users.role_without_second_factor",
                Severity::Medium,
                None,
                format!(
                    "{} more role grants to users without a second factor, not read",
                    total - listed
                ),
                "list them with `portcullis user list` and `user factors`",
            );
        }
        Ok(())
    }

    /// `keys.rotation_overdue`, `keys.none_active`.
    async fn signing_keys(
        &self,
        config: &Config,
        observed: Observed,
        now: i64,
        out: &mut Findings,
    ) -> Result<(), ManageError> {
        let keys = self.store.run(key_rows::all).await?;
        let Some(active) = keys.iter().find(|k| k.status == ACTIVE) else {
            let severity = match observed.vantage {
                // A running server makes one at start: none means it cannot sign.
                Vantage::Server => Severity::High,
                Vantage::Cli => Severity::Info,
            };
            out.add(
                "keys.none_active",
                severity,
                None,
                "no signing key is active in the database",
                "`portcullis serve` creates the first key at start; if a server is running, \
                 see its log for `signing key maintenance failed`",
            );
            return Ok(());
        };
        let since = active.activated_at.unwrap_or(active.created_at);
        let due = since.saturating_add(config.keys.rotation_period);
        // Maintenance runs every reload interval on every replica: twice that is late.
        let reload = i64::try_from(config.keys.reload_interval.as_secs()).unwrap_or(3600);
        let grace = reload.saturating_mul(2);
        if now > due.saturating_add(grace) {
            let next = keys.iter().find(|k| k.status == PENDING).map_or_else(
                || "no next key is published".to_owned(),
                |k| {
                    format!(
                        "the next key {} is published and signs from {}",
                        k.kid,
                        date(k.activate_after)
                    )
                },
            );
            out.add(
                "keys.rotation_overdue",
                Severity::Medium,
                Some(format!("key:{}", active.kid)),
                format!(
                    "signing key {} has signed since {} and was due to be replaced on {} \
                     (`keys.rotation_period_secs` = {}): {} day(s) overdue; {next}",
                    active.kid,
                    date(since),
                    date(due),
                    config.keys.rotation_period,
                    (now - due) / 86_400
                ),
                "make sure a server is running (each one advances the key lifecycle every \
                 `keys.reload_interval_secs`) and read its log for `signing key maintenance \
                 failed`; `portcullis keys rotate` starts a rotation now",
            );
        }
        Ok(())
    }

    /// `keys.master_key_old`, `keys.master_key_age_unknown`. A master key is 32 random
    /// bytes: it carries no date, and nothing records when it was configured. What the
    /// database does record is the audit chain, linked with a key derived from the current
    /// master key (unless `keys.audit_keys` names keys of their own): the oldest row linked
    /// with it says the master key has been in use at least since then.
    async fn master_key(
        &self,
        config: &Config,
        now: i64,
        out: &mut Findings,
    ) -> Result<(), ManageError> {
        let (count, name) = match &config.keys.master_keys {
            MasterKeySource::Configured(keys) => (
                keys.iter().count(),
                format!("master key {}", keys.current().fingerprint()),
            ),
            MasterKeySource::DevFile(path) => {
                (1, format!("development master key file {}", path.display()))
            }
        };
        if count > 1 {
            // A rotation under way: the first seals, the others only open until rewrapped.
            return Ok(());
        }
        let fix = "make a new key (`openssl rand -base64 32`), configure it first and the old \
                   one second in `keys.master_keys`, run `portcullis keys rewrap`, then remove \
                   the old key (docs/doctor.md)";
        let unknown = |why: String| Finding {
            id: "keys.master_key_age_unknown".to_owned(),
            severity: Severity::Info,
            subject: None,
            found: format!(
                "the age of the one {name} cannot be known: a master key carries no date, and \
                 {why}"
            ),
            fix: format!("to bound it, rotate it now and then yearly: {fix}"),
        };
        if config.keys.audit_keys.is_some() {
            out.0.push(unknown(
                "the audit chain is linked with `keys.audit_keys`, not with a key derived from it"
                    .to_owned(),
            ));
            return Ok(());
        }
        let Some(key_id) = self.store.audit_keys().current().map(|k| k.id().to_owned()) else {
            return Ok(());
        };
        let first = self
            .store
            .run(move |conn| rows::first_linked_with(conn, &key_id))
            .await?;
        match first {
            Some(since) if now.saturating_sub(since) > YEAR_SECS => out.add(
                "keys.master_key_old",
                Severity::Medium,
                None,
                format!(
                    "the one {name} has been in use since {} at least ({} days: the oldest \
                     audit event linked with a key derived from it)",
                    date(since),
                    (now - since) / 86_400
                ),
                fix,
            ),
            Some(_) => {}
            None => out.0.push(unknown(
                "no audit event linked with a key derived from it is stored yet".to_owned(),
            )),
        }
        Ok(())
    }

    /// `audit.chain_broken`. Walks the whole chain (one snapshot, pages of 500 rows);
    /// returns how long it took.
    async fn audit_chain(&self, out: &mut Findings) -> Result<u64, ManageError> {
        let started = Instant::now();
        let broken = crate::audit::verify(&self.store).await?;
        let took = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        if let Some(broken) = broken {
            out.add(
                "audit.chain_broken",
                Severity::High,
                None,
                format!(
                    "the audit chain breaks at seq {}: {}",
                    broken.seq, broken.reason
                ),
                "the log was changed outside Portcullis: see `portcullis audit verify` and \
                 `portcullis audit query`, find who can write to the database, and compare \
                 with a backup",
            );
        }
        Ok(took)
    }

    /// `janitor.stalled`, `janitor.never_ran`. The replica that runs the janitor holds its
    /// lease for one interval, so the lease's expiry says when one last ran.
    async fn janitor(
        &self,
        config: &Config,
        now: i64,
        out: &mut Findings,
    ) -> Result<(), ManageError> {
        let interval = i64::try_from(config.janitor.interval.as_secs()).unwrap_or(60);
        let expiry = self
            .store
            .run(|conn| rows::lease_expiry(conn, JANITOR_LEASE))
            .await?;
        let fix = "make sure a server is running, and read its log for `janitor run failed`; \
                   `portcullis_janitor_runs` counts runs, skips and failures";
        match expiry {
            None => out.add(
                "janitor.never_ran",
                Severity::Info,
                None,
                "no janitor has run on this database yet (every server runs one at start)",
                fix,
            ),
            // Three intervals without a run: two ticks missed by every replica.
            Some(until) if now > until.saturating_add(interval.saturating_mul(2)) => {
                let last = until.saturating_sub(interval);
                out.add(
                    "janitor.stalled",
                    Severity::Medium,
                    None,
                    format!(
                        "no janitor has run for {} minute(s) (last on {}; `janitor.interval_secs` \
                         = {interval}): expired codes, sessions, tokens and throttling rows are \
                         not purged and tables grow",
                        (now - last) / 60,
                        date(last)
                    ),
                    fix,
                );
            }
            Some(_) => {}
        }
        Ok(())
    }

    /// `database.sqlite_replicas`. Each server records its presence on every janitor tick
    /// (`store::models::keys::note_replica`, three intervals long); more than one live on
    /// SQLite means several processes share the file. A listener bound off loopback says
    /// nothing about that (one container binds 0.0.0.0), so it is not used.
    async fn replicas(
        &self,
        config: &Config,
        now: i64,
        out: &mut Findings,
    ) -> Result<(), ManageError> {
        if config.database.url.backend() != Backend::Sqlite {
            return Ok(());
        }
        let live = self
            .store
            .run(move |conn| key_rows::live_replicas(conn, now))
            .await?;
        if live > 1 {
            out.add(
                "database.sqlite_replicas",
                Severity::High,
                None,
                format!(
                    "{live} servers run on this SQLite database at once: each keeps in memory \
                     what SQLite does not share between processes (revocations it answers \
                     introspection from, the client cache), so a token revoked through one \
                     can still be accepted by another"
                ),
                "run one server on SQLite, or move to Postgres (`database.url = \
                 postgres://...`) for several replicas",
            );
        }
        Ok(())
    }
}

/// `rate_limit.off`: a bucket with `per_second = 0`.
fn rate_limits(config: &Config, out: &mut Findings) {
    let limits = &config.rate_limit;
    let mut off: Vec<(String, &'static str)> = limits
        .endpoints
        .iter()
        .filter(|(_, b)| b.per_second == 0)
        .map(|(name, _)| ((*name).to_owned(), "rate_limit.endpoints.<name>.per_second"))
        .collect();
    if limits.token_per_second == 0 && !off.iter().any(|(n, _)| n == "token") {
        off.push(("token".to_owned(), "rate_limit.token_per_second"));
    }
    if limits.client_auth_failures.per_second == 0 {
        off.push((
            "client_auth_failures".to_owned(),
            "rate_limit.client_auth_failures.per_second",
        ));
    }
    for (name, setting) in off {
        let setting = setting.replace("<name>", &name);
        out.add(
            "rate_limit.off",
            Severity::Medium,
            Some(format!("rate_limit:{name}")),
            format!("the per-address rate limit `{name}` is off (`{setting}` = 0)"),
            format!("set `{setting}` above 0 (the default is on)"),
        );
    }
}

/// `YYYY-MM-DD` (UTC) of a Unix time (Howard Hinnant's days-to-civil).
fn date(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn redirect_uri_trouble() {
        for ok in [
            "https://app.example.com/cb",
            "http://127.0.0.1:8080/cb",
            "http://[::1]/cb",
            "http://localhost:3000/cb",
            "com.example.app:/cb",
        ] {
            assert_eq!(uri_trouble(ok), None, "{ok}");
        }
        for wild in [
            "https://*.example.com/cb",
            "https://app.example.com/*",
            "https://app.example.com/%2A",
            "http://127.0.0.1:*/cb",
        ] {
            assert_eq!(uri_trouble(wild), Some(UriTrouble::Wildcard), "{wild}");
        }
        for plain in ["http://app.example.com/cb", "http://10.0.0.1/cb"] {
            assert_eq!(uri_trouble(plain), Some(UriTrouble::PlainHttp), "{plain}");
        }
    }

    #[test]
    fn dates_are_civil() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(1_800_000_000), "2027-01-15");
        assert_eq!(date(951_782_400), "2000-02-29");
    }

    fn finding(id: &str, severity: Severity, subject: &str) -> Finding {
        Finding {
            id: id.to_owned(),
            severity,
            subject: Some(subject.to_owned()),
            found: String::new(),
            fix: "fix".to_owned(),
        }
    }

    #[test]
    fn worst_first_and_capped_per_check() {
        let mut found = Findings::default();
        found.0.push(finding("b.low", Severity::Low, "x"));
        for n in 0..MAX_PER_CHECK + 3 {
            found
                .0
                .push(finding("a.many", Severity::Medium, &format!("c{n:03}")));
        }
        found.0.push(finding("z.high", Severity::High, "y"));
        let out = found.finish();
        assert_eq!(out.first().map(|f| f.id.as_str()), Some("z.high"));
        let many: Vec<_> = out.iter().filter(|f| f.id == "a.many").collect();
        assert_eq!(many.len(), MAX_PER_CHECK + 1);
        let summary = many.last().unwrap();
        assert_eq!(summary.subject, None);
        assert!(summary.found.starts_with("3 more"), "{}", summary.found);
        assert_eq!(out.last().map(|f| f.id.as_str()), Some("b.low"));
    }
}
