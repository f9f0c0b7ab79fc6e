//! Knowledge, the pure rules: which URLs a crawl may visit, how a URL is normalised, what a
//! sitemap lists, how a page is extracted and chunked, and how two rankings are fused.

pub mod chunk;
pub mod extract;

use std::collections::HashMap;

use url::Url;

/// Query parameters that only track the visitor: dropped so one page is one URL.
const TRACKING: &[&str] = &["gclid", "fbclid", "msclkid", "mc_cid", "mc_eid", "ref", "_ga"];

/// Drops the fragment and tracking parameters, and an empty query.
pub fn normalise(mut url: Url) -> Url {
    url.set_fragment(None);
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !k.starts_with("utm_") && !TRACKING.contains(&k.as_ref()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    url
}

/// Which pages a crawl may visit: the start URL's origin (scheme, host, port), under the
/// start URL's directory, within the include prefixes (if any) and outside the excluded ones.
#[derive(Debug, Clone)]
pub struct Scope {
    origin: url::Origin,
    prefix: String,
    include: Vec<String>,
    exclude: Vec<String>,
}

impl Scope {
    pub fn new(start: &Url, include: &[String], exclude: &[String]) -> Self {
        let path = start.path();
        let prefix = path.rfind('/').map_or("/", |i| &path[..=i]).to_string();
        Self {
            origin: start.origin(),
            prefix,
            include: include.to_vec(),
            exclude: exclude.to_vec(),
        }
    }

    /// The URL every page in scope starts with (origin and directory).
    pub fn url_prefix(&self) -> String {
        format!("{}{}", self.origin.ascii_serialization(), self.prefix)
    }

    pub fn contains(&self, url: &Url) -> bool {
        let path = url.path();
        url.origin() == self.origin
            && path.starts_with(&self.prefix)
            && (self.include.is_empty() || self.include.iter().any(|p| path.starts_with(p.as_str())))
            && !self.exclude.iter().any(|p| path.starts_with(p.as_str()))
    }
}

/// File extensions that are never text: not fetched.
const BINARY: &[&str] = &[
    "pdf", "png", "jpg", "jpeg", "gif", "webp", "svg", "ico", "zip", "gz", "tgz", "rar", "7z", "mp3", "mp4", "wav",
    "avi", "mov", "webm", "exe", "dmg", "iso", "woff", "woff2", "ttf", "eot", "css", "js", "doc", "docx", "xls",
    "xlsx", "ppt", "pptx", "bin",
];

/// True when the URL's path names a binary file.
pub fn looks_binary(url: &Url) -> bool {
    url.path()
        .rsplit('/')
        .next()
        .and_then(|name| name.rsplit_once('.'))
        .is_some_and(|(_, ext)| BINARY.contains(&ext.to_ascii_lowercase().as_str()))
}

/// How a fetched body is read, by its media type (`None`: not text, skipped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Html,
    Markdown,
    Text,
}

impl Format {
    pub fn of(content_type: &str, url: &Url) -> Option<Self> {
        let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match media.as_str() {
            "text/html" | "application/xhtml+xml" => Some(Self::Html),
            "text/markdown" | "text/x-markdown" => Some(Self::Markdown),
            "text/plain" if url.path().ends_with(".md") => Some(Self::Markdown),
            "text/plain" | "" => Some(Self::Text),
            _ => None,
        }
    }
}

/// The `<loc>` entries of a sitemap or sitemap index.
pub fn sitemap_locs(xml: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find("<loc>") {
        rest = &rest[start + 5..];
        let Some(end) = rest.find("</loc>") else { break };
        let loc = rest[..end].trim();
        let loc = loc
            .strip_prefix("<![CDATA[")
            .and_then(|l| l.strip_suffix("]]>"))
            .unwrap_or(loc)
            .replace("&amp;", "&");
        out.push(loc);
        rest = &rest[end..];
    }
    out
}

