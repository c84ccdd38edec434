//! The one-line human summary of a scan on stderr.

use std::io::IsTerminal;

/// How many files a scan gave each verdict, and how many it skipped.
#[derive(Debug, Default)]
pub struct Tally {
    matched: u64,
    candidates: u64,
    clean: u64,
    errors: u64,
    /// Files found in directories that are not images (no output line).
    skipped: u64,
}

impl Tally {
    /// A tally of a scan that left out `skipped` files.
    pub fn skipping(skipped: usize) -> Tally {
        Tally { skipped: skipped as u64, ..Tally::default() }
    }

    /// Counts one output line's verdict (`match`, `candidate`, `clean` or `error`).
    pub fn count(&mut self, verdict: &str) {
        match verdict {
            "match" => self.matched += 1,
            "candidate" => self.candidates += 1,
            "clean" => self.clean += 1,
            _ => self.errors += 1,
        }
    }

    /// `schoon: 16 files: 9 match, 6 clean, 0 error; 1 skipped (not an image)` (candidates and
    /// skipped files only when there are any).
    pub fn line(&self) -> String {
        let files = self.matched + self.candidates + self.clean + self.errors + self.skipped;
        let noun = if files == 1 { "file" } else { "files" };
        let mut s = format!("schoon: {files} {noun}: {} match, ", self.matched);
        if self.candidates > 0 {
            s.push_str(&format!("{} candidate, ", self.candidates));
        }
        s.push_str(&format!("{} clean, {} error", self.clean, self.errors));
        if self.skipped > 0 {
            s.push_str(&format!("; {} skipped (not an image)", self.skipped));
        }
        s
    }

    /// Prints [`Tally::line`] to stderr when `show` is set.
    pub fn print(&self, show: bool) {
        if show {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("{}", self.line());
            }
        }
    }
}

/// Whether a scan prints its summary: on request or when stderr is a terminal, and never when
/// `--stats` prints its JSON there instead.
pub fn wanted(asked: bool, stats: bool) -> bool {
    !stats && (asked || std::io::stderr().is_terminal())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        let mut t = Tally { skipped: 1, ..Tally::default() };
        for v in ["match", "clean", "match", "error"] {
            t.count(v);
        }
        assert_eq!(
            t.line(),
            "schoon: 5 files: 2 match, 1 clean, 1 error; 1 skipped (not an image)"
        );
        t.count("candidate");
        t.skipped = 0;
        assert_eq!(t.line(), "schoon: 5 files: 2 match, 1 candidate, 1 clean, 1 error");
        let mut one = Tally::default();
        one.count("clean");
        assert_eq!(one.line(), "schoon: 1 file: 0 match, 1 clean, 0 error");
    }
}
