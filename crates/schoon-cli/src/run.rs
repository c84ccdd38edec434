//! Parallel work over many inputs, with results delivered in input order.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::mpsc;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Runs `work` over `items` on `threads` worker threads (0 = all cores) and hands each result
/// to `sink` in the order of `items`, as soon as all earlier results are in.
pub fn ordered<I, T, W, S>(items: &[I], threads: usize, work: W, mut sink: S) -> anyhow::Result<()>
where
    I: Sync,
    T: Send,
    W: Fn(&I) -> T + Sync,
    S: FnMut(T) -> anyhow::Result<()>,
{
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
    let progress = progress_bar(items.len());
    let (tx, rx) = mpsc::channel::<(usize, T)>();
    let work = &work;
    let mut result = Ok(());
    pool.in_place_scope(|scope| {
        for (i, item) in items.iter().enumerate() {
            let tx = tx.clone();
            scope.spawn(move |_| {
                // The receiver outlives the scope; a send can only fail after a sink error,
                // when the remaining results are no longer wanted.
                let _ = tx.send((i, work(item)));
            });
        }
        drop(tx);
        let mut pending = BTreeMap::new();
        let mut next = 0usize;
        for (i, value) in rx.iter() {
            pending.insert(i, value);
            while let Some(v) = pending.remove(&next) {
                next += 1;
                progress.inc(1);
                if result.is_ok() {
                    result = sink(v);
                }
            }
        }
    });
    progress.finish_and_clear();
    result
}

/// A progress bar on stderr when it is a terminal and the run is long enough to need one.
fn progress_bar(len: usize) -> ProgressBar {
    if len < 20 || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} files, {per_sec}, eta {eta}")
    {
        bar.set_style(style);
    }
    bar
}
