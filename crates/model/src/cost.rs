//! What the platform costs a month, from pinned list prices (`data/aws-prices.toml`, dated, a
//! source on every row): [`bill`] prices every cluster's control plane, nodes, volumes, NAT
//! gateways, load balancers and the transfer its events cause (`cargo xtask cost`), and
//! [`eks_support_text`] is the EKS support section of `cargo xtask plan`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use jiff::civil::Date;
use serde::Serialize;

use crate::aws_data::{PriceRow, RegionPrices, prices};
use crate::{Platform, Role, SupportType};

/// Hours in the month the cost lines use (365.25 days / 12).
pub const HOURS_PER_MONTH: f64 = 730.5;

/// Where a Kubernetes version stands in EKS's release calendar (`versions.toml
/// [kubernetes.calendar]`) on a day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum SupportPhase {
    /// In standard support until `until` (that many days from today).
    Standard { until: String, days_left: i64 },
    /// Out of standard support since `since`, in extended support until `until`.
    Extended { since: String, until: String },
    /// Out of extended support too.
    Ended { since: String },
    /// The calendar has no such version.
    Unknown,
}

/// Days before the end of standard support from which `plan` says to upgrade.
pub const UPGRADE_NOTICE_DAYS: i64 = 90;

/// The support phase of `kubernetes` on `today`.
pub fn support_phase(platform: &Platform, kubernetes: &str, today: Date) -> SupportPhase {
    let Some(w) = platform.versions.kubernetes.calendar.get(kubernetes) else {
        return SupportPhase::Unknown;
    };
    let (Some(standard), Some(extended)) = (w.standard_end(), w.extended_end()) else {
        return SupportPhase::Unknown;
    };
    if today < standard {
        SupportPhase::Standard {
            until: w.end_of_standard_support.clone(),
            days_left: today
                .until(standard)
                .map_or(0, |span| i64::from(span.get_days())),
        }
    } else if today < extended {
        SupportPhase::Extended {
            since: w.end_of_standard_support.clone(),
            until: w.end_of_extended_support.clone(),
        }
    } else {
        SupportPhase::Ended {
            since: w.end_of_extended_support.clone(),
        }
    }
}

/// The next minor version (`1.34` -> `1.35`).
fn next_minor(version: &str) -> String {
    match crate::kubernetes::minor_of(version) {
        Some((major, minor)) => format!("{major}.{}", minor + 1),
        None => "the next minor version".into(),
    }
}

/// One cluster's support line of `plan`: its phase today and what its support policy makes
/// of it.
pub fn support_line(platform: &Platform, c: &crate::Cluster, today: Date) -> String {
    let eks = &prices().eks;
    let k = &c.kubernetes_version;
    let next = next_minor(k);
    let more = (eks.extended_per_cluster_hour - eks.standard_per_cluster_hour) * HOURS_PER_MONTH;
    let head = format!("{}: Kubernetes {k}, support {}", c.name, c.support.as_str());
    match (support_phase(platform, k, today), c.support) {
        (SupportPhase::Standard { until, days_left }, support) => {
            let policy = match support {
                SupportType::Standard => "then EKS upgrades the cluster itself".to_string(),
                SupportType::Extended => format!(
                    "then it stays, at ${:.2} per hour (${more:.0} a month more)",
                    eks.extended_per_cluster_hour
                ),
            };
            if days_left <= UPGRADE_NOTICE_DAYS {
                format!(
                    "{head}: standard support ends {until}, in {days_left} day(s): set kubernetes_version = \"{next}\" and deploy before then ({policy})"
                )
            } else {
                format!("{head}: standard support until {until} ({days_left} days; {policy})")
            }
        }
        (SupportPhase::Extended { since, .. }, SupportType::Standard) => format!(
            "{head}: standard support ended {since}: EKS upgrades the cluster to {next} itself, outside this repository, and a deploy of {k} is then refused (EKS cannot downgrade): set kubernetes_version = \"{next}\" and deploy (`cargo xtask plan <env> --from <ref>` shows the upgrade)"
        ),
        (SupportPhase::Extended { since, until }, SupportType::Extended) => format!(
            "{head}: in extended support since {since}, until {until}: ${:.2} per hour (${more:.0} a month more than standard); set kubernetes_version = \"{next}\" and deploy to leave it",
            eks.extended_per_cluster_hour
        ),
        (SupportPhase::Ended { since }, _) => format!(
            "{head}: extended support ended {since}: EKS upgrades the cluster itself; set kubernetes_version to a supported version"
        ),
        (SupportPhase::Unknown, _) => {
            format!("{head}: not in versions.toml's [kubernetes.calendar]; add its support dates")
        }
    }
}

