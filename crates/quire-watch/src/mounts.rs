//! Whether a folder is on a network file system, where native change notifications miss changes made by other
//! machines. Linux: the mount table in `/proc/self/mountinfo`; elsewhere nothing is known.

use std::path::Path;

/// File system types whose changes may come from another machine.
const NETWORK_TYPES: &[&str] = &[
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "smbfs",
    "ncpfs",
    "afs",
    "9p",
    "ceph",
    "glusterfs",
    "lustre",
    "davfs",
    "fuse.sshfs",
    "fuse.rclone",
    "fuse.davfs2",
    "fuse.s3fs",
    "fuse.gcsfuse",
];

/// The network file system type of the mount holding `path` (canonical), if it is one.
pub fn network_fs(path: &Path) -> Option<String> {
    let table = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let fs_type = mount_type(&table, path)?;
    NETWORK_TYPES.contains(&fs_type.as_str()).then_some(fs_type)
}

/// The file system type of the deepest mount point holding `path`, from a mountinfo table.
fn mount_type(table: &str, path: &Path) -> Option<String> {
    let mut best: Option<(usize, String)> = None;
    for line in table.lines() {
        // "<id> <parent> <major:minor> <root> <mount point> <options> [optional…] - <type> <source> <options>"
        let mut fields = line.split(' ');
        let Some(mount_point) = fields.nth(4) else { continue };
        let Some(fs_type) = fields.skip_while(|f| *f != "-").nth(1) else { continue };
        let mount_point = unescape(mount_point);
        if path.starts_with(&mount_point) && best.as_ref().is_none_or(|(len, _)| mount_point.len() >= *len) {
            best = Some((mount_point.len(), fs_type.to_string()));
        }
    }
    best.map(|(_, fs_type)| fs_type)
}

/// Mount points escape space, tab, newline and backslash as octal (`\040`).
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let code = rest.get(at + 1..at + 4).and_then(|digits| u8::from_str_radix(digits, 8).ok());
        match code {
            Some(byte) => {
                out.push(char::from(byte));
                rest = &rest[at + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[at + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
40 22 0:35 / /mnt/share rw,relatime shared:20 - nfs4 server:/export rw,vers=4.2
41 22 0:36 / /mnt/my\\040docs rw - cifs //nas/docs rw
42 40 0:37 / /mnt/share/local rw - ext4 /dev/sdb1 rw";

    #[test]
    fn the_deepest_mount_decides() {
        assert_eq!(mount_type(TABLE, Path::new("/home/me/docs")).as_deref(), Some("ext4"));
        assert_eq!(mount_type(TABLE, Path::new("/mnt/share/papers")).as_deref(), Some("nfs4"));
        assert_eq!(mount_type(TABLE, Path::new("/mnt/share/local/x")).as_deref(), Some("ext4"));
        assert_eq!(mount_type(TABLE, Path::new("/mnt/my docs/a")).as_deref(), Some("cifs"));
        assert_eq!(mount_type(TABLE, Path::new("/mnt/shared")).as_deref(), Some("ext4"), "a prefix of a name");
    }

    #[test]
    fn a_local_folder_is_not_a_network_drive() {
        let dir = tempfile::tempdir().expect("tempdir");
        let canonical = std::fs::canonicalize(dir.path()).expect("canonical");
        assert_eq!(network_fs(&canonical), None);
    }
}
