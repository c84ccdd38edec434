//! The append-only journal of `--checkpoint`: finished results in input order, replayed by a
//! re-run.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::files::Input;

/// The checkpoint format's version (first line of the journal).
const CHECKPOINT_VERSION: u64 = 1;

/// The append-only journal of `--checkpoint`.
///
/// Line 1 is a header naming the run: `{"schoon_checkpoint": 1, "remote", "inputs",
/// "inputs_sha256", "options"}`; then the output lines, exactly as printed, in input order.
/// A torn last line (no newline) is dropped when the journal is reopened.
pub struct Journal {
    /// The journal file, positioned at its end.
    pub file: std::io::BufWriter<File>,
}

/// The header of a journal for this run.
pub fn journal_header(base: &str, inputs: &[Input], options: &str) -> Value {
    let mut list = Vec::new();
    for i in inputs {
        list.extend_from_slice(i.path().as_os_str().as_encoded_bytes());
        list.push(b'\n');
    }
    json!({
        "schoon_checkpoint": CHECKPOINT_VERSION,
        "remote": base,
        "inputs": inputs.len(),
        "inputs_sha256": schoon_core::sha256(&list).to_hex(),
        "options": options,
    })
}

impl Journal {
    /// Opens (or creates) the journal; returns it and the journaled output lines.
    pub fn open(path: &Path, header: &Value, inputs: &[Input]) -> Result<(Journal, Vec<String>)> {
        let shown = path.display();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(|| format!("opening the checkpoint {shown}"))?;
        let mut lines = Vec::new();
        let mut keep = 0u64;
        {
            let mut reader = BufReader::new(&mut file);
            let mut first = true;
            let mut buf = Vec::new();
            loop {
                buf.clear();
                let n = reader
                    .by_ref()
                    .take(1 << 24)
                    .read_until(b'\n', &mut buf)
                    .with_context(|| format!("reading the checkpoint {shown}"))?;
                if n == 0 || buf.last() != Some(&b'\n') {
                    break; // the end, or a torn last line
                }
                let text = std::str::from_utf8(&buf[..n - 1])
                    .ok()
                    .filter(|t| !t.is_empty())
                    .with_context(|| format!("the checkpoint {shown} is damaged"))?;
                if first {
                    let found: Value = serde_json::from_str(text)
                        .with_context(|| format!("{shown} is not a schoon checkpoint"))?;
                    if found.get("schoon_checkpoint").is_none() {
                        bail!("{shown} is not a schoon checkpoint");
                    }
                    if &found != header {
                        bail!(
                            "the checkpoint {shown} was written for another input list, remote \
                             or options ({found}); use another --checkpoint file or delete it"
                        );
                    }
                    first = false;
                } else {
                    let v: Value = serde_json::from_str(text)
                        .with_context(|| format!("the checkpoint {shown} is damaged"))?;
                    let i = lines.len();
                    let expected = inputs.get(i).map(|i| i.path().to_string_lossy());
                    if v.get("path").and_then(Value::as_str) != expected.as_deref() {
                        bail!(
                            "the checkpoint {shown} does not follow the input list at line {}",
                            i + 2
                        );
                    }
                    lines.push(text.to_owned());
                }
                keep += n as u64;
            }
            if first {
                keep = 0;
            }
        }
        file.set_len(keep).with_context(|| format!("truncating the checkpoint {shown}"))?;
        file.seek(SeekFrom::Start(keep))?;
        let mut journal = Journal { file: std::io::BufWriter::new(file) };
        if keep == 0 {
            journal.file.write_all(header.to_string().as_bytes())?;
            journal.file.write_all(b"\n")?;
            journal.file.flush()?;
        }
        Ok((journal, lines))
    }
}
