//! `doctor`: the deployment's findings as a table or as JSON, and exit status 2 when any
//! is high, so a deployment script can stop on it.

use super::CliError;
use super::output::print_json;
use crate::config::Config;
use crate::manage::Service;
use crate::manage::doctor::{DoctorReport, Observed};

pub(super) async fn run(svc: &Service, config: &Config, json: bool) -> Result<(), CliError> {
    let report = svc.doctor(config, Observed::cli()).await?;
    if json {
        print_json(&report)?;
    } else {
        print_table(&report);
    }
    if report.has_high() {
        Err(CliError::HighFindings)
    } else {
        Ok(())
    }
}

fn print_table(report: &DoctorReport) {
    let count = |s: &str| report.counts.get(s).copied().unwrap_or(0);
    if report.findings.is_empty() {
        println!("no findings");
    } else {
        println!("{:<8}  {:<36}  subject", "severity", "id");
        for f in &report.findings {
            println!(
                "{:<8}  {:<36}  {}",
                f.severity.as_str(),
                f.id,
                f.subject.as_deref().unwrap_or("-")
            );
            println!("          found: {}", f.found);
            println!("          fix:   {}", f.fix);
        }
    }
    println!(
        "\n{} high, {} medium, {} low, {} info (audit chain checked in {} ms); details: docs/doctor.md",
        count("high"),
        count("medium"),
        count("low"),
        count("info"),
        report.audit_check_ms
    );
    if report.has_high() {
        println!("exit status 2: at least one high finding");
    }
}