/// The EKS support section of `cargo xtask plan` on `today`.
pub fn eks_support_text(platform: &Platform, today: Date) -> String {
    let eks = &prices().eks;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "EKS control plane: ${:.2} per cluster-hour in standard support, ${:.2} in extended support (${:.0} and ${:.0} a month; prices of {}, {})",
        eks.standard_per_cluster_hour,
        eks.extended_per_cluster_hour,
        eks.standard_per_cluster_hour * HOURS_PER_MONTH,
        eks.extended_per_cluster_hour * HOURS_PER_MONTH,
        prices().retrieved,
        eks.source
    );
    let _ = writeln!(
        s,
        "Today is {}; the support dates are versions.toml's [kubernetes.calendar].",
        today
    );
    for c in &platform.clusters {
        let _ = writeln!(s, "  {}", support_line(platform, c, today));
    }
    s
}

/// Seconds in the month of the cost lines.
const SECONDS_PER_MONTH: f64 = HOURS_PER_MONTH * 3600.0;

/// Bytes in the GB that AWS bills transfer and storage by (2^30).
const GB: f64 = 1_073_741_824.0;

/// The region whose prices stand in for a region the table does not have.
pub const FALLBACK_REGION: &str = "us-east-1";

/// One priced line of a cluster's monthly cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    /// What is paid for (`EC2 m6i.large x 3 (node group system)`).
    pub item: String,
    /// How much of it a month, in `unit`.
    pub quantity: f64,
    pub unit: &'static str,
    /// The list price of one unit; `None` when the table has none (the line is then not in the
    /// total, and `note` says so).
    pub usd_per_unit: Option<f64>,
    pub monthly_usd: Option<f64>,
    /// The key of the price's source in [`Bill::sources`].
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The monthly cost of one cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterCost {
    pub cluster: String,
    pub environment: String,
    pub region: String,
    /// The region whose prices were used: the cluster's, or [`FALLBACK_REGION`] when the table
    /// has no rows for it.
    pub priced_at: String,
    pub lines: Vec<Line>,
    pub monthly_usd: f64,
}

/// What the platform costs a month at list prices, per cluster and in total.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bill {
    /// The date the price table was read.
    pub prices_retrieved: String,
    pub hours_per_month: f64,
    pub clusters: Vec<ClusterCost>,
    pub monthly_usd: f64,
    /// Every source the lines name, key to address.
    pub sources: BTreeMap<String, String>,
    /// What the figures assume.
    pub assumptions: Vec<String>,
}

struct Lines<'a> {
    prices: &'a RegionPrices,
    lines: Vec<Line>,
}

impl Lines<'_> {
    fn add(&mut self, item: String, quantity: f64, unit: &'static str, row: &PriceRow) {
        self.lines.push(Line {
            item,
            quantity,
            unit,
            usd_per_unit: Some(row.usd),
            monthly_usd: Some(quantity * row.usd),
            source: Some(row.source.clone()),
            note: None,
        });
    }

    /// Data that crosses from one zone to another: billed where it leaves and where it
    /// arrives.
    fn across_zones(&mut self, item: String, gb: f64) {
        if gb == 0.0 {
            return;
        }
        let row = &self.prices.inter_az_gb_each_way;
        self.lines.push(Line {
            item,
            quantity: gb,
            unit: "GB",
            usd_per_unit: Some(2.0 * row.usd),
            monthly_usd: Some(2.0 * gb * row.usd),
            source: Some(row.source.clone()),
            note: None,
        });
    }
}

/// The share of traffic between a client and a server in evenly used zones that crosses zones.
fn cross_zone_share(zones: u8) -> f64 {
    let z = f64::from(zones.max(1));
    (z - 1.0) / z
}

