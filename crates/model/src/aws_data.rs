//! Pinned facts about AWS that validation and the plan need and no API call may supply (the
//! model is pure): the availability zones of each region (`data/aws-regions.toml`) and list
//! prices (`data/aws-prices.toml`), each with its source.

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

/// The text of `data/aws-prices.toml`, as compiled in.
pub const PRICES_TOML: &str = include_str!("../data/aws-prices.toml");

/// List prices in US dollars (see `data/aws-prices.toml` for the source of each).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    pub retrieved: String,
    pub eks: EksPrices,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EksPrices {
    pub source: String,
    pub standard_per_cluster_hour: f64,
    pub extended_per_cluster_hour: f64,
}

pub fn prices() -> &'static Prices {
    static PRICES: OnceLock<Prices> = OnceLock::new();
    PRICES.get_or_init(|| {
        toml::from_str(PRICES_TOML).expect("data/aws-prices.toml is valid (tested)")
    })
}

/// The text of `data/ec2-instance-types.txt`: every instance type of the EC2 API's
/// `InstanceType` enum (from botocore's service model, version in the file's header).
pub const INSTANCE_TYPES_TXT: &str = include_str!("../data/ec2-instance-types.txt");

/// Every EC2 instance type the pinned EC2 API knows.
pub fn instance_types() -> &'static std::collections::BTreeSet<&'static str> {
    static TYPES: OnceLock<std::collections::BTreeSet<&'static str>> = OnceLock::new();
    TYPES.get_or_init(|| {
        INSTANCE_TYPES_TXT
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    })
}

/// The known instance type closest to a misspelt one (at most two edits), for "did you mean".
pub fn closest_instance_type(given: &str) -> Option<&'static str> {
    instance_types()
        .iter()
        .map(|t| (crate::validate::edit_distance(given, t), *t))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, t)| t)
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

    #[test]
    fn the_price_table_parses() {
        let p = prices();
        assert!(p.eks.extended_per_cluster_hour > p.eks.standard_per_cluster_hour);
        assert!(p.eks.source.starts_with("https://"));
    }
}
