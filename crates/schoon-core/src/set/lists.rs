//! Reading hash lists as hotlines and trust-and-safety teams exchange them.
//!
//! Three shapes are recognised from the content:
//! * plain hex, one hash per line (blank lines and `#` comments allowed; anything after the
//!   first comma, space or tab is ignored, so `hash,quality` PDQ lines work),
//! * CSV with a header row naming the hash column (`md5`, `sha1`, `sha256`, `pdq` or `hash`;
//!   an optional `quality` column is used for PDQ),
//! * NDJSON as `schoon hash` prints it (`md5`, `sha1`, `sha256`, `pdq`, `quality` fields; every
//!   kind present on a line is taken).

use std::str::FromStr;

use super::types::HashKind;
use crate::digest::{Md5, Sha1, Sha256};
use crate::error::{BadInput, Error};
use crate::pdq::PdqHash;

/// Hashes read from one list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedList {
    /// MD5 digests.
    pub md5: Vec<Md5>,
    /// SHA-1 digests.
    pub sha1: Vec<Sha1>,
    /// SHA-256 digests.
    pub sha256: Vec<Sha256>,
    /// PDQ hashes with their quality when the list gives it.
    pub pdq: Vec<(PdqHash, Option<u8>)>,
    /// Lines skipped as invalid (only with `skip_invalid`).
    pub skipped: u64,
    /// The first skipped line's error, for the report.
    pub first_skipped: Option<String>,
}

impl ParsedList {
    /// Appends another list's entries (and skip counts).
    pub fn append(&mut self, mut other: ParsedList) {
        self.md5.append(&mut other.md5);
        self.sha1.append(&mut other.sha1);
        self.sha256.append(&mut other.sha256);
        self.pdq.append(&mut other.pdq);
        self.skipped += other.skipped;
        if self.first_skipped.is_none() {
            self.first_skipped = other.first_skipped;
        }
    }

    /// Total hashes read.
    pub fn len(&self) -> usize {
        self.md5.len() + self.sha1.len() + self.sha256.len() + self.pdq.len()
    }

    /// Whether nothing was read.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn add(&mut self, kind: HashKind, text: &str, quality: Option<u8>) -> Result<(), Error> {
        match kind {
            HashKind::Md5 => self.md5.push(Md5::from_str(text)?),
            HashKind::Sha1 => self.sha1.push(Sha1::from_str(text)?),
            HashKind::Sha256 => self.sha256.push(Sha256::from_str(text)?),
            HashKind::Pdq => self.pdq.push((PdqHash::from_str(text)?, quality)),
        }
        Ok(())
    }
}

/// Options for [`parse_list`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ListOptions {
    /// The kind of every hash in a plain or CSV list; `None` for NDJSON (kinds named per line)
    /// or to guess plain hex from the digit count (32 md5, 40 sha1, 64 sha256; 64 is read as
    /// sha256: name the kind for PDQ lists).
    pub kind: Option<HashKind>,
    /// Continue past invalid lines, counting them, instead of failing on the first.
    pub skip_invalid: bool,
}

fn line_error(source: &str, line: usize, e: impl ToString) -> Error {
    Error::BadInput(BadInput::HashList {
        source: source.to_owned(),
        line: line as u64,
        detail: e.to_string(),
    })
}

/// Parses a hash list held in memory. `source` names it in errors
/// (`list.txt:17: invalid md5 hash 'xyz': ...`). For large files use [`ListParser`] line by line.
///
/// ```
/// use schoon_core::set::{parse_list, HashKind, ListOptions};
/// let text = "# demo list\nd41d8cd98f00b204e9800998ecf8427e\n\n900150983cd24fb0d6963f7d28e17f72\n";
/// let opts = ListOptions { kind: Some(HashKind::Md5), ..Default::default() };
/// let list = parse_list(text, "demo.txt", &opts)?;
/// assert_eq!(list.md5.len(), 2);
/// let err = parse_list("abc\n", "bad.txt", &opts).unwrap_err();
/// assert!(err.to_string().starts_with("bad.txt:1: invalid md5 hash 'abc'"));
/// # Ok::<(), schoon_core::Error>(())
/// ```
pub fn parse_list(text: &str, source: &str, options: &ListOptions) -> Result<ParsedList, Error> {
    let mut parser = ListParser::new(source, *options);
    let mut out = ParsedList::default();
    for line in text.lines() {
        parser.line(line, &mut out)?;
    }
    Ok(out)
}

#[derive(Debug, Clone)]
enum Shape {
    Unknown,
    Ndjson,
    Csv { kind: HashKind, column: usize, quality: Option<usize> },
    Plain,
}