/// The copies of a partition or shard besides the first that land in another zone than it,
/// as rack or zone awareness places them: one per other zone, at most.
fn copies_in_other_zones(copies: u32, zones: u8) -> f64 {
    f64::from(copies.saturating_sub(1).min(u32::from(zones.max(1)) - 1))
}

/// The platform's monthly cost at the pinned list prices, each control plane at the support
/// price of its version on `today`.
pub fn bill(platform: &Platform, today: Date) -> Bill {
    let table = prices();
    let plan = platform.capacity_plan();
    let cp = platform.controlplane();
    let mut sources: BTreeMap<String, String> = BTreeMap::new();
    sources.insert("eks".into(), table.eks.source.clone());
    let mut clusters = Vec::new();
    for c in &platform.clusters {
        let (priced_at, rp) = match table.regions.get(&c.region) {
            Some(rp) => (c.region.clone(), rp),
            None => (FALLBACK_REGION.to_string(), &table.regions[FALLBACK_REGION]),
        };
        let mut l = Lines {
            prices: rp,
            lines: Vec::new(),
        };
        // The control plane, at its version's support price today.
        let more = HOURS_PER_MONTH
            * (table.eks.extended_per_cluster_hour - table.eks.standard_per_cluster_hour);
        let phase = support_phase(platform, &c.kubernetes_version, today);
        let (usd, note) = match (&phase, c.support) {
            (SupportPhase::Extended { since, until }, SupportType::Extended) => (
                table.eks.extended_per_cluster_hour,
                Some(format!(
                    "in extended support since {since} (until {until}): ${more:.2} a month more than standard"
                )),
            ),
            (SupportPhase::Extended { since, .. }, SupportType::Standard) => (
                table.eks.standard_per_cluster_hour,
                Some(format!(
                    "standard support ended {since}: EKS upgrades the cluster to {} itself",
                    next_minor(&c.kubernetes_version)
                )),
            ),
            (SupportPhase::Standard { until, .. }, SupportType::Extended) => (
                table.eks.standard_per_cluster_hour,
                Some(format!(
                    "support extended: ${more:.2} a month more from {until}, when {} leaves standard support",
                    c.kubernetes_version
                )),
            ),
            _ => (table.eks.standard_per_cluster_hour, None),
        };
        l.lines.push(Line {
            item: format!("EKS control plane, Kubernetes {}", c.kubernetes_version),
            quantity: HOURS_PER_MONTH,
            unit: "cluster-hour",
            usd_per_unit: Some(usd),
            monthly_usd: Some(HOURS_PER_MONTH * usd),
            source: Some("eks".into()),
            note,
        });
        // Nodes: each node group at its desired size, on its first instance type (managed node
        // groups launch on-demand capacity in the order of the types).
        let mut root_gib = 0.0;
        for g in platform.node_groups(c) {
            let t = &g.pool.instance_types[0];
            let n = g.sizes.desired;
            let quantity = f64::from(n) * HOURS_PER_MONTH;
            let item = format!("EC2 {t} x {n} (node group {})", g.name);
            match rp.ec2.get(t) {
                Some(usd) => l.lines.push(Line {
                    item,
                    quantity,
                    unit: "instance-hour",
                    usd_per_unit: Some(*usd),
                    monthly_usd: Some(quantity * usd),
                    source: Some(rp.ec2_source.clone()),
                    note: (g.pool.capacity == crate::Capacity::Spot)
                        .then(|| "Spot, priced on demand: an upper bound".to_string()),
                }),
                None => l.lines.push(Line {
                    item,
                    quantity,
                    unit: "instance-hour",
                    usd_per_unit: None,
                    monthly_usd: None,
                    source: None,
                    note: Some(format!("no price for {t} in {priced_at}: not in the total")),
                }),
            }
            root_gib += f64::from(n) * f64::from(g.pool.disk_gib);
        }
        l.add(
            "EBS gp3, node root volumes".into(),
            root_gib,
            "GB-month",
            &rp.ebs_gp3_gib_month,
        );
        for (what, n, gib) in crate::quotas::persistent_volumes(platform, c) {
            if n == 0 {
                continue;
            }
            l.add(
                format!("EBS gp3, {what} {n} x {gib} GiB"),
                (n * gib) as f64,
                "GB-month",
                &rp.ebs_gp3_gib_month,
            );
        }
        // NAT gateways (one per zone when protected) and their Elastic IPs.
        let nats = if c.protected { c.availability_zones } else { 1 };
        let nat_hours = f64::from(nats) * HOURS_PER_MONTH;
        l.add(
            format!("NAT gateways x {nats}"),
            nat_hours,
            "gateway-hour",
            &rp.nat_gateway_hour,
        );
        l.add(
            format!("public IPv4 of the NAT gateways x {nats}"),
            nat_hours,
            "address-hour",
            &rp.public_ipv4_hour,
        );
        // Network Load Balancers.
        let nlbs = crate::quotas::load_balancers(platform, c);
        let what = match c.role {
            Role::Workload => "the gateway and Prometheus".to_string(),
            Role::Controlplane => format!("Kafka's bootstrap and {} brokers", plan.kafka.brokers),
        };
        l.add(
            format!("Network Load Balancers x {nlbs} ({what})"),
            nlbs as f64 * HOURS_PER_MONTH,
            "NLB-hour",
            &rp.nlb_hour,
        );
        if let Some(gw) = &c.gateway
            && gw.scheme == crate::LoadBalancerScheme::InternetFacing
        {
            l.add(
                format!(
                    "public IPv4 of the internet-facing gateway NLB x {}",
                    c.availability_zones
                ),
                f64::from(c.availability_zones) * HOURS_PER_MONTH,
                "address-hour",
                &rp.public_ipv4_hour,
            );
        }
        let total_gb = plan.peak_bytes_per_second as f64 * SECONDS_PER_MONTH / GB;
        match c.role {
            Role::Controlplane => {
                // Kafka's NLBs carry every event once (1 NLCU = 1 GB an hour for TCP).
                l.add(
                    format!(
                        "NLCUs of Kafka's NLBs ({:.1} GB an hour of events)",
                        total_gb / HOURS_PER_MONTH
                    ),
                    total_gb,
                    "NLCU-hour",
                    &rp.nlb_lcu_hour,
                );
                let z = c.availability_zones;
                let k = &plan.kafka;
                let es = &plan.elasticsearch;
                l.across_zones(
                    format!(
                        "zone to zone: Kafka replication, {} copies in other zones",
                        copies_in_other_zones(k.replication, z)
                    ),
                    total_gb * copies_in_other_zones(k.replication, z),
                );
                l.across_zones(
                    "zone to zone: Logstash reading the partition leaders".into(),
                    total_gb * cross_zone_share(z),
                );
                l.across_zones(
                    "zone to zone: Logstash writing to the primary shards".into(),
                    total_gb * cross_zone_share(z),
                );
                l.across_zones(
                    format!(
                        "zone to zone: Elasticsearch replicas, {} copies in other zones",
                        copies_in_other_zones(es.replicas + 1, z)
                    ),
                    total_gb * copies_in_other_zones(es.replicas + 1, z),
                );
                if platform.network_hub == crate::NetworkHub::TransitGateway {
                    l.add(
                        "Transit Gateway attachment of the controlplane VPC".into(),
                        HOURS_PER_MONTH,
                        "attachment-hour",
                        &rp.transit_gateway_attachment_hour,
                    );
                }
            }
            Role::Workload => {
                let env_bytes = plan
                    .environments
                    .get(&c.environment)
                    .map_or(0, |e| e.peak_bytes_per_second);
                let gb = env_bytes as f64 * SECONDS_PER_MONTH / GB;
                let lines_before = l.lines.len();
                match platform.network_hub {
                    crate::NetworkHub::Peering => {
                        l.across_zones(
                            format!(
                                "zone to zone: events to Kafka over the peering ({gb:.0} GB, {:.0}% crossing zones)",
                                100.0 * cross_zone_share(cp.availability_zones)
                            ),
                            gb * cross_zone_share(cp.availability_zones),
                        );
                    }
                    crate::NetworkHub::TransitGateway => {
                        l.add(
                            "Transit Gateway attachment of the VPC".into(),
                            HOURS_PER_MONTH,
                            "attachment-hour",
                            &rp.transit_gateway_attachment_hour,
                        );
                        l.add(
                            "Transit Gateway data processed: events to Kafka".into(),
                            gb,
                            "GB",
                            &rp.transit_gateway_gb,
                        );
                        l.across_zones(
                            format!(
                                "zone to zone: events to Kafka ({:.0}% crossing zones)",
                                100.0 * cross_zone_share(cp.availability_zones)
                            ),
                            gb * cross_zone_share(cp.availability_zones),
                        );
                    }
                }
                if c.region != cp.region {
                    for line in &mut l.lines[lines_before..] {
                        if line.item.starts_with("zone to zone") {
                            line.note = Some(format!(
                                "{} to {}: transfer between regions costs more and is not in the table; priced as zone to zone, a lower bound",
                                c.region, cp.region
                            ));
                        }
                    }
                }
            }
        }
        let lines = l.lines;
        for line in &lines {
            if let Some(key) = &line.source {
                sources
                    .entry(key.clone())
                    .or_insert_with(|| table.source_url(key).to_string());
            }
        }
        let monthly_usd = lines.iter().filter_map(|l| l.monthly_usd).sum();
        clusters.push(ClusterCost {
            cluster: c.name.clone(),
            environment: c.environment.clone(),
            region: c.region.clone(),
            priced_at,
            lines,
            monthly_usd,
        });
    }
    let monthly_usd = clusters.iter().map(|c| c.monthly_usd).sum();
    Bill {
        prices_retrieved: table.retrieved.clone(),
        hours_per_month: HOURS_PER_MONTH,
        clusters,
        monthly_usd,
        sources,
        assumptions: vec![
            format!("On-demand list prices read {}, without tax, Savings Plans or Reserved Instances; {HOURS_PER_MONTH} hours a month; GB = 2^30 bytes.", table.retrieved),
            "Node groups at their desired size, on the first instance type of their pool.".into(),
            format!("Events at the sizing's peak ({} events/s of {} bytes) all month: an upper bound for the transfer and NLCU lines.", platform.sizing.peak_events_per_second, platform.sizing.average_event_bytes),
            "Zone to zone: clients spread evenly over the zones, replicas in other zones as rack awareness places them; each GB is billed where it leaves and where it arrives.".into(),
            "Not priced: NAT data processing (the events reach Kafka over the peering or transit gateway, not a NAT gateway; image pulls and calls to AWS APIs are not in the model), the gateway NLB's NLCUs (application traffic is not in the model), internet egress, S3 state, CloudWatch, Route 53.".into(),
        ],
    }
}

