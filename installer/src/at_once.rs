//! Independent steps side by side: a TCG guest has two CPUs, and a
//! `zfs create` or a GRUB install mostly waits.

use anyhow::{anyhow, Result};

/// `work` on every item at once; the results in the items' order, or the
/// first error. `what` names the step when a thread panics.
pub fn at_once<T, R, F>(items: impl IntoIterator<Item = T>, what: &str, work: F) -> Result<Vec<R>>
where
    T: Send,
    R: Send,
    F: Fn(T) -> Result<R> + Sync,
{
    std::thread::scope(|scope| {
        let work = &work;
        let running: Vec<_> = items
            .into_iter()
            .map(|item| scope.spawn(move || work(item)))
            .collect();
        running
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(anyhow!("{what} panicked"))))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_items_order() {
        let out = at_once([3u64, 1, 2], "sleeping", |n| {
            std::thread::sleep(std::time::Duration::from_millis(n * 20));
            Ok(n * 10)
        })
        .expect("three results");
        assert_eq!(out, vec![30, 10, 20]);
    }

    #[test]
    fn an_error_or_a_panic_is_the_result() {
        let failed = at_once([1, 2], "step", |n| match n {
            2 => Err(anyhow!("disk {n} failed")),
            _ => Ok(n),
        });
        let failed = failed.err().map(|e| e.to_string());
        assert_eq!(failed.as_deref(), Some("disk 2 failed"));
        let panicked = at_once([1], "a GRUB install", |_| -> Result<()> { panic!("boom") });
        let panicked = panicked.err().map(|e| e.to_string());
        assert_eq!(panicked.as_deref(), Some("a GRUB install panicked"));
    }
}
