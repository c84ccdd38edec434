//! Turning PATH arguments into an ordered list of files, and reading them with streamed exact
//! hashes.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use schoon_core::{BadInput, Error, ExactHasher, ExactHashes, Limits};

/// One input: a file to hash, or a path that could not be listed.
pub enum Input {
    /// A regular file (or a symlink to one).
    File(PathBuf),
    /// A path that does not exist or a directory that could not be read.
    Unlistable(PathBuf, String),
}

impl Input {
    pub fn path(&self) -> &Path {
        match self {
            Input::File(p) | Input::Unlistable(p, _) => p,
        }
    }
}

/// Expands PATHs in order: files as given, directories recursed with entries sorted by name.
/// Symbolic links to directories are not followed (no cycles).
pub fn expand(paths: &[PathBuf]) -> Vec<Input> {
    list(paths).0
}

/// The inputs of [`expand`], and the positions of those found by walking a directory.
fn list(paths: &[PathBuf]) -> (Vec<Input>, Vec<usize>) {
    let mut out = Vec::new();
    let mut walked = Vec::new();
    for p in paths {
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => {
                let start = out.len();
                walk(p, &mut out);
                walked.extend(start..out.len());
            }
            Ok(_) => out.push(Input::File(p.clone())),
            Err(e) => out.push(Input::Unlistable(p.clone(), io_message(&e))),
        }
    }
    (out, walked)
}

/// The inputs of a scan, and how many files found in directories were left out.
pub struct Listing {
    pub inputs: Vec<Input>,
    /// Files found by walking a directory whose first bytes are no image format.
    pub skipped: usize,
}

/// As [`expand`], but a file found by walking a directory is left out when its first bytes are
/// clearly not an image (the core's format sniffing knows no signature in them). A file named
/// as a PATH is always kept, as is a file that cannot be opened (its error is reported later).
/// The files are sniffed on `threads` threads (0 = all cores).
pub fn expand_images(paths: &[PathBuf], threads: usize) -> anyhow::Result<Listing> {
    let (mut inputs, walked) = list(paths);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
    let drop: Vec<usize> = pool.install(|| {
        walked
            .into_par_iter()
            .filter(|&i| matches!(inputs.get(i), Some(Input::File(p)) if not_an_image(p)))
            .collect()
    });
    let skipped = drop.len();
    let mut drop = drop.into_iter().peekable();
    let mut i = 0;
    inputs.retain(|_| {
        let keep = drop.next_if_eq(&i).is_none();
        i += 1;
        keep
    });
    Ok(Listing { inputs, skipped })
}

/// Whether the file's first bytes carry no image signature the core knows (supported or not).
/// An empty file or one that cannot be read is not judged here.
fn not_an_image(path: &Path) -> bool {
    let mut head = Vec::with_capacity(16);
    let read = File::open(path).and_then(|f| f.take(16).read_to_end(&mut head));
    read.is_ok()
        && matches!(
            schoon_core::decode::sniff(&head),
            Err(Error::BadInput(BadInput::UnknownFormat { .. }))
        )
}

fn walk(dir: &Path, out: &mut Vec<Input>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            out.push(Input::Unlistable(dir.to_path_buf(), io_message(&e)));
            return;
        }
    };
    let mut children: Vec<(PathBuf, bool)> = Vec::new();
    for entry in entries {
        match entry {
            Ok(e) => {
                let path = e.path();
                let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
                children.push((path, is_dir));
            }
            Err(e) => out.push(Input::Unlistable(dir.to_path_buf(), io_message(&e))),
        }
    }
    children.sort();
    for (path, is_dir) in children {
        if is_dir {
            walk(&path, out);
        } else {
            out.push(Input::File(path));
        }
    }
}

/// An I/O error as a lowercase message.
pub fn io_message(e: &std::io::Error) -> String {
    let s = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string(),
    };
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => s,
    }
}

/// A file's exact hashes, and its bytes when they fit the input limit.
pub struct FileData {
    pub exact: ExactHashes,
    /// `None` when the file is larger than [`Limits::max_input_bytes`] (it is still hashed).
    pub bytes: Option<Vec<u8>>,
}

/// Reads a file in chunks, hashing as it goes; keeps the bytes up to the input limit.
pub fn read(path: &Path, limits: &Limits) -> std::io::Result<FileData> {
    let mut file = File::open(path)?;
    let mut hasher = ExactHasher::new();
    let expected = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut bytes = Vec::with_capacity(expected.min(limits.max_input_bytes) as usize);
    let mut keep = true;
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let n = match file.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let data = &chunk[..n];
        hasher.update(data);
        if keep {
            if (bytes.len() + n) as u64 > limits.max_input_bytes {
                keep = false;
                bytes = Vec::new();
            } else {
                bytes.extend_from_slice(data);
            }
        }
    }
    Ok(FileData { exact: hasher.finish(), bytes: keep.then_some(bytes) })
}
