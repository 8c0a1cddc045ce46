//! The configuration file, `tripline.toml`: what a deployment sets once — where the store is,
//! which rules and suppressions to load, the severity floor. Flags and environment variables
//! win over it; the binary merges them and passes the result down, so nothing reads a global.
//!
//! ```toml
//! store = "/var/lib/tripline/alerts.db"     # or "postgres://tripline@db/tripline"
//! rules = ["/etc/tripline/rules"]
//! suppressions = ["/etc/tripline/suppressions"]
//! min_severity = "medium"                    # scan and watch leave out rules below it
//!
//! [[outputs]]                                # besides stdout; see `sink::output`
//! to = "jsonl:/var/log/tripline/alerts.jsonl"
//! min_severity = "high"
//! ```
//!
//! Relative paths in it are relative to the file.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// What the file may set.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The store: a SQLite path or a `postgres://` URL.
    pub store: Option<String>,
    /// Rule files or folders, added to the built-in pack (`rules = [...]`), or a table with
    /// them and the rules turned off and on (`[rules] paths`, `disable`, `enable`).
    #[serde(default)]
    pub rules: RulesConfig,
    /// Suppression files or folders.
    #[serde(default)]
    pub suppressions: Vec<PathBuf>,
    /// Rules that can never raise anything this severe are left out (`--min-severity`).
    pub min_severity: Option<tripline_rule::Severity>,
    /// How long a store keeps closed alerts, old signals and delivered notifications
    /// (`"90d"`); every `scan --store` and `watch` poll forgets what is older.
    #[serde(default, deserialize_with = "span")]
    pub retention: Option<std::time::Duration>,
    /// Where results go besides stdout (`[[outputs]]`).
    #[serde(default, deserialize_with = "outputs")]
    pub outputs: Vec<crate::sink::OutputSpec>,
    /// What `tripline run` follows and where it answers (`[run]`).
    #[serde(default)]
    pub run: RunConfig,
}

/// The `[run]` table: what the long-running service follows, and its endpoint.
///
/// ```toml
/// [run]
/// queue = "https://sqs.eu-west-1.amazonaws.com/111122223333/cloudtrail"   # or a list; folder = "…" too
/// listen = "127.0.0.1:9464"          # /metrics, /healthz, /readyz
/// delete_bad_messages = false        # else left for the queue's redrive policy
/// ```
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// SQS queues of notifications to follow (one, or a list).
    #[serde(default, deserialize_with = "one_or_many")]
    pub queue: Vec<String>,
    /// Folders to follow (one, or a list).
    #[serde(default, deserialize_with = "one_or_many")]
    pub folder: Vec<PathBuf>,
    /// The address of `/metrics`, `/healthz` and `/readyz`.
    pub listen: Option<String>,
    /// Delete queue messages that can never succeed.
    #[serde(default)]
    pub delete_bad_messages: bool,
    /// Another AWS endpoint (an emulator, an S3-compatible store).
    pub endpoint_url: Option<String>,
}

/// A setting written as one value or a list of them.
fn one_or_many<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany<T> {
        One(T),
        Many(Vec<T>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(value) => vec![value],
        OneOrMany::Many(values) => values,
    })
}

/// The `rules` setting: the paths, and the selectors of rules turned off and on.
#[derive(Debug, Default, Clone)]
pub struct RulesConfig {
    /// Rule files or folders.
    pub paths: Vec<PathBuf>,
    /// Rules turned off.
    pub disable: Vec<crate::toggle::Selector>,
    /// Rules kept on whatever turns them off.
    pub enable: Vec<crate::toggle::Selector>,
}

/// `rules = [...]` or `[rules]` with `paths`, `disable` and `enable`. By hand rather than an
/// untagged enum, whose one error ("did not match any variant") would hide what was wrong.
impl<'de> Deserialize<'de> for RulesConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
        struct Either;
        impl<'de> serde::de::Visitor<'de> for Either {
            type Value = RulesConfig;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "a list of rule files or folders, or a table of paths, disable and enable",
                )
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<RulesConfig, A::Error> {
                let paths = Vec::<PathBuf>::deserialize(SeqAccessDeserializer::new(seq))?;
                Ok(RulesConfig { paths, ..RulesConfig::default() })
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<RulesConfig, A::Error> {
                let table = RulesTable::deserialize(MapAccessDeserializer::new(map))?;
                Ok(RulesConfig {
                    paths: table.paths,
                    disable: table.disable.into_iter().map(|s| s.0).collect(),
                    enable: table.enable.into_iter().map(|s| s.0).collect(),
                })
            }
        }
        d.deserialize_any(Either)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesTable {
    #[serde(default)]
    paths: Vec<PathBuf>,
    #[serde(default)]
    disable: Vec<SelectorText>,
    #[serde(default)]
    enable: Vec<SelectorText>,
}

/// A selector as the configuration writes it (parsed when read, so a bad one is an error there).
#[derive(Deserialize)]
#[serde(try_from = "String")]
struct SelectorText(crate::toggle::Selector);

impl TryFrom<String> for SelectorText {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        text.parse().map(Self)
    }
}

fn span<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<std::time::Duration>, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text)
        .map(Some)
        .map_err(|e| serde::de::Error::custom(format!("`{text}` is not a span such as 90d: {e}")))
}

fn outputs<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<crate::sink::OutputSpec>, D::Error> {
    let raw: Vec<crate::sink::output::RawOutput> = Vec::deserialize(d)?;
    raw.into_iter()
        .map(|r| crate::sink::OutputSpec::try_from(r).map_err(serde::de::Error::custom))
        .collect()
}

/// Why a configuration file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("failed to read the configuration {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file is not a valid configuration (the message carries line and column).
    #[error("{path} is not a valid configuration: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What the TOML reader said.
        message: String,
    },
}

impl Config {
    /// The configuration to use: `explicit` (from `--config` or `TRIPLINE_CONFIG`) must
    /// exist; else `tripline.toml` in the current folder when present; else none.
    ///
    /// # Errors
    /// When the file cannot be read or is not a valid configuration.
    pub fn find(explicit: Option<&Path>) -> Result<Self, ConfigError> {
        match explicit {
            Some(path) => Self::read(path),
            None => match Some(PathBuf::from("tripline.toml")).filter(|p| p.is_file()) {
                Some(path) => Self::read(&path),
                None => Ok(Self::default()),
            },
        }
    }

    /// Reads one configuration file; relative paths in it become relative to its folder.
    ///
    /// # Errors
    /// When the file cannot be read or is not a valid configuration.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        let mut config: Self = toml::from_str(&text)
            .map_err(|e| ConfigError::Invalid { path: path.to_owned(), message: e.to_string() })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let relative = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        config.rules.paths.iter_mut().for_each(relative);
        config.suppressions.iter_mut().for_each(relative);
        for output in &mut config.outputs {
            if output.is_file() && Path::new(&output.target).is_relative() {
                output.target = base.join(&output.target).to_string_lossy().into_owned();
            }
        }
        for folder in &mut config.run.folder {
            relative(folder);
        }
        if let Some(store) = &mut config.store {
            if !store.contains("://") && Path::new(store.as_str()).is_relative() {
                *store = base.join(store.as_str()).to_string_lossy().into_owned();
            }
        }
        Ok(config)
    }
}
