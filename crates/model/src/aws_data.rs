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
    /// Where the rows come from, by the key the rows name.
    pub sources: BTreeMap<String, PriceSource>,
    /// Per region: its service prices and EC2 on-demand prices.
    pub regions: BTreeMap<String, RegionPrices>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EksPrices {
    pub source: String,
    pub standard_per_cluster_hour: f64,
    pub extended_per_cluster_hour: f64,
}

/// A public source of prices: its address and what it gives.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceSource {
    pub url: String,
    pub what: String,
}

/// One price and the key of its source in [`Prices::sources`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceRow {
    pub usd: f64,
    pub source: String,
}

/// The prices of one region.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionPrices {
    pub ebs_gp3_gib_month: PriceRow,
    pub nat_gateway_hour: PriceRow,
    pub nat_gateway_gb: PriceRow,
    pub public_ipv4_hour: PriceRow,
    pub nlb_hour: PriceRow,
    /// One NLCU: for TCP, 1 GB processed per hour (or 800 new / 100,000 active connections).
    pub nlb_lcu_hour: PriceRow,
    pub inter_az_gb_each_way: PriceRow,
    pub transit_gateway_attachment_hour: PriceRow,
    pub transit_gateway_gb: PriceRow,
    /// The source of every row of [`RegionPrices::ec2`].
    pub ec2_source: String,
    /// On-demand Linux USD per hour, by instance type.
    pub ec2: BTreeMap<String, f64>,
}

impl Prices {
    /// The address of a source key (the key itself if the table lacks it, which a test
    /// forbids).
    pub fn source_url<'a>(&'a self, key: &'a str) -> &'a str {
        self.sources.get(key).map_or(key, |s| s.url.as_str())
    }
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

    #[test]
    fn every_price_row_names_a_public_source_and_every_instance_type_is_real() {
        let p = prices();
        assert!(p.sources.values().all(|s| s.url.starts_with("https://")));
        assert!(p.regions.contains_key("us-east-1"));
        for (region, r) in &p.regions {
            assert!(crate::names::region(region).is_ok(), "{region}");
            let rows = [
                &r.ebs_gp3_gib_month,
                &r.nat_gateway_hour,
                &r.nat_gateway_gb,
                &r.public_ipv4_hour,
                &r.nlb_hour,
                &r.nlb_lcu_hour,
                &r.inter_az_gb_each_way,
                &r.transit_gateway_attachment_hour,
                &r.transit_gateway_gb,
            ];
            for row in rows {
                assert!(
                    p.sources.contains_key(&row.source),
                    "{region}: {}",
                    row.source
                );
                assert!(row.usd > 0.0);
            }
            assert!(p.sources.contains_key(&r.ec2_source));
            assert!(
                r.ec2.len() > 500,
                "{region}: {} instance types",
                r.ec2.len()
            );
            // Most priced types are in the pinned botocore's EC2 API; the rest are families
            // newer than it (the price data is from 2026). Each is `family.size`.
            let known = r
                .ec2
                .keys()
                .filter(|t| instance_types().contains(t.as_str()))
                .count();
            assert!(
                known * 2 > r.ec2.len(),
                "{region}: {known} of {} known",
                r.ec2.len()
            );
            for t in r.ec2.keys() {
                let (family, size) = t.split_once('.').expect("family.size");
                assert!(
                    family
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                    "{t}"
                );
                assert!(
                    size.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                    "{t}"
                );
            }
            assert!(r.ec2.values().all(|usd| *usd > 0.0));
        }
        // Rows checked by hand against the source file at its tag.
        let east = &p.regions["us-east-1"].ec2;
        assert_eq!(east["m6i.large"], 0.096);
        assert_eq!(east["r6i.4xlarge"], 1.008);
        assert_eq!(east["t3.large"], 0.0832);
    }
}
