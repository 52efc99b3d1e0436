//! Loading: the layers, per-layer checks, merging with the `config` crate, and the checks that
//! need the merged result.
//!
//! Every layer is parsed and checked against the schema on its own (unknown keys, types,
//! ranges), so an error names the file, environment variable or flag the value came from; the
//! layers are then merged by `config` in order and deserialised into [`Settings`]. Checks that
//! involve several keys or the file system run last, naming the key and the layer that set it.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use super::built_in::{profile_toml, DEFAULT_TOML};
use super::error::{ConfigError, ErrorKind, Origin};
use super::schema::{self, KeySpec, Val, REDACTED, SCHEMA};
use super::{Cli, Profile, Settings, CONFIG_DIR_ENV, ENV_PREFIX, PROFILE_ENV};

/// One value of one layer, type-checked, with relative paths resolved.
#[derive(Debug)]
struct Entry {
    spec: &'static KeySpec,
    val: Val,
    origin: Origin,
}

/// Which layer set each key last.
type Provenance = HashMap<&'static str, Origin>;

/// Which layer (file, built-in file, environment variable or flag) set each key of a loaded
/// configuration, as [`Settings::load_with_origins`] returns it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origins(Provenance);

impl Origins {
    /// The layer that set `key` (`section.key`), if it is a known key.
    pub fn get(&self, key: &str) -> Option<&Origin> {
        self.0.get(key)
    }
}

impl Settings {
    /// Loads the effective configuration for this command line, reading the process
    /// environment (`WEB_SERVER_PROFILE`, `WEB_SERVER_CONFIG_DIR`, `WEB_SERVER__SECTION__KEY`)
    /// and resolving relative flag and environment paths against the current directory.
    ///
    /// Layers, later wins: `default.toml`, the profile's file, `--config FILE`, the
    /// environment, the flags. Nothing is bound or started; the document root and any TLS files
    /// are checked to exist. See docs/configuration.md.
    pub fn load(cli: &Cli) -> Result<Settings, ConfigError> {
        let cwd = std::env::current_dir().map_err(|e| {
            ConfigError::new(
                ErrorKind::Read,
                None,
                None,
                format!("the current directory: {e}"),
            )
        })?;
        Self::load_from(cli, process_env()?, &cwd)
    }

    /// [`Settings::load`] with an explicit environment and current directory, so tests (and
    /// embedders) need not touch the process's. `env` holds every variable the loader should
    /// see; variables without the `WEB_SERVER` prefixes are ignored. `cwd` should be absolute:
    /// relative paths from flags and variables, `--config` and `--config-dir` resolve against it.
    ///
    /// ```no_run
    /// use clap::Parser;
    /// use web_server::config::{Cli, Settings};
    ///
    /// let cli = Cli::try_parse_from(["web_server", "--profile", "test", "--docroot", "/srv/site"])?;
    /// let env = [("WEB_SERVER__TIMEOUTS__HEADER_MS", "200")];
    /// let settings = Settings::load_from(&cli, env, &std::env::current_dir()?)?;
    /// assert_eq!(settings.timeouts.header_ms, 200);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn load_from<I, K, V>(cli: &Cli, env: I, cwd: &Path) -> Result<Settings, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self::load_with_origins_from(cli, env, cwd).map(|(settings, _)| settings)
    }

    /// [`Settings::load`], also returning which layer set each key (what `--print-config`
    /// shows beside each value).
    pub fn load_with_origins(cli: &Cli) -> Result<(Settings, Origins), ConfigError> {
        let cwd = std::env::current_dir().map_err(|e| {
            ConfigError::new(
                ErrorKind::Read,
                None,
                None,
                format!("the current directory: {e}"),
            )
        })?;
        Self::load_with_origins_from(cli, process_env()?, &cwd)
    }

    /// [`Settings::load_from`], also returning which layer set each key.
    pub fn load_with_origins_from<I, K, V>(
        cli: &Cli,
        env: I,
        cwd: &Path,
    ) -> Result<(Settings, Origins), ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let env: Vec<(String, String)> =
            env.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        let profile = resolve_profile(cli, &env)?;
        let (default_origin, mut layers) = match resolve_config_dir(cli, &env, cwd)? {
            Some((config_dir, dir_origin)) => {
                // Relative paths in the directory's files resolve against the project root:
                // the directory that holds `config/`.
                let root = config_dir.parent().unwrap_or(&config_dir).to_path_buf();
                let default = config_dir.join("default.toml");
                let layers = vec![
                    file_layer(&default, &root, &dir_origin)?,
                    file_layer(&config_dir.join(profile.file_name()), &root, &dir_origin)?,
                ];
                (Origin::File(default), layers)
            }
            None => {
                // The compiled-in files: relative paths in them (the sample site of the dev and
                // test profiles) resolve against the current directory, so `cargo run` in a
                // clone serves the sample site and an installed binary needs `--docroot`.
                let default = Origin::BuiltIn("default.toml");
                let layers = vec![
                    toml_layer(DEFAULT_TOML, &default, cwd)?,
                    toml_layer(
                        profile_toml(profile),
                        &Origin::BuiltIn(profile_file_name(profile)),
                        cwd,
                    )?,
                ];
                (default, layers)
            }
        };
        if let Some(file) = &cli.config {
            let path = cwd.join(file);
            let base = path.parent().unwrap_or(cwd).to_path_buf();
            layers.push(file_layer(&path, &base, &Origin::Flag("--config"))?);
        }
        layers.push(env_layer(&env, cwd)?);
        layers.push(flag_layer(cli, cwd)?);
        let (mut settings, provenance) = merge(profile, &default_origin, layers)?;
        validate(&mut settings, &provenance)?;
        Ok((settings, Origins(provenance)))
    }

    /// The settings as TOML, loadable again with `--config`, with `admin.token` replaced by
    /// `"<redacted>"` when set and each key followed by a comment naming the layer that set it
    /// (`# built-in default.toml`, `# environment variable WEB_SERVER__SERVER__BIND`, ...).
    pub fn to_redacted_toml_with_origins(
        &self,
        origins: &Origins,
    ) -> Result<String, toml::ser::Error> {
        let plain = self.to_redacted_toml()?;
        let mut section = String::new();
        let mut annotated = String::with_capacity(plain.len() * 2);
        for line in plain.lines() {
            annotated.push_str(line);
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.to_owned();
            } else if let Some((name, _)) = line.split_once(" = ") {
                if let Some(origin) = origins.get(&format!("{section}.{}", name.trim())) {
                    annotated.push_str(&format!("  # {origin}"));
                }
            }
            annotated.push('\n');
        }
        Ok(annotated)
    }

    /// The settings as TOML, loadable again with `--config`, with `admin.token` replaced by
    /// `"<redacted>"` when set. A comment line first names the profile.
    pub fn to_redacted_toml(&self) -> Result<String, toml::ser::Error> {
        let mut shown = self.clone();
        for secret in [&mut shown.admin.token, &mut shown.admin.metrics_token] {
            if secret.is_some() {
                *secret = Some(REDACTED.to_owned());
            }
        }
        let body = toml::to_string(&shown)?;
        Ok(format!(
            "# web_server effective configuration (profile \"{}\"; secrets redacted)\n\n{body}",
            self.profile
        ))
    }
}

