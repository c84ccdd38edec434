//! Ordering and batching: results go out in input order, filter candidates wait for their
//! batch's `/v1/check` answer.

use std::collections::VecDeque;
use std::io::Write;

use anyhow::Result;
use serde_json::{Map, Value, json};

use super::client::{CHECK_MAX_BYTES, Client};
use super::journal::Journal;
use crate::summary::Tally;

/// Results waiting behind an unanswered candidate before its batch is sent anyway.
const MAX_PENDING: usize = 4096;

/// One input after hashing and the local filter check.
pub enum Prepared {
    /// A final result (a filter miss, or a file that could not be read).
    Done(Map<String, Value>),
    /// A filter candidate to confirm at the worker.
    Candidate {
        /// The output line so far (`path`).
        path: String,
        /// The `/v1/check` line without `id`.
        line: Map<String, Value>,
        /// Why PDQ could not be computed, when the exact hashes alone were flagged.
        image_error: Option<String>,
    },
}

/// The id sent for a candidate: its path when that fits the worker's 1..=512 bytes, else its
/// position in the input list.
fn object_id(path: &str, position: usize) -> String {
    if !path.is_empty() && path.len() <= 512 { path.to_owned() } else { format!("#{position}") }
}

/// Counters for `--stats`.
#[derive(Default)]
pub struct Stats {
    /// Output lines (replayed ones included).
    pub files: u64,
    /// Lines replayed from the checkpoint.
    pub replayed: u64,
    /// Candidates sent to the worker.
    pub candidates: u64,
    /// Candidates whose request failed.
    pub failed: u64,
}

/// Orders results: final ones go out as soon as every earlier one has, candidates wait for
/// their batch's answer.
pub struct Pipeline<'a, W: Write> {
    client: &'a mut Client,
    batch: usize,
    queue: VecDeque<(usize, Prepared)>,
    waiting: usize,
    out: W,
    journal: Option<Journal>,
    found: bool,
    errors: bool,
    stats: Stats,
    tally: Tally,
}

impl<'a, W: Write> Pipeline<'a, W> {
    /// A pipeline printing to `out` and sending candidates through `client` in requests of at
    /// most `batch` lines; `skipped` files were left out of the inputs (for the summary).
    pub fn new(client: &'a mut Client, batch: usize, out: W, skipped: usize) -> Self {
        Pipeline {
            client,
            batch,
            queue: VecDeque::new(),
            waiting: 0,
            out,
            journal: None,
            found: false,
            errors: false,
            stats: Stats::default(),
            tally: Tally::skipping(skipped),
        }
    }
}

