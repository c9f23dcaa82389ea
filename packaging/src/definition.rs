//! Declarative package definitions (rpm/*.toml): parsing and validation.
//!
//! A definition names the package, its metadata, its plain and scriptlet dependencies, its
//! scriptlet files and every file and directory it ships. Errors carry `file:line` so that a
//! malformed definition points at the offending line.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

/// A definition that could not be read or is not valid.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DefinitionError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not match the schema, or a value is invalid.
    #[error("{path}:{line}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// Where the bytes of a shipped file come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileSource {
    /// A binary from the binaries directory (e.g. `berthd`).
    Binary(String),
    /// A file in the source tree, relative to the project root (e.g. `systemd/berth.service`).
    Tree(PathBuf),
    /// A file generated from the binaries at packaging time (completion script, man page),
    /// relative to the generated-files directory.
    Generated(String),
    /// The package's SPDX 2.3 JSON SBOM, written by the builder from the crates its binaries
    /// bundle ([`crate::sbom`]).
    Sbom,
}

/// How rpm treats a configuration file on upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConfigKind {
    /// `%config(noreplace)`: an edited file is kept and the new one lands as `.rpmnew`.
    Noreplace,
    /// `%config`: an edited file is saved as `.rpmsave` and replaced.
    Replace,
}

/// A regular file the package ships.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    pub path: String,
    pub source: FileSource,
    pub mode: u16,
    pub config: Option<ConfigKind>,
    pub doc: bool,
    pub license: bool,
    /// Ship the source gzip-compressed (man pages), with a fixed gzip header.
    pub gzip: bool,
}

/// A directory the package owns (`%dir`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirSpec {
    pub path: String,
    pub mode: u16,
}

/// Comparison in a plain dependency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepOp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A plain dependency such as `systemd` or `berth-cli = {evr}`. No rich or weak dependencies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepSpec {
    pub name: String,
    /// The comparison and version; the version may contain `{evr}`, replaced at build time.
    pub constraint: Option<(DepOp, String)>,
}

/// Dependencies by the phase that needs them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requirements {
    pub plain: Vec<DepSpec>,
    pub pre: Vec<DepSpec>,
    pub post: Vec<DepSpec>,
    pub preun: Vec<DepSpec>,
    pub postun: Vec<DepSpec>,
}

/// Scriptlet bodies, read from the files the definition names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scriptlets {
    pub pre: Option<String>,
    pub post: Option<String>,
    pub preun: Option<String>,
    pub postun: Option<String>,
}

