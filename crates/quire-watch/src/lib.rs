//! Quire's folder watching: notify's file-system events turned into stable, filtered changes of a folder.
//! It knows nothing of the library; its owner decides what a change means (see `quire-app`'s watch runner).
//!
//! ```no_run
//! use quire_watch::{Filter, FolderWatch, Rules, WatchEvent, WatchOptions};
//! # fn demo() -> quire_watch::Result<()> {
//! let filter = Filter::new(std::path::Path::new("/home/me/notes"), &Rules::default())?;
//! let watch = FolderWatch::start(filter, WatchOptions::default(), |event| match event {
//!     WatchEvent::Changes(changes) => println!("{changes:?}"),
//!     WatchEvent::Rescan { reason } => println!("compare the whole folder: {reason}"),
//!     WatchEvent::Mode(mode) => println!("now {mode:?}"),
//! })?;
//! println!("watching {} ({:?})", watch.root().display(), watch.mode());
//! # Ok(()) }
//! ```

mod error;
mod filter;
mod mounts;
mod watcher;

pub use error::{Error, Result};
pub use filter::{Filter, Rules, TEMPORARY_PATTERNS, check_patterns};
pub use mounts::network_fs;
pub use watcher::{FolderWatch, FsChange, WatchEvent, WatchMode, WatchOptions};
