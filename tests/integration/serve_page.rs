//! The page at `/` in a real browser: headless Chromium opens it from a running server, a text
//! is typed into it, and the page shows the label, a bar per label, and the text as written
//! with each token coloured the way `/explain` says it pushed. The screenshot is kept as
//! `serve-page.png` in cargo's test scratch folder (`CARGO_TARGET_TMPDIR`), for
//! docs/images/serve.png.
//! Without Chromium (Debian's `chromium`, or $CHROMIUM) the test says it is skipped, except
//! under CI, where .ci/run installs it.

use crate::common::{post, serve, skip};
use serde_json::{json, Value};

/// Positive, with a word pushing each way and an emoji (two UTF-16 units, one character) before
/// the last words, which the page's character offsets must step over.
const TEXT: &str = "A wonderful, moving film 😀 though the ending was awful.";

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn the_page_classifies_and_colours_what_is_typed() {
    use crate::common::{chromium, Browser};
    let Some(chromium) = chromium() else {
        // .ci/run installs it: there, its absence is a failure.
        assert!(std::env::var_os("CI").is_none(), "CI without chromium");
        skip("the page in a real browser", "chromium is not installed");
        return;
    };
    let served = serve(&[]);
    let expected: Value = post(
        &served.addr,
        "/explain",
        &json!({ "inputs": TEXT }).to_string(),
    )
    .json();
    let mut browser = Browser::launch(&chromium, 760, 450);
    browser.navigate(&format!("http://{}/", served.addr));
    browser.wait_for("document.getElementById('model').textContent.startsWith('builtin')");
    browser.eval("document.getElementById('text').focus()");
    browser.type_text(TEXT);
    browser.wait_for("!document.getElementById('result').hidden");
    let shown = browser.eval(
        "(() => {
            const $ = (id) => document.getElementById(id);
            return {
                label: $('label').textContent,
                bars: [...document.querySelectorAll('.bar')].map((b) => b.dataset.label),
                text: $('tokens').textContent,
                tokens: [...document.querySelectorAll('#tokens .token')].map((s) => ({
                    text: s.textContent, class: s.className, background: s.style.background,
                })),
            };
        })()",
    );
    assert_eq!(shown["label"], "positive");
    assert_eq!(shown["bars"], json!(["positive", "negative"]));
    assert_eq!(shown["text"], TEXT, "the text shows as written");
    let tokens = shown["tokens"].as_array().unwrap();
    let explained = expected["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), explained.len());
    let chars: Vec<char> = TEXT.chars().collect();
    // Each token's class and colour follow its contribution: green toward the label, red away,
    // none under a tenth of the strongest. The text is chosen to show all three.
    let strongest = (explained.iter())
        .map(|t| t["contribution"].as_f64().unwrap().abs())
        .fold(0.0, f64::max);
    let mut seen = std::collections::BTreeSet::new();
    for (shown, token) in tokens.iter().zip(explained) {
        let (start, end) = (
            token["start"].as_u64().unwrap() as usize,
            token["end"].as_u64().unwrap() as usize,
        );
        let written: String = chars[start..end].iter().collect();
        assert_eq!(shown["text"], written.as_str());
        let contribution = token["contribution"].as_f64().unwrap();
        let (way, colour) = if contribution >= 0.0 {
            ("token toward", "rgba(22, 163, 74")
        } else {
            ("token away", "rgba(220, 38, 38")
        };
        assert_eq!(shown["class"], way, "{written}");
        let want = if contribution.abs() < strongest / 10.0 {
            ""
        } else {
            colour
        };
        let background = shown["background"].as_str().unwrap();
        let fits = if want.is_empty() {
            background.is_empty()
        } else {
            background.starts_with(want)
        };
        assert!(fits, "{written}: {contribution} shown as {background:?}");
        seen.insert(want);
    }
    assert_eq!(seen.len(), 3, "the text shows plain, green and red tokens");
    let png = browser.screenshot();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    let kept = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-page.png");
    std::fs::write(&kept, png).unwrap();
}