/// The process environment as UTF-8 pairs. Variables that are not UTF-8 are skipped, unless
/// they look like ours, which is an error (their value cannot be interpreted).
fn process_env() -> Result<Vec<(String, String)>, ConfigError> {
    let mut env = Vec::new();
    for (name, value) in std::env::vars_os() {
        let Ok(name) = name.into_string() else {
            continue;
        };
        match value.into_string() {
            Ok(value) => env.push((name, value)),
            Err(_) if is_ours(&name) => {
                return Err(ConfigError::new(
                    ErrorKind::InvalidValue,
                    None,
                    Some(Origin::Env(name)),
                    "the value is not valid UTF-8",
                ))
            }
            Err(_) => {}
        }
    }
    Ok(env)
}

/// Whether an environment variable belongs to web_server's configuration.
fn is_ours(name: &str) -> bool {
    name == PROFILE_ENV || name == CONFIG_DIR_ENV || strip_env_prefix(name).is_some()
}

/// `WEB_SERVER__SERVER__BIND` → `Some("SERVER__BIND")`; the prefix is matched ignoring ASCII
/// case, as the `config` crate does.
fn strip_env_prefix(name: &str) -> Option<&str> {
    let head = name.get(..ENV_PREFIX.len())?;
    head.eq_ignore_ascii_case(ENV_PREFIX)
        .then(|| &name[ENV_PREFIX.len()..])
}

fn env_value<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
    env.iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn resolve_profile(cli: &Cli, env: &[(String, String)]) -> Result<Profile, ConfigError> {
    if let Some(profile) = cli.profile {
        return Ok(profile);
    }
    match env_value(env, PROFILE_ENV) {
        None => Ok(Profile::default()),
        Some(text) => text.parse().map_err(|detail: String| {
            ConfigError::new(
                ErrorKind::InvalidValue,
                None,
                Some(Origin::Env(PROFILE_ENV.to_owned())),
                detail,
            )
        }),
    }
}

/// The configuration directory and where it was chosen, or `None` for the compiled-in files.
/// A directory that was named but is not one is an error naming it and where it was named.
fn resolve_config_dir(
    cli: &Cli,
    env: &[(String, String)],
    cwd: &Path,
) -> Result<Option<(PathBuf, Origin)>, ConfigError> {
    let chosen = if let Some(dir) = &cli.config_dir {
        (cwd.join(dir), Origin::Flag("--config-dir"))
    } else if let Some(dir) = env_value(env, CONFIG_DIR_ENV).filter(|d| !d.is_empty()) {
        (cwd.join(dir), Origin::Env(CONFIG_DIR_ENV.to_owned()))
    } else {
        return Ok(None);
    };
    let (dir, origin) = chosen;
    match fs::metadata(&dir) {
        Ok(meta) if meta.is_dir() => Ok(Some((dir, origin))),
        Ok(_) => Err(ConfigError::new(
            ErrorKind::InvalidValue,
            None,
            Some(origin),
            format!(
                "configuration directory {} is not a directory",
                dir.display()
            ),
        )),
        Err(e) => Err(ConfigError::new(
            ErrorKind::InvalidValue,
            None,
            Some(origin),
            missing(&dir, "configuration directory", &e),
        )),
    }
}

/// The file name of a profile's compiled-in file, as [`Origin::BuiltIn`] names it.
fn profile_file_name(profile: Profile) -> &'static str {
    match profile {
        Profile::Dev => "dev.toml",
        Profile::Prod => "prod.toml",
        Profile::Test => "test.toml",
    }
}

/// A file of a configuration directory (or the `--config` file): read, then checked as
/// [`toml_layer`] does. `chosen_by` names where the file or its directory was named, for the
/// error when it cannot be read.
fn file_layer(path: &Path, base: &Path, chosen_by: &Origin) -> Result<Vec<Entry>, ConfigError> {
    let origin = Origin::File(path.to_path_buf());
    let text = fs::read_to_string(path).map_err(|e| {
        ConfigError::new(
            ErrorKind::Read,
            None,
            Some(origin.clone()),
            format!("{e} (named by {chosen_by})"),
        )
    })?;
    toml_layer(&text, &origin, base)
}

/// One TOML layer, every key checked against the schema; relative paths resolve against
/// `base`.
fn toml_layer(text: &str, origin: &Origin, base: &Path) -> Result<Vec<Entry>, ConfigError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| {
        ConfigError::new(
            ErrorKind::Syntax,
            None,
            Some(origin.clone()),
            syntax_detail(text, &e),
        )
    })?;
    let mut entries = Vec::new();
    for (section, value) in &table {
        if !schema::is_section(section) {
            return Err(unknown_in_file(section, origin));
        }
        let toml::Value::Table(keys) = value else {
            return Err(ConfigError::invalid(
                section,
                origin.clone(),
                format!("expected a table ([{section}] with its keys below it)"),
            ));
        };
        for (name, value) in keys {
            let key = format!("{section}.{name}");
            let Some(spec) = schema::lookup(&key) else {
                return Err(unknown_in_file(&key, origin));
            };
            let val = spec
                .kind
                .parse_toml(value)
                .map_err(|detail| ConfigError::invalid(spec.key, origin.clone(), detail))?;
            let val = resolve_path(val, base, spec, origin)?;
            entries.push(Entry {
                spec,
                val,
                origin: origin.clone(),
            });
        }
    }
    Ok(entries)
}

/// The compiled-in `default.toml` alone, loaded by the same loader as every configuration
/// (checked against the schema, every key required) but without the checks that look at the
/// machine: its `server.docroot` stays relative and need not exist. Parsed once. Every in-code
/// default ([`ServerConfig::default`](super::ServerConfig), `ConnectionOptions::default`,
/// `CacheOptions::default`) derives from it, so they cannot drift from the file.
///
/// # Panics
///
/// On first use, if the compiled-in `default.toml` does not load: a defect of the build that
/// the unit tests catch, not something a user can cause.
pub fn built_in_defaults() -> &'static Settings {
    static DEFAULTS: LazyLock<Settings> = LazyLock::new(|| {
        let origin = Origin::BuiltIn("default.toml");
        toml_layer(DEFAULT_TOML, &origin, Path::new(""))
            .and_then(|layer| merge(Profile::default(), &origin, vec![layer]))
            .map(|(settings, _)| settings)
            .unwrap_or_else(|err| {
                panic!("the compiled-in default.toml must load on its own: {err}")
            })
    });
    &DEFAULTS
}

