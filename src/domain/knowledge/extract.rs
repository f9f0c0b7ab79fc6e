//! Main content of a fetched page as Markdown, with its title, links and the robots meta
//! directives. Navigation, headers, footers, forms and scripts are dropped; `<main>` or
//! `<article>` is preferred to the whole body when the page has one.

use scraper::{Html, Selector};
use url::Url;

/// What a page yields.
#[derive(Debug, Clone, PartialEq)]
pub struct Extracted {
    pub title: String,
    pub markdown: String,
    /// Absolute http(s) links in document order (fragments dropped).
    pub links: Vec<Url>,
    pub canonical: Option<Url>,
    /// `<meta name="robots" content="noindex">`: fetched, not indexed.
    pub noindex: bool,
    /// `<meta name="robots" content="nofollow">`: its links are not followed.
    pub nofollow: bool,
}

/// Tags never part of the content.
const CHROME: &[&str] = &[
    "script", "style", "noscript", "nav", "footer", "aside", "form", "svg", "iframe", "template", "button", "select",
    "canvas", "object", "embed",
];

fn selector(s: &str) -> Option<Selector> {
    Selector::parse(s).ok()
}

fn first_text(doc: &Html, css: &str) -> Option<String> {
    let sel = selector(css)?;
    doc.select(&sel)
        .map(|e| {
            e.text()
                .collect::<String>()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .find(|t| !t.is_empty())
}

/// Extracts an HTML page fetched from `base`.
pub fn html(raw: &str, base: &Url) -> Extracted {
    let doc = Html::parse_document(raw);
    let meta_robots = selector("meta[name]")
        .map(|sel| {
            doc.select(&sel)
                .filter(|e| e.value().attr("name").is_some_and(|n| n.eq_ignore_ascii_case("robots")))
                .filter_map(|e| e.value().attr("content"))
                .map(str::to_ascii_lowercase)
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let directive = |d: &str| meta_robots.split(',').any(|x| x.trim() == d || x.trim() == "none");
    let title = first_text(&doc, "title")
        .or_else(|| first_text(&doc, "h1"))
        .unwrap_or_else(|| base.path().to_string());
    let canonical = selector("link[rel=canonical][href]")
        .and_then(|sel| doc.select(&sel).next())
        .and_then(|e| e.value().attr("href"))
        .and_then(|h| base.join(h).ok());
    let links = selector("a[href]")
        .map(|sel| {
            doc.select(&sel)
                .filter(|e| !e.value().attr("rel").is_some_and(|r| r.contains("nofollow")))
                .filter_map(|e| e.value().attr("href"))
                .filter_map(|h| base.join(h.trim()).ok())
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .map(|mut u| {
                    u.set_fragment(None);
                    u
                })
                .collect()
        })
        .unwrap_or_default();
    // The page's main part when it marks one; the body (minus its header) otherwise.
    let (content, mut skip) = ["main", "article", "[role=main]"]
        .iter()
        .filter_map(|css| selector(css))
        .find_map(|sel| doc.select(&sel).next().map(|e| e.html()))
        .map_or_else(
            || {
                let body = selector("body")
                    .and_then(|sel| doc.select(&sel).next().map(|e| e.html()))
                    .unwrap_or_else(|| raw.to_string());
                (body, vec!["header"])
            },
            |main| (main, Vec::new()),
        );
    skip.extend_from_slice(CHROME);
    let converter = htmd::HtmlToMarkdown::builder().skip_tags(skip).build();
    let markdown = converter.convert(&content).unwrap_or_default();
    Extracted {
        title,
        markdown: tidy(&markdown),
        links,
        canonical,
        noindex: directive("noindex"),
        nofollow: directive("nofollow"),
    }
}

/// A Markdown or plain-text document: its first `# ` heading (else `fallback`) is the title.
pub fn text(raw: &str, fallback: &str) -> Extracted {
    let title = raw
        .lines()
        .find_map(|l| l.strip_prefix("# "))
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| fallback.to_string());
    Extracted {
        title,
        markdown: tidy(raw),
        links: Vec::new(),
        canonical: None,
        noindex: false,
        nofollow: false,
    }
}

/// Trims trailing spaces and collapses runs of blank lines.
fn tidy(md: &str) -> String {
    let mut out = String::with_capacity(md.len());
    let mut blank = 0;
    for line in md.lines().map(str::trim_end) {
        if line.is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        blank = 0;
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://help.example.com/docs/start").unwrap()
    }

    #[test]
    fn the_main_content_becomes_markdown_without_the_chrome() {
        let page = r#"<html><head><title>Billing help</title><script>var x = 1;</script></head>
            <body><header>Site header</header><nav><a href="/docs/a">A</a></nav>
            <main><h1>Billing</h1><p>Bills are sent on the <b>first</b> of the month.</p>
            <h2>Paying</h2><ul><li>Card</li><li>Bank transfer</li></ul></main>
            <footer>© Example <a href="/legal#terms">Legal</a></footer></body></html>"#;
        let x = html(page, &base());
        assert_eq!(x.title, "Billing help");
        assert!(x.markdown.contains("# Billing"), "{}", x.markdown);
        assert!(x.markdown.contains("## Paying"), "{}", x.markdown);
        assert!(x.markdown.contains("**first**"), "{}", x.markdown);
        for gone in ["var x", "Site header", "©"] {
            assert!(!x.markdown.contains(gone), "{gone} in {}", x.markdown);
        }
        let links: Vec<_> = x.links.iter().map(Url::as_str).collect();
        assert_eq!(
            links,
            ["https://help.example.com/docs/a", "https://help.example.com/legal"]
        );
        assert!(!x.noindex && !x.nofollow);
    }

    #[test]
    fn robots_meta_canonical_and_nofollow_links_are_read() {
        let page = r#"<html><head><meta name="ROBOTS" content="noindex, nofollow">
            <link rel="canonical" href="/docs/start?x=1"></head>
            <body><p>Hi</p><a rel="nofollow" href="/x">x</a><a href="mailto:a@b.c">m</a></body></html>"#;
        let x = html(page, &base());
        assert!(x.noindex && x.nofollow);
        assert_eq!(x.canonical.unwrap().as_str(), "https://help.example.com/docs/start?x=1");
        assert!(x.links.is_empty());
        assert_eq!(x.title, "/docs/start");
    }

    #[test]
    fn markdown_documents_take_their_title_from_the_first_heading() {
        let x = text("intro\n\n# Refunds\n\n\n\nPaid in 5 days.  ", "fallback");
        assert_eq!(x.title, "Refunds");
        assert_eq!(x.markdown, "intro\n\n# Refunds\n\nPaid in 5 days.");
        assert_eq!(text("no heading", "notes.txt").title, "notes.txt");
    }
}
