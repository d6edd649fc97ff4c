//! Path arguments as the file system will see them.
//!
//! A path is first normalized lexically against the kernel's base directory (`.` dropped,
//! `..` popped); a `..` that would climb above the base (for a relative path) or above the
//! root (for an absolute one) is an escape and is refused. Then symbolic links are
//! resolved for the longest prefix that exists, so a link inside an allowed directory
//! cannot point the call somewhere else. Globs are matched against the resolved path.

use std::path::{Component, Path, PathBuf};

/// Why a path argument was refused before any glob was consulted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("is empty")]
    Empty,
    #[error("contains a NUL byte")]
    Nul,
    #[error("escapes its base directory with `..`")]
    Escape,
}

/// Normalizes `raw` lexically: relative paths are joined to `base`, `.` is dropped, `..`
/// pops one component and may not climb above `base` (relative) or `/` (absolute).
pub fn normalize_lexical(base: &Path, raw: &str) -> Result<PathBuf, PathError> {
    if raw.is_empty() {
        return Err(PathError::Empty);
    }
    if raw.contains('\0') {
        return Err(PathError::Nul);
    }
    let raw_path = Path::new(raw);
    let (mut out, floor) = if raw_path.is_absolute() {
        (PathBuf::from("/"), 1)
    } else {
        (base.to_path_buf(), base.components().count())
    };
    for component in raw_path.components() {
        match component {
            Component::RootDir | Component::Prefix(_) | Component::CurDir => {}
            Component::ParentDir => {
                if out.components().count() <= floor {
                    return Err(PathError::Escape);
                }
                out.pop();
            }
            Component::Normal(part) => out.push(part),
        }
    }
    Ok(out)
}

/// Resolves symbolic links in the longest existing prefix of `path` and appends the rest.
/// An I/O error other than "not found" leaves that prefix as it is: the glob check that
/// follows then sees the unresolved path, and a missing permission cannot widen access.
pub fn resolve_existing_prefix(path: &Path) -> PathBuf {
    let mut prefix = path.to_path_buf();
    let mut rest: Vec<std::ffi::OsString> = Vec::new();
    loop {
        match std::fs::canonicalize(&prefix) {
            Ok(mut resolved) => {
                for part in rest.iter().rev() {
                    resolved.push(part);
                }
                return resolved;
            }
            Err(_) => match (
                prefix.file_name().map(|f| f.to_os_string()),
                prefix.parent(),
            ) {
                (Some(name), Some(parent)) => {
                    rest.push(name);
                    prefix = parent.to_path_buf();
                }
                _ => return path.to_path_buf(),
            },
        }
    }
}

/// Lexical normalization followed by symlink resolution.
pub fn resolve(base: &Path, raw: &str) -> Result<PathBuf, PathError> {
    Ok(resolve_existing_prefix(&normalize_lexical(base, raw)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_and_dotdot_inside_base_are_folded() {
        let base = Path::new("/work/repo");
        assert_eq!(
            normalize_lexical(base, "src/./a/../b.rs").unwrap(),
            PathBuf::from("/work/repo/src/b.rs")
        );
        assert_eq!(
            normalize_lexical(base, "/etc/x/../passwd").unwrap(),
            PathBuf::from("/etc/passwd")
        );
    }

    #[test]
    fn dotdot_above_base_or_root_is_an_escape() {
        let base = Path::new("/work/repo");
        assert_eq!(normalize_lexical(base, "../other"), Err(PathError::Escape));
        assert_eq!(normalize_lexical(base, "a/../../x"), Err(PathError::Escape));
        assert_eq!(normalize_lexical(base, "/../etc"), Err(PathError::Escape));
    }

    #[test]
    fn empty_and_nul_paths_are_refused() {
        let base = Path::new("/w");
        assert_eq!(normalize_lexical(base, ""), Err(PathError::Empty));
        assert_eq!(normalize_lexical(base, "a\0b"), Err(PathError::Nul));
    }

    #[test]
    fn symlink_in_existing_prefix_is_resolved() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir(root.join("allowed")).unwrap();
        std::fs::create_dir(root.join("secret")).unwrap();
        std::os::unix::fs::symlink(root.join("secret"), root.join("allowed/link")).unwrap();
        let resolved = resolve(&root, "allowed/link/new-file.txt").unwrap();
        assert_eq!(resolved, root.join("secret/new-file.txt"));
    }
}
