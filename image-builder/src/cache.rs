//! Content-addressed build layers. A layer is keyed by the SHA-256 of a
//! manifest of every input that shaped it (canonical JSON) and reused only
//! on an exact match; on a miss the keys that changed since the newest
//! layer of the same name are reported, as mkosi does.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, Result};
use serde_json::Value;
use sha2::{Digest, Sha256};

const INPUTS: &str = "inputs.json";

pub struct Cache {
    pub root: PathBuf,
}

#[derive(Debug, Clone)]
pub struct LayerInfo {
    pub name: String,
    pub key: String,
    pub path: PathBuf,
    pub bytes: u64,
    pub modified: SystemTime,
}

/// A layer found or to be made.
pub struct Layer {
    pub name: String,
    pub key: String,
    pub path: PathBuf,
    pub hit: bool,
}

pub fn key_of(inputs: &Value) -> String {
    // serde_json's map is ordered by key, so equal inputs give equal text.
    let text = serde_json::to_string(inputs).unwrap_or_default();
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

impl Cache {
    pub fn new(root: PathBuf) -> Cache {
        Cache { root }
    }

    /// $HEARTH_CACHE, else /var/cache/hearth (builds run as root).
    pub fn default_root() -> PathBuf {
        std::env::var_os("HEARTH_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/var/cache/hearth"))
    }

    /// Downloaded .deb files, kept between builds.
    pub fn apt_dir(&self) -> PathBuf {
        self.root.join("apt")
    }

    /// zfs modules built by DKMS, by kernel and zfs version (see zfs_module).
    pub fn modules_dir(&self) -> PathBuf {
        self.root.join("zfs-modules")
    }

    /// The build's module-signing key and certificate (see signing).
    pub fn signing_dir(&self) -> PathBuf {
        self.root.join("signing")
    }

    pub fn downloads_dir(&self) -> PathBuf {
        self.root.join("downloads")
    }

    /// Where layers are kept, and a build's `.partial` folders beside them.
    pub fn layers_dir(&self) -> PathBuf {
        self.root.join("layers")
    }

    /// The cached layer for these inputs, if there is one.
    pub fn lookup(&self, name: &str, inputs: &Value) -> Option<PathBuf> {
        let key = key_of(inputs);
        let path = self.layers_dir().join(format!("{name}-{}", &key[..16]));
        path.join(INPUTS).is_file().then_some(path)
    }

    /// Returns the cached layer, or builds it with `make` (which fills the
    /// folder it is given) and stores it whole or not at all.
    pub fn layer(
        &self,
        name: &str,
        inputs: &Value,
        make: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<Layer> {
        let key = key_of(inputs);
        let path = self.layers_dir().join(format!("{name}-{}", &key[..16]));
        if path.join(INPUTS).is_file() {
            return Ok(Layer {
                name: name.into(),
                key,
                path,
                hit: true,
            });
        }
        let partial = self
            .layers_dir()
            .join(format!(".{name}-{}.partial", &key[..16]));
        let _ = fs::remove_dir_all(&partial);
        fs::create_dir_all(&partial).with_context(|| format!("creating {}", partial.display()))?;
        make(&partial).with_context(|| format!("building the {name} layer"))?;
        fs::write(partial.join(INPUTS), serde_json::to_string_pretty(inputs)?)?;
        let _ = fs::remove_dir_all(&path);
        fs::rename(&partial, &path).with_context(|| format!("storing {}", path.display()))?;
        Ok(Layer {
            name: name.into(),
            key,
            path,
            hit: false,
        })
    }

    /// Which inputs differ from the newest cached layer of this name.
    pub fn why_miss(&self, name: &str, inputs: &Value) -> String {
        let newest = self
            .list()
            .into_iter()
            .filter(|l| l.name == name)
            .max_by_key(|l| l.modified);
        let Some(previous) = newest else {
            return "nothing cached yet".into();
        };
        let old: Value = fs::read_to_string(previous.path.join(INPUTS))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null);
        let (Some(old), Some(new)) = (old.as_object(), inputs.as_object()) else {
            return "inputs changed".into();
        };
        let mut changed: Vec<&str> = new
            .keys()
            .filter(|k| old.get(*k) != new.get(*k))
            .map(String::as_str)
            .collect();
        changed.extend(
            old.keys()
                .filter(|k| !new.contains_key(*k))
                .map(String::as_str),
        );
        if changed.is_empty() {
            "inputs changed".into()
        } else {
            format!(
                "changed since the last {name} layer: {}",
                changed.join(", ")
            )
        }
    }

    pub fn list(&self) -> Vec<LayerInfo> {
        let Ok(entries) = fs::read_dir(self.layers_dir()) else {
            return Vec::new();
        };
        let mut layers: Vec<LayerInfo> = entries
            .flatten()
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .filter(|e| e.path().join(INPUTS).is_file())
            .filter_map(|e| {
                let file = e.file_name().to_string_lossy().to_string();
                let (name, key) = file.rsplit_once('-')?;
                Some(LayerInfo {
                    name: name.to_string(),
                    key: key.to_string(),
                    bytes: size_of(&e.path()),
                    modified: e
                        .path()
                        .join(INPUTS)
                        .metadata()
                        .and_then(|m| m.modified())
                        .ok()?,
                    path: e.path(),
                })
            })
            .collect();
        layers.sort_by(|a, b| (&a.name, a.modified).cmp(&(&b.name, b.modified)));
        layers
    }

    /// Removes every layer but the newest of each name (all with `all`), and
    /// unfinished ones. Returns what was removed.
    pub fn prune(&self, all: bool) -> Result<Vec<LayerInfo>> {
        let layers = self.list();
        let mut removed = Vec::new();
        for layer in &layers {
            let newest = layers
                .iter()
                .filter(|l| l.name == layer.name)
                .map(|l| l.modified)
                .max();
            if all || Some(layer.modified) != newest {
                fs::remove_dir_all(&layer.path)
                    .with_context(|| format!("removing {}", layer.path.display()))?;
                removed.push(layer.clone());
            }
        }
        if let Ok(entries) = fs::read_dir(self.layers_dir()) {
            for entry in entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
            {
                fs::remove_dir_all(entry.path())?;
            }
        }
        Ok(removed)
    }
}

