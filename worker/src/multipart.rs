//! Just enough `multipart/form-data` (RFC 7578) to find the files of an upload form.
//!
//! The gate checks every part that has a `filename`; other fields pass unchecked. Parsing is
//! linear in the body (the delimiter is found with `memchr::memmem`, so no input makes it
//! quadratic) and refuses, rather than guesses at, anything malformed.

/// One file part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePart<'a> {
    /// The form field name.
    pub name: String,
    /// The file name the client sent.
    pub filename: String,
    /// The part's `Content-Type`, if any.
    pub content_type: Option<String>,
    /// The file's bytes.
    pub data: &'a [u8],
}

/// The most parts a form may have.
pub const MAX_PARTS: usize = 64;

/// Why a body is not acceptable multipart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipartError(pub String);

impl std::fmt::Display for MultipartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed multipart body: {}", self.0)
    }
}

/// The `boundary` parameter of a `multipart/form-data` content type.
pub fn boundary(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';');
    let media = params.next()?.trim();
    if !media.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params
        .find_map(|p| {
            let (k, v) = p.split_once('=')?;
            k.trim().eq_ignore_ascii_case("boundary").then(|| v.trim().trim_matches('"').to_owned())
        })
        .filter(|b| !b.is_empty() && b.len() <= 200 && !b.contains(['\r', '\n']))
}

/// Every start offset of `needle` in `haystack`, not overlapping (`memchr::memmem`, linear).
/// The delimiters searched for cannot overlap themselves: each begins with CRLF, and a boundary
/// holds no CR or LF ([`boundary`] refuses one), so no occurrence is missed.
fn find_all(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    if needle.is_empty() {
        return Vec::new();
    }
    memchr::memmem::find_iter(haystack, needle).collect()
}

/// The value of a `Content-Disposition` parameter.
fn disposition_param(value: &str, name: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// The file parts of a multipart body.
pub fn files<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<FilePart<'a>>, MultipartError> {
    let err = |m: &str| MultipartError(m.to_owned());
    let dash = format!("--{boundary}");
    let delimiter = format!("\r\n--{boundary}");
    // The first delimiter may start the body without the leading CRLF.
    let starts = if body.starts_with(dash.as_bytes()) {
        let mut s = vec![0usize];
        s.extend(find_all(body, delimiter.as_bytes()).into_iter().map(|p| p + 2));
        s
    } else {
        find_all(body, delimiter.as_bytes()).into_iter().map(|p| p + 2).collect()
    };
    if starts.is_empty() {
        return Err(err("no boundary delimiter"));
    }
    if starts.len() > MAX_PARTS + 1 {
        return Err(err(&format!("more than {MAX_PARTS} parts")));
    }
    let mut out = Vec::new();
    let mut closed = false;
    for (i, &start) in starts.iter().enumerate() {
        let after = start + dash.len();
        let rest = body.get(after..).ok_or_else(|| err("truncated"))?;
        if rest.starts_with(b"--") {
            closed = true;
            break;
        }
        if !rest.starts_with(b"\r\n") {
            return Err(err("no line break after a delimiter"));
        }
        let part_start = after + 2;
        // The part ends where the next delimiter's CRLF begins.
        let end = starts.get(i + 1).map(|&n| n - 2).ok_or_else(|| err("no closing delimiter"))?;
        let part = body.get(part_start..end).ok_or_else(|| err("overlapping delimiters"))?;
        let header_end = find_all(part, b"\r\n\r\n").first().copied();
        let (headers, data) = match header_end {
            Some(h) => (part.get(..h).unwrap_or_default(), part.get(h + 4..).unwrap_or_default()),
            None if part.starts_with(b"\r\n") => (&[][..], part.get(2..).unwrap_or_default()),
            None => return Err(err("a part without a blank line after its headers")),
        };
        let headers = String::from_utf8_lossy(headers);
        let mut disposition = None;
        let mut content_type = None;
        for line in headers.split("\r\n") {
            let Some((k, v)) = line.split_once(':') else { continue };
            if k.trim().eq_ignore_ascii_case("content-disposition") {
                disposition = Some(v.trim().to_owned());
            } else if k.trim().eq_ignore_ascii_case("content-type") {
                content_type = Some(v.trim().to_owned());
            }
        }
        let disposition = disposition.ok_or_else(|| err("a part without Content-Disposition"))?;
        if let Some(filename) = disposition_param(&disposition, "filename") {
            out.push(FilePart {
                name: disposition_param(&disposition, "name").unwrap_or_default(),
                filename,
                content_type,
                data,
            });
        }
    }
    if !closed {
        return Err(err("no closing delimiter"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(parts: &[(&str, Option<&str>, &[u8])], boundary: &str) -> Vec<u8> {
        let mut b = Vec::new();
        for (name, filename, data) in parts {
            b.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            match filename {
                Some(f) => b.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: image/jpeg\r\n\r\n").as_bytes(),
                ),
                None => b.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes()),
            }
            b.extend_from_slice(data);
            b.extend_from_slice(b"\r\n");
        }
        b.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        b
    }

    #[test]
    fn finds_files_and_skips_fields() {
        let data: &[u8] = b"\xff\xd8binary\r\n--not-the-boundary\r\n\xff\xd9";
        let body = form(
            &[("title", None, b"hello"), ("photo", Some("a.jpg"), data), ("b", Some("b.png"), b"")],
            "XyZ",
        );
        let ct = "multipart/form-data; boundary=\"XyZ\"";
        let files = files(&body, &boundary(ct).unwrap()).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(
            (files[0].name.as_str(), files[0].filename.as_str(), files[0].data),
            ("photo", "a.jpg", data)
        );
        assert_eq!(files[0].content_type.as_deref(), Some("image/jpeg"));
        assert_eq!(files[1].data, b"");
    }

    #[test]
    fn malformed_bodies_are_refused() {
        assert_eq!(boundary("multipart/form-data"), None);
        assert_eq!(boundary("text/plain; boundary=x"), None);
        assert!(files(b"no delimiters here", "b").is_err());
        assert!(
            files(b"--b\r\nContent-Disposition: form-data; name=x\r\n\r\nunterminated", "b")
                .is_err()
        );
        assert!(files(b"--b\r\nno-blank-line\r\n--b--", "b").is_err());
        let many: Vec<u8> = (0..100)
            .flat_map(|_| b"--b\r\nContent-Disposition: form-data; name=x\r\n\r\nv\r\n".to_vec())
            .collect();
        assert!(files(&many, "b").unwrap_err().0.contains("more than"));
        // Every prefix of a valid body fails or parses; none panics.
        let body = form(&[("photo", Some("a.jpg"), b"abc")], "b");
        for n in 0..body.len() {
            let _ = files(&body[..n], "b");
        }
    }

    #[test]
    fn search_is_exact() {
        assert_eq!(find_all(b"aaaa", b"aa"), vec![0, 2]);
        assert_eq!(find_all(b"abababc", b"ababc"), vec![2]);
        assert_eq!(find_all(b"", b"a"), Vec::<usize>::new());
        assert_eq!(find_all(b"x\r\n--b\r\n--b", b"\r\n--b"), vec![1, 6]);
        assert_eq!(boundary("multipart/form-data; boundary=\"a\r\n--a\""), None);
    }
}
