//! The options several commands share, merged with the configuration file into what the
//! pipeline is given explicitly: the rule sources, the store, the detection.

use std::path::PathBuf;

use anyhow::Context;
use chrono::Utc;
use tripline_pipeline::notify::outbox::OutboxOutput;
use tripline_pipeline::ruleset::{self, parse_placeholder};
use tripline_pipeline::sink::report::TextStyle;
use tripline_pipeline::sink::{OutputFormat, OutputSpec, Router};
use tripline_pipeline::toggle::{Selector, Toggles};
use tripline_pipeline::{Config, RuleSet, RuleSources, Setup};
use tripline_rule::Severity;

/// The options every rule-using command shares.
#[derive(clap::Args, Debug, Clone)]
pub struct RuleArgs {
    /// Add rule files or folders (repeatable).
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// Leave the built-in rule pack out.
    #[arg(long)]
    pub no_builtin: bool,
    /// A value for a Sigma `%placeholder%` used with `|expand` (repeatable; commas separate
    /// several values): `--placeholder Legitimate_Countries=DE,FR`.
    #[arg(long = "placeholder", value_name = "NAME=VALUES", value_parser = parse_placeholder)]
    pub placeholders: Vec<(String, Vec<String>)>,
    /// An Elastic exception-list export (NDJSON) for rules whose `exceptions_list` names it
    /// (repeatable).
    #[arg(long = "exceptions", value_name = "FILE")]
    pub exceptions: Vec<PathBuf>,
    /// Suppression files or folders (YAML; repeatable): signals they match are counted, not
    /// alerted on.
    #[arg(long = "suppressions", value_name = "PATH", env = "TRIPLINE_SUPPRESSIONS")]
    pub suppressions: Vec<PathBuf>,
    /// Print each rule file Tripline does not run (by default one line per kind).
    #[arg(long, short)]
    pub verbose: bool,
    /// Turn rules off (repeatable): a rule id or name, `tag:TAG`, `format:sigma|elastic|
    /// panther|native` or `pack:builtin`. Adds to `[rules] disable` in tripline.toml.
    #[arg(long, value_name = "SELECTOR", value_parser = str::parse::<Selector>)]
    pub disable: Vec<Selector>,
    /// Keep rules on whatever turns them off (repeatable; the same selectors).
    #[arg(long, value_name = "SELECTOR", value_parser = str::parse::<Selector>)]
    pub enable: Vec<Selector>,
}

impl RuleArgs {
    /// The configuration's rules and suppressions first, then the flags'.
    pub fn sources(&self, config: &Config) -> RuleSources {
        RuleSources {
            paths: config.rules.paths.iter().chain(&self.rules).cloned().collect(),
            no_builtin: self.no_builtin,
            placeholders: self.placeholders.clone(),
            exceptions: self.exceptions.clone(),
            suppressions: config.suppressions.iter().chain(&self.suppressions).cloned().collect(),
            toggles: Toggles {
                disable: given(&config.rules.disable, &self.disable, "--disable"),
                enable: given(&config.rules.enable, &self.enable, "--enable"),
            },
        }
    }

    /// Loads the rules and prints every diagnostic and the load summary to stderr.
    pub fn load(&self, config: &Config, quiet: bool) -> RuleSet {
        let set = ruleset::load(&self.sources(config));
        set.report(quiet, self.verbose).iter().for_each(|line| note!("{line}"));
        set
    }
}

/// Selectors from the configuration, then from `flag`, each with where it was given.
fn given(
    configured: &[Selector],
    flags: &[Selector],
    flag: &'static str,
) -> Vec<(Selector, &'static str)> {
    let configured = configured.iter().map(|s| (s.clone(), "tripline.toml"));
    configured.chain(flags.iter().map(|s| (s.clone(), flag))).collect()
}

/// Options of the commands that run rules over logs (`scan`, `watch`).
#[derive(clap::Args, Debug, Clone)]
pub struct DetectArgs {
    /// Leave out rules that can never raise anything this severe (info, low, medium, high,
    /// critical), such as a broad `low` Sigma rule that matches most records. A rule a kept
    /// correlation uses stays.
    #[arg(long, value_name = "LEVEL", env = "TRIPLINE_MIN_SEVERITY", value_parser = str::parse::<Severity>)]
    pub min_severity: Option<Severity>,
}