/// A streaming hash-list parser: feed it lines in order.
#[derive(Debug, Clone)]
pub struct ListParser {
    source: String,
    options: ListOptions,
    line_no: usize,
    shape: Shape,
}

impl ListParser {
    /// A parser for the list named `source`.
    pub fn new(source: &str, options: ListOptions) -> Self {
        ListParser { source: source.to_owned(), options, line_no: 0, shape: Shape::Unknown }
    }

    /// Parses the next line into `out`.
    pub fn line(&mut self, raw: &str, out: &mut ParsedList) -> Result<(), Error> {
        self.line_no += 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            return Ok(());
        }
        if matches!(self.shape, Shape::Unknown) {
            self.shape = self.detect(line)?;
            if matches!(self.shape, Shape::Csv { .. }) {
                return Ok(()); // the header row
            }
        }
        self.parse(self.line_no, line, out)
    }

    /// Whether the list's shape is known (after its first non-comment line): from then on,
    /// lines are independent and [`ListParser::lines_at`] may parse blocks of them in parallel.
    pub fn shape_known(&self) -> bool {
        !matches!(self.shape, Shape::Unknown)
    }

    /// Parses a block of lines whose first line is line number `first` (1-based), once the
    /// shape is known. Does not advance the parser.
    pub fn lines_at<'a>(
        &self,
        first: usize,
        lines: impl IntoIterator<Item = &'a str>,
        out: &mut ParsedList,
    ) -> Result<(), Error> {
        for (i, raw) in lines.into_iter().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            self.parse(first + i, line, out)?;
        }
        Ok(())
    }

    /// Advances the line counter past `n` lines parsed with [`ListParser::lines_at`].
    pub fn skip_lines(&mut self, n: usize) {
        self.line_no += n;
    }

    /// Lines seen so far.
    pub fn lines_seen(&self) -> usize {
        self.line_no
    }

    fn parse(&self, line_no: usize, line: &str, out: &mut ParsedList) -> Result<(), Error> {
        let r = match &self.shape {
            Shape::Ndjson => ndjson_line(out, line, self.options.kind),
            Shape::Csv { kind, column, quality } => {
                let cells: Vec<&str> =
                    line.split(',').map(|c| c.trim().trim_matches('"')).collect();
                match cells.get(*column) {
                    Some(cell) => {
                        let q = quality.and_then(|c| cells.get(c)).and_then(|q| q.parse().ok());
                        out.add(*kind, cell, q)
                    }
                    None => Err(Error::caller(format!("row has no column {}", column + 1))),
                }
            }
            _ => plain_line(out, line, self.options.kind),
        };
        if let Err(e) = r {
            let e = line_error(&self.source, line_no, e);
            if !self.options.skip_invalid {
                return Err(e);
            }
            out.skipped += 1;
            if out.first_skipped.is_none() {
                out.first_skipped = Some(e.to_string());
            }
        }
        Ok(())
    }

    fn detect(&self, first: &str) -> Result<Shape, Error> {
        if first.starts_with('{') {
            return Ok(Shape::Ndjson);
        }
        let header: Vec<String> =
            first.split(',').map(|c| c.trim().trim_matches('"').to_ascii_lowercase()).collect();
        let names = ["md5", "sha1", "sha256", "pdq", "hash"];
        if !header.iter().any(|h| names.contains(&h.as_str())) {
            return Ok(Shape::Plain);
        }
        let wanted = self.options.kind.map(HashKind::name);
        let column = header
            .iter()
            .position(|h| Some(h.as_str()) == wanted)
            .or_else(|| header.iter().position(|h| h == "hash"))
            .or_else(|| header.iter().position(|h| names.contains(&h.as_str())))
            .unwrap_or(0);
        let kind = match self.options.kind {
            Some(k) => k,
            None => HashKind::from_str(&header[column])
                .map_err(|e| line_error(&self.source, self.line_no, e))?,
        };
        let quality = header.iter().position(|h| h == "quality");
        Ok(Shape::Csv { kind, column, quality })
    }
}

fn plain_line(out: &mut ParsedList, line: &str, kind: Option<HashKind>) -> Result<(), Error> {
    // The common case, one bare hash per line, without splitting.
    if let Some(k) = kind
        && line.len() == 2 * k.len()
        && line.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return out.add(k, line, None);
    }
    let mut parts = line.split([',', ' ', '\t', ';']).filter(|p| !p.is_empty());
    let token = parts.next().unwrap_or("");
    let quality = parts.next().and_then(|q| q.parse::<u8>().ok());
    let kind = match kind {
        Some(k) => k,
        None => match token.len() {
            32 => HashKind::Md5,
            40 => HashKind::Sha1,
            64 => HashKind::Sha256,
            n => {
                return Err(Error::caller(format!(
                    "cannot tell the hash kind of '{token}' ({n} digits); name the list's kind"
                )));
            }
        },
    };
    out.add(kind, token, quality)
}

