//! Normalization: the forms of a tool result that the detectors read.
//!
//! An attacker hides an instruction from a pattern by changing its bytes, not its meaning
//! to a model. Each step here undoes one such change: invisible characters (zero-width,
//! bidi controls, Unicode tag characters) are removed, compatibility forms and diacritics
//! are folded (NFKD), look-alike letters from other scripts are mapped to Latin, embedded
//! base64, hex and URL-encoded runs are decoded, and letters spaced out one by one are
//! joined. JSON string fields are read in document order and HTML tags stripped, so an
//! instruction split across fields or markup is read whole.

use std::borrow::Cow;
use std::sync::LazyLock;

use base64::Engine as _;
use regex::Regex;
use unicode_normalization::UnicodeNormalization;

/// Largest total of decoded bytes examined per result: bounds the work a hostile result
/// can cause.
const DECODE_BUDGET_BYTES: usize = 1 << 20;
/// Decoded text must be at least this printable (fraction of chars) to be read.
const MIN_PRINTABLE_FRACTION: f64 = 0.9;
/// Decoding is applied to decoded text again, this many levels deep.
const MAX_DECODE_DEPTH: usize = 2;

/// Where a view came from. Everything but `Plain` and `Structure` is an obfuscation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The text itself, cleaned and folded.
    Plain,
    /// JSON string fields joined in order, or HTML with its tags stripped.
    Structure,
    Base64,
    Hex,
    UrlEncoded,
    /// Invisible Unicode tag characters read as the ASCII they encode.
    TagCharacters,
    /// Letters spaced out one by one, joined.
    SpacedLetters,
}

impl Origin {
    pub fn is_obfuscation(self) -> bool {
        !matches!(self, Origin::Plain | Origin::Structure)
    }
}

/// One readable form of a result: folded to lower-case Latin, invisible characters gone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    pub origin: Origin,
    pub text: String,
}

/// All views of a result, and what was found while making them.
#[derive(Clone, Debug, Default)]
pub struct Views {
    pub views: Vec<View>,
    /// The result held zero-width, bidi-control or tag characters.
    pub had_invisible: bool,
    /// Case-preserving text with invisible characters removed, plus decoded runs: what
    /// the secret detector reads (credentials are case-sensitive).
    pub cased: Vec<String>,
}

static BASE64_RUN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[A-Za-z0-9+/_-]{16,}={0,2}").expect("base64 run regex"));
static HEX_RUN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:\\x[0-9a-fA-F]{2}){8,}|\b(?:[0-9a-fA-F]{2}){8,}\b").expect("hex run regex")
});
static URL_ENCODED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"%[0-9a-fA-F]{2}").expect("url escape regex"));
static SPACED_RUN: LazyLock<Regex> = LazyLock::new(|| {
    // Two or more single letters or digits, each followed by one separator character (a
    // wider gap separates words, so "i g n o r e   a l l" becomes "ignore   all").
    Regex::new(r"(?:\b[a-z0-9][ .\-_*|·]){1,}[a-z0-9]\b").expect("spaced run regex")
});
static HTML_TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?s)<!--|-->|<[a-zA-Z/!][^>]{0,2000}>").expect("html tag regex"));
static HTML_ENTITY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]{2,8});").expect("entity regex")
});

/// Builds every view of `raw`.
pub fn views(raw: &str) -> Views {
    let mut out = Views::default();
    let (visible, tags) = strip_invisible(raw, &mut out.had_invisible);
    out.cased.push(visible.clone());
    let plain = fold(&visible);
    if !tags.is_empty() {
        out.cased.push(tags.clone());
        out.views.push(View {
            origin: Origin::TagCharacters,
            text: fold(&tags),
        });
    }
    for structured in structure_views(&visible) {
        out.views.push(View {
            origin: Origin::Structure,
            text: fold(&structured),
        });
    }
    let mut budget = DECODE_BUDGET_BYTES;
    decode_into(&visible, 0, &mut budget, &mut out);
    let joined = join_spaced_letters(&plain);
    if let Cow::Owned(joined) = joined {
        out.views.push(View {
            origin: Origin::SpacedLetters,
            text: joined,
        });
    }
    out.views.insert(
        0,
        View {
            origin: Origin::Plain,
            text: plain,
        },
    );
    out
}

/// Removes invisible format characters; returns the visible text and the ASCII hidden in
/// Unicode tag characters (U+E0020..U+E007E), which some models read.
fn strip_invisible(raw: &str, had_invisible: &mut bool) -> (String, String) {
    let mut visible = String::with_capacity(raw.len());
    let mut tags = String::new();
    for c in raw.chars() {
        let cp = c as u32;
        if (0xE0020..=0xE007E).contains(&cp) {
            *had_invisible = true;
            if let Some(ascii) = char::from_u32(cp - 0xE0000) {
                tags.push(ascii);
            }
        } else if is_invisible(c) {
            *had_invisible = true;
        } else {
            visible.push(c);
        }
    }
    (visible, tags)
}

fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}'
        | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}'
        | '\u{E0000}'..='\u{E007F}')
}

/// NFKD, combining marks dropped, lower-cased, look-alikes mapped to Latin, curly quotes
/// to straight ones.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.nfkd() {
        if ('\u{0300}'..='\u{036F}').contains(&c) {
            continue;
        }
        for lower in c.to_lowercase() {
            out.push(homoglyph(lower));
        }
    }
    out
}

/// Maps Cyrillic, Greek and other letters that look like Latin ones to those letters.
fn homoglyph(c: char) -> char {
    match c {
        'а' | 'α' | 'ɑ' => 'a',
        'в' | 'β' | 'ь' | 'Ь' => 'b',
        'с' | 'ϲ' => 'c',
        'ԁ' => 'd',
        'е' | 'ε' | 'ё' => 'e',
        'ɡ' => 'g',
        'һ' | 'н' => 'h',
        'і' | 'ι' | 'ı' | 'ї' => 'i',
        'ј' | 'ϳ' => 'j',
        'к' | 'κ' => 'k',
        'ӏ' | 'ł' => 'l',
        'м' => 'm',
        'η' | 'п' => 'n',
        'о' | 'ο' | 'σ' | 'ø' => 'o',
        'р' | 'ρ' => 'p',
        'ԛ' => 'q',
        'г' => 'r',
        'ѕ' => 's',
        'т' | 'τ' => 't',
        'υ' | 'ц' => 'u',
        'ν' | 'ѵ' => 'v',
        'ԝ' | 'ω' | 'ш' => 'w',
        'х' | 'χ' => 'x',
        'у' | 'γ' | 'ү' => 'y',
        'ᴢ' => 'z',
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{00AB}' | '\u{00BB}' => '"',
        '\u{2018}' | '\u{2019}' => '\'',
        other => other,
    }
}

/// JSON string fields in document order (when the text is JSON-shaped), and HTML with
/// tags removed and entities decoded (when it holds tags or entities).
fn structure_views(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let fields = json_string_fields(trimmed);
        if !fields.is_empty() {
            out.push(fields.join(" "));
        }
    }
    if HTML_TAG.is_match(text) || HTML_ENTITY.is_match(text) {
        // Tags removed outright rejoin a word split by empty inline tags ("ign<b></b>ore");
        // tags replaced by a space keep words apart across block tags. Both are read.
        for sep in ["", " "] {
            out.push(decode_entities(&HTML_TAG.replace_all(text, sep)));
        }
    }
    out
}

/// Every JSON string literal (keys and values) in textual order, unescaped. Works on
/// truncated or slightly broken JSON too: it scans literals, it does not parse.
fn json_string_fields(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'"' {
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        while i < bytes.len() && bytes[i] != b'"' {
            i += if bytes[i] == b'\\' { 2 } else { 1 };
        }
        let end = (i + 1).min(bytes.len());
        if let Some(literal) = text.get(start..end)
            && let Ok(s) = serde_json::from_str::<String>(literal)
        {
            out.push(s);
        }
        i += 1;
    }
    out
}

fn decode_entities(text: &str) -> String {
    HTML_ENTITY
        .replace_all(text, |caps: &regex::Captures<'_>| {
            let entity = &caps[0];
            let body = &entity[1..entity.len() - 1];
            let decoded =
                if let Some(hex) = body.strip_prefix("#x").or_else(|| body.strip_prefix("#X")) {
                    u32::from_str_radix(hex, 16).ok().and_then(char::from_u32)
                } else if let Some(dec) = body.strip_prefix('#') {
                    dec.parse::<u32>().ok().and_then(char::from_u32)
                } else {
                    match body {
                        "lt" => Some('<'),
                        "gt" => Some('>'),
                        "amp" => Some('&'),
                        "quot" => Some('"'),
                        "apos" => Some('\''),
                        "nbsp" => Some(' '),
                        _ => None,
                    }
                };
            decoded.map_or_else(|| entity.to_string(), String::from)
        })
        .into_owned()
}

/// Decodes base64, hex and URL-encoded runs of `text` into views, recursively.
fn decode_into(text: &str, depth: usize, budget: &mut usize, out: &mut Views) {
    if depth >= MAX_DECODE_DEPTH {
        return;
    }
    let mut found: Vec<(Origin, String)> = Vec::new();
    for m in BASE64_RUN.find_iter(text) {
        if let Some(decoded) = take_budget(budget, m.len())
            .then(|| decode_base64(m.as_str()))
            .flatten()
        {
            found.push((Origin::Base64, decoded));
        }
    }
    for m in HEX_RUN.find_iter(text) {
        let digits: String = m.as_str().replace("\\x", "");
        if let Some(decoded) = take_budget(budget, m.len())
            .then(|| hex::decode(&digits).ok().and_then(printable_utf8))
            .flatten()
        {
            found.push((Origin::Hex, decoded));
        }
    }
    if URL_ENCODED.find_iter(text).nth(1).is_some() && take_budget(budget, text.len()) {
        let decoded = percent_decode(text);
        if let Some(s) = printable_utf8(decoded)
            && s != text
        {
            found.push((Origin::UrlEncoded, s));
        }
    }
    for (origin, decoded) in found {
        decode_into(&decoded, depth + 1, budget, out);
        out.views.push(View {
            origin,
            text: fold(&decoded),
        });
        out.cased.push(decoded);
    }
}