impl Bill {
    /// The bill of some clusters only, with its total.
    pub fn only(&self, keep: impl Fn(&ClusterCost) -> bool) -> Bill {
        let clusters: Vec<ClusterCost> =
            self.clusters.iter().filter(|c| keep(c)).cloned().collect();
        let used: std::collections::BTreeSet<&String> = clusters
            .iter()
            .flat_map(|c| c.lines.iter().filter_map(|l| l.source.as_ref()))
            .collect();
        Bill {
            prices_retrieved: self.prices_retrieved.clone(),
            hours_per_month: self.hours_per_month,
            monthly_usd: clusters.iter().map(|c| c.monthly_usd).sum(),
            sources: self
                .sources
                .iter()
                .filter(|(k, _)| used.contains(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            clusters,
            assumptions: self.assumptions.clone(),
        }
    }

    /// A cluster's monthly total, if the bill has it.
    pub fn cluster_usd(&self, name: &str) -> Option<f64> {
        self.clusters
            .iter()
            .find(|c| c.cluster == name)
            .map(|c| c.monthly_usd)
    }
}

/// Dollars with thousands separators and cents: `12,345.67`.
pub fn usd(amount: f64) -> String {
    let cents = (amount.abs() * 100.0).round() as u64;
    let (whole, frac) = (cents / 100, cents % 100);
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    let sign = if amount < 0.0 && cents > 0 { "-" } else { "" };
    format!("{sign}{grouped}.{frac:02}")
}

/// A change in dollars with its sign (`+288.51`, `-12.00`), or `zero` when it rounds to no cent.
pub fn change_usd(d: f64, zero: &str) -> String {
    if d.abs() < 0.005 {
        zero.to_string()
    } else if d > 0.0 {
        format!("+{}", usd(d))
    } else {
        usd(d)
    }
}

fn quantity(q: f64) -> String {
    if q.fract() == 0.0 || q >= 100.0 {
        usd(q).trim_end_matches(".00").to_string()
    } else {
        format!("{q:.1}")
    }
}

/// `cargo xtask cost`: every cluster's lines, its total, the platform's total, the sources
/// and the assumptions.
pub fn to_text(bill: &Bill) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Monthly cost at AWS list prices (USD; prices read {}, {} hours a month)",
        bill.prices_retrieved, bill.hours_per_month
    );
    let width = bill
        .clusters
        .iter()
        .flat_map(|c| c.lines.iter().map(|l| l.item.len()))
        .max()
        .unwrap_or(10)
        .max(10);
    for c in &bill.clusters {
        let _ = writeln!(s);
        let priced = if c.priced_at == c.region {
            String::new()
        } else {
            format!(
                "; priced at {}'s list prices: the table has no {} rows (docs/operations.md, \"Cost\")",
                c.priced_at, c.region
            )
        };
        let _ = writeln!(s, "{} ({}, {}{priced})", c.cluster, c.environment, c.region);
        for l in &c.lines {
            let (unit_price, monthly) = match (l.usd_per_unit, l.monthly_usd) {
                (Some(u), Some(m)) => (format!("{u:.4}"), usd(m)),
                _ => ("-".to_string(), "-".to_string()),
            };
            let _ = write!(
                s,
                "  {:<width$}  {:>10} {:<15} x {:>8} = {:>10}  [{}]",
                l.item,
                quantity(l.quantity),
                l.unit,
                unit_price,
                monthly,
                l.source.as_deref().unwrap_or("-"),
            );
            if let Some(note) = &l.note {
                let _ = write!(s, "  ({note})");
            }
            let _ = writeln!(s);
        }
        let _ = writeln!(
            s,
            "  {:<width$}  {:>10} {:<15}   {:>8}   {:>10}",
            format!("{} a month", c.cluster),
            "",
            "",
            "",
            usd(c.monthly_usd)
        );
    }
    let _ = writeln!(
        s,
        "\nTotal of {} cluster{}: {} USD a month",
        bill.clusters.len(),
        if bill.clusters.len() == 1 { "" } else { "s" },
        usd(bill.monthly_usd)
    );
    let _ = writeln!(s, "\nSources:");
    for (k, url) in &bill.sources {
        let _ = writeln!(s, "  [{k}] {url}");
    }
    let _ = writeln!(s, "\nAssumptions:");
    for a in &bill.assumptions {
        let _ = writeln!(s, "  - {a}");
    }
    s
}

