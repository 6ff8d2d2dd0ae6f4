//! The dashboard's files, embedded at compile time and given content-hashed names.
//!
//! A file is served as `/assets/<stem>.<hash>.<ext>` so that browsers and CloudFront may keep it
//! for a year; `index.html` (never cached long) names the current ones. References between files
//! (`from "./api.js"`, `href="/assets/style.css"`) are rewritten to the hashed names, leaves
//! first, so a change to any file changes the name of every file that imports it.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// Every file of `assets/` that is served (a test checks none is missing).
const SOURCES: &[(&str, &[u8])] = &[
    ("app.js", include_bytes!("../assets/app.js")),
    ("api.js", include_bytes!("../assets/api.js")),
    ("auth.js", include_bytes!("../assets/auth.js")),
    ("nav.js", include_bytes!("../assets/nav.js")),
    ("ui.js", include_bytes!("../assets/ui.js")),
    ("page-signin.js", include_bytes!("../assets/page-signin.js")),
    (
        "page-overview.js",
        include_bytes!("../assets/page-overview.js"),
    ),
    (
        "page-concepts.js",
        include_bytes!("../assets/page-concepts.js"),
    ),
    ("page-videos.js", include_bytes!("../assets/page-videos.js")),
    (
        "page-providers.js",
        include_bytes!("../assets/page-providers.js"),
    ),
    (
        "page-insights.js",
        include_bytes!("../assets/page-insights.js"),
    ),
    (
        "page-billing.js",
        include_bytes!("../assets/page-billing.js"),
    ),
    ("page-keys.js", include_bytes!("../assets/page-keys.js")),
    (
        "page-accounts.js",
        include_bytes!("../assets/page-accounts.js"),
    ),
    ("page-posts.js", include_bytes!("../assets/page-posts.js")),
    (
        "page-analytics.js",
        include_bytes!("../assets/page-analytics.js"),
    ),
    (
        "page-webhooks.js",
        include_bytes!("../assets/page-webhooks.js"),
    ),
    (
        "page-autopilot.js",
        include_bytes!("../assets/page-autopilot.js"),
    ),
    (
        "page-publish.js",
        include_bytes!("../assets/page-publish.js"),
    ),
    (
        "page-settings.js",
        include_bytes!("../assets/page-settings.js"),
    ),
    ("page-docs.js", include_bytes!("../assets/page-docs.js")),
    ("style.css", include_bytes!("../assets/style.css")),
    ("icon.svg", include_bytes!("../assets/icon.svg")),
    (
        "vendor/preact-htm.mjs",
        include_bytes!("../assets/vendor/preact-htm.mjs"),
    ),
];

const INDEX: &str = include_str!("../assets/index.html");

/// One servable file.
#[derive(Clone, Debug)]
pub struct Asset {
    /// The name under `/assets/`, with its hash.
    pub name: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// The hashed files and the `index.html` that names them.
#[derive(Debug)]
pub struct Bundle {
    pub index_html: String,
    /// Hashed name → file.
    pub assets: BTreeMap<String, Asset>,
}

impl Bundle {
    /// Built once per process (hashing 200 KB takes well under a millisecond).
    pub fn get() -> &'static Bundle {
        static BUNDLE: OnceLock<Bundle> = OnceLock::new();
        BUNDLE.get_or_init(|| build(SOURCES, INDEX))
    }

    /// The JavaScript files (the size budget is checked over these).
    pub fn javascript(&self) -> impl Iterator<Item = &Asset> {
        self.assets
            .values()
            .filter(|a| a.content_type.starts_with("text/javascript"))
    }
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("html") => "text/html; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn hashed_name(name: &str, bytes: &[u8]) -> String {
    let hash = hex::encode(&Sha256::digest(bytes)[..5]);
    let file = name.rsplit('/').next().unwrap_or(name);
    match file.rsplit_once('.') {
        Some((stem, ext)) => format!("{stem}.{hash}.{ext}"),
        None => format!("{file}.{hash}"),
    }
}

