//! README.md's reference section is the schema's own: regenerated, compared.

use std::fs;

use hearth_installer::reference::{markdown, BEGIN, END};

#[test]
fn readme_reference_matches_the_schema() {
    let readme = fs::read_to_string("../README.md").expect("README.md");
    let (start, end) = match (readme.find(BEGIN), readme.find(END)) {
        (Some(start), Some(end)) => (start, end + END.len() + 1),
        _ => panic!("README.md has no reference markers"),
    };
    let generated = markdown();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let updated = format!(
            "{}{generated}{}",
            &readme[..start],
            &readme[end.min(readme.len())..]
        );
        fs::write("../README.md", updated).expect("rewrite README.md");
        return;
    }
    assert_eq!(
        &readme[start..end.min(readme.len())],
        generated,
        "README reference is stale: run UPDATE_GOLDEN=1 cargo test"
    );
    for key in [
        "`storage.pools[].topology`",
        "`services.samba.shares[].time-machine`",
        "`pools.<name>.keep`",
        "`disks.<name>.wipe`",
    ] {
        assert!(generated.contains(key), "{key} missing from the reference");
    }
}
