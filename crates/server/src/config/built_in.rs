//! The configuration files compiled into the binary: `config/default.toml` and the three
//! profiles, so the binary needs no file to start (an installed or copied binary has no source
//! tree to read them from). The in-code defaults are parsed from the same text
//! ([`built_in_defaults`](super::built_in_defaults)).

use super::Profile;

/// `config/default.toml` as it was when the binary was built.
pub const DEFAULT_TOML: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/config/default.toml"));

/// `config/dev.toml` as it was when the binary was built.
const DEV_TOML: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/config/dev.toml"));

/// `config/prod.toml` as it was when the binary was built.
const PROD_TOML: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/config/prod.toml"));

/// `config/test.toml` as it was when the binary was built.
const TEST_TOML: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/config/test.toml"));

/// Every compiled-in file, by its name in `config/`.
pub const BUILT_IN_FILES: [(&str, &str); 4] = [
    ("default.toml", DEFAULT_TOML),
    ("dev.toml", DEV_TOML),
    ("prod.toml", PROD_TOML),
    ("test.toml", TEST_TOML),
];

/// The compiled-in text of a profile's file.
pub(crate) fn profile_toml(profile: Profile) -> &'static str {
    match profile {
        Profile::Dev => DEV_TOML,
        Profile::Prod => PROD_TOML,
        Profile::Test => TEST_TOML,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profile_is_compiled_in() {
        for profile in Profile::ALL {
            let name = profile.file_name();
            let (_, text) = BUILT_IN_FILES
                .iter()
                .find(|(file, _)| *file == name)
                .unwrap_or_else(|| panic!("{name} is compiled in"));
            assert_eq!(*text, profile_toml(profile));
        }
    }
}