/// A validated package definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageDefinition {
    pub name: String,
    pub summary: String,
    pub description: String,
    pub group: String,
    pub url: String,
    pub vendor: String,
    pub packager: String,
    pub requires: Requirements,
    pub scripts: Scriptlets,
    pub files: Vec<FileSpec>,
    pub dirs: Vec<DirSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefinition {
    name: Spanned<String>,
    summary: String,
    description: String,
    group: String,
    url: String,
    vendor: String,
    packager: String,
    #[serde(default)]
    requires: RawRequires,
    #[serde(default)]
    scripts: RawScripts,
    #[serde(default)]
    files: Vec<Spanned<RawFile>>,
    #[serde(default)]
    dirs: Vec<Spanned<RawDir>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRequires {
    #[serde(default)]
    plain: Vec<Spanned<String>>,
    #[serde(default)]
    pre: Vec<Spanned<String>>,
    #[serde(default)]
    post: Vec<Spanned<String>>,
    #[serde(default)]
    preun: Vec<Spanned<String>>,
    #[serde(default)]
    postun: Vec<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawScripts {
    pre: Option<Spanned<String>>,
    post: Option<Spanned<String>>,
    preun: Option<Spanned<String>>,
    postun: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    path: String,
    binary: Option<String>,
    source: Option<String>,
    generated: Option<String>,
    #[serde(default)]
    sbom: bool,
    mode: u32,
    config: Option<ConfigKind>,
    #[serde(default)]
    doc: bool,
    #[serde(default)]
    license: bool,
    #[serde(default)]
    gzip: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDir {
    path: String,
    mode: u32,
}

/// Maps byte offsets of one file to 1-based line numbers.
struct Lines<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Lines<'_> {
    fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }

    fn error(&self, offset: usize, message: impl fmt::Display) -> DefinitionError {
        DefinitionError::Invalid {
            path: self.path.to_path_buf(),
            line: self.line_of(offset),
            message: message.to_string(),
        }
    }
}

impl PackageDefinition {
    /// Reads and validates a definition file; scriptlet paths are relative to its directory.
    pub fn load(path: &Path) -> Result<Self, DefinitionError> {
        let text = std::fs::read_to_string(path).map_err(|source| DefinitionError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Validates definition text that was read from `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Self, DefinitionError> {
        let lines = Lines { path, text };
        let raw: RawDefinition = toml::from_str(text).map_err(|e| {
            let offset = e.span().map(|s| s.start).unwrap_or(0);
            lines.error(offset, e.message())
        })?;
        let base = path.parent().unwrap_or(Path::new("."));

        let name_span = raw.name.span();
        let name = raw.name.into_inner();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.+".contains(c))
        {
            return Err(lines.error(
                name_span.start,
                format!("name: invalid package name {name:?}"),
            ));
        }

        let deps =
            |list: Vec<Spanned<String>>, field: &str| -> Result<Vec<DepSpec>, DefinitionError> {
                list.into_iter()
                    .map(|dep| {
                        let span = dep.span();
                        parse_dependency(dep.get_ref())
                            .map_err(|m| lines.error(span.start, format!("requires.{field}: {m}")))
                    })
                    .collect()
            };
        let requires = Requirements {
            plain: deps(raw.requires.plain, "plain")?,
            pre: deps(raw.requires.pre, "pre")?,
            post: deps(raw.requires.post, "post")?,
            preun: deps(raw.requires.preun, "preun")?,
            postun: deps(raw.requires.postun, "postun")?,
        };

        let script = |entry: Option<Spanned<String>>,
                      field: &str|
         -> Result<Option<String>, DefinitionError> {
            let Some(entry) = entry else { return Ok(None) };
            let file = base.join(entry.get_ref());
            std::fs::read_to_string(&file).map(Some).map_err(|e| {
                lines.error(
                    entry.span().start,
                    format!("scripts.{field}: {}: {e}", file.display()),
                )
            })
        };
        let scripts = Scriptlets {
            pre: script(raw.scripts.pre, "pre")?,
            post: script(raw.scripts.post, "post")?,
            preun: script(raw.scripts.preun, "preun")?,
            postun: script(raw.scripts.postun, "postun")?,
        };

        let mut files = Vec::new();
        for entry in raw.files {
            let start = entry.span().start;
            let file = entry.into_inner();
            check_path(&file.path).map_err(|m| lines.error(start, format!("files.path: {m}")))?;
            let source = match (file.binary, file.source, file.generated, file.sbom) {
                (Some(b), None, None, false) => FileSource::Binary(b),
                (None, Some(s), None, false) => FileSource::Tree(PathBuf::from(s)),
                (None, None, Some(g), false) => FileSource::Generated(g),
                (None, None, None, true) => FileSource::Sbom,
                _ => {
                    return Err(lines.error(
                        start,
                        format!(
                        "files: {} needs exactly one of binary, source, generated or sbom = true",
                        file.path
                    ),
                    ))
                }
            };
            files.push(FileSpec {
                mode: check_mode(file.mode)
                    .map_err(|m| lines.error(start, format!("files.mode: {m}")))?,
                path: file.path,
                source,
                config: file.config,
                doc: file.doc,
                license: file.license,
                gzip: file.gzip,
            });
        }
        let mut dirs = Vec::new();
        for entry in raw.dirs {
            let start = entry.span().start;
            let dir = entry.into_inner();
            check_path(&dir.path).map_err(|m| lines.error(start, format!("dirs.path: {m}")))?;
            dirs.push(DirSpec {
                mode: check_mode(dir.mode)
                    .map_err(|m| lines.error(start, format!("dirs.mode: {m}")))?,
                path: dir.path,
            });
        }
        let mut seen = std::collections::BTreeSet::new();
        for path in files
            .iter()
            .map(|f| &f.path)
            .chain(dirs.iter().map(|d| &d.path))
        {
            if !seen.insert(path.clone()) {
                let offset = text.find(&format!("\"{path}\"")).unwrap_or(0);
                return Err(lines.error(offset, format!("{path} is listed twice")));
            }
        }

        Ok(PackageDefinition {
            name,
            summary: raw.summary,
            description: raw.description.trim().to_string(),
            group: raw.group,
            url: raw.url,
            vendor: raw.vendor,
            packager: raw.packager,
            requires,
            scripts,
            files,
            dirs,
        })
    }
}

fn check_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/')
        || path.ends_with('/')
        || path.split('/').any(|c| c == ".." || c == ".")
    {
        return Err(format!("{path:?} must be absolute and normalized"));
    }
    Ok(())
}

fn check_mode(mode: u32) -> Result<u16, String> {
    if mode > 0o7777 {
        return Err(format!(
            "{mode:#o} is not a permission mode (write it as 0o755)"
        ));
    }
    Ok(mode as u16)
}

/// Parses `name` or `name OP version`, refusing rich (`(a or b)`) dependencies, which rpm 4.11
/// cannot read.
pub fn parse_dependency(text: &str) -> Result<DepSpec, String> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let valid_name = |n: &str| !n.is_empty() && !n.starts_with('(') && !n.contains(['<', '>', '=']);
    match parts.as_slice() {
        [name] if valid_name(name) => Ok(DepSpec {
            name: name.to_string(),
            constraint: None,
        }),
        [name, op, version] if valid_name(name) => {
            let op = match *op {
                "=" => DepOp::Eq,
                "<" => DepOp::Lt,
                "<=" => DepOp::Le,
                ">" => DepOp::Gt,
                ">=" => DepOp::Ge,
                other => return Err(format!("{text:?}: unknown comparison {other:?}")),
            };
            Ok(DepSpec {
                name: name.to_string(),
                constraint: Some((op, version.to_string())),
            })
        }
        _ => Err(format!(
            "{text:?} is not a plain dependency (\"name\" or \"name OP version\"; no rich dependencies)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"name = "demo"
summary = "s"
description = "d"
group = "g"
url = "u"
vendor = "v"
packager = "p"
"#;

    #[test]
    fn unknown_key_is_reported_with_its_line() {
        let text = format!("{MINIMAL}\n[[files]]\npath = \"/usr/bin/x\"\nbinary = \"x\"\nmode = 0o755\nowner = \"x\"\n");
        let err = PackageDefinition::parse(&text, Path::new("rpm/demo.toml")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("rpm/demo.toml:"), "{msg}");
        assert!(msg.contains("owner"), "{msg}");
        // The [[files]] table starts on line 9 of this text; the error points into it.
        let line: usize = msg.split(':').nth(1).unwrap().parse().unwrap();
        assert!((9..=13).contains(&line), "{msg}");
    }

    #[test]
    fn rich_dependency_is_refused_with_its_line() {
        let text = format!("{MINIMAL}[requires]\nplain = [\"(a or b)\"]\n");
        let msg = PackageDefinition::parse(&text, Path::new("d.toml"))
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("d.toml:9: requires.plain:"), "{msg}");
    }

    #[test]
    fn file_needs_exactly_one_source() {
        let text = format!(
            "{MINIMAL}[[files]]\npath = \"/a\"\nbinary = \"x\"\nsource = \"y\"\nmode = 0o644\n"
        );
        let msg = PackageDefinition::parse(&text, Path::new("d.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("d.toml:8: files: /a needs exactly one"),
            "{msg}"
        );
    }

    #[test]
    fn sbom_file_is_its_own_source() {
        let text = format!(
            "{MINIMAL}[[files]]\npath = \"/usr/share/doc/demo/sbom.spdx.json\"\nsbom = true\nmode = 0o644\ndoc = true\n"
        );
        let def = PackageDefinition::parse(&text, Path::new("d.toml")).unwrap();
        assert_eq!(def.files[0].source, FileSource::Sbom);
        assert!(def.files[0].doc);
        let text = text.replace("sbom = true", "sbom = true\nbinary = \"x\"");
        let msg = PackageDefinition::parse(&text, Path::new("d.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("exactly one of binary, source, generated or sbom"),
            "{msg}"
        );
    }

    #[test]
    fn plain_dependencies_parse() {
        assert_eq!(
            parse_dependency("berth-cli = {evr}").unwrap(),
            DepSpec {
                name: "berth-cli".into(),
                constraint: Some((DepOp::Eq, "{evr}".into()))
            }
        );
        assert!(parse_dependency("a >= ").is_err());
    }
}