pub fn size_of(path: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    fs::read_dir(path)
        .map(|es| es.flatten().map(|e| size_of(&e.path())).sum())
        .unwrap_or(0)
}

pub use hearth_system::files::sha256_file as hash_file;

/// SHA-256 over a folder's paths, modes, link targets and contents, in order.
pub fn hash_tree(root: &Path) -> Result<String> {
    let mut hasher = Sha256::new();
    let mut stack = vec![root.to_path_buf()];
    let mut files = Vec::new();
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            let meta = fs::symlink_metadata(&path)?;
            if meta.is_dir() {
                stack.push(path.clone());
            }
            files.push(path);
        }
    }
    files.sort();
    for path in files {
        use std::os::unix::fs::MetadataExt;
        let meta = fs::symlink_metadata(&path)?;
        let relative = path.strip_prefix(root).unwrap_or(&path);
        hasher.update(format!("{}\0{:o}\0", relative.display(), meta.mode()).as_bytes());
        if meta.file_type().is_symlink() {
            hasher.update(fs::read_link(&path)?.to_string_lossy().as_bytes());
        } else if meta.is_file() {
            hasher.update(hash_file(&path)?.as_bytes());
        }
    }
    Ok(format!("{:x}", hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_layer_is_built_once_and_reused() {
        let root = std::env::temp_dir().join(format!("hearth-cache-{}", std::process::id()));
        let cache = Cache::new(root.clone());
        let inputs = json!({"packages": ["a", "b"], "suite": "trixie"});
        let first = cache
            .layer("rootfs", &inputs, |dir| {
                Ok(fs::write(dir.join("out"), "x")?)
            })
            .expect("build");
        assert!(!first.hit);
        let again = cache
            .layer("rootfs", &inputs, |_| panic!("must not rebuild"))
            .expect("reuse");
        assert!(again.hit);
        assert_eq!(again.path, first.path);
        let changed = json!({"packages": ["a", "c"], "suite": "trixie"});
        assert_eq!(
            cache.why_miss("rootfs", &changed),
            "changed since the last rootfs layer: packages"
        );
        let failed = cache.layer("rootfs", &changed, |_| anyhow::bail!("broken"));
        assert!(failed.is_err());
        assert_eq!(cache.list().len(), 1, "a failed build stores nothing");
        fs::remove_dir_all(root).ok();
    }
}
