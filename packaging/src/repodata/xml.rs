//! primary.xml, filelists.xml, other.xml and repomd.xml text, in the exact shape yum 3.4.3
//! parses: unprefixed common elements, the literal `rpm:` prefix, integer timestamps.

use std::fmt::Write;

use quick_xml::escape::escape;

use super::record::{DepEntry, FileKind, PackageRecord};

const NS_COMMON: &str = "http://linux.duke.edu/metadata/common";
const NS_RPM: &str = "http://linux.duke.edu/metadata/rpm";
const NS_FILELISTS: &str = "http://linux.duke.edu/metadata/filelists";
const NS_OTHER: &str = "http://linux.duke.edu/metadata/other";
const NS_REPO: &str = "http://linux.duke.edu/metadata/repo";
const HEADER: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

fn version_tag(out: &mut String, r: &PackageRecord) {
    let _ = writeln!(
        out,
        "  <version epoch=\"{}\" ver=\"{}\" rel=\"{}\"/>",
        r.epoch,
        escape(r.version.as_str()),
        escape(r.release.as_str())
    );
}

fn deps(out: &mut String, element: &str, entries: &[DepEntry]) {
    if entries.is_empty() {
        return;
    }
    let _ = writeln!(out, "    <rpm:{element}>");
    for d in entries {
        let _ = write!(out, "      <rpm:entry name=\"{}\"", escape(d.name.as_str()));
        if let Some(flags) = &d.flags {
            let _ = write!(out, " flags=\"{flags}\"");
        }
        for (attr, value) in [("epoch", &d.epoch), ("ver", &d.ver), ("rel", &d.rel)] {
            if let Some(value) = value {
                let _ = write!(out, " {attr}=\"{}\"", escape(value.as_str()));
            }
        }
        if d.pre {
            out.push_str(" pre=\"1\"");
        }
        out.push_str("/>\n");
    }
    let _ = writeln!(out, "    </rpm:{element}>");
}

fn file_line(out: &mut String, indent: &str, path: &str, kind: FileKind) {
    let kind = match kind {
        FileKind::File => "",
        FileKind::Dir => " type=\"dir\"",
        FileKind::Ghost => " type=\"ghost\"",
    };
    let _ = writeln!(out, "{indent}<file{kind}>{}</file>", escape(path));
}

/// primary.xml for `records`.
pub fn primary(records: &[&PackageRecord]) -> String {
    let mut out = String::with_capacity(2048 * records.len() + 256);
    out.push_str(HEADER);
    let _ = writeln!(
        out,
        "<metadata xmlns=\"{NS_COMMON}\" xmlns:rpm=\"{NS_RPM}\" packages=\"{}\">",
        records.len()
    );
    for r in records {
        out.push_str("<package type=\"rpm\">\n");
        let _ = writeln!(out, "  <name>{}</name>", escape(r.name.as_str()));
        let _ = writeln!(out, "  <arch>{}</arch>", escape(r.arch.as_str()));
        version_tag(&mut out, r);
        let _ = writeln!(
            out,
            "  <checksum type=\"sha256\" pkgid=\"YES\">{}</checksum>",
            r.pkgid
        );
        let _ = writeln!(out, "  <summary>{}</summary>", escape(r.summary.as_str()));
        let _ = writeln!(
            out,
            "  <description>{}</description>",
            escape(r.description.as_str())
        );
        let _ = writeln!(
            out,
            "  <packager>{}</packager>",
            escape(r.packager.as_str())
        );
        let _ = writeln!(out, "  <url>{}</url>", escape(r.url.as_str()));
        let _ = writeln!(
            out,
            "  <time file=\"{}\" build=\"{}\"/>",
            r.time_file, r.time_build
        );
        let _ = writeln!(
            out,
            "  <size package=\"{}\" installed=\"{}\" archive=\"{}\"/>",
            r.size_package, r.size_installed, r.size_archive
        );
        let _ = writeln!(
            out,
            "  <location href=\"{}\"/>",
            escape(r.location_href.as_str())
        );
        out.push_str("  <format>\n");
        let _ = writeln!(
            out,
            "    <rpm:license>{}</rpm:license>",
            escape(r.license.as_str())
        );
        let _ = writeln!(
            out,
            "    <rpm:vendor>{}</rpm:vendor>",
            escape(r.vendor.as_str())
        );
        let _ = writeln!(
            out,
            "    <rpm:group>{}</rpm:group>",
            escape(r.group.as_str())
        );
        let _ = writeln!(
            out,
            "    <rpm:buildhost>{}</rpm:buildhost>",
            escape(r.buildhost.as_str())
        );
        let _ = writeln!(
            out,
            "    <rpm:sourcerpm>{}</rpm:sourcerpm>",
            escape(r.sourcerpm.as_str())
        );
        let _ = writeln!(
            out,
            "    <rpm:header-range start=\"{}\" end=\"{}\"/>",
            r.header_start, r.header_end
        );
        deps(&mut out, "provides", &r.provides);
        deps(&mut out, "requires", &r.requires);
        deps(&mut out, "conflicts", &r.conflicts);
        deps(&mut out, "obsoletes", &r.obsoletes);
        for (path, kind) in &r.files {
            if PackageRecord::is_primary_file(path) {
                file_line(&mut out, "    ", path, *kind);
            }
        }
        out.push_str("  </format>\n</package>\n");
    }
    out.push_str("</metadata>\n");
    out
}

