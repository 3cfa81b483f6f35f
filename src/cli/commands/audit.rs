//! `audit query` and `audit verify`.

use super::CliError;
use super::output::Output;
use crate::cli::AuditCommand;
use crate::cli::time::show;
use crate::manage::Service;
use crate::store::models::audit::AuditFilter;

pub(super) async fn run(svc: &Service, cmd: AuditCommand, out: Output) -> Result<(), CliError> {
    match cmd {
        AuditCommand::Query {
            since,
            until,
            event_type,
            actor,
            subject,
            offset,
            limit,
        } => {
            let filter = AuditFilter {
                from: since,
                to: until,
                event_type,
                actor,
                subject,
            };
            let entries = svc.query_audit(filter, offset, limit).await?;
            out.show(&entries, |entries| {
                println!(
                    "{:>8}  {:<20}  {:<28}  {:<44}  subject",
                    "seq", "occurred_at", "type", "actor"
                );
                for e in entries {
                    println!(
                        "{:>8}  {:<20}  {:<28}  {:<44}  {}",
                        e.seq,
                        show(e.occurred_at),
                        e.event_type,
                        e.actor.as_deref().unwrap_or("-"),
                        e.subject.as_deref().unwrap_or("-")
                    );
                }
            })
        }
        AuditCommand::Verify { head } => {
            let report = match &head {
                Some(head) => svc.verify_audit_from(head).await?,
                None => svc.verify_audit().await?,
            };
            out.show(&report, |report| {
                if report.intact {
                    println!("the audit log is intact ({} rows)", report.rows);
                    if let Some(now) = &report.head {
                        println!("head: {}:{}", now.seq, now.hash);
                    }
                }
            })?;
            match &report.first_broken {
                None => Ok(()),
                Some(broken) => Err(CliError::Other(format!(
                    "the audit log is broken at seq {}: {}",
                    broken.seq, broken.reason
                ))),
            }
        }
    }
}