/// The pull-request comment's table: each cluster's monthly cost before and after, and the
/// change (a cluster the change adds or removes has no figure on one side).
pub fn to_markdown(base: &Bill, head: &Bill, base_ref: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "#### Monthly cost at AWS list prices (USD, prices read {})\n",
        head.prices_retrieved
    );
    let _ = writeln!(s, "| cluster | `{base_ref}` | this change | change |");
    let _ = writeln!(s, "|---|---:|---:|---:|");
    let mut names: Vec<&str> = head.clusters.iter().map(|c| c.cluster.as_str()).collect();
    for c in &base.clusters {
        if !names.contains(&c.cluster.as_str()) {
            names.push(&c.cluster);
        }
    }
    let cell = |v: Option<f64>| v.map_or("-".to_string(), usd);
    let change = |b: f64, h: f64| change_usd(h - b, "0.00");
    for n in names {
        let (b, h) = (base.cluster_usd(n), head.cluster_usd(n));
        let _ = writeln!(
            s,
            "| `{n}` | {} | {} | {} |",
            cell(b),
            cell(h),
            change(b.unwrap_or(0.0), h.unwrap_or(0.0))
        );
    }
    let _ = writeln!(
        s,
        "| **total** | **{}** | **{}** | **{}** |",
        usd(base.monthly_usd),
        usd(head.monthly_usd),
        change(base.monthly_usd, head.monthly_usd)
    );
    let _ = writeln!(
        s,
        "\n<details><summary>lines, sources and assumptions</summary>\n\n```\n{}```\n</details>",
        to_text(head)
    );
    s
}