impl<W: Write> Pipeline<'_, W> {
    /// Prints the `lines` an earlier run journaled, then journals what follows to `journal`.
    pub fn resume(&mut self, journal: Journal, lines: &[String]) -> Result<()> {
        for line in lines {
            if let Ok(Value::Object(o)) = serde_json::from_str::<Value>(line) {
                self.note(&o);
            }
            self.emit_line(line, false)?;
        }
        self.out.flush()?;
        self.stats.replayed = lines.len() as u64;
        self.stats.files = lines.len() as u64;
        self.journal = Some(journal);
        Ok(())
    }

    /// Whether something matched (or was a candidate), and whether anything failed.
    pub fn outcome(&self) -> (bool, bool) {
        (self.found, self.errors)
    }

    /// The counters of `--stats`.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The client (its request counters).
    pub fn client(&self) -> &Client {
        self.client
    }

    /// The verdict counts of the summary.
    pub fn tally(&self) -> &Tally {
        &self.tally
    }

    fn emit_line(&mut self, line: &str, journal: bool) -> Result<()> {
        self.out.write_all(line.as_bytes())?;
        self.out.write_all(b"\n")?;
        if let (true, Some(j)) = (journal, &mut self.journal) {
            j.file.write_all(line.as_bytes())?;
            j.file.write_all(b"\n")?;
        }
        Ok(())
    }

    fn note(&mut self, o: &Map<String, Value>) {
        self.tally.count(o.get("verdict").and_then(Value::as_str).unwrap_or("error"));
        if let Some("match" | "candidate") = o.get("verdict").and_then(Value::as_str) {
            self.found = true;
        }
        if o.contains_key("error") || o.get("verdict").and_then(Value::as_str) == Some("error") {
            self.errors = true;
        }
    }

    /// Prints the final results at the front of the queue.
    fn drain(&mut self) -> Result<()> {
        let mut any = false;
        while let Some((_, Prepared::Done(_))) = self.queue.front() {
            let Some((_, Prepared::Done(o))) = self.queue.pop_front() else { break };
            self.note(&o);
            self.stats.files += 1;
            // A result whose batch failed at the worker is not final: the journal stops
            // before it, so a re-run with the checkpoint tries it (and what follows) again.
            let failed = o.contains_key("remote_error");
            let mut o = o;
            o.remove("remote_error");
            if failed && self.journal.is_some() {
                if let Some(j) = &mut self.journal {
                    j.file.flush()?;
                }
                self.journal = None;
            }
            self.emit_line(&Value::Object(o).to_string(), !failed)?;
            any = true;
        }
        if any {
            if let Some(j) = &mut self.journal {
                j.file.flush()?;
            }
            self.out.flush()?;
        }
        Ok(())
    }

    /// Queues the prepared result of the input at `position`; prints what is final and sends a
    /// full batch.
    pub fn push(&mut self, position: usize, p: Prepared) -> Result<()> {
        if matches!(p, Prepared::Candidate { .. }) {
            self.waiting += 1;
        }
        self.queue.push_back((position, p));
        self.drain()?;
        if self.waiting >= self.batch || (self.waiting > 0 && self.queue.len() >= MAX_PENDING) {
            self.send_waiting()?;
        }
        Ok(())
    }

    /// Sends the last candidates and prints everything left.
    pub fn finish(&mut self) -> Result<()> {
        if self.waiting > 0 {
            self.send_waiting()?;
        }
        self.drain()?;
        if let Some(j) = &mut self.journal {
            j.file.flush()?;
        }
        self.out.flush()?;
        Ok(())
    }

    /// Sends every waiting candidate (in requests of at most `batch` lines and
    /// [`CHECK_MAX_BYTES`]) and turns each into a final result.
    fn send_waiting(&mut self) -> Result<()> {
        // (queue slot, request line bytes)
        let mut pending: Vec<(usize, Vec<u8>)> = Vec::new();
        for (slot, (position, p)) in self.queue.iter().enumerate() {
            if let Prepared::Candidate { path, line, .. } = p {
                let mut l = Map::new();
                l.insert("id".into(), json!(object_id(path, *position)));
                l.extend(line.clone());
                pending.push((slot, Value::Object(l).to_string().into_bytes()));
            }
        }
        let mut start = 0;
        while start < pending.len() {
            let mut end = start;
            let mut bytes = 0;
            while end < pending.len() && end - start < self.batch {
                let n = pending.get(end).map_or(0, |(_, b)| b.len() + 1);
                if end > start && bytes + n > CHECK_MAX_BYTES {
                    break;
                }
                bytes += n;
                end += 1;
            }
            let chunk = pending.get(start..end).unwrap_or_default();
            let mut body = Vec::new();
            for (_, line) in chunk {
                body.extend_from_slice(line);
                body.push(b'\n');
            }
            let answers = self.client.check(&body, chunk.len());
            for (k, (slot, _)) in chunk.iter().enumerate() {
                let answer = match &answers {
                    Ok(a) => a
                        .get(k)
                        .cloned()
                        .unwrap_or_else(|| Err("the worker did not answer this line".to_owned())),
                    Err(f) => Err(f.to_string()),
                };
                self.resolve(*slot, answer, answers.is_err());
            }
            start = end;
        }
        self.waiting = 0;
        self.drain()
    }

    /// Replaces the candidate in `slot` by its final result.
    fn resolve(&mut self, slot: usize, answer: std::result::Result<Value, String>, failed: bool) {
        let Some((_, p)) = self.queue.get_mut(slot) else { return };
        let Prepared::Candidate { path, image_error, .. } = p else { return };
        let mut o = Map::new();
        o.insert("path".into(), json!(path));
        self.stats.candidates += 1;
        match answer {
            Ok(a) => match a.get("verdict").and_then(Value::as_str) {
                Some("match") => {
                    o.insert("verdict".into(), json!("match"));
                    o.insert("matches".into(), a.get("matches").cloned().unwrap_or(json!([])));
                    if let Some(e) = image_error {
                        o.insert("error".into(), json!(e));
                    }
                }
                Some("clean") => {
                    let v = if image_error.is_some() { "error" } else { "clean" };
                    o.insert("verdict".into(), json!(v));
                    o.insert("matches".into(), json!([]));
                    if let Some(e) = image_error {
                        o.insert("error".into(), json!(e));
                    }
                }
                _ => {
                    let e = a.get("error");
                    let msg = e.and_then(|e| e.get("message")).and_then(Value::as_str);
                    let code = e.and_then(|e| e.get("code")).and_then(Value::as_str);
                    let status = e.and_then(|e| e.get("status")).and_then(Value::as_u64);
                    o.insert("verdict".into(), json!("error"));
                    o.insert("matches".into(), json!([]));
                    o.insert(
                        "error".into(),
                        json!(format!(
                            "the worker refused the line: {} {}: {}",
                            status.map_or("?".to_owned(), |s| s.to_string()),
                            code.unwrap_or("error"),
                            msg.unwrap_or("no message")
                        )),
                    );
                }
            },
            Err(why) => {
                o.insert("verdict".into(), json!("error"));
                o.insert("matches".into(), json!([]));
                o.insert("error".into(), json!(format!("remote check failed: {why}")));
                if failed {
                    self.stats.failed += 1;
                    o.insert("remote_error".into(), json!(true));
                }
            }
        }
        *p = Prepared::Done(o);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_paths_get_positions() {
        assert_eq!(object_id("a.jpg", 3), "a.jpg");
        assert_eq!(object_id(&"x".repeat(513), 3), "#3");
    }
}
