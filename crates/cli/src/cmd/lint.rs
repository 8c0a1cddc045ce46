//! `tripline lint`: load every rule and suppression and report what is wrong or stale —
//! diagnostics, suppressions that expired or soon will, suppressions that apply to no rule.

use chrono::Utc;
use tripline_lang::Level;

use super::ExitStatus;
use crate::options::RuleArgs;

/// Suppressions expiring within this many days are pointed out.
const EXPIRY_NOTICE_DAYS: i64 = 14;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    rules: RuleArgs,
}

pub fn run(args: &Args, config: &tripline_pipeline::Config) -> anyhow::Result<ExitStatus> {
    let set = args.rules.load(config, false);
    let today = Utc::now().date_naive();
    let mut warnings = 0;
    for s in &set.suppressions {
        let Some(last) = s.expires else { continue };
        if s.is_expired(today) {
            warnings += 1;
            note!(
                "{}: warning: suppression `{}` expired on {last} and no longer applies (owner: {})",
                s.location(),
                s.name,
                s.owner
            );
            note!("  hint: renew it with a new `expires` date, or remove it");
        } else if (last - today).num_days() < EXPIRY_NOTICE_DAYS {
            note!(
                "{}: note: suppression `{}` expires on {last} (owner: {})",
                s.location(),
                s.name,
                s.owner
            );
        }
    }
    let errors = set.diagnostics.iter().filter(|d| d.level == Level::Error).count();
    let warned = set.diagnostics.iter().filter(|d| d.level == Level::Warning).count() + warnings;
    note!(
        "lint: {} rule(s), {} suppression(s): {errors} error(s), {warned} warning(s)",
        set.rules.len(),
        set.suppressions.len()
    );
    Ok(if errors > 0 || set.has_errors() { ExitStatus::Findings } else { ExitStatus::Success })
}
