//! Which paths of a watched folder belong to the library: not hidden, not an editor's temporary or lock file,
//! matching the include patterns (when there are any), matching no exclude pattern, and not over the size limit.
//!
//! Patterns are globs (`globset` syntax) matched against the path relative to the watched folder, with `/`
//! between components; `*` also crosses `/`, so `*.pdf` matches PDFs at any depth. An exclude pattern that
//! matches a folder excludes everything under it.

use std::path::{Component, Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::error::{Error, Result};

/// Temporary, backup and lock files that editors and office suites write beside a document while it is open
/// or being saved (hidden names, starting with `.`, are skipped separately).
pub const TEMPORARY_PATTERNS: &[&str] = &[
    "~$*",          // Microsoft Office owner files
    "*~",           // backups (Emacs, gedit, …)
    "#*#",          // Emacs auto-save
    "*.swp",        // Vim swap files
    "*.swo",        //
    "*.swx",        //
    "*.tmp",        // generic temporary files
    "*.temp",       //
    "*.part",       // partial downloads
    "*.crdownload", // Chrome downloads
    "*.download",   // Safari downloads
    "*.lock",       // lock files
    "*.lck",        //
];

/// What a watched folder includes, as the user configured it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    /// When not empty, only files matching one of these are included.
    pub include: Vec<String>,
    /// Files and folders matching one of these are left out.
    pub exclude: Vec<String>,
    /// Files larger than this are left out.
    pub max_bytes: Option<u64>,
}

/// The compiled [`Rules`] of one watched folder.
#[derive(Debug, Clone)]
pub struct Filter {
    root: PathBuf,
    include: Option<GlobSet>,
    exclude: GlobSet,
    temporary: GlobSet,
    max_bytes: Option<u64>,
}

fn compile(patterns: &[impl AsRef<str>]) -> Result<GlobSet> {
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        let pattern = pattern.as_ref();
        let glob = Glob::new(pattern)
            .map_err(|e| Error::Pattern { pattern: pattern.to_string(), reason: e.kind().to_string() })?;
        builder.add(glob);
    }
    builder.build().map_err(|e| Error::Pattern { pattern: patterns_text(patterns), reason: e.to_string() })
}

fn patterns_text(patterns: &[impl AsRef<str>]) -> String {
    patterns.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(", ")
}

/// Checks that every pattern is a valid glob (for validating user input before it is saved).
pub fn check_patterns(patterns: &[String]) -> Result<()> {
    compile(patterns).map(|_| ())
}

impl Filter {
    /// The filter of the folder `root` (an absolute path; events and scans give paths under it).
    pub fn new(root: &Path, rules: &Rules) -> Result<Filter> {
        Ok(Filter {
            root: root.to_path_buf(),
            include: if rules.include.is_empty() { None } else { Some(compile(&rules.include)?) },
            exclude: compile(&rules.exclude)?,
            temporary: compile(TEMPORARY_PATTERNS)?,
            max_bytes: rules.max_bytes,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// True when neither `path` nor any folder between it and the root is hidden, temporary or excluded.
    /// Paths outside the root are refused. Says nothing about include patterns or size (see
    /// [`Filter::accepts_file`]), so it also serves for folders and for paths that no longer exist.
    pub fn accepts_path(&self, path: &Path) -> bool {
        let Ok(relative) = path.strip_prefix(&self.root) else {
            return false;
        };
        let mut so_far = String::new();
        for component in relative.components() {
            let Component::Normal(name) = component else {
                return false;
            };
            let name = name.to_string_lossy();
            if name.starts_with('.') || self.temporary.is_match(name.as_ref()) {
                return false;
            }
            if !so_far.is_empty() {
                so_far.push('/');
            }
            so_far.push_str(&name);
            if self.exclude.is_match(&so_far) {
                return false;
            }
        }
        true
    }

    /// True when a folder met in a scan may hold included files (its own name is checked; its parents were
    /// checked on the way down).
    pub fn accepts_dir(&self, path: &Path) -> bool {
        self.accepts_path(path)
    }

    /// True when the file at `path`, of `size` bytes, belongs to the library.
    pub fn accepts_file(&self, path: &Path, size: u64) -> bool {
        if !self.accepts_path(path) || self.max_bytes.is_some_and(|max| size > max) {
            return false;
        }
        match (&self.include, path.strip_prefix(&self.root)) {
            (None, _) => true,
            (Some(include), Ok(relative)) => include.is_match(relative_text(relative)),
            (Some(_), Err(_)) => false,
        }
    }
}

fn relative_text(relative: &Path) -> String {
    relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(include: &[&str], exclude: &[&str], max_bytes: Option<u64>) -> Filter {
        let rules = Rules {
            include: include.iter().map(|s| s.to_string()).collect(),
            exclude: exclude.iter().map(|s| s.to_string()).collect(),
            max_bytes,
        };
        Filter::new(Path::new("/w"), &rules).expect("filter")
    }

    #[test]
    fn hidden_temporary_and_lock_files_are_skipped_by_default() {
        let f = filter(&[], &[], None);
        for skipped in [
            "/w/.git/config",
            "/w/notes/.hidden.md",
            "/w/~$report.docx",
            "/w/.#notes.org",
            "/w/notes.md.swp",
            "/w/a/b/draft.tmp",
            "/w/notes.txt~",
            "/w/.~lock.report.odt#",
            "/w/#notes.org#",
            "/w/book.pdf.part",
            "/elsewhere/a.txt",
        ] {
            assert!(!f.accepts_file(Path::new(skipped), 10), "{skipped} was accepted");
        }
        for kept in ["/w/report.docx", "/w/a/b/notes.md", "/w/tmp/notes.txt", "/w"] {
            assert!(f.accepts_file(Path::new(kept), 10), "{kept} was skipped");
        }
    }

    #[test]
    fn include_exclude_and_size() {
        let f = filter(&["*.pdf", "notes/**"], &["archive", "**/drafts/**", "*.bak.pdf"], Some(100));
        assert!(f.accepts_file(Path::new("/w/a/b/book.pdf"), 100));
        assert!(f.accepts_file(Path::new("/w/notes/x/today.md"), 1));
        assert!(!f.accepts_file(Path::new("/w/a/book.pdf"), 101), "over the size limit");
        assert!(!f.accepts_file(Path::new("/w/a/today.md"), 1), "not included");
        assert!(!f.accepts_file(Path::new("/w/archive/old.pdf"), 1), "under an excluded folder");
        assert!(!f.accepts_file(Path::new("/w/x/drafts/one.pdf"), 1));
        assert!(!f.accepts_file(Path::new("/w/x/one.bak.pdf"), 1));
        assert!(!f.accepts_dir(Path::new("/w/archive")));
        assert!(f.accepts_dir(Path::new("/w/a")), "include patterns do not apply to folders");
    }

    #[test]
    fn a_bad_pattern_is_reported() {
        let error = Filter::new(Path::new("/w"), &Rules { include: vec!["a[".into()], ..Rules::default() })
            .expect_err("a bad glob was accepted");
        assert!(error.to_string().contains("\"a[\""), "{error}");
        assert!(check_patterns(&["*.md".to_string()]).is_ok());
    }
}