/// "line 3, column 9: <message>", on one line.
fn syntax_detail(text: &str, err: &toml::de::Error) -> String {
    let message = err
        .message()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    match err.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

fn unknown_in_file(key: &str, origin: &Origin) -> ConfigError {
    let hint = if schema::is_section(key) {
        String::new()
    } else if let Some(known) = schema::suggest(key) {
        format!(" (did you mean `{known}`?)")
    } else {
        String::new()
    };
    ConfigError::new(ErrorKind::UnknownKey, Some(key), Some(origin.clone()), hint)
}

fn env_layer(env: &[(String, String)], cwd: &Path) -> Result<Vec<Entry>, ConfigError> {
    let mut ours: Vec<(&str, &str, String)> = env
        .iter()
        .filter_map(|(name, value)| {
            let rest = strip_env_prefix(name)?;
            let key = rest
                .split("__")
                .map(str::to_ascii_lowercase)
                .collect::<Vec<_>>()
                .join(".");
            Some((name.as_str(), value.as_str(), key))
        })
        .collect();
    // Sorted, so that with several bad variables the same one is reported every time.
    ours.sort();
    let mut set_by: HashMap<&'static str, &str> = HashMap::new();
    let mut entries = Vec::new();
    for (name, value, key) in ours {
        let origin = Origin::Env(name.to_owned());
        let Some(spec) = schema::lookup(&key) else {
            let hint = if schema::is_section(&key) {
                let example = SCHEMA
                    .iter()
                    .find(|s| s.section() == key)
                    .map(|s| s.env_var());
                format!(
                    " (`{key}` is a section; set one of its keys, e.g. {})",
                    example.unwrap_or_default()
                )
            } else if let Some(known) = schema::suggest(&key) {
                format!(" (did you mean {}?)", schema::env_var_for(known))
            } else {
                String::new()
            };
            return Err(ConfigError::new(
                ErrorKind::UnknownKey,
                Some(&key),
                Some(origin),
                hint,
            ));
        };
        if let Some(other) = set_by.insert(spec.key, name) {
            return Err(ConfigError::invalid(
                spec.key,
                origin,
                format!("environment variable {other} sets the same key"),
            ));
        }
        let val = spec
            .kind
            .parse_text(value)
            .map_err(|detail| ConfigError::invalid(spec.key, origin.clone(), detail))?;
        let val = resolve_path(val, cwd, spec, &origin)?;
        entries.push(Entry { spec, val, origin });
    }
    Ok(entries)
}

fn flag_layer(cli: &Cli, cwd: &Path) -> Result<Vec<Entry>, ConfigError> {
    let mut flags: Vec<(&str, &'static str, Val)> = Vec::new();
    if !cli.bind.is_empty() {
        flags.push(("server.bind", "--bind", Val::Addrs(cli.bind.clone())));
    }
    if let Some(dir) = &cli.docroot {
        let path = (!dir.as_os_str().is_empty()).then(|| dir.clone());
        flags.push(("server.docroot", "--docroot", Val::Path(path)));
    }
    if let Some(workers) = cli.workers {
        let workers = u64::try_from(workers).unwrap_or(u64::MAX);
        flags.push(("server.workers", "--workers", Val::Int(workers)));
    }
    if let Some(addr) = cli.admin_bind {
        flags.push(("admin.bind", "--admin-bind", Val::Addr(Some(addr))));
    }
    if let Some(file) = &cli.admin_token_file {
        let token = read_token_file(&cwd.join(file))?;
        flags.push(("admin.token", "--admin-token-file", Val::Text(token)));
    }
    if !cli.tls_bind.is_empty() {
        flags.push(("tls.bind", "--tls-bind", Val::Addrs(cli.tls_bind.clone())));
    }
    for (key, flag, file) in [
        ("tls.cert", "--tls-cert", &cli.tls_cert),
        ("tls.key", "--tls-key", &cli.tls_key),
    ] {
        if let Some(file) = file {
            let path = (!file.as_os_str().is_empty()).then(|| file.clone());
            flags.push((key, flag, Val::Path(path)));
        }
    }
    if let Some(level) = &cli.log_level {
        flags.push(("log.level", "--log-level", Val::Text(level.clone())));
    }
    if let Some(format) = &cli.log_format {
        flags.push(("log.format", "--log-format", Val::Text(format.clone())));
    }
    let mut entries = Vec::new();
    for (key, flag, val) in flags {
        let spec = schema::lookup(key).expect("flags set known keys");
        let origin = Origin::Flag(flag);
        spec.kind
            .check(&val)
            .map_err(|detail| ConfigError::invalid(spec.key, origin.clone(), detail))?;
        let val = resolve_path(val, cwd, spec, &origin)?;
        entries.push(Entry { spec, val, origin });
    }
    Ok(entries)
}

/// The admin token in `path`: its contents without the trailing line break an editor or
/// `echo` adds. An unreadable or empty file is an error naming it.
fn read_token_file(path: &Path) -> Result<String, ConfigError> {
    let origin = Origin::Flag("--admin-token-file");
    let text = fs::read_to_string(path).map_err(|e| {
        ConfigError::invalid(
            "admin.token",
            origin.clone(),
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    let token = text.strip_suffix('\n').unwrap_or(&text);
    let token = token.strip_suffix('\r').unwrap_or(token);
    if token.is_empty() {
        return Err(ConfigError::invalid(
            "admin.token",
            origin,
            format!("{} is empty", path.display()),
        ));
    }
    Ok(token.to_owned())
}

/// Makes a relative path absolute against `base`; paths must be UTF-8 (they are shown and
/// merged as text).
fn resolve_path(
    val: Val,
    base: &Path,
    spec: &KeySpec,
    origin: &Origin,
) -> Result<Val, ConfigError> {
    let Val::Path(Some(path)) = val else {
        return Ok(val);
    };
    let path = base.join(path);
    if path.to_str().is_none() {
        return Err(ConfigError::invalid(
            spec.key,
            origin.clone(),
            format!("{} is not valid UTF-8", path.display()),
        ));
    }
    Ok(Val::Path(Some(path)))
}

/// A layer handed to the `config` crate: dotted keys with values whose origin names the layer.
#[derive(Debug, Clone)]
struct LayerSource(::config::Map<String, ::config::Value>);

impl ::config::Source for LayerSource {
    fn clone_into_box(&self) -> Box<dyn ::config::Source + Send + Sync> {
        Box::new(self.clone())
    }

    fn collect(&self) -> Result<::config::Map<String, ::config::Value>, ::config::ConfigError> {
        Ok(self.0.clone())
    }
}

fn config_value(val: &Val, origin: &Origin) -> ::config::Value {
    use ::config::{Value, ValueKind};
    let origin = origin.to_string();
    let text = |s: String| Value::new(Some(&origin), ValueKind::String(s));
    match val {
        Val::Int(n) => Value::new(
            Some(&origin),
            i64::try_from(*n).map_or(ValueKind::U64(*n), ValueKind::I64),
        ),
        Val::Bool(b) => Value::new(Some(&origin), ValueKind::Boolean(*b)),
        Val::Text(s) => text(s.clone()),
        Val::Addrs(addrs) => Value::new(
            Some(&origin),
            ValueKind::Array(addrs.iter().map(|a| text(a.to_string())).collect()),
        ),
        Val::Hosts(hosts) => Value::new(
            Some(&origin),
            ValueKind::Array(hosts.iter().map(|h| text(h.clone())).collect()),
        ),
        Val::Cidrs(blocks) => Value::new(
            Some(&origin),
            ValueKind::Array(blocks.iter().map(|b| text(b.to_string())).collect()),
        ),
        Val::Addr(addr) => text(addr.map(|a| a.to_string()).unwrap_or_default()),
        Val::Path(path) => text(
            path.as_deref()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default(),
        ),
    }
}

/// Merges the layers in order into settings, with the layer that set each key; checks only
/// what the schema and the types say (see [`validate`] for the rest).
fn merge(
    profile: Profile,
    default_origin: &Origin,
    layers: Vec<Vec<Entry>>,
) -> Result<(Settings, Provenance), ConfigError> {
    let mut provenance = Provenance::new();
    let mut builder = ::config::Config::builder();
    for layer in layers {
        let mut values = ::config::Map::new();
        for entry in layer {
            values.insert(
                entry.spec.key.to_owned(),
                config_value(&entry.val, &entry.origin),
            );
            provenance.insert(entry.spec.key, entry.origin);
        }
        builder = builder.add_source(LayerSource(values));
    }
    if let Some(spec) = SCHEMA.iter().find(|s| !provenance.contains_key(s.key)) {
        return Err(ConfigError::new(
            ErrorKind::MissingValue,
            Some(spec.key),
            Some(default_origin.clone()),
            format!("no layer sets it; {default_origin} must list every key"),
        ));
    }
    let explain = |err: ::config::ConfigError| {
        let key = match &err {
            ::config::ConfigError::Type { key, .. } | ::config::ConfigError::At { key, .. } => {
                key.clone()
            }
            ::config::ConfigError::NotFound(key) => Some(key.clone()),
            _ => None,
        };
        let origin = key.as_deref().and_then(|k| provenance.get(k)).cloned();
        ConfigError::new(
            ErrorKind::InvalidValue,
            key.as_deref(),
            origin,
            err.to_string(),
        )
    };
    let mut settings: Settings = builder
        .build()
        .and_then(|merged| merged.try_deserialize())
        .map_err(explain)?;
    settings.profile = profile;
    Ok((settings, provenance))
}

/// The layer that set `key`; [`merge`] has checked that every key is set by some layer.
fn origin_of(provenance: &Provenance, key: &str) -> Origin {
    provenance[key].clone()
}

/// Checks that need the merged settings or the file system.
fn validate(settings: &mut Settings, provenance: &Provenance) -> Result<(), ConfigError> {
    settings.server.docroot = existing_dir(&settings.server.docroot, "server.docroot", provenance)?;

    if settings.tls.enabled() {
        for (key, path) in [
            ("tls.cert", &settings.tls.cert),
            ("tls.key", &settings.tls.key),
        ] {
            let Some(path) = path else {
                return Err(ConfigError::new(
                    ErrorKind::MissingValue,
                    Some(key),
                    Some(origin_of(provenance, "tls.bind")),
                    format!(
                        "required because `tls.bind` is set (in {})",
                        origin_of(provenance, "tls.bind")
                    ),
                ));
            };
            existing_file(path, key, provenance)?;
        }
        if let (Some(cert), Some(key)) = (&settings.tls.cert, &settings.tls.key) {
            // A certificate that cannot be used is a configuration error, found before
            // anything binds, rather than a failure at the first handshake.
            crate::tls::load_certified_key(cert, key).map_err(|detail| {
                ConfigError::invalid("tls.cert", origin_of(provenance, "tls.cert"), detail)
            })?;
        }
    }

    if settings.server.proxy_protocol && settings.server.trusted_proxies.is_empty() {
        // Every header would be ignored: the operator meant to name the balancers.
        return Err(ConfigError::invalid(
            "server.trusted_proxies",
            origin_of(provenance, "server.proxy_protocol"),
            format!(
                "server.proxy_protocol = true (in {}) needs the balancers that send the header \
                 listed in server.trusted_proxies, e.g. [\"10.0.0.0/8\"]",
                origin_of(provenance, "server.proxy_protocol")
            ),
        ));
    }

    for (key, secret) in [
        ("admin.token", &settings.admin.token),
        ("admin.metrics_token", &settings.admin.metrics_token),
    ] {
        if secret.as_deref() == Some(REDACTED) {
            return Err(ConfigError::invalid(
                key,
                origin_of(provenance, key),
                format!(
                    "{REDACTED:?} is the placeholder --print-config writes; set the real token"
                ),
            ));
        }
    }

    if settings.profile == Profile::Prod {
        if let Some(admin) = settings.admin.bind {
            match &settings.admin.token {
                None => {
                    return Err(ConfigError::new(
                        ErrorKind::MissingValue,
                        Some("admin.token"),
                        Some(origin_of(provenance, "admin.bind")),
                        format!(
                            "the prod profile requires an admin token while the admin endpoint \
                             is enabled (admin.bind = \"{admin}\" in {}); set {} or admin.token \
                             in a --config file, or disable the endpoint with admin.bind = \"\"",
                            origin_of(provenance, "admin.bind"),
                            schema::env_var_for("admin.token"),
                        ),
                    ))
                }
                Some(token) if token.len() < MIN_PROD_TOKEN_LEN => {
                    return Err(ConfigError::invalid(
                        "admin.token",
                        origin_of(provenance, "admin.token"),
                        format!(
                            "the prod profile requires at least {MIN_PROD_TOKEN_LEN} characters, \
                             found {}",
                            token.len()
                        ),
                    ))
                }
                Some(_) => {}
            }
        }
    }

    let cache = &settings.cache;
    if cache.enabled() && cache.max_file_bytes > cache.max_bytes {
        return Err(ConfigError::invalid(
            "cache.max_file_bytes",
            origin_of(provenance, "cache.max_file_bytes"),
            format!(
                "{} is larger than cache.max_bytes = {} (in {})",
                cache.max_file_bytes,
                cache.max_bytes,
                origin_of(provenance, "cache.max_bytes")
            ),
        ));
    }

    check_address_clashes(settings, provenance)
}

/// The shortest admin token the prod profile accepts: guessing 16 random characters is out of
/// reach, while a short word is not.
const MIN_PROD_TOKEN_LEN: usize = 16;

fn existing_dir(path: &Path, key: &str, provenance: &Provenance) -> Result<PathBuf, ConfigError> {
    let origin = origin_of(provenance, key);
    // A compiled-in default names the source tree's sample site, which only a clone has: say
    // how to name the site instead.
    let hint = match &origin {
        Origin::BuiltIn(_) => format!(
            " (a default; name the site's directory with --docroot DIR or {})",
            schema::env_var_for(key)
        ),
        _ => String::new(),
    };
    let invalid =
        |detail: String| ConfigError::invalid(key, origin.clone(), format!("{detail}{hint}"));
    match fs::metadata(path) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(invalid(format!("{} is not a directory", path.display()))),
        Err(e) => return Err(invalid(missing(path, "directory", &e))),
    }
    let canonical =
        fs::canonicalize(path).map_err(|e| invalid(format!("{}: {e}", path.display())))?;
    if canonical.to_str().is_none() {
        return Err(invalid(format!(
            "{} is not valid UTF-8",
            canonical.display()
        )));
    }
    Ok(canonical)
}

fn existing_file(path: &Path, key: &str, provenance: &Provenance) -> Result<(), ConfigError> {
    let invalid = |detail: String| ConfigError::invalid(key, origin_of(provenance, key), detail);
    match fs::metadata(path) {
        Ok(meta) if meta.is_file() => Ok(()),
        Ok(_) => Err(invalid(format!("{} is not a file", path.display()))),
        Err(e) => Err(invalid(missing(path, "file", &e))),
    }
}

fn missing(path: &Path, what: &str, err: &io::Error) -> String {
    if err.kind() == io::ErrorKind::NotFound {
        format!("{what} {} does not exist", path.display())
    } else {
        format!("cannot access {what} {}: {err}", path.display())
    }
}

/// Two listeners on the same port fail at bind time; say so now, naming both keys. Port 0 never
/// clashes; an unspecified address (`0.0.0.0`, `[::]`) clashes with any of its family.
fn check_address_clashes(settings: &Settings, provenance: &Provenance) -> Result<(), ConfigError> {
    let mut seen: Vec<(&str, std::net::SocketAddr)> = Vec::new();
    let listeners = settings
        .server
        .bind
        .iter()
        .map(|a| ("server.bind", *a))
        .chain(settings.tls.bind.iter().map(|a| ("tls.bind", *a)))
        .chain(settings.admin.bind.map(|a| ("admin.bind", a)));
    for (key, addr) in listeners {
        let clash = seen.iter().find(|(_, other)| {
            addr.port() != 0
                && addr.port() == other.port()
                && addr.is_ipv4() == other.is_ipv4()
                && (addr.ip() == other.ip()
                    || addr.ip().is_unspecified()
                    || other.ip().is_unspecified())
        });
        if let Some((other_key, other)) = clash {
            let also = if *other_key == key {
                format!("{other} is listed too")
            } else {
                format!(
                    "{other} in `{other_key}` (in {}) uses the same port",
                    origin_of(provenance, other_key)
                )
            };
            return Err(ConfigError::invalid(
                key,
                origin_of(provenance, key),
                format!("{addr} cannot be bound: {also}"),
            ));
        }
        seen.push((key, addr));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use clap::Parser;

    use super::*;
    use crate::config::LogFormat;

    /// A directory under the system's temporary directory, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "web_server-config-unit-{}-{}-{name}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            fs::create_dir_all(&dir).unwrap();
            TempDir(dir.canonicalize().unwrap())
        }

        fn path(&self) -> &Path {
            &self.0
        }

        fn write(&self, name: &str, text: &str) -> PathBuf {
            let path = self.0.join(name);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, text).unwrap();
            path
        }

        fn mkdir(&self, name: &str) -> PathBuf {
            let path = self.0.join(name);
            fs::create_dir_all(&path).unwrap();
            path
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn cli(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("web_server").chain(args.iter().copied())).unwrap()
    }

    const NO_ENV: [(&str, &str); 0] = [];

    /// The compiled-in configuration files written to `root/config`.
    fn copy_config(root: &TempDir) -> PathBuf {
        let dir = root.mkdir("config");
        for (name, text) in crate::config::BUILT_IN_FILES {
            fs::write(dir.join(name), text).unwrap();
        }
        dir
    }

    #[test]
    fn every_profile_loads_with_its_documented_values() {
        let tmp = TempDir::new("profiles");
        let site = tmp.mkdir("site");
        let site_arg = site.to_str().unwrap();
        let token = [("WEB_SERVER__ADMIN__TOKEN", "0123456789abcdef")];

        let dev = Settings::load_from(&cli(&["--docroot", site_arg]), NO_ENV, tmp.path()).unwrap();
        assert_eq!(dev.profile, Profile::Dev);
        assert_eq!(
            dev.server.bind,
            ["127.0.0.1:8080".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(dev.log.format, LogFormat::Pretty);
        assert!(dev.admin.allow_kill);
        assert_eq!(dev.cache.revalidate_ms, 0);

        let prod_cli = cli(&["--profile", "prod", "--docroot", site_arg]);
        let prod = Settings::load_from(&prod_cli, token, tmp.path()).unwrap();
        assert_eq!(
            prod.server.bind,
            ["0.0.0.0:8080".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(prod.log.format, LogFormat::Json);
        assert!(!prod.admin.allow_kill);
        assert_eq!(prod.admin.token.as_deref(), Some("0123456789abcdef"));
        assert!(prod.limits.max_header_bytes < dev.limits.max_header_bytes);
        assert!(prod.limits.max_body_bytes < dev.limits.max_body_bytes);
        assert!(prod.timeouts.header() < dev.timeouts.header());

        let test_cli = cli(&["--profile", "test", "--docroot", site_arg]);
        let test = Settings::load_from(&test_cli, NO_ENV, tmp.path()).unwrap();
        assert_eq!(
            test.server.bind,
            ["127.0.0.1:0".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(test.admin.bind, Some("127.0.0.1:0".parse().unwrap()));
        assert_eq!(test.log.level, "warn");
        assert!(!test.log.access_log);
        assert_eq!(
            test.timeouts, dev.timeouts,
            "the test profile forces no timeouts"
        );
    }

    /// Every `section.key` of a two-level TOML table, sorted.
    fn dotted_keys(table: &toml::Table) -> Vec<String> {
        let mut keys: Vec<String> = table
            .iter()
            .flat_map(|(section, keys)| {
                keys.as_table()
                    .unwrap()
                    .keys()
                    .map(move |key| format!("{section}.{key}"))
            })
            .collect();
        keys.sort();
        keys
    }

    /// Every key of the schema, sorted.
    fn schema_keys() -> Vec<String> {
        let mut keys: Vec<String> = SCHEMA.iter().map(|s| s.key.to_owned()).collect();
        keys.sort();
        keys
    }

    #[test]
    fn the_compiled_in_defaults_load() {
        let defaults = built_in_defaults();
        assert_eq!(defaults.profile, Profile::Dev);
        // Unresolved: relative to wherever a configuration is loaded from.
        assert!(defaults.server.docroot.is_relative());
    }

    #[test]
    fn default_toml_sets_every_key_and_nothing_else() {
        let table: toml::Table = toml::from_str(DEFAULT_TOML).unwrap();
        assert_eq!(dotted_keys(&table), schema_keys());
    }

    #[test]
    fn schema_matches_the_settings_struct() {
        let tmp = TempDir::new("schema");
        let site = tmp.mkdir("site");
        let settings = Settings::load_from(
            &cli(&["--profile", "test", "--docroot", site.to_str().unwrap()]),
            NO_ENV,
            tmp.path(),
        )
        .unwrap();
        let table = toml::Table::try_from(&settings).unwrap();
        assert_eq!(dotted_keys(&table), schema_keys());
    }

    #[test]
    fn printed_config_loads_back_unchanged_and_hides_the_token() {
        let tmp = TempDir::new("roundtrip");
        let site = tmp.mkdir("site");
        let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let env = [
            ("WEB_SERVER__ADMIN__TOKEN", "sekrit-0123456789"),
            ("WEB_SERVER__SERVER__BIND", "127.0.0.1:0,[::1]:0"),
            ("WEB_SERVER__TLS__BIND", "127.0.0.1:0"),
            (
                "WEB_SERVER__TLS__CERT",
                tmp.write("c.pem", &generated.cert.pem()).to_str().unwrap(),
            ),
            (
                "WEB_SERVER__TLS__KEY",
                tmp.write("k.pem", &generated.signing_key.serialize_pem())
                    .to_str()
                    .unwrap(),
            ),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let args = ["--profile", "test", "--docroot", site.to_str().unwrap()];
        let settings = Settings::load_from(&cli(&args), env.clone(), tmp.path()).unwrap();
        let printed = settings.to_redacted_toml().unwrap();
        assert!(printed.contains("token = \"<redacted>\""), "{printed}");
        assert!(!printed.contains("sekrit"), "{printed}");
        assert!(printed.starts_with("# web_server effective configuration (profile \"test\""));

        // Loaded again as a --config file (with the real token from the environment), the
        // printed configuration gives the same settings.
        let file = tmp.write("printed.toml", &printed);
        let again = Settings::load_from(
            &cli(&["--profile", "test", "--config", file.to_str().unwrap()]),
            [("WEB_SERVER__ADMIN__TOKEN", "sekrit-0123456789")],
            tmp.path(),
        )
        .unwrap();
        assert_eq!(again, settings);
        // Without it, the placeholder is refused rather than taken as the token.
        let err = Settings::load_from(
            &cli(&["--profile", "test", "--config", file.to_str().unwrap()]),
            NO_ENV,
            tmp.path(),
        )
        .unwrap_err();
        assert_eq!(err.key(), Some("admin.token"));
        assert_eq!(err.origin(), Some(&Origin::File(file)));
        assert!(err.to_string().contains("placeholder"), "{err}");
    }

    #[test]
    fn printed_config_hides_the_metrics_token_too() {
        let tmp = TempDir::new("metrics_token");
        let site = tmp.mkdir("site");
        let args = ["--profile", "test", "--docroot", site.to_str().unwrap()];
        let env = [("WEB_SERVER__ADMIN__METRICS_TOKEN", "scraper-0123456789")];
        let settings = Settings::load_from(&cli(&args), env, tmp.path()).unwrap();
        assert_eq!(
            settings.admin.metrics_token.as_deref(),
            Some("scraper-0123456789")
        );
        let printed = settings.to_redacted_toml().unwrap();
        assert!(
            printed.contains("metrics_token = \"<redacted>\""),
            "{printed}"
        );
        assert!(!printed.contains("scraper-0123456789"), "{printed}");
        let file = tmp.write("printed.toml", &printed);
        let err = Settings::load_from(
            &cli(&[
                "--profile",
                "test",
                "--config",
                file.to_str().unwrap(),
                "--docroot",
                site.to_str().unwrap(),
            ]),
            NO_ENV,
            tmp.path(),
        )
        .unwrap_err();
        assert_eq!(
            err.key(),
            Some("admin.metrics_token"),
            "the placeholder is refused"
        );
    }

    #[test]
    fn the_config_directory_is_chosen_by_flag_then_env_else_the_files_are_built_in() {
        let tmp = TempDir::new("dirs");
        let site = tmp.mkdir("site");
        let local = copy_config(&tmp);
        fs::write(
            local.join("test.toml"),
            "[server]\nworkers = 7\ndocroot = \"site\"\n",
        )
        .unwrap();
        let other = TempDir::new("dirs-other");
        let other_dir = copy_config(&other);
        other.mkdir("site");
        fs::write(
            other_dir.join("test.toml"),
            "[server]\nworkers = 9\ndocroot = \"site\"\n",
        )
        .unwrap();
        let args = ["--profile", "test", "--docroot", site.to_str().unwrap()];

        // ./config/default.toml exists but is not looked at: without a directory named, the
        // compiled-in files are used, wherever the binary runs.
        let (found, origins) =
            Settings::load_with_origins_from(&cli(&args), NO_ENV, tmp.path()).unwrap();
        assert_eq!(found.server.workers, 0);
        assert_eq!(
            origins.get("server.workers"),
            Some(&Origin::BuiltIn("default.toml"))
        );
        assert_eq!(
            origins.get("log.level"),
            Some(&Origin::BuiltIn("test.toml"))
        );
        assert_eq!(
            origins.get("server.docroot"),
            Some(&Origin::Flag("--docroot"))
        );

        // Relative paths in a directory's files resolve against the directory's parent.
        let env = [(CONFIG_DIR_ENV, other_dir.to_str().unwrap())];
        let found = Settings::load_from(&cli(&["--profile", "test"]), env, tmp.path()).unwrap();
        assert_eq!(found.server.workers, 9, "WEB_SERVER_CONFIG_DIR");
        assert_eq!(found.server.docroot, other.path().join("site"));

        let flag = ["--profile", "test", "--config-dir", local.to_str().unwrap()];
        let found = Settings::load_from(&cli(&flag), env, other.path()).unwrap();
        assert_eq!(
            found.server.workers, 7,
            "--config-dir beats WEB_SERVER_CONFIG_DIR"
        );
        assert_eq!(found.server.docroot, site);

        let missing = ["--profile", "test", "--config-dir", "nowhere"];
        let err = Settings::load_from(&cli(&missing), NO_ENV, tmp.path()).unwrap_err();
        assert_eq!(err.origin(), Some(&Origin::Flag("--config-dir")));
        let message = err.to_string();
        assert!(message.contains("nowhere does not exist"), "{message}");
        assert!(message.contains("flag --config-dir"), "{message}");
        let env = [(CONFIG_DIR_ENV, "nowhere")];
        let err = Settings::load_from(&cli(&["--profile", "test"]), env, tmp.path()).unwrap_err();
        assert!(err.to_string().contains(CONFIG_DIR_ENV), "{err}");

        // A directory without the profile's file names the file and who named the directory.
        fs::remove_file(local.join("test.toml")).unwrap();
        let err = Settings::load_from(&cli(&flag), NO_ENV, tmp.path()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Read);
        let message = err.to_string();
        assert!(message.contains("config/test.toml"), "{message}");
        assert!(message.contains("flag --config-dir"), "{message}");
    }

    #[test]
    fn built_in_relative_paths_resolve_against_the_current_directory() {
        let tmp = TempDir::new("built-in-paths");
        let sample = tmp.mkdir("crates/server/site");
        let found = Settings::load_from(&cli(&["--profile", "test"]), NO_ENV, tmp.path()).unwrap();
        assert_eq!(found.server.docroot, sample);

        // Without the sample site, the error says how to name a site.
        let empty = TempDir::new("built-in-empty");
        let err =
            Settings::load_from(&cli(&["--profile", "test"]), NO_ENV, empty.path()).unwrap_err();
        assert_eq!(err.key(), Some("server.docroot"));
        assert_eq!(err.origin(), Some(&Origin::BuiltIn("test.toml")));
        let message = err.to_string();
        assert!(message.contains("built-in test.toml"), "{message}");
        assert!(message.contains("--docroot"), "{message}");
    }

    #[test]
    fn relative_paths_resolve_per_layer() {
        let tmp = TempDir::new("paths");
        let config = copy_config(&tmp);
        let from_root = tmp.mkdir("root-site");
        fs::write(
            config.join("test.toml"),
            "[server]\ndocroot = \"root-site\"\n",
        )
        .unwrap();
        let dir = ["--config-dir", "config"];
        let args = [&["--profile", "test"][..], &dir].concat();
        let found = Settings::load_from(&cli(&args), NO_ENV, tmp.path()).unwrap();
        assert_eq!(
            found.server.docroot, from_root,
            "profile file: project root"
        );

        let extra = tmp.write("etc/extra.toml", "[server]\ndocroot = \"public\"\n");
        let public = tmp.mkdir("etc/public");
        let args = [&args[..], &["--config", "etc/extra.toml"]].concat();
        let found = Settings::load_from(&cli(&args), NO_ENV, tmp.path()).unwrap();
        assert_eq!(
            found.server.docroot, public,
            "--config file: its own directory"
        );
        assert!(extra.is_file());

        let cwd = tmp.mkdir("work");
        let in_cwd = tmp.mkdir("work/here");
        let args = [
            "--profile",
            "test",
            "--config-dir",
            config.to_str().unwrap(),
        ];
        let env = [("WEB_SERVER__SERVER__DOCROOT", "here")];
        let found = Settings::load_from(&cli(&args), env, &cwd).unwrap();
        assert_eq!(
            found.server.docroot, in_cwd,
            "environment: current directory"
        );
        let mut flag_args = args.to_vec();
        flag_args.extend(["--docroot", "."]);
        let found = Settings::load_from(&cli(&flag_args), env, &cwd).unwrap();
        assert_eq!(found.server.docroot, cwd, "flag: current directory");
    }

    #[test]
    fn flags_set_tls_log_and_the_admin_token_from_a_file() {
        let tmp = TempDir::new("flags");
        let site = tmp.mkdir("site");
        let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        tmp.write("cert.pem", &generated.cert.pem());
        tmp.write("key.pem", &generated.signing_key.serialize_pem());
        tmp.write("token", "sekrit-0123456789abcdef\n");
        let args = [
            "--profile",
            "test",
            "--docroot",
            site.to_str().unwrap(),
            "--tls-bind",
            "127.0.0.1:0",
            "--tls-cert",
            "cert.pem",
            "--tls-key",
            "key.pem",
            "--log-level",
            "web_server=debug,warn",
            "--log-format",
            "json",
            "--admin-token-file",
            "token",
        ];
        let (found, origins) =
            Settings::load_with_origins_from(&cli(&args), NO_ENV, tmp.path()).unwrap();
        assert!(found.tls.enabled());
        assert_eq!(found.tls.cert, Some(tmp.path().join("cert.pem")));
        assert_eq!(found.tls.key, Some(tmp.path().join("key.pem")));
        assert_eq!(found.log.level, "web_server=debug,warn");
        assert_eq!(found.log.format, LogFormat::Json);
        assert_eq!(
            found.admin.token.as_deref(),
            Some("sekrit-0123456789abcdef")
        );
        for (key, flag) in [
            ("tls.bind", "--tls-bind"),
            ("tls.cert", "--tls-cert"),
            ("tls.key", "--tls-key"),
            ("log.level", "--log-level"),
            ("log.format", "--log-format"),
            ("admin.token", "--admin-token-file"),
        ] {
            assert_eq!(origins.get(key), Some(&Origin::Flag(flag)), "{key}");
        }
        let printed = found.to_redacted_toml_with_origins(&origins).unwrap();
        assert!(
            printed.contains("token = \"<redacted>\"  # flag --admin-token-file"),
            "{printed}"
        );
        assert!(printed.contains("# built-in default.toml"), "{printed}");
        assert!(!printed.contains("sekrit"), "{printed}");

        let unreadable = [
            "--profile",
            "test",
            "--docroot",
            site.to_str().unwrap(),
            "--admin-token-file",
            "no-such-token",
        ];
        let err = Settings::load_from(&cli(&unreadable), NO_ENV, tmp.path()).unwrap_err();
        assert_eq!(err.key(), Some("admin.token"));
        assert!(err.to_string().contains("no-such-token"), "{err}");
        assert!(err.to_string().contains("--admin-token-file"), "{err}");
        tmp.write("empty", "\n");
        let mut empty = unreadable;
        empty[5] = "empty";
        let err = Settings::load_from(&cli(&empty), NO_ENV, tmp.path()).unwrap_err();
        assert!(err.to_string().contains("is empty"), "{err}");

        let bad_level = [
            "--profile",
            "test",
            "--docroot",
            site.to_str().unwrap(),
            "--log-level",
            "inof",
        ];
        let err = Settings::load_from(&cli(&bad_level), NO_ENV, tmp.path()).unwrap_err();
        assert_eq!(err.origin(), Some(&Origin::Flag("--log-level")));
        assert!(
            Cli::try_parse_from(["web_server", "--log-format", "xml"]).is_err(),
            "clap offers and checks the schema's formats"
        );
    }

    #[test]
    fn environment_names_ignore_case_and_may_not_repeat_a_key() {
        let tmp = TempDir::new("env");
        let site = tmp.mkdir("site");
        let args = ["--profile", "test", "--docroot", site.to_str().unwrap()];
        let env = [("web_server__Timeouts__Header_MS", "1234")];
        let found = Settings::load_from(&cli(&args), env, tmp.path()).unwrap();
        assert_eq!(found.timeouts.header_ms, 1234);

        let env = [
            ("WEB_SERVER__TIMEOUTS__HEADER_MS", "1"),
            ("web_server__timeouts__header_ms", "2"),
        ];
        let err = Settings::load_from(&cli(&args), env, tmp.path()).unwrap_err();
        assert_eq!(err.key(), Some("timeouts.header_ms"));
        assert!(err.to_string().contains("sets the same key"), "{err}");

        // Empty values: an empty list or "none" where allowed, an error elsewhere.
        let env = [
            ("WEB_SERVER__ADMIN__BIND", ""),
            ("WEB_SERVER__TLS__BIND", ""),
        ];
        let found = Settings::load_from(&cli(&args), env, tmp.path()).unwrap();
        assert_eq!(found.admin.bind, None);
        assert!(!found.tls.enabled());
        let env = [("WEB_SERVER__SERVER__BIND", "")];
        let err = Settings::load_from(&cli(&args), env, tmp.path()).unwrap_err();
        assert_eq!(
            err.origin(),
            Some(&Origin::Env("WEB_SERVER__SERVER__BIND".into()))
        );

        // Variables that merely share the first word are not ours.
        let env = [("WEB_SERVERS", "x"), ("WEB_SERVER_OTHER", "y")];
        assert!(Settings::load_from(&cli(&args), env, tmp.path()).is_ok());
    }

    #[test]
    fn a_default_file_missing_a_key_is_reported() {
        let tmp = TempDir::new("missing-key");
        let config = copy_config(&tmp);
        let site = tmp.mkdir("site");
        let text = fs::read_to_string(config.join("default.toml")).unwrap();
        let text = text.replace("backlog = 1024\n", "");
        fs::write(config.join("default.toml"), text).unwrap();
        let args = [
            "--profile",
            "test",
            "--config-dir",
            "config",
            "--docroot",
            site.to_str().unwrap(),
        ];
        let err = Settings::load_from(&cli(&args), NO_ENV, tmp.path()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MissingValue);
        assert_eq!(err.key(), Some("server.backlog"));
        assert!(err.to_string().contains("config/default.toml"), "{err}");
    }

    #[test]
    fn cross_key_checks() {
        let tmp = TempDir::new("cross");
        let site = tmp.mkdir("site");
        let args = ["--profile", "test", "--docroot", site.to_str().unwrap()];
        let load = |env: &[(&str, &str)]| {
            Settings::load_from(&cli(&args), env.iter().copied(), tmp.path())
        };

        let err = load(&[
            ("WEB_SERVER__CACHE__MAX_FILE_BYTES", "100"),
            ("WEB_SERVER__CACHE__MAX_BYTES", "10"),
        ])
        .unwrap_err();
        assert_eq!(err.key(), Some("cache.max_file_bytes"));
        assert!(
            load(&[
                ("WEB_SERVER__CACHE__MAX_FILE_BYTES", "100"),
                ("WEB_SERVER__CACHE__MAX_BYTES", "0")
            ])
            .is_ok(),
            "a disabled cache has no file limit to respect"
        );

        let err = load(&[
            ("WEB_SERVER__SERVER__BIND", "0.0.0.0:7000"),
            ("WEB_SERVER__ADMIN__BIND", "127.0.0.1:7000"),
        ])
        .unwrap_err();
        assert_eq!(err.key(), Some("admin.bind"));
        assert!(err.to_string().contains("`server.bind`"), "{err}");
        let err =
            load(&[("WEB_SERVER__SERVER__BIND", "127.0.0.1:7000,127.0.0.1:7000")]).unwrap_err();
        assert_eq!(err.key(), Some("server.bind"));
        assert!(load(&[("WEB_SERVER__SERVER__BIND", "127.0.0.1:0,127.0.0.1:0")]).is_ok());
        assert!(load(&[("WEB_SERVER__SERVER__BIND", "0.0.0.0:7000,[::]:7000")]).is_ok());

        let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let cert = tmp.write("cert.pem", &generated.cert.pem());
        let env = [
            ("WEB_SERVER__TLS__BIND", "127.0.0.1:0"),
            ("WEB_SERVER__TLS__CERT", cert.to_str().unwrap()),
            ("WEB_SERVER__TLS__KEY", site.to_str().unwrap()),
        ];
        let err = load(&env).unwrap_err();
        assert_eq!(err.key(), Some("tls.key"));
        assert!(err.to_string().contains("is not a file"), "{err}");
        let empty_key = tmp.write("empty-key.pem", "");
        let env = [
            env[0],
            env[1],
            ("WEB_SERVER__TLS__KEY", empty_key.to_str().unwrap()),
        ];
        let err = load(&env).unwrap_err();
        assert_eq!(err.key(), Some("tls.cert"));
        assert!(
            err.to_string().contains("empty-key.pem"),
            "names the file: {err}"
        );
        let key = tmp.write("key.pem", &generated.signing_key.serialize_pem());
        let env = [
            env[0],
            env[1],
            ("WEB_SERVER__TLS__KEY", key.to_str().unwrap()),
        ];
        let tls = load(&env).unwrap().tls;
        assert!(tls.enabled());
        assert_eq!(tls.cert, Some(cert));

        let file = tmp.write("not-a-dir", "");
        let err = Settings::load_from(
            &cli(&["--profile", "test", "--docroot", file.to_str().unwrap()]),
            NO_ENV,
            tmp.path(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("is not a directory"), "{err}");
    }

    #[test]
    fn profile_from_flag_then_environment_then_dev() {
        let tmp = TempDir::new("profile");
        let site = tmp.mkdir("site");
        let docroot = ["--docroot", site.to_str().unwrap()];
        let got = |args: &[&str], env: &[(&str, &str)]| {
            let mut all = docroot.to_vec();
            all.extend_from_slice(args);
            Settings::load_from(&cli(&all), env.iter().copied(), tmp.path()).map(|s| s.profile)
        };
        assert_eq!(got(&[], &[]), Ok(Profile::Dev));
        assert_eq!(got(&[], &[(PROFILE_ENV, "test")]), Ok(Profile::Test));
        assert_eq!(got(&[], &[(PROFILE_ENV, " TEST ")]), Ok(Profile::Test));
        assert_eq!(
            got(&["--profile", "dev"], &[(PROFILE_ENV, "test")]),
            Ok(Profile::Dev)
        );
        let err = got(&[], &[(PROFILE_ENV, "staging")]).unwrap_err();
        assert_eq!(err.origin(), Some(&Origin::Env(PROFILE_ENV.into())));
    }

    #[test]
    fn worker_threads_and_durations() {
        let tmp = TempDir::new("helpers");
        let site = tmp.mkdir("site");
        let args = [
            "--profile",
            "test",
            "--docroot",
            site.to_str().unwrap(),
            "--workers",
            "3",
        ];
        let settings = Settings::load_from(&cli(&args), NO_ENV, tmp.path()).unwrap();
        assert_eq!(settings.server.worker_threads(), 3);
        assert_eq!(
            settings.timeouts.header(),
            std::time::Duration::from_millis(10_000)
        );
        let mut server = settings.server.clone();
        server.workers = 0;
        assert!(server.worker_threads() >= 1);
    }
}
