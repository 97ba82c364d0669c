//! A data folder split by account into shards, each a whole store folder of its own
//! (`shard-0/`, `shard-1/`, …, with `shards.json` at the top), so that each can run on its own
//! core: everything the pipeline keeps is keyed by account (the ledger, the account's
//! notifications and email status, its audit items and queue messages come from its own
//! stream records), so an account's records, in order, stay in one shard.
//!
//! A folder without `shards.json` is one store (what `dev` and `invoke` use). A store refuses
//! to open at the top of a sharded folder ([`StoreOpenError::Sharded`]); the tools that read
//! a whole run (`replay`, `dashboard`) go through [`store_folders`].
//!
//! [`StoreOpenError::Sharded`]: crate::local::embedded::store::StoreOpenError::Sharded

use std::path::{Path, PathBuf};

/// The marker of a sharded folder, at its top: `{"shards": N}`.
pub const SHARDS_FILE: &str = "shards.json";

/// The most shards a folder is split into.
pub const MAX_SHARDS: usize = 64;

/// Why a folder's shards cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ShardsError {
    #[error("{}: {source}", .path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{} is not {{\"shards\": N}} with N from 1 to {MAX_SHARDS}", .0.display())]
    Malformed(PathBuf),
}

/// The shard an account's records go to, among `shards`: FNV-1a of the account id, so the
/// same on every machine and every build (std's hasher promises neither).
pub fn shard_of(account_id: &str, shards: usize) -> usize {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0100_0000_01b3;
    let hash = account_id
        .bytes()
        .fold(OFFSET_BASIS, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(PRIME));
    (hash % shards.max(1) as u64) as usize
}

/// The folder of shard `index` of `dir`.
pub fn shard_dir(dir: &Path, index: usize) -> PathBuf {
    dir.join(format!("shard-{index}"))
}

/// The number of shards `dir` is split into, if it is.
pub fn shard_count(dir: &Path) -> Result<Option<usize>, ShardsError> {
    let path = dir.join(SHARDS_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(ShardsError::Io { path, source }),
    };
    let count = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|marker| marker.get("shards")?.as_u64())
        .filter(|n| (1..=MAX_SHARDS as u64).contains(n))
        .ok_or(ShardsError::Malformed(path))?;
    Ok(Some(count as usize))
}

/// The store folders of a run's folder: its shards in order, or the folder itself.
pub fn store_folders(dir: &Path) -> Result<Vec<PathBuf>, ShardsError> {
    Ok(match shard_count(dir)? {
        Some(count) => (0..count).map(|index| shard_dir(dir, index)).collect(),
        None => vec![dir.to_path_buf()],
    })
}

/// Marks `dir` as split into `shards` (written once its shard folders exist).
pub fn mark(dir: &Path, shards: usize) -> Result<(), ShardsError> {
    let path = dir.join(SHARDS_FILE);
    std::fs::write(&path, serde_json::json!({ "shards": shards }).to_string())
        .map_err(|source| ShardsError::Io { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_always_goes_to_the_same_shard_and_accounts_spread_evenly() {
        // FNV-1a's published test vector: the hash of "a".
        assert_eq!(
            shard_of("a", usize::MAX),
            (0xaf63_dc4c_8601_ec8c_u64 % usize::MAX as u64) as usize
        );
        assert_eq!(shard_of("acc-000001", 2), shard_of("acc-000001", 2));
        assert_eq!(shard_of("anything", 1), 0);
        assert_eq!(shard_of("anything", 0), 0, "no shards counts as one");
        let mut per_shard = [0usize; 4];
        for n in 0..10_000 {
            per_shard[shard_of(&format!("acc-{n:06}"), 4)] += 1;
        }
        assert!(per_shard.iter().all(|&n| (2_300..=2_700).contains(&n)), "{per_shard:?}");
    }

    #[test]
    fn a_folder_is_its_own_store_until_it_is_marked() {
        let dir = std::env::temp_dir().join(format!("txn-notify-shards-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(store_folders(&dir).unwrap(), vec![dir.clone()]);
        mark(&dir, 3).unwrap();
        assert_eq!(
            store_folders(&dir).unwrap(),
            vec![dir.join("shard-0"), dir.join("shard-1"), dir.join("shard-2")]
        );
        for bad in [
            "",
            "{}",
            "{\"shards\": 0}",
            "{\"shards\": 65}",
            "{\"shards\": \"2\"}",
            "[2]",
        ] {
            std::fs::write(dir.join(SHARDS_FILE), bad).unwrap();
            let error = store_folders(&dir).unwrap_err();
            assert!(matches!(error, ShardsError::Malformed(_)), "{bad:?}: {error}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