/// The XML header and the opening root tag of a filelists or other document.
fn open_document(root: &str, namespace: &str, packages: usize) -> String {
    let mut out = String::with_capacity(512 * packages + 256);
    out.push_str(HEADER);
    let _ = writeln!(
        out,
        "<{root} xmlns=\"{namespace}\" packages=\"{packages}\">"
    );
    out
}

/// A `<package>` entry of filelists or other, linked to primary by pkgid, with its version.
fn open_linked_package(out: &mut String, r: &PackageRecord) {
    let _ = writeln!(
        out,
        "<package pkgid=\"{}\" name=\"{}\" arch=\"{}\">",
        r.pkgid,
        escape(r.name.as_str()),
        escape(r.arch.as_str())
    );
    version_tag(out, r);
}

/// filelists.xml for `records`.
pub fn filelists(records: &[&PackageRecord]) -> String {
    let mut out = open_document("filelists", NS_FILELISTS, records.len());
    for r in records {
        open_linked_package(&mut out, r);
        for (path, kind) in &r.files {
            file_line(&mut out, "  ", path, *kind);
        }
        out.push_str("</package>\n");
    }
    out.push_str("</filelists>\n");
    out
}

/// other.xml for `records`.
pub fn other(records: &[&PackageRecord]) -> String {
    let mut out = open_document("otherdata", NS_OTHER, records.len());
    for r in records {
        open_linked_package(&mut out, r);
        for c in &r.changelogs {
            let _ = writeln!(
                out,
                "  <changelog author=\"{}\" date=\"{}\">{}</changelog>",
                escape(c.author.as_str()),
                c.date,
                escape(c.text.as_str())
            );
        }
        out.push_str("</package>\n");
    }
    out.push_str("</otherdata>\n");
    out
}

/// One `<data>` entry of repomd.xml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepomdData {
    pub kind: &'static str,
    pub href: String,
    pub checksum: String,
    pub open_checksum: String,
    pub timestamp: u64,
    pub size: u64,
    pub open_size: u64,
}

/// repomd.xml listing `data` under `revision`.
pub fn repomd(revision: u64, data: &[RepomdData]) -> String {
    let mut out = String::with_capacity(1024);
    out.push_str(HEADER);
    let _ = writeln!(out, "<repomd xmlns=\"{NS_REPO}\" xmlns:rpm=\"{NS_RPM}\">");
    let _ = writeln!(out, "  <revision>{revision}</revision>");
    for d in data {
        let _ = writeln!(out, "  <data type=\"{}\">", d.kind);
        let _ = writeln!(
            out,
            "    <checksum type=\"sha256\">{}</checksum>",
            d.checksum
        );
        let _ = writeln!(
            out,
            "    <open-checksum type=\"sha256\">{}</open-checksum>",
            d.open_checksum
        );
        let _ = writeln!(out, "    <location href=\"{}\"/>", escape(d.href.as_str()));
        let _ = writeln!(out, "    <timestamp>{}</timestamp>", d.timestamp);
        let _ = writeln!(out, "    <size>{}</size>", d.size);
        let _ = writeln!(out, "    <open-size>{}</open-size>", d.open_size);
        out.push_str("  </data>\n");
    }
    out.push_str("</repomd>\n");
    out
}