/// The text a chunk is indexed and embedded by: its page title and headings, then itself
/// (a cheap contextual header).
pub fn indexed_text(title: &str, heading_path: &str, text: &str) -> String {
    if heading_path.is_empty() {
        format!("{title}\n\n{text}")
    } else {
        format!("{title} > {heading_path}\n\n{text}")
    }
}

/// Reciprocal rank fusion: each list (best first) adds `weight / (k + rank)` to each of its
/// items (rank from 1). Returns the items by fused score, best first; ties by item.
pub fn fuse(lists: &[(&[usize], f32)], k: f32) -> Vec<(usize, f32)> {
    let mut scores: HashMap<usize, f32> = HashMap::new();
    for (list, weight) in lists {
        for (i, item) in list.iter().enumerate() {
            *scores.entry(*item).or_default() += weight / (k + i as f32 + 1.0);
        }
    }
    let mut out: Vec<(usize, f32)> = scores.into_iter().collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn urls_lose_fragments_and_tracking() {
        assert_eq!(
            normalise(u("https://a.com/x?utm_source=m&id=3&gclid=9#top")).as_str(),
            "https://a.com/x?id=3"
        );
        assert_eq!(normalise(u("https://a.com/x?utm_medium=e")).as_str(), "https://a.com/x");
    }

    #[test]
    fn scope_is_the_origin_under_the_start_directory() {
        let s = Scope::new(&u("https://a.com/help/index.html"), &[], &["/help/private".into()]);
        assert!(s.contains(&u("https://a.com/help/billing")));
        assert!(s.contains(&u("https://a.com/help/")));
        assert!(!s.contains(&u("https://a.com/blog/x")));
        assert!(!s.contains(&u("http://a.com/help/billing")));
        assert!(!s.contains(&u("https://a.com:8443/help/billing")));
        assert!(!s.contains(&u("https://b.com/help/billing")));
        assert!(!s.contains(&u("https://a.com/help/private/x")));
        let only = Scope::new(&u("https://a.com/"), &["/docs".into()], &[]);
        assert!(only.contains(&u("https://a.com/docs/a")) && !only.contains(&u("https://a.com/blog")));
    }

    #[test]
    fn binaries_and_formats_are_recognised() {
        assert!(looks_binary(&u("https://a.com/f/report.PDF")));
        assert!(!looks_binary(&u("https://a.com/f/report")));
        assert!(!looks_binary(&u("https://a.com/v1.2/")));
        let x = u("https://a.com/x");
        assert_eq!(Format::of("text/html; charset=utf-8", &x), Some(Format::Html));
        assert_eq!(
            Format::of("text/plain", &u("https://a.com/r.md")),
            Some(Format::Markdown)
        );
        assert_eq!(Format::of("text/plain", &x), Some(Format::Text));
        assert_eq!(Format::of("image/png", &x), None);
        assert_eq!(Format::of("application/octet-stream", &x), None);
    }

    #[test]
    fn sitemaps_list_their_locations() {
        let xml = "<urlset><url><loc> https://a.com/x?a=1&amp;b=2 </loc></url><url><loc><![CDATA[https://a.com/y]]></loc></url><loc>broken";
        assert_eq!(sitemap_locs(xml), ["https://a.com/x?a=1&b=2", "https://a.com/y"]);
    }

    #[test]
    fn fusion_rewards_agreement_and_keeps_weights() {
        let bm25 = [3, 1, 2];
        let vec = [1, 4, 3];
        let fused = fuse(&[(&bm25, 1.0), (&vec, 1.0)], 60.0);
        let order: Vec<usize> = fused.iter().map(|(i, _)| *i).collect();
        assert_eq!(order, [1, 3, 4, 2]);
        let vec_only = fuse(&[(&bm25, 0.0), (&vec, 1.0)], 60.0);
        assert_eq!(vec_only[0].0, 1);
    }
}
