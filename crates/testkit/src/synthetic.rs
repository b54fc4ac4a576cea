//! A synthetic platform of any size, for benchmarks (`cargo xtask bench synth`) and for the
//! tests that must hold at scale (account-wide names at 20 clusters, rendering at 200).

use std::fmt::Write as _;

/// A valid platform with `clusters` workload clusters (each its own environment) plus the
/// controlplane, and `apps` applications in every environment with one route each.
pub fn platform(clusters: usize, apps: usize) -> String {
    assert!(
        clusters < 4095,
        "at most 4094 workload clusters fit in 10.0.0.0/8 as /20s"
    );
    let account = "123456789012";
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Synthetic platform: {clusters} workload clusters, {apps} applications each.\n\
         # Written by `cargo xtask bench synth --clusters {clusters} --apps {apps}`.\n\n\
         [platform]\nname = \"synth\"\nregion = \"eu-west-1\"\naccount_id = \"{account}\"\n\
         internal_domain = \"synth.internal\"\n{}",
        // Past what VPC peering allows, the synthetic platform uses the Transit Gateway hub.
        if clusters > flotilla_model::MAX_PEERINGS_PER_VPC {
            "network_hub = \"transit_gateway\"\n"
        } else {
            ""
        }
    );
    // /20 networks from 10.0.0.0/8: index i is 10.(i / 16).((i % 16) * 16).0/20.
    let cidr = |i: usize| format!("10.{}.{}.0/20", i / 16, (i % 16) * 16);
    let pools = "[[clusters.node_pools]]\nname = \"system\"\ninstance_types = [\"m6i.large\"]\nmin = 2\ndesired = 3\nmax = 6\n\n\
                 [[clusters.node_pools]]\nname = \"apps\"\ninstance_types = [\"m6i.xlarge\", \"m6a.xlarge\"]\ncapacity = \"spot\"\nmin = 1\ndesired = 3\nmax = 20\n";
    // Kafka, Logstash and Elasticsearch for the [sizing] below: the capacity plan needs 60
    // r6i.4xlarge nodes, and validation rejects a data pool whose max cannot hold the plan.
    let data_pool = "[[clusters.node_pools]]\nname = \"data\"\ninstance_types = [\"r6i.4xlarge\"]\nmin = 3\ndesired = 3\nmax = 75\n";
    let _ = writeln!(
        s,
        "[[clusters]]\nname = \"controlplane\"\nrole = \"controlplane\"\nvpc_cidr = \"{}\"\n\
         availability_zones = 3\nkubernetes_version = \"1.34\"\nprotected = true\n\
         admin_roles = [\"arn:aws:iam::{account}:role/platform-admin\"]\n\n\
         [clusters.endpoint]\naccess = \"private\"\nprivate_cidrs = [\"10.255.0.0/24\"]\n\n{pools}\n{data_pool}",
        cidr(0)
    );
    for c in 1..=clusters {
        let env = format!("env{c:04}");
        let _ = writeln!(
            s,
            "[[clusters]]\nname = \"{env}\"\nrole = \"workload\"\nenvironment = \"{env}\"\n\
             vpc_cidr = \"{}\"\navailability_zones = 3\nkubernetes_version = \"1.34\"\n\
             protected = {}\nadmin_roles = [\"arn:aws:iam::{account}:role/platform-admin\"]\n\n\
             [clusters.endpoint]\naccess = \"public\"\npublic_cidrs = [\"203.0.113.0/24\"]\n\n\
             [clusters.gateway]\nscheme = \"internet-facing\"\n\
             certificate_arn = \"arn:aws:acm:eu-west-1:{account}:certificate/00000000-0000-4000-8000-{c:012}\"\n\
             domain = \"{env}.example.com\"\n\n{pools}",
            cidr(c),
            c % 3 == 1
        );
    }
    for a in 1..=apps {
        let _ = writeln!(
            s,
            "[[applications]]\nname = \"app{a:02}\"\nteam = \"arn:aws:iam::{account}:role/team-{}\"\n\n[applications.environments]",
            a % 4
        );
        for c in 1..=clusters {
            let _ = writeln!(
                s,
                "env{c:04} = {{ cpu = \"4\", memory = \"8Gi\", pods = 40 }}"
            );
        }
        let _ = writeln!(
            s,
            "\n[[routes]]\napplication = \"app{a:02}\"\nhost = \"app{a:02}\"\npath = \"/\"\nservice = \"app{a:02}\"\nport = 8080\n"
        );
    }
    s.push_str(
        "[observability]\nlogs_topic = \"logs\"\nmetrics_topic = \"metrics\"\nkafka_retention_hours = 72\n\
         prometheus_retention_days = 15\nprometheus_volume_gib = 100\n\n\
         [[observability.receivers]]\nname = \"oncall-email\"\nkind = \"email\"\nto = [\"oncall@example.com\"]\n\
         from = \"alerts@example.com\"\nsmarthost = \"email-smtp.eu-west-1.amazonaws.com:587\"\nsmtp_username = \"AKIAIOSFODNN7EXAMPLE\"\n\
         credentials_secret = \"synth/alerting/smtp\"\n\n\
         [[observability.receivers]]\nname = \"oncall-slack\"\nkind = \"slack\"\nchannel = \"#alerts\"\n\
         credentials_secret = \"synth/alerting/slack\"\n\n\
         [[observability.alerts]]\nname = \"NodeHighCpu\"\nkind = \"node_cpu\"\nthreshold = 80\nfor = \"5m\"\nseverity = \"critical\"\n\n\
         [[observability.alerts]]\nname = \"NodeHighMemory\"\nkind = \"node_memory\"\nthreshold = 90\nfor = \"10m\"\nseverity = \"warning\"\n\n\
         [[observability.alerts]]\nname = \"PodCrashLooping\"\nkind = \"pod_crash_looping\"\nthreshold = 3\nfor = \"15m\"\nseverity = \"warning\"\n\n\
         [[observability.alerts]]\nname = \"KafkaConsumerLagHigh\"\nkind = \"kafka_consumer_lag\"\nthreshold = 100000\nfor = \"10m\"\nseverity = \"critical\"\n\n\
         [[observability.routing]]\nreceivers = [\"oncall-email\", \"oncall-slack\"]\nseverities = [\"critical\"]\n\n\
         [[observability.routing]]\nreceivers = [\"oncall-slack\"]\n\n\
         [sizing]\npeak_events_per_second = 50000\naverage_event_bytes = 1024\nretention_days = 14\nreplication = 3\nquery_latency_ms = 500\n",
    );
    s
}

#[cfg(test)]
mod tests {
    use flotilla_model::Versions;

    #[test]
    fn synthetic_platforms_are_valid_at_every_benchmarked_shape() {
        for (clusters, apps) in [(1, 1), (1, 20), (10, 20), (40, 3)] {
            let text = super::platform(clusters, apps);
            let p = flotilla_model::load("synth.toml", &text, &Versions::embedded())
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(p.workload_clusters().count(), clusters);
            assert_eq!(p.applications.len(), apps);
        }
    }
}