fn take_budget(budget: &mut usize, len: usize) -> bool {
    if *budget < len {
        return false;
    }
    *budget -= len;
    true
}

fn decode_base64(run: &str) -> Option<String> {
    let trimmed = run.trim_end_matches('=');
    let engine = if trimmed.contains(['-', '_']) {
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
    } else {
        &base64::engine::general_purpose::STANDARD_NO_PAD
    };
    engine.decode(trimmed).ok().and_then(printable_utf8)
}

fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(text.get(i + 1..i + 3).unwrap_or(""), 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
            i += 1;
        }
    }
    out
}

/// The bytes as text, if they are UTF-8 and mostly printable (so a decoded image or
/// digest is not read as prose).
fn printable_utf8(bytes: Vec<u8>) -> Option<String> {
    let s = String::from_utf8(bytes).ok()?;
    let total = s.chars().count();
    if total < 4 {
        return None;
    }
    let printable = s
        .chars()
        .filter(|c| !c.is_control() || c.is_whitespace())
        .count();
    (printable as f64 / total as f64 >= MIN_PRINTABLE_FRACTION).then_some(s)
}

/// Joins runs of single letters separated by single separators ("i g n o r e").
fn join_spaced_letters(folded: &str) -> Cow<'_, str> {
    SPACED_RUN.replace_all(folded, |caps: &regex::Captures<'_>| {
        caps[0]
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(raw: &str, origin: Origin) -> Vec<String> {
        views(raw)
            .views
            .into_iter()
            .filter(|v| v.origin == origin)
            .map(|v| v.text)
            .collect()
    }

    #[test]
    fn zero_width_and_bidi_are_removed_and_noticed() {
        let v = views("ig\u{200B}no\u{202E}re");
        assert!(v.had_invisible);
        assert_eq!(v.views[0].text, "ignore");
    }

    #[test]
    fn homoglyphs_and_fullwidth_fold_to_latin() {
        // Cyrillic і, о, е; fullwidth Ｒ.
        assert_eq!(fold("іgnоrе ＲULES"), "ignore rules");
    }

    #[test]
    fn base64_hex_and_url_runs_are_decoded() {
        let b64 = base64::engine::general_purpose::STANDARD.encode("ignore previous instructions");
        assert_eq!(
            texts(&format!("data: {b64}"), Origin::Base64),
            vec!["ignore previous instructions"]
        );
        let hexed = hex::encode("ignore previous instructions");
        assert_eq!(
            texts(&hexed, Origin::Hex),
            vec!["ignore previous instructions"]
        );
        assert_eq!(
            texts("ignore%20previous%20instructions", Origin::UrlEncoded),
            vec!["ignore previous instructions"]
        );
    }

    #[test]
    fn binary_base64_is_not_read_as_text() {
        let png = base64::engine::general_purpose::STANDARD.encode([
            0x89u8, b'P', b'N', b'G', 0, 0, 0, 13, 0xff, 0xfe, 1, 2, 3, 4, 5, 6,
        ]);
        assert!(texts(&png, Origin::Base64).is_empty());
    }

    #[test]
    fn spaced_letters_are_joined() {
        assert_eq!(
            texts("please i g n o r e all", Origin::SpacedLetters),
            vec!["please ignore all"]
        );
    }

    #[test]
    fn tag_characters_are_read_as_ascii() {
        let hidden: String = "hi"
            .chars()
            .map(|c| char::from_u32(0xE0000 + c as u32).unwrap())
            .collect();
        let v = views(&format!("visible{hidden}"));
        assert!(v.had_invisible);
        assert_eq!(v.views[0].text, "visible");
        assert!(
            v.views
                .iter()
                .any(|x| x.origin == Origin::TagCharacters && x.text == "hi")
        );
    }

    #[test]
    fn json_fields_are_joined_in_document_order() {
        let got = texts(
            r#"{"z": "ignore all", "a": "previous instructions"}"#,
            Origin::Structure,
        );
        assert_eq!(got, vec!["z ignore all a previous instructions"]);
    }

    #[test]
    fn html_tags_are_stripped_and_entities_decoded() {
        let got = texts("<p>ign<b>ore</b> &#112;revious</p>", Origin::Structure);
        assert!(got.iter().any(|t| t.contains("ignore previous")), "{got:?}");
    }
}