/// Loads and compiles the rules, printing what loading and building had to say.
pub fn setup(
    rules: &RuleArgs,
    detect: &DetectArgs,
    config: &Config,
    quiet: bool,
) -> anyhow::Result<Setup> {
    let ruleset = rules.load(config, quiet);
    let min = detect.min_severity.or(config.min_severity);
    let setup = Setup::build(ruleset, min, Utc::now().date_naive())?;
    if let (Some(min), false) = (min, quiet) {
        note!(
            "rules: {} left out by --min-severity {min}, {} kept",
            setup.left_out,
            setup.ruleset.rules.len()
        );
    }
    setup.warnings.iter().for_each(|w| note!("{w}"));
    setup.plan_errors.iter().for_each(|e| note!("error: {e}"));
    setup.expiry_warnings().iter().for_each(|w| note!("{w}"));
    Ok(setup)
}

/// Prints suppression counts: how many signals each kept out of alerts, and which
/// suppressions in force matched nothing in this scan.
pub fn report_suppressions(setup: &Setup, counts: &[u64], quiet: bool) {
    for (name, n) in setup.suppression_counts(counts) {
        if n == 0 {
            note!("warning: suppression `{name}` matched no signal in this scan");
        } else if !quiet {
            note!("suppressed: {n} signal(s) by `{name}`");
        }
    }
}

/// The store from a flag (or its environment variable), else from the configuration.
///
/// # Errors
/// When neither names one.
pub fn store(flag: Option<&String>, config: &Config) -> anyhow::Result<String> {
    flag.cloned().or_else(|| config.store.clone()).context(
        "no store given: pass --store PATH|URL, set TRIPLINE_STORE, or set `store` in tripline.toml",
    )
}

/// The one output format every command takes (`--format`): for `scan` and `watch` the format
/// of stdout, for `rules` and `alerts` of what they list or show.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A readable table (or page).
    Text,
    /// One JSON object per line (for scan and watch, the contract in the README).
    Jsonl,
}

/// Where a run's results go.
#[derive(clap::Args, Debug, Clone)]
pub struct OutputArgs {
    /// The format of the results on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Also send results to KIND:TARGET (repeatable): `jsonl:PATH` or `jsonl:-`, `text:PATH`.
    /// Options after `#`: `min_severity=LEVEL`, `rules=ID|ID`, `tags=TAG|TAG`. stdout keeps
    /// `--format` unless an output writes there.
    #[arg(long = "output", value_name = "KIND:TARGET")]
    pub outputs: Vec<tripline_pipeline::sink::OutputSpec>,
    /// Severity in colour in the text report: on a terminal (`auto`, unless NO_COLOR is set),
    /// `always` or `never`.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
}

/// When the text report is in colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Color {
    /// On a terminal, unless `NO_COLOR` is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// How the text report on stdout is drawn: colour as `color` says, and cut to the width of
/// the terminal (or of `COLUMNS`, when set).
fn stdout_style(color: Color) -> TextStyle {
    use std::io::IsTerminal;
    let terminal = std::io::stdout().is_terminal();
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let width = std::env::var("COLUMNS").ok().and_then(|c| c.parse::<usize>().ok()).or_else(|| {
        terminal
            .then(|| console::Term::stdout().size_checked())
            .flatten()
            .map(|(_, w)| usize::from(w))
    });
    TextStyle {
        color: match color {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => terminal && !no_color,
        },
        width,
    }
}

impl OutputArgs {
    /// The outputs of a run without a store: the configuration's, then the flags', then stdout
    /// in `--format` unless one of them writes there already.
    pub fn router(&self, config: &Config, setup: &Setup) -> anyhow::Result<Router> {
        Self::router_of(&self.specs(config)?, setup, false)
    }

    /// The outputs of a run with a store: the notifying ones (webhook, Slack, OCSF) deliver
    /// through the store's outbox, the others take results as they come.
    pub fn open_with_store(
        &self,
        config: &Config,
        setup: &Setup,
    ) -> anyhow::Result<(Router, Vec<OutboxOutput>)> {
        let specs = self.specs(config)?;
        Ok((Self::router_of(&specs, setup, true)?, Self::outbox_of(&specs)?))
    }

    /// Every output named, stdout's included.
    pub fn specs(&self, config: &Config) -> anyhow::Result<Vec<OutputSpec>> {
        let mut specs: Vec<OutputSpec> = config.outputs.clone();
        specs.extend(self.outputs.iter().cloned());
        let style = stdout_style(self.color);
        for spec in specs.iter_mut().filter(|s| s.is_stdout()) {
            spec.style = style;
        }
        match specs.iter().filter(|s| s.is_stdout()).count() {
            0 => specs.push(OutputSpec {
                style,
                ..OutputSpec::stdout(match self.format {
                    Format::Text => OutputFormat::Text,
                    Format::Jsonl => OutputFormat::Jsonl,
                })
            }),
            1 => {}
            _ => anyhow::bail!(
                "more than one output writes to stdout (`-`); give all but one a file"
            ),
        }
        Ok(specs)
    }

