//! Pinned facts about AWS that validation needs and no API call may supply (the model is pure):
//! the availability zones of each region (`data/aws-regions.toml`, with its source).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

/// The text of `data/aws-regions.toml`, as compiled in.
pub const REGIONS_TOML: &str = include_str!("../data/aws-regions.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegionFile {
    #[allow(dead_code)]
    source: String,
    #[allow(dead_code)]
    retrieved: String,
    regions: BTreeMap<String, u8>,
}

fn regions() -> &'static BTreeMap<String, u8> {
    static REGIONS: OnceLock<BTreeMap<String, u8>> = OnceLock::new();
    REGIONS.get_or_init(|| {
        toml::from_str::<RegionFile>(REGIONS_TOML)
            .expect("data/aws-regions.toml is valid (tested)")
            .regions
    })
}

/// Availability zones a new account sees in `region` (not opt-in, not Local Zones); `None` for
/// a region the table does not know.
pub fn availability_zones(region: &str) -> Option<u8> {
    regions().get(region).copied()
}

/// The regions of the table, sorted.
pub fn known_regions() -> impl Iterator<Item = &'static str> {
    regions().keys().map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_region_table_parses_and_has_the_usual_regions() {
        assert_eq!(availability_zones("eu-west-1"), Some(3));
        assert_eq!(availability_zones("us-west-2"), Some(4));
        assert_eq!(availability_zones("xx-nowhere-1"), None);
        assert!(known_regions().count() >= 15);
        assert!(known_regions().all(|r| crate::names::region(r).is_ok()));
        assert!(regions().values().all(|&z| (2..=6).contains(&z)));
    }
}
