//! The target's accounts, read from its /etc/passwd and /etc/group (the
//! system is local-files only), in one place.

use std::fs;
use std::path::{Path, PathBuf};

/// A line of /etc/passwd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    pub shell: PathBuf,
}

/// A line of /etc/group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

/// The user `name` of the system rooted at `root`.
pub fn user(root: &Path, name: &str) -> Option<User> {
    users(root).into_iter().find(|u| u.name == name)
}

/// The group `name` of the system rooted at `root`.
pub fn group(root: &Path, name: &str) -> Option<Group> {
    groups(root).into_iter().find(|g| g.name == name)
}

pub fn users(root: &Path) -> Vec<User> {
    lines(&root.join("etc/passwd"))
        .iter()
        .filter_map(|fields| match fields.as_slice() {
            [name, _, uid, gid, _, home, shell, ..] => Some(User {
                name: name.clone(),
                uid: uid.parse().ok()?,
                gid: gid.parse().ok()?,
                home: PathBuf::from(home),
                shell: PathBuf::from(shell),
            }),
            _ => None,
        })
        .collect()
}

pub fn groups(root: &Path) -> Vec<Group> {
    lines(&root.join("etc/group"))
        .iter()
        .filter_map(|fields| match fields.as_slice() {
            [name, _, gid, members, ..] => Some(Group {
                name: name.clone(),
                gid: gid.parse().ok()?,
                members: members
                    .split(',')
                    .filter(|m| !m.is_empty())
                    .map(String::from)
                    .collect(),
            }),
            _ => None,
        })
        .collect()
}

fn lines(path: &Path) -> Vec<Vec<String>> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| l.split(':').map(String::from).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_users_and_groups_of_a_root() {
        let root = std::env::temp_dir().join(format!("hearth-accounts-{}", std::process::id()));
        fs::create_dir_all(root.join("etc")).expect("dirs");
        fs::write(
            root.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/bash\nadmin:x:1000:1000:,,,:/home/admin:/bin/bash\n",
        )
        .expect("passwd");
        fs::write(
            root.join("etc/group"),
            "root:x:0:\nsmb-media:x:998:admin,anna\n",
        )
        .expect("group");
        let admin = user(&root, "admin").expect("admin");
        assert_eq!(
            (admin.uid, admin.home.as_path()),
            (1000, Path::new("/home/admin"))
        );
        assert!(user(&root, "adm").is_none(), "a prefix is not a name");
        let group = group(&root, "smb-media").expect("group");
        assert_eq!((group.gid, group.members.len()), (998, 2));
        assert!(super::group(&root, "root")
            .expect("root")
            .members
            .is_empty());
        fs::remove_dir_all(&root).expect("cleanup");
    }
}
