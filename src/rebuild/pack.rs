//! Packing a source directory as a reproducible `.tar.gz`, so that a publisher's manifest may
//! name the directory itself (`[source] path = "."`) and `reprove rebuild --manifest` works
//! with nothing but the binary. The archive is what `fixtures/pack-source.sh` makes with GNU
//! tar: the directory's contents under one top directory (which rebuilders strip), entries
//! sorted by name, every mtime the recipe's `source_date_epoch`, owner and group 0 with no
//! user or group names, modes normalised (`u+rwX,go=rX`: 0755 for directories and executables,
//! 0644 for other files), and a gzip header without timestamp or file name. The same tree
//! therefore always packs to the same bytes, whoever packs it, wherever, whenever.
//!
//! Left out: `.git` directories (their bytes change with every fetch and gc) and the paths in
//! `exclude` (the work and output directories, which may sit inside the source). Symbolic
//! links are kept as links; any other special file (FIFO, socket, device) is refused.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

/// Packs the contents of `src` under `top/` as a reproducible `.tar.gz` at `out`.
pub fn pack_dir(
    src: &Path,
    top: &str,
    out: &Path,
    epoch: u64,
    exclude: &[PathBuf],
) -> anyhow::Result<()> {
    let exclude: Vec<PathBuf> = exclude
        .iter()
        .filter_map(|p| fs::canonicalize(p).ok())
        .chain(fs::canonicalize(out).ok())
        .collect();
    let file = fs::File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
    let gz = flate2::GzBuilder::new().write(file, flate2::Compression::best());
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    let mut packer = Packer {
        tar: &mut tar,
        epoch,
        exclude: &exclude,
    };
    packer.dir(src, top)?;
    let gz = tar.into_inner().context("finishing the source archive")?;
    gz.finish()?.flush()?;
    Ok(())
}

struct Packer<'a, W: std::io::Write> {
    tar: &'a mut tar::Builder<W>,
    epoch: u64,
    exclude: &'a [PathBuf],
}

impl<W: std::io::Write> Packer<'_, W> {
    /// Appends the directory `dir` as `name/`, then its entries in name order.
    fn dir(&mut self, dir: &Path, name: &str) -> anyhow::Result<()> {
        self.append(
            tar::EntryType::Directory,
            &format!("{name}/"),
            0o755,
            &[],
            None,
        )?;
        let mut entries = fs::read_dir(dir)
            .with_context(|| format!("cannot read the source directory {}", dir.display()))?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("cannot read the source directory {}", dir.display()))?;
        entries.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
        for path in entries {
            let file_name = path.file_name().unwrap_or_default();
            let Some(file_name) = file_name.to_str() else {
                bail!("{}: a file name that is not UTF-8", path.display());
            };
            if file_name == ".git" || self.excluded(&path) {
                continue;
            }
            let entry_name = format!("{name}/{file_name}");
            let meta = fs::symlink_metadata(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let kind = meta.file_type();
            if kind.is_dir() {
                self.dir(&path, &entry_name)?;
            } else if kind.is_symlink() {
                let target = fs::read_link(&path)?;
                self.append(
                    tar::EntryType::Symlink,
                    &entry_name,
                    0o777,
                    &[],
                    Some(&target),
                )?;
            } else if kind.is_file() {
                let bytes =
                    fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
                let exec = meta.permissions().mode() & 0o111 != 0;
                let mode = if exec { 0o755 } else { 0o644 };
                self.append(tar::EntryType::Regular, &entry_name, mode, &bytes, None)?;
            } else {
                bail!(
                    "{} is not a file, directory or symbolic link: a source archive cannot \
                     hold it",
                    path.display()
                );
            }
        }
        Ok(())
    }

    fn excluded(&self, path: &Path) -> bool {
        !self.exclude.is_empty() && fs::canonicalize(path).is_ok_and(|p| self.exclude.contains(&p))
    }

    fn append(
        &mut self,
        kind: tar::EntryType,
        name: &str,
        mode: u32,
        bytes: &[u8],
        link: Option<&Path>,
    ) -> anyhow::Result<()> {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_mtime(self.epoch);
        h.set_uid(0);
        h.set_gid(0);
        h.set_size(bytes.len() as u64);
        match link {
            Some(target) => self.tar.append_link(&mut h, name, target)?,
            None => self.tar.append_data(&mut h, name, bytes)?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(root: &Path) {
        fs::create_dir_all(root.join("sub/.git")).unwrap();
        fs::write(root.join("b.txt"), "b").unwrap();
        fs::write(root.join("a.sh"), "#!/bin/sh\n").unwrap();
        fs::set_permissions(root.join("a.sh"), fs::Permissions::from_mode(0o700)).unwrap();
        fs::write(root.join("sub/c"), "c").unwrap();
        fs::write(root.join("sub/.git/HEAD"), "ref").unwrap();
        std::os::unix::fs::symlink("b.txt", root.join("link")).unwrap();
    }

    #[test]
    fn the_same_tree_packs_to_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let (one, two) = (dir.path().join("one"), dir.path().join("two"));
        tree(&one);
        tree(&two);
        // Another order of creation, other times and modes: the same archive.
        fs::set_permissions(two.join("b.txt"), fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(two.join("out.tar.gz"), "an earlier archive, excluded").unwrap();
        let (x, y) = (dir.path().join("x.tar.gz"), two.join("out.tar.gz"));
        pack_dir(&one, "p-1", &x, 1_700_000_000, &[]).unwrap();
        pack_dir(&two, "p-1", &y, 1_700_000_000, &[]).unwrap();
        assert_eq!(fs::read(&x).unwrap(), fs::read(&y).unwrap());

        let gz = flate2::read::GzDecoder::new(fs::File::open(&x).unwrap());
        let mut ar = tar::Archive::new(gz);
        let got: Vec<(String, u32, u64, u64)> = ar
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                let name = e.path().unwrap().display().to_string();
                assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (0, 0));
                assert!(h.username().unwrap().unwrap_or("").is_empty());
                (
                    name,
                    h.mode().unwrap(),
                    h.mtime().unwrap(),
                    h.size().unwrap(),
                )
            })
            .collect();
        let names: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "p-1/",
                "p-1/a.sh",
                "p-1/b.txt",
                "p-1/link",
                "p-1/sub/",
                "p-1/sub/c"
            ]
        );
        assert_eq!(got[1].1, 0o755);
        assert_eq!(got[2].1, 0o644);
        assert!(got.iter().all(|g| g.2 == 1_700_000_000));
    }

    #[test]
    fn special_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        fs::create_dir(&src).unwrap();
        let fifo = src.join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let err = pack_dir(&src, "p", &dir.path().join("o.tgz"), 1, &[]).unwrap_err();
        assert!(format!("{err:#}").contains("is not a file"), "{err:#}");
    }
}
