//! The vdev tree of `zpool status -P <pool>`: each line of the config
//! section, with its depth, so a member's mirror partners can be found.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub depth: usize,
    pub name: String,
    pub state: String,
    /// "was /dev/..." for a device that has gone.
    pub note: String,
}

pub fn members(status: &str) -> Vec<Member> {
    let mut out = Vec::new();
    let mut in_config = false;
    for line in status.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("config:") {
            in_config = true;
            continue;
        }
        if !in_config {
            continue;
        }
        if trimmed.starts_with("errors:") {
            break;
        }
        if trimmed.is_empty() || trimmed.starts_with("NAME ") {
            continue;
        }
        let depth = line.len() - trimmed.len();
        let mut words = trimmed.split_whitespace();
        let name = words.next().unwrap_or_default().to_string();
        let state = words.next().unwrap_or_default().to_string();
        let rest: Vec<&str> = words.collect();
        // READ WRITE CKSUM, then any note.
        let note = rest.iter().skip(3).copied().collect::<Vec<_>>().join(" ");
        out.push(Member {
            depth,
            name,
            state,
            note,
        });
    }
    out
}

/// The member `old` names (its path, its guid, or the path it "was"), and
/// the other leaves of the same vdev.
pub fn find<'a>(members: &'a [Member], old: &str) -> Option<(&'a Member, Vec<&'a Member>)> {
    let index = members.iter().position(|m| {
        m.name == old
            || m.note == format!("was {old}")
            || m.name.ends_with(&format!("/{old}"))
            || m.note.ends_with(&format!("/{old}"))
    })?;
    let member = &members[index];
    let parent = members[..index]
        .iter()
        .rposition(|m| m.depth < member.depth)?;
    let siblings = members[parent + 1..]
        .iter()
        .take_while(|m| m.depth > members[parent].depth)
        .filter(|m| m.depth == member.depth && m.name != member.name)
        .collect();
    Some((member, siblings))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The shape `zpool status -P` prints for a mirror whose first disk is gone.
    const DEGRADED: &str = "  pool: rpool
 state: DEGRADED
status: One or more devices could not be used because the label is missing or
\tinvalid.  Sufficient replicas exist for the pool to continue
\tfunctioning in a degraded state.
action: Replace the device using 'zpool replace'.
   see: https://openzfs.github.io/openzfs-docs/msg/ZFS-8000-4J
config:

\tNAME                                           STATE     READ WRITE CKSUM
\trpool                                          DEGRADED     0     0     0
\t  mirror-0                                     DEGRADED     0     0     0
\t    4483212296402916617                        UNAVAIL      0     0     0  was /dev/disk/by-id/virtio-hearth-disk-1-part3
\t    /dev/disk/by-id/virtio-hearth-disk-2-part3  ONLINE       0     0     0

errors: No known data errors
";

    #[test]
    fn a_missing_member_is_found_by_what_it_was_and_its_partner_by_the_tree() {
        let tree = members(DEGRADED);
        assert_eq!(tree.len(), 4);
        for old in [
            "4483212296402916617",
            "/dev/disk/by-id/virtio-hearth-disk-1-part3",
            "virtio-hearth-disk-1-part3",
        ] {
            let (member, partners) = find(&tree, old).expect(old);
            assert_eq!(member.state, "UNAVAIL");
            assert_eq!(partners.len(), 1);
            assert_eq!(
                partners[0].name,
                "/dev/disk/by-id/virtio-hearth-disk-2-part3"
            );
            assert_eq!(partners[0].state, "ONLINE");
        }
        assert!(find(&tree, "virtio-other").is_none());
    }
}