/// The ways one file names another: a relative module import, or an absolute asset path.
fn references(name: &str) -> [String; 3] {
    [
        format!("\"./{name}\""),
        format!("'./{name}'"),
        format!("\"/assets/{name}\""),
    ]
}

fn mentions(text: &str, name: &str) -> bool {
    references(name).iter().any(|r| text.contains(r.as_str()))
}

fn build(sources: &[(&str, &[u8])], index: &str) -> Bundle {
    let mut done: BTreeMap<&str, String> = BTreeMap::new();
    let mut assets = BTreeMap::new();
    // Leaves first: a file is hashed once every file it names has its final name. The files
    // form no cycle (a test checks every one gets a name), so this ends.
    for _ in 0..=sources.len() {
        for (name, bytes) in sources {
            if done.contains_key(name) {
                continue;
            }
            let Ok(text) = std::str::from_utf8(bytes) else {
                let hashed = hashed_name(name, bytes);
                assets.insert(hashed.clone(), asset(&hashed, name, bytes.to_vec()));
                done.insert(name, hashed);
                continue;
            };
            let waits = sources.iter().any(|(other, _)| {
                other != name && !done.contains_key(other) && mentions(text, other)
            });
            if waits {
                continue;
            }
            let text = rewrite(text, &done);
            let hashed = hashed_name(name, text.as_bytes());
            assets.insert(hashed.clone(), asset(&hashed, name, text.into_bytes()));
            done.insert(name, hashed);
        }
    }
    Bundle {
        index_html: rewrite(index, &done),
        assets,
    }
}

fn asset(hashed: &str, name: &str, bytes: Vec<u8>) -> Asset {
    Asset {
        name: hashed.to_owned(),
        content_type: content_type(name),
        bytes,
    }
}

fn rewrite(text: &str, done: &BTreeMap<&str, String>) -> String {
    let mut out = text.to_owned();
    for (name, hashed) in done {
        // Every hashed file is served flat under /assets/, so references point there directly.
        let flat = format!("/assets/{hashed}");
        let [dq, sq, abs] = references(name);
        for (from, to) in [
            (dq, format!("\"{flat}\"")),
            (sq, format!("'{flat}'")),
            (abs, format!("\"{flat}\"")),
        ] {
            out = out.replace(&from, &to);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_gets_a_hashed_name_and_references_follow() {
        let b = Bundle::get();
        assert_eq!(b.assets.len(), SOURCES.len(), "a cycle left a file unnamed");
        for (name, _) in SOURCES {
            for r in references(name) {
                assert!(!b.index_html.contains(&r), "index names {name} unhashed");
                for a in b.assets.values() {
                    let text = String::from_utf8_lossy(&a.bytes);
                    assert!(!text.contains(&r), "{} names {name} unhashed", a.name);
                }
            }
        }
        assert!(b.index_html.contains("/assets/app."), "{}", b.index_html);
    }

    #[test]
    fn a_change_in_a_leaf_renames_its_importers() {
        let a: &[(&str, &[u8])] = &[
            ("a.js", b"import x from \"./b.js\";"),
            ("b.js", b"export default 1;"),
        ];
        let b: &[(&str, &[u8])] = &[
            ("a.js", b"import x from \"./b.js\";"),
            ("b.js", b"export default 2;"),
        ];
        let one = build(a, "<script src=\"/assets/a.js\"></script>");
        let two = build(b, "<script src=\"/assets/a.js\"></script>");
        assert_ne!(one.index_html, two.index_html);
        let names: Vec<_> = one.assets.keys().collect();
        assert!(
            names.iter().all(|n| n.matches('.').count() == 2),
            "{names:?}"
        );
    }

    #[test]
    fn every_file_in_the_folder_is_served() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
        let mut on_disk = Vec::new();
        for entry in walk(&dir) {
            let rel = entry
                .strip_prefix(&dir)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let served = matches!(rel.rsplit('.').next(), Some("js" | "mjs" | "css" | "svg"));
            if served {
                on_disk.push(rel);
            }
        }
        for f in &on_disk {
            assert!(
                SOURCES.iter().any(|(n, _)| n == f),
                "{f} is in assets/ but not in SOURCES"
            );
        }
    }

    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
        out
    }
}