fn ndjson_line(out: &mut ParsedList, line: &str, only: Option<HashKind>) -> Result<(), Error> {
    let v: serde_json::Value =
        serde_json::from_str(line).map_err(|e| Error::caller(format!("invalid json: {e}")))?;
    let obj = v.as_object().ok_or_else(|| Error::caller("expected a json object"))?;
    let quality = obj.get("quality").and_then(serde_json::Value::as_u64).map(|q| q.min(100) as u8);
    let mut found = 0;
    for kind in HashKind::ALL {
        if only.is_some_and(|k| k != kind) {
            continue;
        }
        match obj.get(kind.name()) {
            Some(serde_json::Value::String(s)) => {
                out.add(kind, s, quality)?;
                found += 1;
            }
            Some(other) => {
                return Err(Error::caller(format!(
                    "field {} is not a string: {other}",
                    kind.name()
                )));
            }
            None => {}
        }
    }
    if found == 0 && !obj.contains_key("error") {
        return Err(Error::caller("no md5, sha1, sha256 or pdq field"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MD5_A: &str = "d41d8cd98f00b204e9800998ecf8427e";
    const SHA1_A: &str = "da39a3ee5e6b4b0d3255bfef95601890afd80709";
    const PDQ_A: &str = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";

    fn kind(k: HashKind) -> ListOptions {
        ListOptions { kind: Some(k), skip_invalid: false }
    }

    #[test]
    fn plain_lists_with_comments_and_quality() {
        let l =
            parse_list(&format!("# pdq\n\n{PDQ_A},87\n{PDQ_A} 12\n"), "p", &kind(HashKind::Pdq))
                .unwrap();
        assert_eq!(l.pdq.len(), 2);
        assert_eq!(l.pdq[0].1, Some(87));
        assert_eq!(l.pdq[1].1, Some(12));
    }

    #[test]
    fn kinds_are_guessed_from_length() {
        let l = parse_list(&format!("{MD5_A}\n{SHA1_A}\n"), "x", &ListOptions::default()).unwrap();
        assert_eq!((l.md5.len(), l.sha1.len()), (1, 1));
    }

    #[test]
    fn csv_with_header() {
        let csv = format!("id,MD5,note\n1,{MD5_A},a\n2,\"{MD5_A}\",b\n");
        let l = parse_list(&csv, "c.csv", &ListOptions::default()).unwrap();
        assert_eq!(l.md5.len(), 2);
        let csv = format!("pdq,quality\n{PDQ_A},90\n");
        let l = parse_list(&csv, "c.csv", &ListOptions::default()).unwrap();
        assert_eq!(l.pdq, vec![(PDQ_A.parse().unwrap(), Some(90))]);
    }

    #[test]
    fn ndjson_as_schoon_hash_prints_it() {
        let nd = format!(
            "{{\"path\":\"a.jpg\",\"md5\":\"{MD5_A}\",\"sha1\":\"{SHA1_A}\",\"pdq\":\"{PDQ_A}\",\"quality\":100}}\n\
             {{\"path\":\"b.jpg\",\"md5\":\"{MD5_A}\",\"error\":\"truncated\"}}\n"
        );
        let l = parse_list(&nd, "h.ndjson", &ListOptions::default()).unwrap();
        assert_eq!((l.md5.len(), l.sha1.len(), l.pdq.len()), (2, 1, 1));
        assert_eq!(l.pdq[0].1, Some(100));
    }

    #[test]
    fn bad_lines_name_file_and_line() {
        let text = format!("{MD5_A}\nnot-a-hash\n{MD5_A}\nzz\n");
        let e = parse_list(&text, "list.txt", &kind(HashKind::Md5)).unwrap_err();
        assert!(e.to_string().starts_with("list.txt:2: invalid md5 hash 'not-a-hash'"), "{e}");
        let l = parse_list(
            &text,
            "list.txt",
            &ListOptions { skip_invalid: true, ..kind(HashKind::Md5) },
        )
        .unwrap();
        assert_eq!((l.md5.len(), l.skipped), (2, 2));
        assert!(l.first_skipped.unwrap().starts_with("list.txt:2:"));
        let e = parse_list("{not json\n", "h.ndjson", &ListOptions::default()).unwrap_err();
        assert!(e.to_string().starts_with("h.ndjson:1: invalid json"), "{e}");
    }

    #[test]
    fn empty_lists() {
        assert!(parse_list("", "e", &ListOptions::default()).unwrap().is_empty());
        assert!(
            parse_list("# only comments\n\n", "e", &ListOptions::default()).unwrap().is_empty()
        );
    }
}
