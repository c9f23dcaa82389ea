//! Reading a yum repository back (repomd.xml, primary and filelists) into comparable values,
//! so our repodata can be compared with createrepo_c's.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;

use quick_xml::events::Event;
use quick_xml::Reader;

/// What a repository says about one package.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepoPackage {
    pub name: String,
    pub arch: String,
    pub evr: (String, String, String),
    pub checksum: String,
    pub location: String,
    pub provides: BTreeSet<Vec<String>>,
    pub requires: BTreeSet<Vec<String>>,
    pub primary_files: BTreeSet<(String, String)>,
    pub files: BTreeSet<(String, String)>,
}

fn attrs(e: &quick_xml::events::BytesStart<'_>) -> BTreeMap<String, String> {
    e.attributes()
        .map(|a| {
            let a = a.unwrap();
            (
                a.key.as_ref().to_string(),
                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .unwrap()
                    .into_owned(),
            )
        })
        .collect()
}

fn gunzip(path: &Path) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    text
}

/// (type, href, checksum, open-checksum, timestamp, size, open-size) of each <data>.
pub fn repomd_data(repo: &Path) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(repo.join("repodata/repomd.xml")).unwrap();
    let mut reader = Reader::from_str(&text);
    let mut out = Vec::new();
    let mut current: Option<BTreeMap<String, String>> = None;
    let mut element = String::new();
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) | Event::Empty(e) => {
                let name = e.name().as_ref().to_string();
                let a = attrs(&e);
                if name == "data" {
                    let mut map = BTreeMap::new();
                    map.insert("type".to_string(), a["type"].clone());
                    current = Some(map);
                } else if name == "location" {
                    if let Some(c) = current.as_mut() {
                        c.insert("href".into(), a["href"].clone());
                    }
                }
                element = name;
            }
            Event::Text(t) => {
                if let Some(c) = current.as_mut() {
                    let value = t.xml10_content().trim().to_string();
                    if !value.is_empty() {
                        c.insert(element.clone(), value);
                    }
                }
            }
            Event::End(e) if e.name().as_ref() == "data" => out.extend(current.take()),
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

fn data_path(repo: &Path, kind: &str) -> std::path::PathBuf {
    let data = repomd_data(repo);
    let entry = data
        .iter()
        .find(|d| d["type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in repomd.xml"));
    repo.join(&entry["href"])
}

fn dep(a: &BTreeMap<String, String>) -> Vec<String> {
    ["name", "flags", "epoch", "ver", "rel", "pre"]
        .iter()
        .map(|k| a.get(*k).cloned().unwrap_or_default())
        .collect()
}

/// The packages of a repository by pkgid.
pub fn read_repo(repo: &Path) -> BTreeMap<String, RepoPackage> {
    let mut packages: BTreeMap<String, RepoPackage> = BTreeMap::new();
    let primary = gunzip(&data_path(repo, "primary"));
    let mut reader = Reader::from_str(&primary);
    let mut pkg = RepoPackage::default();
    let mut element = String::new();
    let mut section = String::new();
    let mut file_type = String::new();
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) | Event::Empty(e) => {
                let name = e.name().as_ref().to_string();
                let a = attrs(&e);
                match name.as_str() {
                    "package" => pkg = RepoPackage::default(),
                    "version" => pkg.evr = (a["epoch"].clone(), a["ver"].clone(), a["rel"].clone()),
                    "location" => pkg.location = a["href"].clone(),
                    "rpm:provides" | "rpm:requires" => section = name.clone(),
                    "rpm:entry" if section == "rpm:provides" => {
                        pkg.provides.insert(dep(&a));
                    }
                    "rpm:entry" if section == "rpm:requires" => {
                        pkg.requires.insert(dep(&a));
                    }
                    "file" => file_type = a.get("type").cloned().unwrap_or_else(|| "file".into()),
                    _ => {}
                }
                element = name;
            }
            Event::Text(t) => {
                let value = t.xml10_content().into_owned();
                match element.as_str() {
                    "name" => pkg.name = value,
                    "arch" => pkg.arch = value,
                    "checksum" => pkg.checksum = value,
                    "file" => {
                        pkg.primary_files.insert((value, file_type.clone()));
                    }
                    _ => {}
                }
            }
            Event::End(e) => {
                element.clear();
                match e.name().as_ref() {
                    "rpm:provides" | "rpm:requires" => section.clear(),
                    "package" => {
                        packages.insert(pkg.checksum.clone(), std::mem::take(&mut pkg));
                    }
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }

    let filelists = gunzip(&data_path(repo, "filelists"));
    let mut reader = Reader::from_str(&filelists);
    let mut pkgid = String::new();
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) | Event::Empty(e) => {
                let name = e.name().as_ref().to_string();
                let a = attrs(&e);
                if name == "package" {
                    pkgid = a["pkgid"].clone();
                } else if name == "file" {
                    file_type = a.get("type").cloned().unwrap_or_else(|| "file".into());
                }
                element = name;
            }
            Event::Text(t) if element == "file" => {
                let value = t.xml10_content().into_owned();
                packages
                    .get_mut(&pkgid)
                    .unwrap_or_else(|| panic!("filelists names unknown pkgid {pkgid}"))
                    .files
                    .insert((value, file_type.clone()));
            }
            Event::End(_) => element.clear(),
            Event::Eof => break,
            _ => {}
        }
    }
    packages
}