    /// The outputs that take results as they come (all of them without a store).
    pub fn router_of(
        specs: &[OutputSpec],
        setup: &Setup,
        with_store: bool,
    ) -> anyhow::Result<Router> {
        let mut outputs = Vec::new();
        for spec in specs.iter().filter(|s| !(with_store && s.notifies())) {
            outputs.push((spec.route.clone(), spec.open()?));
        }
        Ok(Router::new(outputs, &setup.ruleset.rules))
    }

    /// The notifying outputs, as the outbox delivers them.
    pub fn outbox_of(specs: &[OutputSpec]) -> anyhow::Result<Vec<OutboxOutput>> {
        let mut outbox = Vec::new();
        for spec in specs {
            outbox.extend(spec.open_outbox()?);
        }
        Ok(outbox)
    }

    /// Whether every output of the run is stdout (none named is the default, stdout).
    #[must_use]
    pub fn only_stdout(&self, config: &Config) -> bool {
        config.outputs.iter().chain(&self.outputs).all(|s| s.is_stdout())
    }

    /// Whether stdout streams signals (JSON lines), so no progress bar is drawn between them.
    pub fn streams_to_stdout(&self, config: &Config) -> bool {
        let listed = config.outputs.iter().chain(&self.outputs).find(|s| s.is_stdout());
        match listed {
            Some(spec) => spec.kind == tripline_pipeline::sink::output::OutputKind::Jsonl,
            None => self.format == Format::Jsonl,
        }
    }
}

/// Finishes every output and reports what could not be delivered; returns whether anything
/// was not (the run then exits 2).
pub fn finish_outputs(
    router: &mut tripline_pipeline::sink::Router,
    quiet: bool,
) -> anyhow::Result<bool> {
    let mut undelivered = false;
    for (label, delivery) in router.finish().context("failed to write results")? {
        if delivery.failed > 0 {
            undelivered = true;
            note!(
                "error: output {label}: {} notification(s) not delivered after every retry",
                delivery.failed
            );
            for reason in delivery.errors.iter().take(10) {
                note!("  {reason}");
            }
            if delivery.errors.len() > 10 {
                note!("  … and {} more", delivery.errors.len() - 10);
            }
        } else if !quiet && !label.ends_with(":-") && delivery.delivered > 0 {
            note!("output {label}: {} delivered", delivery.delivered);
        }
    }
    Ok(undelivered)
}

/// Reports what delivering the outbox did; returns whether something was dead-lettered (the
/// run then exits 2). Failures left pending are warnings: a later run delivers them.
pub fn report_outbox(
    reports: &[(String, tripline_pipeline::notify::outbox::OutboxReport)],
    quiet: bool,
) -> bool {
    let mut dead = false;
    for (label, report) in reports {
        if report.dead > 0 {
            dead = true;
            note!("error: output {label}: {} notification(s) dead-lettered (see `tripline alerts outbox --status dead`)", report.dead);
        }
        if report.failed > 0 {
            note!("warning: output {label}: {} notification(s) not delivered yet; kept in the outbox for the next run", report.failed);
        }
        for reason in report.errors.iter().take(10) {
            note!("  {reason}");
        }
        if report.errors.len() > 10 {
            note!("  … and {} more", report.errors.len() - 10);
        }
        if !quiet && report.delivered > 0 {
            note!("output {label}: {} delivered", report.delivered);
        }
    }
    dead
}

/// How to reach AWS for `s3://` inputs and queues.
#[derive(clap::Args, Clone)]
pub struct AwsArgs {
    /// Another AWS endpoint (an emulator, an S3-compatible store).
    #[arg(long, env = "AWS_ENDPOINT_URL", value_name = "URL")]
    endpoint_url: Option<String>,
    /// The AWS profile of the shared config files (else AWS_PROFILE, else `default`).
    #[arg(long = "aws-profile", value_name = "NAME")]
    aws_profile: Option<String>,
}

impl AwsArgs {
    /// These, with `endpoint` when no endpoint was given.
    pub fn with_endpoint(&self, endpoint: Option<&str>) -> Self {
        let mut aws = self.clone();
        if aws.endpoint_url.is_none() {
            aws.endpoint_url = endpoint.map(str::to_owned);
        }
        aws
    }

    pub fn options(&self) -> tripline_io::object::AwsOptions {
        tripline_io::object::AwsOptions {
            endpoint_url: self.endpoint_url.clone(),
            region: None,
            profile: self.aws_profile.clone(),
        }
    }
}
